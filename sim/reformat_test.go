package sim

import (
	"testing"

	"viewstamp/faults"
	"viewstamp/replica/vsr"
	"viewstamp/reports"
)

// A replica whose data file is wiped while it is down (a disk replaced)
// rejoins from a reformatted one, and the cluster loses nothing: every
// checker stays green (durability, exactly-once, no rollback, the auditor,
// and the views checker, which holds the new data file to never speak in a
// view the lost one had joined), the replica settles (a view installed, its
// debt paid) and ends normal with everything committed executed. The seeds
// are ones whose draws reformat, with the replica in the liveness core.
func TestReformatRejoins(t *testing.T) {
	for _, seed := range []uint64{2018, 2008} {
		opts := faults.Draw(seed, faults.Limits{RequestsMax: 40})
		c, err := New(opts, Config{StorageFaults: true, ClockFaults: true})
		if err != nil {
			t.Fatal(err)
		}
		c.Run()
		rec := c.Record()
		if rec.Result != reports.Pass {
			t.Fatalf("seed %d: %s: %s", seed, rec.Result, rec.Failure)
		}
		if rec.StorageFaults == nil || rec.StorageFaults.Reformats == 0 {
			t.Fatalf("seed %d: no reformat (re-pick the seed: its draws moved)", seed)
		}
		d := c.reformat.plan.Replica
		if c.checks.views.Lost(d) == 0 {
			t.Fatalf("seed %d: the views checker holds replica %d to no lost promise", seed, d)
		}
		if c.down[d] {
			t.Fatalf("seed %d: replica %d is outside the liveness core (re-pick the seed)", seed, d)
		}
		r := c.replicas[d]
		if r.Reformatting() || r.Status() != vsr.StatusNormal || r.CommitMin() != c.state.CommitMax() {
			t.Fatalf("seed %d: reformatted replica %d ends %v (reformatting %v) at commit %d, history at %d",
				seed, d, r.Status(), r.Reformatting(), r.CommitMin(), c.state.CommitMax())
		}
		t.Logf("seed %d: %d reformats of replica %d, %d recovering_head entries, commit %d",
			seed, rec.StorageFaults.Reformats, d, rec.RecoveringHead, rec.CommitMax)
	}
}
