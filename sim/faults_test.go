package sim

import (
	"strings"
	"testing"

	"viewstamp/faults"
	"viewstamp/replica/vsr"
	"viewstamp/reports"
)

// A seed that corrupts messages passes, and its receivers reject what was
// corrupted: the replicas' Drops.Decode counts them.
func TestCorruptedSeedPasses(t *testing.T) {
	for seed, found := uint64(1), 0; found < 3; seed++ {
		o := faults.Draw(seed, faults.Limits{})
		if o.Network.CorruptProbability < 0.005 || o.ReplicaCount < 3 {
			continue
		}
		found++
		c, err := New(o, Config{})
		if err != nil {
			t.Fatal(err)
		}
		c.Run()
		rec := c.Record()
		if rec.Result != reports.Pass {
			t.Fatalf("seed %d: %s: %s", seed, rec.Result, rec.Failure)
		}
		var decode uint64
		for i, r := range c.replicas {
			if !c.down[i] {
				decode += r.Drops.Decode
			}
		}
		m := rec.Messages
		if m.Corrupted == 0 || decode == 0 || m.Rejected < m.Corrupted {
			t.Fatalf("seed %d: %d corrupted, %d rejected, live replicas' Drops.Decode %d", seed, m.Corrupted, m.Rejected, decode)
		}
		t.Logf("seed %d: %d of %d deliveries corrupted, %d rejected, Drops.Decode %d", seed, m.Corrupted, m.Delivered, m.Rejected, decode)
	}
}

// The corruption checker fails a run whose receiver accepts a message the
// network says it corrupted: here a valid ping passed off as corrupted.
func TestAcceptedCorruptionFails(t *testing.T) {
	o := faults.Draw(1, faults.Limits{})
	o.ReplicaCount = 3
	c, err := New(o, Config{})
	if err != nil {
		t.Fatal(err)
	}
	m := &vsr.Message{Header: vsr.Header{Command: vsr.CommandPing, Cluster: c.cluster, Replica: 1}}
	c.deliver(1, 0, m.Encode(), true)
	if c.failure == nil || c.result != reports.Correctness || !strings.Contains(c.failure.Error(), "accepted a corrupted message") {
		t.Fatalf("accepted corruption gave %v: %v", c.result, c.failure)
	}
}

// A seed that completes nothing in the safety phase says why.
func TestNoProgressCause(t *testing.T) {
	o := faults.Draw(3, faults.Limits{})
	o.ReplicaCount, o.Process = 3, faults.Process{CrashProbability: 1, MaxDown: 3}
	rec := Run(o, Config{Lite: true, TicksMaxRequests: 2000})
	if rec.RequestsCompletedSafety != 0 || !strings.Contains(rec.NoProgressCause, "view-change quorum down") {
		t.Fatalf("every replica crashed at once: %d completed, cause %q", rec.RequestsCompletedSafety, rec.NoProgressCause)
	}
}

// Frequent pauses on slow disks: paused replicas hold their IO completions
// until unpaused, and any send from a paused replica would fail the run.
func TestPauseStormPasses(t *testing.T) {
	o := faults.Draw(5, faults.Limits{})
	o.ReplicaCount = 3
	o.Storage.WriteLatencyMeanNs = 800_000_000
	o.Process = faults.Process{PauseProbability: 0.005, UnpauseProbability: 0.01, MaxDown: 1}
	rec := Run(o, Config{Lite: true})
	if rec.Result != reports.Pass || rec.Pauses < 10 {
		t.Fatalf("%s after %d pauses: %s", rec.Result, rec.Pauses, rec.Failure)
	}
	t.Logf("%d pauses, %d requests", rec.Pauses, rec.RequestsCompletedSafety)
}
