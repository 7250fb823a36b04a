package sim_test

import (
	"testing"

	"viewstamp/faults"
	"viewstamp/reports"
	"viewstamp/sim"
)

// TestGridLeakCheckerRuns holds a run with crashes and restarts to the block
// leak checker at every durable checkpoint of every replica: each must be
// judged (none skipped on a disk without grid faults), and pass.
func TestGridLeakCheckerRuns(t *testing.T) {
	opts := faults.Draw(21, faults.Limits{RequestsMax: 400})
	opts.ReplicaCount = 3
	opts.Process.CrashProbability, opts.Process.RestartProbability = 1e-5, 1e-2
	rec := sim.Run(opts, sim.Config{Lite: true})
	if rec.Result != reports.Pass {
		t.Fatalf("%s: %s", rec.Result, rec.Failure)
	}
	if rec.Checkpoints < 5 || rec.GridLeakChecks < uint64(rec.Checkpoints) {
		t.Fatalf("%d checkpoints, %d judged by the leak checker", rec.Checkpoints, rec.GridLeakChecks)
	}
	if rec.GridLeakSkips != 0 {
		t.Fatalf("%d checkpoints skipped on a disk without grid faults", rec.GridLeakSkips)
	}
	t.Logf("%d checkpoints, %d replica checkpoints judged, %d restarts", rec.Checkpoints, rec.GridLeakChecks, rec.Restarts)
}
