package sim

import (
	"testing"

	"viewstamp/faults"
	"viewstamp/reports"
)

// Some seeds have a client that, from some request on, sends a release the
// cluster does not serve it: below its minimum, above its own, or another
// than its session's. The cluster must evict it with that reason (the
// sessions checker judges every eviction and fails a request of a bad
// release that commits), and serve everyone else on.
func TestBadReleaseEvicted(t *testing.T) {
	reasons := map[string]bool{}
	planned := 0
	for seed := uint64(1); planned < 6 && seed < 400; seed++ {
		opts := faults.Draw(seed, faults.Limits{})
		c, err := New(opts, Config{Lite: true})
		if err != nil {
			t.Fatal(err)
		}
		var bad *simClient
		for _, sc := range c.clients {
			if sc.badRequest != 0 {
				bad = sc
			}
		}
		if bad == nil {
			continue
		}
		planned++
		rec := Run(opts, Config{Lite: true})
		if rec.Result != reports.Pass {
			t.Fatalf("seed %d: %s: %s", seed, rec.Result, rec.Failure)
		}
		evicted := uint64(0)
		for _, r := range []string{"client_release_too_low", "client_release_too_high", "session_release_mismatch"} {
			if rec.Evictions[r] > 0 {
				reasons[r] = true
				evicted += rec.Evictions[r]
			}
		}
		if evicted > 1 {
			t.Fatalf("seed %d: %d release evictions for one misbehaving client", seed, evicted)
		}
		t.Logf("seed %d: client %d turns to release %#x at request %d; evictions %v", seed, bad.index, bad.badRelease, bad.badRequest, rec.Evictions)
	}
	if planned == 0 {
		t.Fatal("no seed plans a misbehaving client")
	}
	if len(reasons) == 0 {
		t.Fatal("no misbehaving client reached its bad request: the test sees no eviction")
	}
}
