package groove_test

import (
	"errors"
	"math"
	"testing"

	"viewstamp/replica/storage/groove"
	"viewstamp/replica/storage/lsm"
	"viewstamp/replica/storage/lsm/lsmtest"
	"viewstamp/replica/u128"
)

// TestBlockFault: a block the grid cannot read fails the prefetch or query
// with *lsm.BlockFaultError, after every read it issued has completed; the
// names it could not load stay out of the stash, and a retry after repair
// loads them.
func TestBlockFault(t *testing.T) {
	grid := lsmtest.New(testBodyMax)
	grid.Shuffle(3)
	e := newEnv(t, grid, testShape, testConfig())
	objs := fill(e, 200)
	for range 3 * testShape.CompactionOps {
		e.beat()
	}
	addrs := grid.AcquiredAddresses()
	for _, a := range addrs {
		grid.SetFaulty(a, true)
	}
	ids := []u128.U128{objs[0].id, objs[100].id, objs[199].id}

	e.g.PrefetchSetup()
	var err error
	calls := 0
	e.g.Prefetch(ids, nil, func(x error) { err, calls = x, calls+1 })
	grid.Drain()
	var fault *lsm.BlockFaultError
	if calls != 1 || !errors.As(err, &fault) {
		t.Fatalf("prefetch: %d calls, err %v", calls, err)
	}
	mustPanic(t, "GetByID of an id whose prefetch failed", func() { e.g.GetByID(ids[0]) })

	calls = 0
	groove.Query(e.g.Index(fieldB, u128.From64(1)), 0, math.MaxUint64, 10, false, func(_ []uint64, x error) { err, calls = x, calls+1 })
	grid.Drain()
	if calls != 1 || !errors.As(err, &fault) {
		t.Fatalf("query: %d calls, err %v", calls, err)
	}

	for _, a := range addrs {
		grid.SetFaulty(a, false)
	}
	e.prefetch(ids, nil)
	for i, id := range ids {
		if got, ok := e.g.GetByID(id); !ok || decode(got) != objs[[]int{0, 100, 199}[i]] {
			t.Fatalf("retry: id %s", id)
		}
	}
}
