package sim_test

import (
	"testing"

	"viewstamp/faults"
	"viewstamp/replica/vsr"
	"viewstamp/reports"
	"viewstamp/sim"
)

// TestNoWrongfulEviction replays seeds on which, before the fix, a primary
// evicted live clients with no_session: their registers sat unexecuted in a
// pipeline it had inherited through a view change, and it judged them by a
// client table those registers had not reached yet. With at most ClientsMax
// clients no session can be evicted by a full table, so any eviction here is
// wrongful. (The seeds' meaning drifts as the protocol's timing changes; the
// workload must still run clients on them for the test to mean anything.)
func TestNoWrongfulEviction(t *testing.T) {
	for _, seed := range []uint64{3000004, 3000021, 3000030, 3000040} {
		opts := faults.Draw(seed, faults.Limits{})
		rec := sim.Run(opts, sim.Config{Lite: true})
		if rec.Result != reports.Pass {
			t.Errorf("seed %d: %s: %s", seed, rec.Result, rec.Failure)
		}
		if limit := int(vsr.SimConfig(uint8(opts.ReplicaCount)).ClientsMax); opts.ClientCount > limit {
			t.Fatalf("seed %d draws %d clients, more than the simulator's ClientsMax %d", seed, opts.ClientCount, limit)
		}
		// A client the seed plans to misbehave (sim planBadRelease) is
		// rightly evicted for its release once it reaches its bad request;
		// every other eviction is wrongful.
		wrongful := rec.Evictions.Total()
		for _, r := range []vsr.EvictionReason{vsr.EvictionReleaseTooLow, vsr.EvictionReleaseTooHigh, vsr.EvictionSessionReleaseMismatch} {
			wrongful -= rec.Evictions[r.String()]
		}
		if wrongful != 0 {
			t.Errorf("seed %d: %v clients evicted (none may be but for a bad release: the table never fills)", seed, rec.Evictions)
		}
		if rec.RequestsCompleted == 0 {
			t.Errorf("seed %d completed no request: the seed no longer exercises sessions", seed)
		}
	}
}
