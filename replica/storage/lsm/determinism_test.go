package lsm_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"viewstamp/replica/storage/lsm"
	"viewstamp/replica/storage/lsm/lsmtest"
)

// workload applies op's puts and removes, drawn from a PRNG seeded by op, so
// every replica of a test applies the same ones.
func workload(tree *lsm.Tree, op uint64, keys uint64) {
	rng := rand.New(rand.NewPCG(op, 0x5eed))
	for range rng.IntN(testBatchMax + 1) {
		k := rng.Uint64N(keys)
		if rng.IntN(4) == 0 {
			tree.Remove(key(k))
		} else {
			tree.Put(value(k, op))
		}
	}
}

const (
	determinismOps        = 400
	determinismKeys       = 700
	determinismCheckpoint = 5 // bars between checkpoints
)

// run drives a harness through ops [from, to], checkpointing every few bars,
// and returns the refs of each checkpoint by its op.
func (h *harness) run(from, to uint64) map[uint64]lsm.CheckpointRefs {
	refs := map[uint64]lsm.CheckpointRefs{}
	for h.op = from; h.op <= to; {
		workload(h.tree, h.op, determinismKeys)
		h.beat()
		if h.op%uint64(testCompactOps*determinismCheckpoint) == 0 {
			refs[h.op-1] = h.checkpoint()
		}
	}
	return refs
}

// TestDeterminism: replicas applying the same ops write the same blocks
// (address, type, checksum) in the same order, however their IO completes,
// and so does one that restarts from a checkpoint and replays.
func TestDeterminism(t *testing.T) {
	fifo := newHarness(t, lsmtest.New(testBodyMax), testForest, testTree)
	refsA := fifo.run(1, determinismOps)

	shuffled := lsmtest.New(testBodyMax)
	shuffled.Shuffle(42)
	b := newHarness(t, shuffled, testForest, testTree)
	refsB := b.run(1, determinismOps)

	if len(fifo.grid.Writes) == 0 || !slices.Equal(fifo.grid.Writes, b.grid.Writes) {
		t.Fatalf("writes differ: %d vs %d", len(fifo.grid.Writes), len(b.grid.Writes))
	}
	if len(refsA) == 0 {
		t.Fatal("no checkpoint taken")
	}
	for op, r := range refsA {
		if refsB[op] != r {
			t.Fatalf("checkpoint %d: refs %+v vs %+v", op, r, refsB[op])
		}
	}
	t.Logf("%d writes, %d checkpoints, tables %v", len(fifo.grid.Writes), len(refsA), fifo.tree.TableCounts())

	// A third replica crashes after every checkpoint, a few ops on, back to
	// that checkpoint; it reopens, replays the checkpoint's bar and must then
	// write exactly what the others wrote: no state outside the checkpoint
	// may decide a write.
	c := newHarness(t, lsmtest.New(testBodyMax), testForest, testTree)
	c.grid.Shuffle(7)
	restarts := 0
	const interval = testCompactOps * determinismCheckpoint
	for from := uint64(1); from <= determinismOps; {
		to := min((from/interval+1)*interval-1, determinismOps) // the next checkpoint
		refs := c.run(from, to)
		if to == determinismOps {
			break
		}
		mark := len(c.grid.Writes)
		c.run(to+1, to+interval-3) // short of the next checkpoint
		c.grid.Restore()
		c.grid.Writes = c.grid.Writes[:mark]
		c.reopen(refs[to], testForest, testTree)
		if c.op != to+1-testCompactOps {
			t.Fatalf("open: OpNext %d", c.op)
		}
		restarts++
		for c.op <= to { // the replay: the checkpoint's bar again
			workload(c.tree, c.op, determinismKeys)
			c.beat()
		}
		from = to + 1
	}
	if restarts < 10 || !slices.Equal(fifo.grid.Writes, c.grid.Writes) {
		i := 0
		for i < min(len(c.grid.Writes), len(fifo.grid.Writes)) && c.grid.Writes[i] == fifo.grid.Writes[i] {
			i++
		}
		t.Fatalf("%d restarts: writes differ from write %d of %d", restarts, i, len(fifo.grid.Writes))
	}
}

// TestCheckpointOpen: a forest opened from a checkpoint and replayed has the
// same levels, table for table, and the same contents as the one that took it.
func TestCheckpointOpen(t *testing.T) {
	grid := lsmtest.New(testBodyMax)
	a := newHarness(t, grid, testForest, testTree)
	const last = testCompactOps*12 - 1
	refs := a.run(1, last)
	ckpt := refs[testCompactOps*determinismCheckpoint*2-1]
	if ckpt.ManifestBlocks == 0 {
		t.Fatalf("checkpoint refs %+v", ckpt)
	}
	want, err := a.scan(0, determinismKeys, 0)
	if err != nil || len(want) == 0 {
		t.Fatalf("scan: %d values, %v", len(want), err)
	}
	// Take a checkpoint now, then restart from it on the same grid.
	final := a.checkpoint()
	levels := make([][]lsm.TableInfo, testLevelCount)
	for i := range levels {
		levels[i] = slices.Clone(a.tree.Tables(i))
	}
	b := newHarness(t, grid, testForest, testTree)
	b.reopen(final, testForest, testTree)
	for i := range levels {
		if !slices.Equal(levels[i], b.tree.Tables(i)) {
			t.Fatalf("level %d: %d tables before, %d after open", i, len(levels[i]), len(b.tree.Tables(i)))
		}
	}
	for b.op <= last {
		workload(b.tree, b.op, determinismKeys)
		b.beat()
	}
	got, err := b.scan(0, determinismKeys, 0)
	if err != nil || !slices.EqualFunc(got, want, func(x, y []byte) bool { return string(x) == string(y) }) {
		t.Fatalf("after open: %d values (%v), want %d", len(got), err, len(want))
	}
	for k := range uint64(determinismKeys) {
		va, fa, _ := a.get(k)
		vb, fb, err := b.get(k)
		if err != nil || fa != fb || string(va) != string(vb) {
			t.Fatalf("get %d: %x %v vs %x %v (%v)", k, va, fa, vb, fb, err)
		}
	}
	// Opening twice, or from a bar's middle, is refused.
	var e1, e2 error
	b.f.Open(final, func(err error) { e1 = err })
	c, _ := lsm.NewForest(grid, testForest, []lsm.TreeConfig{testTree})
	bad := final
	bad.Op++
	c.Open(bad, func(err error) { e2 = err })
	grid.Drain()
	if e1 == nil || e2 == nil {
		t.Fatalf("bad opens accepted: %v, %v", e1, e2)
	}
}

// firstTable returns a table in the deepest non-empty level.
func firstTable(t *testing.T, h *harness) lsm.TableInfo {
	t.Helper()
	for level := testLevelCount - 1; level >= 0; level-- {
		if tables := h.tree.Tables(level); len(tables) > 0 {
			return tables[0]
		}
	}
	t.Fatal("no tables")
	return lsm.TableInfo{}
}

// TestReadFaults: a block the grid cannot read intact ends a lookup or a
// scan with a BlockFaultError, parks a compaction until RetryParked, and
// fails an Open; nothing crashes and, once repaired, everything completes.
func TestReadFaults(t *testing.T) {
	grid := lsmtest.New(testBodyMax)
	h := newHarness(t, grid, testForest, testTree)
	h.run(1, testCompactOps*10-1)
	table := firstTable(t, h)
	k := uint64(0)
	for ; k < determinismKeys; k++ {
		if _, found, _ := h.get(k); found && string(key(k)) >= string(table.KeyMin[:testKeySize]) {
			break
		}
	}
	grid.SetFaulty(table.Index.Address, true)
	var fault *lsm.BlockFaultError
	if _, _, err := h.get(k); !errors.As(err, &fault) || fault.Block != table.Index {
		t.Fatalf("get %d over a faulty index: %v", k, err)
	}
	if _, err := h.scan(0, determinismKeys, 0); !errors.As(err, &fault) || fault.Block != table.Index {
		t.Fatalf("scan over a faulty index: %v", err)
	}
	grid.SetFaulty(table.Index.Address, false)
	if _, found, err := h.get(k); err != nil || !found {
		t.Fatalf("get %d after repair: %v %v", k, found, err)
	}

	// Corrupt every table block so the next compaction must park.
	for level := range testLevelCount {
		for _, tb := range h.tree.Tables(level) {
			grid.SetFaulty(tb.Index.Address, true)
		}
	}
	parkedAt := uint64(0)
	done := false
	for range 4 * testCompactOps {
		workload(h.tree, h.op, determinismKeys)
		done = false
		h.f.Beat(h.op, func() { done = true })
		grid.Drain()
		if !done {
			parkedAt = h.op
			break
		}
		h.op++
	}
	if parkedAt == 0 || len(h.f.Parked()) == 0 {
		t.Fatalf("no compaction parked on faulty blocks (parked %v)", h.f.Parked())
	}
	for level := range testLevelCount {
		for _, tb := range h.tree.Tables(level) {
			grid.SetFaulty(tb.Index.Address, false)
		}
	}
	h.f.RetryParked()
	grid.Drain()
	h.op++
	if !done || len(h.f.Parked()) != 0 {
		t.Fatalf("after repair: beat done %v, parked %v", done, h.f.Parked())
	}
	for k := range uint64(determinismKeys) {
		if _, _, err := h.get(k); err != nil {
			t.Fatalf("get %d after repair: %v", k, err)
		}
	}
	for range 2 * testCompactOps {
		workload(h.tree, h.op, determinismKeys)
		h.beat()
	}

	// An Open that meets a faulty manifest block reports it.
	for h.op%testCompactOps != 0 {
		h.beat()
	}
	refs := h.checkpoint()
	grid.SetFaulty(refs.ManifestNewest.Address, true)
	f, _ := lsm.NewForest(grid, testForest, []lsm.TreeConfig{testTree})
	var openErr error
	f.Open(refs, func(err error) { openErr = err })
	grid.Drain()
	if !errors.As(openErr, &fault) || fault.Block != refs.ManifestNewest {
		t.Fatalf("open over a faulty manifest block: %v", openErr)
	}
}

// TestDeterminismUnderReadFaults: a replica whose compaction reads keep
// failing (parking until repaired) still writes exactly the blocks of one
// whose reads never fail.
func TestDeterminismUnderReadFaults(t *testing.T) {
	clean := newHarness(t, lsmtest.New(testBodyMax), testForest, testTree)
	clean.run(1, determinismOps)

	grid := lsmtest.New(testBodyMax)
	grid.Shuffle(11)
	h := newHarness(t, grid, testForest, testTree)
	rng := rand.New(rand.NewPCG(5, 6))
	parks := 0
	for h.op = 1; h.op <= determinismOps; {
		workload(h.tree, h.op, determinismKeys)
		var faulty []uint64
		for range 3 {
			if n := len(grid.Writes); n > 0 {
				a := grid.Writes[rng.IntN(n)].Address
				grid.SetFaulty(a, true)
				faulty = append(faulty, a)
			}
		}
		done := false
		h.f.Beat(h.op, func() { done = true })
		grid.Drain()
		for !done {
			if len(h.f.Parked()) == 0 {
				t.Fatalf("op %d: beat neither done nor parked", h.op)
			}
			parks++
			for _, a := range faulty { // the replica repairs the blocks
				grid.SetFaulty(a, false)
			}
			h.f.RetryParked()
			grid.Drain()
		}
		for _, a := range faulty {
			grid.SetFaulty(a, false)
		}
		h.op++
		if h.op%uint64(testCompactOps*determinismCheckpoint) == 0 {
			h.checkpoint()
		}
	}
	if parks == 0 {
		t.Fatal("no compaction read ever failed")
	}
	if !slices.Equal(clean.grid.Writes, grid.Writes) {
		t.Fatalf("writes differ after %d parks", parks)
	}
	t.Logf("%d parks, %d writes", parks, len(grid.Writes))
}
