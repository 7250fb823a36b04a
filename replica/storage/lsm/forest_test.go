package lsm_test

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"

	"viewstamp/replica/storage/lsm"
	"viewstamp/replica/storage/lsm/lsmtest"
)

// Two trees of different shapes share one forest: one manifest log, one
// schedule. An object-like tree (u64 key, 48-byte values) and an index-like
// tree (key = value = u128 field ++ u64 timestamp, 24 bytes).
var (
	objectTree = lsm.TreeConfig{ID: 18, Name: "objects", KeySize: 8, ValueSize: 48, TableValueCountMax: testBatchMax * testCompactOps}
	indexTree  = lsm.TreeConfig{ID: 9, Name: "index", KeySize: 24, ValueSize: 24, TableValueCountMax: 2 * testBatchMax * testCompactOps}
)

func indexKey(field, ts uint64) []byte {
	b := make([]byte, 24)
	binary.BigEndian.PutUint64(b[8:], field) // high half of the u128 stays zero
	binary.BigEndian.PutUint64(b[16:], ts)
	return b
}

func forestOp(f *lsm.Forest, op uint64) {
	rng := rand.New(rand.NewPCG(op, 3))
	objects, index := f.Tree(objectTree.ID), f.Tree(indexTree.ID)
	for i := range uint64(rng.IntN(testBatchMax + 1)) {
		ts := op*testBatchMax + i
		v := make([]byte, objectTree.ValueSize)
		binary.BigEndian.PutUint64(v, ts)
		binary.LittleEndian.PutUint64(v[8:], rng.Uint64())
		objects.Put(v)
		field := rng.Uint64N(20)
		index.Put(indexKey(field, ts))
		if rng.IntN(5) == 0 && ts > 50 { // an update: the old index entry goes
			index.Remove(indexKey(rng.Uint64N(20), ts-50))
		}
	}
}

func forestScan(t *testing.T, grid *lsmtest.Grid, tree *lsm.Tree) [][]byte {
	t.Helper()
	lo := make([]byte, tree.Config().KeySize)
	hi := slices.Repeat([]byte{0xff}, tree.Config().KeySize)
	var out [][]byte
	tree.Scan(lo, hi, 0, false, func(vs [][]byte, err error) {
		if err != nil {
			t.Fatal(err)
		}
		out = vs
	})
	grid.Drain()
	return out
}

// TestForestTrees: trees keep their own contents and block formats through
// a shared manifest; a checkpoint reopens all of them; and two forests fed
// the same ops write the same blocks.
func TestForestTrees(t *testing.T) {
	run := func(grid *lsmtest.Grid, ops uint64) (*lsm.Forest, lsm.CheckpointRefs) {
		f, err := lsm.NewForest(grid, testForest, []lsm.TreeConfig{objectTree, indexTree})
		if err != nil {
			t.Fatal(err)
		}
		var refs lsm.CheckpointRefs
		for op := uint64(1); op <= ops; op++ {
			forestOp(f, op)
			f.Beat(op, func() {})
			grid.Drain()
			if (op+1)%(testCompactOps*3) == 0 {
				f.Checkpoint(func(r lsm.CheckpointRefs) { refs = r })
				grid.Drain()
				grid.Checkpoint()
			}
		}
		return f, refs
	}
	const ops = testCompactOps*3*20 - 1
	ga := lsmtest.New(testBodyMax)
	a, refs := run(ga, ops)
	gb := lsmtest.New(testBodyMax)
	gb.Shuffle(3)
	run(gb, ops)
	if !slices.Equal(ga.Writes, gb.Writes) {
		t.Fatal("forests fed the same ops wrote different blocks")
	}
	if refs.Op != ops {
		t.Fatalf("last checkpoint at %d", refs.Op)
	}
	objects := forestScan(t, ga, a.Tree(objectTree.ID))
	index := forestScan(t, ga, a.Tree(indexTree.ID))
	if len(objects) == 0 || len(index) == 0 {
		t.Fatal("empty trees")
	}
	for _, id := range []uint16{objectTree.ID, indexTree.ID} {
		if c := a.Tree(id).TableCounts(); c[1] == 0 {
			t.Fatalf("tree %d tables %v: nothing reached level 1", id, c)
		}
	}

	// Reopen and replay the checkpoint's bar: both trees come back whole.
	b, err := lsm.NewForest(ga, testForest, []lsm.TreeConfig{indexTree, objectTree})
	if err != nil {
		t.Fatal(err)
	}
	b.Open(refs, func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	})
	ga.Drain()
	for op := b.OpNext(); op <= ops; op++ {
		forestOp(b, op)
		b.Beat(op, func() {})
		ga.Drain()
	}
	if got := forestScan(t, ga, b.Tree(objectTree.ID)); !slices.EqualFunc(got, objects, slices.Equal) {
		t.Fatalf("objects after open: %d values, want %d", len(got), len(objects))
	}
	if got := forestScan(t, ga, b.Tree(indexTree.ID)); !slices.EqualFunc(got, index, slices.Equal) {
		t.Fatalf("index after open: %d values, want %d", len(got), len(index))
	}
}
