package groove_test

import (
	"math"
	"testing"

	"viewstamp/replica/storage/groove"
	"viewstamp/replica/storage/lsm/lsmtest"
	"viewstamp/replica/u128"
)

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Fatalf("%s did not panic", what)
		}
	}()
	f()
}

// fill inserts n objects, one batch of testPutsPerOp per op, b = 1 + i%4 and
// a = 1 on every hundredth.
func fill(e *env, n int) []object {
	var objs []object
	for i := 0; i < n; {
		e.g.PrefetchSetup()
		var batch []object
		for ; len(batch) < testPutsPerOp && i < n; i++ {
			o := object{id: u128.From64(uint64(i + 1)), ts: uint64(i + 1), b: uint32(1 + i%4), payload: uint64(i)}
			if i%100 == 0 {
				o.a = u128.From64(1)
			}
			batch = append(batch, o)
		}
		var ids []u128.U128
		for _, o := range batch {
			ids = append(ids, o.id)
		}
		e.prefetch(ids, nil)
		for _, o := range batch {
			e.g.Insert(o.encode())
		}
		objs = append(objs, batch...)
		e.beat()
	}
	return objs
}

// TestExecuteReadsOnlyTheStash: execute cannot reach the trees, so asking
// for what was not prefetched is a bug the groove refuses loudly, as is
// inserting an id not known to be absent or updating with a stale old.
func TestExecuteReadsOnlyTheStash(t *testing.T) {
	e := newEnv(t, lsmtest.New(testBodyMax), testShape, testConfig())
	objs := fill(e, 20)
	e.g.PrefetchSetup()
	e.prefetch([]u128.U128{objs[3].id, {Lo: 999}}, []uint64{objs[4].ts})
	if got, ok := e.g.GetByID(objs[3].id); !ok || decode(got) != objs[3] {
		t.Fatal("prefetched id missing")
	}
	if _, ok := e.g.GetByID(u128.U128{Lo: 999}); ok {
		t.Fatal("absent id found")
	}
	if got, ok := e.g.GetByTimestamp(objs[4].ts); !ok || decode(got) != objs[4] {
		t.Fatal("prefetched timestamp missing")
	}
	mustPanic(t, "GetByID of an id not prefetched", func() { e.g.GetByID(objs[5].id) })
	mustPanic(t, "GetByTimestamp not prefetched", func() { e.g.GetByTimestamp(objs[5].ts) })
	mustPanic(t, "Insert of an id not prefetched", func() {
		e.g.Insert(object{id: u128.U128{Lo: 1000}, ts: 1000}.encode())
	})
	mustPanic(t, "Insert of an existing id", func() {
		e.g.Insert(object{id: objs[3].id, ts: 1000}.encode())
	})
	stale := objs[3]
	stale.payload++
	next := objs[3]
	next.c = 1
	mustPanic(t, "Update with a stale old", func() { e.g.Update(stale.encode(), next.encode()) })
	changed := objs[3]
	changed.b++
	mustPanic(t, "Update of an immutable field", func() { e.g.Update(objs[3].encode(), changed.encode()) })

	// An orphaned id: no object, but known to have been used.
	e.g.InsertOrphan(u128.U128{Lo: 999})
	if !e.g.Orphaned(u128.U128{Lo: 999}) || e.g.Orphaned(objs[3].id) {
		t.Fatal("orphan not recorded")
	}
	e.beat()
	e.g.PrefetchSetup()
	e.prefetch([]u128.U128{{Lo: 999}}, nil)
	if _, ok := e.g.GetByID(u128.U128{Lo: 999}); ok || !e.g.Orphaned(u128.U128{Lo: 999}) {
		t.Fatal("orphan not durable in the id tree")
	}
}

// TestCacheBounded: the cache never exceeds its capacity however many
// objects pass through, and a hot set that fits is served without IO.
func TestCacheBounded(t *testing.T) {
	e := newEnv(t, lsmtest.New(testBodyMax), testShape, testConfig())
	objs := fill(e, 600)
	for i := 0; i < len(objs); i += testStash {
		e.g.PrefetchSetup()
		var ids []u128.U128
		for _, o := range objs[i:min(i+testStash, len(objs))] {
			ids = append(ids, o.id)
		}
		e.prefetch(ids, nil)
		if n := e.g.Stats().CacheObjects; n > testCache {
			t.Fatalf("cache holds %d > %d", n, testCache)
		}
	}
	hot := []u128.U128{objs[7].id, objs[300].id, objs[599].id}
	e.g.PrefetchSetup()
	e.prefetch(hot, nil)
	reads, hits := e.grid.Reads, e.g.Stats().CacheHits
	for range 10 {
		e.g.PrefetchSetup()
		e.prefetch(hot, nil)
	}
	if e.grid.Reads != reads || e.g.Stats().CacheHits != hits+30 {
		t.Fatalf("hot set: %d reads, %d hits", e.grid.Reads-reads, e.g.Stats().CacheHits-hits)
	}
}

// TestQueryCost: a query's block reads depend on its results, not on how
// many objects the groove holds.
func TestQueryCost(t *testing.T) {
	cost := func(n int) (single, inter, union int) {
		e := newEnv(t, lsmtest.New(testBodyMax), testShape, testConfig())
		fill(e, n)
		for range 3 * testShape.CompactionOps { // everything onto disk
			e.beat()
		}
		measure := func(s *groove.Stream, want int) int {
			before := e.grid.Reads
			if got := e.query(s, 0, math.MaxUint64, 5, true); len(got) != want {
				t.Fatalf("n=%d: %d results, want %d", n, len(got), want)
			}
			return e.grid.Reads - before
		}
		single = measure(e.g.Index(fieldB, u128.From64(2)), 5)
		// a = 1 on every hundredth object, b = 1 on every fourth: the
		// intersection seeks in b to each a.
		inter = measure(groove.Intersect(e.g.Index(fieldA, u128.From64(1)), e.g.Index(fieldB, u128.From64(1))), 5)
		union = measure(groove.Union(e.g.Index(fieldB, u128.From64(2)), e.g.Index(fieldB, u128.From64(4))), 5)
		return
	}
	s1, i1, u1 := cost(1000)
	s2, i2, u2 := cost(8000)
	t.Logf("block reads for 5 results among 1000 / 8000 objects: index %d/%d, intersection %d/%d, union %d/%d", s1, s2, i1, i2, u1, u2)
	// Each scan reads at most an index and a value block per level per chunk.
	const slack = 2 * 3 * 2
	if s2 > s1+slack || i2 > i1+3*slack || u2 > u1+2*slack {
		t.Fatal("query cost grows with the groove's size")
	}
}
