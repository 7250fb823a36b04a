package groove_test

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"viewstamp/replica/storage/groove"
	"viewstamp/replica/storage/lsm/lsmtest"
	"viewstamp/replica/u128"
)

// pendingConfig is a groove without ids, like transfers_pending: 16-byte
// {timestamp, status} objects, found by timestamp, the status indexed and
// mutable.
func pendingConfig() groove.Config {
	status := groove.Field{Name: "status", Tree: groove.TreeTransfersPendingStatus, Width: groove.WidthU64, Mutable: true,
		Value: func(o []byte) u128.U128 { return u128.From64(uint64(o[8])) }}
	return groove.Config{
		Descriptor: groove.Descriptor{Name: "pending", ObjectSize: 16, ObjectTree: groove.TreeTransfersPending,
			TimestampOffset: 0, Fields: []groove.Field{status}},
		PutsPerOpMax: testPutsPerOp, CacheObjects: groove.CacheWays, StashMax: testStash,
	}
}

func pendingObject(ts uint64, status uint8) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint64(b, ts)
	b[8] = status
	return b
}

// TestGrooveWithoutIDs: two grooves share one forest; the id-less one is
// cached by timestamp, its status moves between index entries on update
// and ScanIndex ranges over the status values.
func TestGrooveWithoutIDs(t *testing.T) {
	grid := lsmtest.New(testBodyMax)
	grid.Shuffle(11)
	f, err := groove.NewForest(grid, testShape, []groove.Config{testConfig(), pendingConfig()})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, grid: grid, f: f, g: f.Groove(1), op: 1}
	status := map[uint64]uint8{} // the model
	var tss []uint64
	rng := rand.New(rand.NewPCG(5, 5))
	for op := 0; op < 150; op++ {
		e.g.PrefetchSetup()
		var want []uint64
		for range 3 {
			if len(tss) > 0 {
				want = append(want, tss[rng.IntN(len(tss))])
			}
		}
		e.prefetch(nil, want)
		for _, ts := range want {
			got, ok := e.g.GetByTimestamp(ts)
			if !ok || got[8] != status[ts] {
				t.Fatalf("op %d: ts %d: %v %x, model %d", op, ts, ok, got, status[ts])
			}
		}
		// Move one prefetched object's status (pending -> another, or 0:
		// unindexed), insert up to three more.
		if len(want) > 0 {
			ts := want[0]
			next := uint8(rng.IntN(5))
			old, _ := e.g.GetByTimestamp(ts)
			e.g.Update(old, pendingObject(ts, next))
			status[ts] = next
		}
		for range rng.IntN(4) {
			ts := uint64(len(tss)+1) * 10
			s := uint8(1 + rng.IntN(2))
			e.g.Insert(pendingObject(ts, s))
			tss = append(tss, ts)
			status[ts] = s
		}
		e.beat()
	}
	if e.g.Stats().CacheHits == 0 {
		t.Fatal("the timestamp-keyed cache never hit")
	}
	for s := uint8(0); s < 5; s++ {
		var model []uint64
		for _, ts := range tss {
			if status[ts] == s && s != 0 {
				model = append(model, ts)
			}
		}
		got := e.query(e.g.Index(0, u128.From64(uint64(s))), 0, math.MaxUint64, len(tss)+1, false)
		if !slices.Equal(got, model) {
			t.Fatalf("status %d: %v, model %v", s, got, model)
		}
	}
	// The pulse's kind of scan: every entry with status in [2, 3].
	var entries []groove.IndexEntry
	e.g.ScanIndex(0, u128.From64(2), u128.From64(3), 0, false, func(x []groove.IndexEntry, err error) {
		if err != nil {
			t.Fatal(err)
		}
		entries = x
	})
	grid.Drain()
	var model []groove.IndexEntry
	for s := uint64(2); s <= 3; s++ {
		for _, ts := range tss {
			if uint64(status[ts]) == s {
				model = append(model, groove.IndexEntry{Value: u128.From64(s), Timestamp: ts})
			}
		}
	}
	if len(model) == 0 || !slices.Equal(entries, model) {
		t.Fatalf("scan index: %d entries, model %d", len(entries), len(model))
	}
}
