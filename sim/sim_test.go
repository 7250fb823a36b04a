package sim

import (
	"runtime"
	"strings"
	"testing"

	"viewstamp/faults"
	"viewstamp/replica/ledger"
	"viewstamp/replica/vsr"
	"viewstamp/reports"
)

func run(seed uint64, cfg Config) reports.Record {
	return Run(faults.Draw(seed, faults.Limits{}), cfg)
}

// The same seed must replay exactly: same trace hash, same record.
func TestSameSeedSameTrace(t *testing.T) {
	for seed := uint64(1000); seed < 1020; seed++ {
		a, b := run(seed, Config{}), run(seed, Config{})
		if a.TraceHash != b.TraceHash || a.Ticks != b.Ticks || a.Result != b.Result || a.Messages != b.Messages {
			t.Fatalf("seed %d replayed differently: %s/%d/%s vs %s/%d/%s", seed, a.TraceHash, a.Ticks, a.Result, b.TraceHash, b.Ticks, b.Result)
		}
	}
	if run(1, Config{}).TraceHash == run(2, Config{}).TraceHash {
		t.Fatal("different seeds gave the same trace hash")
	}
}

// sweepSeeds runs consecutive seeds until every replica count has at least
// perCount of them, and fails on any run that does not pass.
func TestSeedSweep(t *testing.T) {
	perCount := 34 // 6 × 34 ≥ 200 seeds
	if testing.Short() {
		perCount = 5
	}
	var got [7]int
	var totals reports.Record
	seeds := 0
	for seed := uint64(1); ; seed++ {
		o := faults.Draw(seed, faults.Limits{})
		if got[o.ReplicaCount] >= perCount {
			done := true
			for r := 1; r <= 6; r++ {
				done = done && got[r] >= perCount
			}
			if done {
				break
			}
			continue
		}
		got[o.ReplicaCount]++
		seeds++
		rec := Run(o, Config{})
		if rec.Result != reports.Pass {
			t.Errorf("seed %d (%d replicas): %s: %s\nreproduce: vopr --seed %d", seed, o.ReplicaCount, rec.Result, rec.Failure, seed)
		}
		totals.ViewChanges += rec.ViewChanges
		totals.Crashes += rec.Crashes
		totals.Restarts += rec.Restarts
		totals.Partitions += rec.Partitions
		totals.Pauses += rec.Pauses
		totals.Messages.Dropped += rec.Messages.Dropped
		totals.Messages.Duplicated += rec.Messages.Duplicated
		totals.RequestsCompleted += rec.RequestsCompleted
	}
	t.Logf("%d seeds: %d requests, %d view changes, %d crashes, %d restarts, %d pauses, %d partitions, %d dropped, %d duplicated",
		seeds, totals.RequestsCompleted, totals.ViewChanges, totals.Crashes, totals.Restarts, totals.Pauses, totals.Partitions,
		totals.Messages.Dropped, totals.Messages.Duplicated)
	// The sweep must actually exercise the faults it claims to.
	for name, n := range map[string]uint64{"view changes": totals.ViewChanges, "crashes": totals.Crashes, "restarts": totals.Restarts,
		"partitions": totals.Partitions, "drops": totals.Messages.Dropped, "duplicates": totals.Messages.Duplicated} {
		if n == 0 {
			t.Errorf("no %s across the sweep", name)
		}
	}
}

// A planted protocol bug must be caught by the checkers within a few
// hundred seeds.
func TestPlantedBugsAreCaught(t *testing.T) {
	bugs := map[string]vsr.Bugs{
		"replication quorum one too small": {ReplicationQuorumTooSmall: true},
		"prepare_ok before the WAL write":  {AckBeforeDurable: true},
	}
	for name, bug := range bugs {
		caught := uint64(0)
		for seed := uint64(1); seed <= 300 && caught == 0; seed++ {
			o := faults.Draw(seed, faults.Limits{})
			if o.ReplicaCount < 2 {
				continue
			}
			rec := Run(o, Config{Lite: true, Mutate: func(c *vsr.Config) { c.Bugs = bug }})
			if rec.Result == reports.Correctness {
				caught = seed
				t.Logf("%s: caught by seed %d: %s", name, seed, rec.Failure)
			}
		}
		if caught == 0 {
			t.Errorf("%s: not caught in 300 seeds", name)
		}
	}
}

// TestPlantedLedgerBugsAreCaught plants a ledger defect in every replica, so
// the replicas agree with each other and only the auditor, an independent
// model of the ledger, can notice.
func TestPlantedLedgerBugsAreCaught(t *testing.T) {
	bugs := map[string]ledger.Bugs{
		"debits_must_not_exceed_credits not checked": {SkipDebitLimit: true},
		"failed linked chain not rolled back":        {SkipChainRollback: true},
	}
	for name, bug := range bugs {
		caught := uint64(0)
		for seed := uint64(1); seed <= 300 && caught == 0; seed++ {
			rec := Run(faults.Draw(seed, faults.Limits{}), Config{Lite: true, LedgerBugs: bug})
			if rec.Result == reports.Correctness {
				if !strings.Contains(rec.Failure, "auditor") {
					t.Fatalf("%s: seed %d failed, but not by the auditor: %s", name, seed, rec.Failure)
				}
				caught = seed
				t.Logf("%s: caught by seed %d: %s", name, seed, rec.Failure)
			}
		}
		if caught == 0 {
			t.Errorf("%s: not caught in 300 seeds", name)
		}
	}
}

// benchSeeds is how many six-replica seeds one BenchmarkSimulator iteration
// runs: the same ones every iteration, so that -count runs and runs of
// different b.N measure the same mix and their allocation figures compare.
const benchSeeds = 8

// BenchmarkSimulator measures simulated time per wall second for a
// six-replica cluster under the faults its seeds draw, and heap allocations
// per committed op (simulator, checkers and replicas together), the figure
// the replica's hot path is judged by.
func BenchmarkSimulator(b *testing.B) {
	var seeds []uint64
	for seed := uint64(1); len(seeds) < benchSeeds; seed++ {
		if faults.Draw(seed, faults.Limits{}).ReplicaCount == 6 {
			seeds = append(seeds, seed)
		}
	}
	var ticks, committed uint64
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, seed := range seeds {
			rec := Run(faults.Draw(seed, faults.Limits{}), Config{})
			ticks += rec.Ticks
			committed += rec.CommitMax
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	simSeconds := float64(ticks) / 100
	b.ReportMetric(simSeconds/b.Elapsed().Seconds(), "sim-s/wall-s")
	b.ReportMetric(float64(ticks)/b.Elapsed().Seconds(), "ticks/s")
	if committed > 0 {
		b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(committed), "allocs/commit")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(committed), "B/commit")
	}
}
