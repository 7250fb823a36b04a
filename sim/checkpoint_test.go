package sim_test

import (
	"testing"

	"viewstamp/faults"
	"viewstamp/replica/vsr"
	"viewstamp/reports"
	"viewstamp/sim"
)

// checkpointJournalSlots is a WAL that wraps every 52 ops (checkpoints at
// 51, 103, ...), as the storage engine's simulator preset will.
const checkpointJournalSlots = 64

// quietDiskMeanNs is the mean disk latency of a quiet run: 30 ms.
const quietDiskMeanNs = 30_000_000

// TestCheckpointsWrapTheWAL runs clusters far past their WAL on a quiet
// network and a fast disk (the ledger's forest waits for the disk on every
// commit, so a slow one only makes the run shorter): the WAL is reused only
// behind durable checkpoints, every replica
// names each checkpoint alike (the storage checker), and replicas that
// crash reopen from their checkpoint and replay only what follows it (the
// state checker holds the reopened state to the history's).
func TestCheckpointsWrapTheWAL(t *testing.T) {
	for _, tc := range []struct {
		seed     uint64
		replicas int
	}{{11, 1}, {12, 3}, {13, 6}} {
		opts := faults.Draw(tc.seed, faults.Limits{RequestsMax: 600})
		opts.ReplicaCount = tc.replicas
		opts.Network.LossProbability, opts.Network.ReplayProbability = 0, 0
		opts.Network.ClogProbability, opts.Network.PartitionProbability = 0, 0
		opts.Network.CorruptProbability = 0
		opts.Process.CrashProbability, opts.Process.RestartProbability = 1e-5, 1e-2
		opts.Process.PauseProbability = 0
		opts.Storage.ReadLatencyMeanNs = max(opts.Storage.ReadLatencyMinNs, quietDiskMeanNs)
		opts.Storage.WriteLatencyMeanNs = max(opts.Storage.WriteLatencyMinNs, quietDiskMeanNs)
		rec := sim.Run(opts, sim.Config{Lite: true, Mutate: func(c *vsr.Config) {
			c.JournalSlotCount = checkpointJournalSlots
		}})
		if rec.Result != reports.Pass {
			t.Fatalf("seed %d, %d replicas: %s: %s", tc.seed, tc.replicas, rec.Result, rec.Failure)
		}
		wraps := rec.CommitMax / checkpointJournalSlots
		t.Logf("seed %d: completed %d of %d requests, ticks %d, view changes %d", tc.seed, rec.RequestsCompleted, opts.RequestsMax, rec.Ticks, rec.ViewChanges)
		if wraps < 5 || rec.Checkpoints < int(wraps) {
			t.Fatalf("seed %d: commit_max %d (%d wraps) with %d checkpoints", tc.seed, rec.CommitMax, wraps, rec.Checkpoints)
		}
		t.Logf("seed %d, %d replicas: commit_max %d, %d checkpoints, %d restarts", tc.seed, tc.replicas, rec.CommitMax, rec.Checkpoints, rec.Restarts)
	}
}

// TestStateSync replays seeds on which replicas fell behind what their
// peers' WALs still held and synced to a newer checkpoint, fetching its
// blocks: the runs must pass every checker (a synced replica's state is the
// history's at the checkpoint) and must still sync, or the test no longer
// tests sync and needs other seeds.
func TestStateSync(t *testing.T) {
	for _, seed := range []uint64{9000511, 9600332} {
		rec := sim.Run(faults.Draw(seed, faults.Limits{}), sim.Config{})
		if rec.Result != reports.Pass {
			t.Fatalf("seed %d: %s: %s", seed, rec.Result, rec.Failure)
		}
		if rec.StateSyncs == 0 || rec.Checkpoints == 0 {
			t.Fatalf("seed %d: %d checkpoints, %d state syncs: it no longer exercises state sync", seed, rec.Checkpoints, rec.StateSyncs)
		}
		t.Logf("seed %d: %d checkpoints, %d state syncs", seed, rec.Checkpoints, rec.StateSyncs)
	}
}
