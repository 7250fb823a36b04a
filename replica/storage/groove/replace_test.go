package groove_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"viewstamp/replica/storage/groove"
	"viewstamp/replica/storage/lsm/lsmtest"
	"viewstamp/replica/u128"
)

// TestReplace: Replace, given the stored object by the caller rather than
// found in the stash, moves the mutable index entries, keeps the cache and
// the stash current, and the trees answer as a model does - whether the
// object was prefetched this batch or not.
func TestReplace(t *testing.T) {
	grid := lsmtest.New(testBodyMax)
	grid.Shuffle(3)
	f, err := groove.NewForest(grid, testShape, []groove.Config{pendingConfig()})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, grid: grid, f: f, g: f.Groove(0), op: 1}
	status := map[uint64]uint8{}
	var tss []uint64
	rng := rand.New(rand.NewPCG(9, 9))
	for op := 0; op < 120; op++ {
		e.g.PrefetchSetup()
		prefetched := rng.IntN(2) == 0
		var ts uint64
		if len(tss) > 0 {
			ts = tss[rng.IntN(len(tss))]
			if prefetched {
				e.prefetch(nil, []uint64{ts})
			}
			next := uint8(rng.IntN(4))
			e.g.Replace(pendingObject(ts, status[ts]), pendingObject(ts, next))
			status[ts] = next
			if prefetched {
				got, _ := e.g.GetByTimestamp(ts)
				if got[8] != next {
					t.Fatalf("op %d: the stash kept status %d, want %d", op, got[8], next)
				}
			}
		}
		for range rng.IntN(3) {
			ts := uint64(len(tss)+1) * 7
			e.g.Insert(pendingObject(ts, 1))
			tss = append(tss, ts)
			status[ts] = 1
		}
		e.beat()
		if ts != 0 {
			e.g.PrefetchSetup()
			e.prefetch(nil, []uint64{ts})
			got, ok := e.g.GetByTimestamp(ts)
			if !ok || got[8] != status[ts] {
				t.Fatalf("op %d: ts %d reads status %x, model %d", op, ts, got, status[ts])
			}
		}
	}
	for s := uint8(1); s < 4; s++ {
		var model []uint64
		for _, ts := range tss {
			if status[ts] == s {
				model = append(model, ts)
			}
		}
		got := e.query(e.g.Index(0, u128.From64(uint64(s))), 0, math.MaxUint64, len(tss)+1, false)
		if !slices.Equal(got, model) {
			t.Fatalf("status %d: %v, model %v", s, got, model)
		}
	}
}
