package lsm_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"viewstamp/replica/storage/lsm"
	"viewstamp/replica/storage/lsm/lsmtest"
)

// The test shape: small blocks so tables span several value blocks and the
// manifest several blocks, few levels so data reaches the last one.
const (
	testBodyMax     = 512
	testKeySize     = 8
	testValueSize   = 16
	testBatchMax    = 8 // distinct keys put per op at most
	testTreeID      = 7
	testLevelCount  = 3
	testGrowth      = lsm.GrowthSimulator
	testCompactOps  = lsm.CompactionOpsSimulator
	testTableValues = testBatchMax * testCompactOps
)

var testForest = lsm.ForestConfig{Growth: testGrowth, LevelCount: testLevelCount, CompactionOps: testCompactOps}

var testTree = lsm.TreeConfig{
	ID: testTreeID, Name: "test", KeySize: testKeySize, ValueSize: testValueSize,
	TableValueCountMax: testTableValues,
}

func key(k uint64) []byte {
	b := make([]byte, testKeySize)
	binary.BigEndian.PutUint64(b, k)
	return b
}

func value(k, v uint64) []byte {
	b := make([]byte, testValueSize)
	binary.BigEndian.PutUint64(b, k)
	binary.LittleEndian.PutUint64(b[8:], v)
	return b
}

type harness struct {
	t    testing.TB
	grid *lsmtest.Grid
	f    *lsm.Forest
	tree *lsm.Tree
	op   uint64
}

func newHarness(t testing.TB, grid *lsmtest.Grid, fc lsm.ForestConfig, tc lsm.TreeConfig) *harness {
	t.Helper()
	f, err := lsm.NewForest(grid, fc, []lsm.TreeConfig{tc})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, grid: grid, f: f, tree: f.Tree(tc.ID), op: 1}
}

func (h *harness) beat() {
	h.t.Helper()
	done := false
	h.f.Beat(h.op, func() { done = true })
	h.grid.Drain()
	if !done {
		h.t.Fatalf("beat %d did not complete", h.op)
	}
	h.op++
}

func (h *harness) get(k uint64) ([]byte, bool, error) {
	h.t.Helper()
	var out []byte
	var found, called bool
	var err error
	h.tree.Get(key(k), func(v []byte, ok bool, e error) {
		out, found, err, called = append([]byte(nil), v...), ok, e, true
	})
	h.grid.Drain()
	if !called {
		h.t.Fatalf("get %d did not complete", k)
	}
	return out, found, err
}

func (h *harness) scan(lo, hi uint64, limit int) ([][]byte, error) {
	h.t.Helper()
	return h.scanDir(lo, hi, limit, false)
}

func (h *harness) scanDir(lo, hi uint64, limit int, reversed bool) ([][]byte, error) {
	h.t.Helper()
	var out [][]byte
	var err error
	called := false
	h.tree.Scan(key(lo), key(hi), limit, reversed, func(v [][]byte, e error) { out, err, called = v, e, true })
	h.grid.Drain()
	if !called {
		h.t.Fatalf("scan [%d,%d] did not complete", lo, hi)
	}
	return out, err
}

func (h *harness) checkpoint() lsm.CheckpointRefs {
	h.t.Helper()
	var refs lsm.CheckpointRefs
	called := false
	h.f.Checkpoint(func(r lsm.CheckpointRefs) { refs, called = r, true })
	h.grid.Drain()
	if !called {
		h.t.Fatal("checkpoint did not complete")
	}
	h.grid.Checkpoint()
	return refs
}

// reopen is a restart: a fresh forest over the same grid opened from refs.
func (h *harness) reopen(refs lsm.CheckpointRefs, fc lsm.ForestConfig, tc lsm.TreeConfig) {
	h.t.Helper()
	f, err := lsm.NewForest(h.grid, fc, []lsm.TreeConfig{tc})
	if err != nil {
		h.t.Fatal(err)
	}
	var openErr error
	called := false
	f.Open(refs, func(e error) { openErr, called = e, true })
	h.grid.Drain()
	if !called || openErr != nil {
		h.t.Fatalf("open: called %v, err %v", called, openErr)
	}
	h.f, h.tree, h.op = f, f.Tree(tc.ID), f.OpNext()
}

func TestSmoke(t *testing.T) {
	h := newHarness(t, lsmtest.New(testBodyMax), testForest, testTree)
	const n = 600
	for i := uint64(0); i < n; {
		for range testBatchMax {
			h.tree.Put(value((i*7919)%n, i))
			i++
		}
		h.beat()
	}
	for range 3 * testCompactOps {
		h.beat()
	}
	t.Logf("tables per level %v, manifest blocks %d, acquired %d", h.tree.TableCounts(), h.f.ManifestBlocks(), h.grid.Acquired())
	for k := uint64(0); k < n; k++ {
		v, found, err := h.get(k)
		if err != nil || !found || !bytes.Equal(v[:8], key(k)) {
			t.Fatalf("get %d: %x %v %v", k, v, found, err)
		}
	}
	vs, err := h.scan(10, 100, 0)
	if err != nil || len(vs) != 91 {
		t.Fatalf("scan: %d values, %v", len(vs), err)
	}
}
