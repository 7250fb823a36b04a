package lsm_test

import (
	"slices"
	"testing"

	"viewstamp/replica/storage/lsm"
	"viewstamp/replica/storage/lsm/lsmtest"
)

func allTables(h *harness, levels int) map[lsm.BlockRef]bool {
	m := map[lsm.BlockRef]bool{}
	for level := range levels {
		for _, t := range h.tree.Tables(level) {
			m[t.Index] = true
		}
	}
	return m
}

// TestPacing: every beat of a half-bar consumes about its even share of the
// half-bar's planned work (ceil(planned / beats), plus one where a key's
// newer and older versions are consumed together), the shares add up to
// the plan, and the levels change only when a half-bar ends, with the new
// tables visible from the next op.
func TestPacing(t *testing.T) {
	h := newHarness(t, lsmtest.New(testBodyMax), testForest, testTree)
	const ops = 600
	sum, planned, installs, busy := 0, 0, 0, 0
	for h.op = 1; h.op <= ops; {
		before := make([][]lsm.TableInfo, testLevelCount)
		for i := range before {
			before[i] = slices.Clone(h.tree.Tables(i))
		}
		old := allTables(h, testLevelCount)
		workload(h.tree, h.op, determinismKeys)
		op := h.op
		h.beat()
		s := h.f.LastBeat()
		if s.Op != op || s.BeatsPerHalf != testCompactOps/2 {
			t.Fatalf("op %d: stats %+v", op, s)
		}
		if op%uint64(s.BeatsPerHalf) == 0 {
			sum, planned = 0, s.HalfBarWork
		}
		if s.HalfBarWork != planned {
			t.Fatalf("op %d: planned work changed within a half-bar: %d -> %d", op, planned, s.HalfBarWork)
		}
		if share := (planned + s.BeatsPerHalf - 1) / s.BeatsPerHalf; s.Merged > share+1 {
			t.Fatalf("op %d: merged %d values, share %d of %d", op, s.Merged, share, planned)
		}
		if s.Merged > 0 {
			busy++
		}
		sum += s.Merged
		if !s.Installed {
			for i := range before {
				if !slices.Equal(before[i], h.tree.Tables(i)) {
					t.Fatalf("op %d: level %d changed mid half-bar", op, i)
				}
			}
			continue
		}
		installs++
		if sum != planned {
			t.Fatalf("op %d: half-bar merged %d of %d planned", op, sum, planned)
		}
		for level := range testLevelCount {
			for _, table := range h.tree.Tables(level) {
				if !old[table.Index] && table.SnapshotMin != op+1 {
					t.Fatalf("op %d: new table visible from %d", op, table.SnapshotMin)
				}
				if table.SnapshotMax != lsm.SnapshotLatest || int(table.Level) != level {
					t.Fatalf("op %d: live table %+v at level %d", op, table, level)
				}
			}
		}
	}
	if installs != ops/(testCompactOps/2) || busy < ops/2 {
		t.Fatalf("%d installs, %d busy beats of %d", installs, busy, ops)
	}
}

// TestMoveTable: full tables at ever-growing keys (timestamps) never overlap,
// so each is written once, at the flush to level 0, and then moves down the
// levels without being rewritten.
func TestMoveTable(t *testing.T) {
	h := newHarness(t, lsmtest.New(testBodyMax), testForest, testTree)
	next := uint64(0)
	const bars = 40
	h.op = 0 // so the first bar is whole and every table full
	for range bars * testCompactOps {
		for range testBatchMax {
			h.tree.Put(value(next, next))
			next++
		}
		h.beat()
	}
	counts := h.tree.TableCounts()
	tables := 0
	for _, n := range counts {
		tables += n
	}
	indexWrites := 0
	for _, w := range h.grid.Writes {
		if w.BlockType == lsm.BlockIndex {
			indexWrites++
		}
	}
	if counts[testLevelCount-1] == 0 || indexWrites != tables {
		t.Fatalf("tables per level %v: %d tables, %d index blocks written", counts, tables, indexWrites)
	}
	for level := range testLevelCount {
		for _, table := range h.tree.Tables(level) {
			if table.ValueCount != testTableValues {
				t.Fatalf("table of %d values", table.ValueCount)
			}
		}
	}
}

// TestTombstonesDropped: removes shadow values until compaction carries
// them into the last level, where they are dropped with what they shadow.
func TestTombstonesDropped(t *testing.T) {
	fc := lsm.ForestConfig{Growth: 2, LevelCount: 2, CompactionOps: testCompactOps}
	h := newHarness(t, lsmtest.New(testBodyMax), fc, testTree)
	const keys = 400
	sawAbove := false
	for phase := range 3 {
		for k := uint64(0); k < keys; {
			for range testBatchMax {
				switch phase {
				case 0:
					h.tree.Put(value(k, 1))
				case 1:
					h.tree.Remove(key(k))
				case 2:
					h.tree.Put(value(keys+k, 2)) // pushes compaction on
				}
				k++
			}
			h.beat()
			if h.tree.Tombstones(0, h.grid.Body) > 0 {
				sawAbove = true
			}
			if n := h.tree.Tombstones(1, h.grid.Body); n != 0 {
				t.Fatalf("phase %d: %d tombstones in the last level", phase, n)
			}
		}
	}
	if !sawAbove {
		t.Fatal("no tombstone ever reached level 0")
	}
	vs, err := h.scan(0, 2*keys, 0)
	if err != nil || len(vs) != keys {
		t.Fatalf("scan: %d values (%v), want %d", len(vs), err, keys)
	}
}

// TestLongRunBounded: thousands of bars of a few values at growing keys,
// with old keys removed: tables stay at least half full on the whole,
// the manifest log stays proportional to the tables, and right after each
// checkpoint the grid holds exactly the blocks the forest references (no
// block leaks).
func TestLongRunBounded(t *testing.T) {
	h := newHarness(t, lsmtest.New(testBodyMax), lsm.SimulatorForest, testTree)
	const ops = 6000
	const window = 500 // live keys: the newest window
	next := uint64(0)
	maxTables, maxManifest := 0, 0
	for h.op = 1; h.op <= ops; {
		for range 1 + h.op%3 {
			h.tree.Put(value(next, h.op))
			if next >= window {
				h.tree.Remove(key(next - window))
			}
			next++
		}
		h.beat()
		if h.op%(testCompactOps*5) == 0 {
			h.checkpoint()
			var refs []lsm.BlockRef
			h.f.References(func(blocks []lsm.BlockRef, err error) {
				if err != nil {
					t.Fatal(err)
				}
				refs = blocks
			})
			h.grid.Drain()
			if acquired := h.grid.AcquiredAddresses(); !slices.EqualFunc(acquired, refs, func(a uint64, r lsm.BlockRef) bool { return a == r.Address }) {
				t.Fatalf("op %d: %d blocks acquired, %d referenced", h.op, len(acquired), len(refs))
			}
		}
		tables := 0
		for _, n := range h.tree.TableCounts() {
			tables += n
		}
		maxTables = max(maxTables, tables)
		maxManifest = max(maxManifest, h.f.ManifestBlocks())
	}
	// Live values (window + tombstones not yet dropped) in tables at least
	// half full on average, plus one partial table per level.
	if bound := 4*window/testTableValues + lsm.LevelCountDefault + 2; maxTables > bound {
		t.Fatalf("%d tables at most, bound %d (per level now %v)", maxTables, bound, h.tree.TableCounts())
	}
	perBlock := (testBodyMax - 32) / 128
	if bound := maxTables/perBlock + 1 + lsm.ManifestLogBlocksSlack + 2*lsm.ManifestCompactBlocksMin + 4; maxManifest > bound {
		t.Fatalf("manifest log reached %d blocks, bound %d", maxManifest, bound)
	}
	vs, err := h.scan(0, next, 0)
	if err != nil || len(vs) != window {
		t.Fatalf("scan: %d values (%v), want %d", len(vs), err, window)
	}
	t.Logf("tables <= %d, manifest blocks <= %d, grid blocks %d", maxTables, maxManifest, h.grid.Acquired())
}

// TestScanCost: a scan reads the blocks its range or its limit reaches, not
// the tree.
func TestScanCost(t *testing.T) {
	h := newHarness(t, lsmtest.New(testBodyMax), testForest, testTree)
	const keys = 20000
	for k := uint64(0); k < keys; {
		for range testBatchMax {
			h.tree.Put(value((k*7919)%keys, k))
			k++
		}
		h.beat()
	}
	for range 2 * testCompactOps {
		h.beat()
	}
	tables := 0
	for _, n := range h.tree.TableCounts() {
		tables += n
	}
	// Per level at most two tables meet a short range, each costing its
	// index and at most two value blocks.
	const readsMax = testLevelCount * 2 * 3
	for _, c := range []struct {
		lo, hi   uint64
		limit    int
		want     int
		reversed bool
	}{{5000, 5009, 0, 10, false}, {5000, 5009, 0, 10, true}, {0, keys, 10, 10, false}, {0, keys, 10, 10, true},
		{keys - 3, keys + 100, 0, 3, false}} {
		reads := h.grid.Reads
		vs, err := h.scanDir(c.lo, c.hi, c.limit, c.reversed)
		if err != nil || len(vs) != c.want {
			t.Fatalf("scan %+v: %d values (%v)", c, len(vs), err)
		}
		if n := h.grid.Reads - reads; n > readsMax {
			t.Fatalf("scan %+v read %d blocks of a %d-table tree", c, n, tables)
		}
	}
	reads := h.grid.Reads
	vs, _ := h.scan(0, keys, 0)
	t.Logf("full scan: %d values, %d reads, %d tables", len(vs), h.grid.Reads-reads, tables)
}
