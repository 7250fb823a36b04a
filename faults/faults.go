// Package faults draws everything a simulator run varies from its seed:
// cluster shape, network, storage and process fault rates, and the workload's
// pace. This is swarm testing: each seed turns some fault classes off and
// others up, so that across seeds every combination is explored, rather than
// every run carrying the same moderate mix.
package faults

import (
	"math/rand/v2"

	"viewstamp/replica/vsr"
	"viewstamp/sim/disk"
	"viewstamp/sim/packet"
)

const ms = 1_000_000

// Process fault rates, per replica per tick.
type Process struct {
	CrashProbability   float64 // ×10 while the replica has writes in flight, when torn writes matter
	RestartProbability float64
	PauseProbability   float64
	UnpauseProbability float64
	StabilityTicks     uint64 // a replica's process state holds at least this long
	MaxDown            int    // replicas crashed or paused at once, at most
}

// Workload is the pace of client traffic.
type Workload struct {
	RequestProbability float64 // per idle client per tick
}

// Options is one run's complete configuration.
type Options struct {
	Seed         uint64
	ReplicaCount int
	ClientCount  int
	RequestsMax  int
	Network      packet.Options
	Storage      disk.Options
	Process      Process
	Workload     Workload
	// RealtimeEpochNs is the cluster's wall clock at tick 0. Most seeds
	// start in 2023; some start near 2128, where a pending transfer's
	// expiry no longer fits below 2^63 and overflows_timeout is reachable.
	RealtimeEpochNs int64
}

// Limits callers may override from the command line.
type Limits struct {
	RequestsMax int // 0: drawn
}

// Draw derives every option from seed. rng is consumed in a fixed order;
// adding an option means appending a draw, never inserting one, so that old
// seeds keep their meaning as long as possible.
func Draw(seed uint64, lim Limits) Options {
	rng := rand.New(rand.NewPCG(seed, 0x5EED))
	o := Options{Seed: seed}
	o.ReplicaCount = 1 + rng.IntN(6)
	o.ClientCount = 1 + rng.IntN(8)
	o.RequestsMax = 20 + rng.IntN(181)
	if lim.RequestsMax > 0 {
		o.RequestsMax = lim.RequestsMax
	}

	off := func(p float64) bool { return rng.Float64() < p }
	uniform := func(lo, hi float64) float64 { return lo + rng.Float64()*(hi-lo) }
	n := &o.Network
	n.OneWayDelayMinNs = uint64(rng.IntN(31)) * ms
	n.OneWayDelayMeanNs = uint64(rng.IntN(101)) * ms
	if !off(0.2) {
		n.LossProbability = uniform(0, 0.3)
	}
	if !off(0.3) {
		n.ReplayProbability = uniform(0, 0.5)
	}
	n.PathCapacity = 2 + rng.IntN(19)
	if !off(0.4) {
		n.ClogProbability = uniform(0, 0.02)
	}
	n.ClogDurationMeanNs = uint64(rng.IntN(5001)) * ms
	n.PartitionMode = packet.PartitionModes[rng.IntN(len(packet.PartitionModes))]
	n.PartitionSymmetric = rng.IntN(2) == 0
	n.PartitionProbability = uniform(0, 0.03)
	n.UnpartitionProbability = uniform(0.01, 0.1)
	n.PartitionStabilityTicks = uint64(100 + rng.IntN(101))
	n.UnpartitionStabilityTicks = uint64(rng.IntN(21))

	s := &o.Storage
	s.ReadLatencyMinNs = uint64(rng.IntN(31)) * ms
	s.ReadLatencyMeanNs = uint64(rng.IntN(101)) * ms
	s.WriteLatencyMinNs = uint64(rng.IntN(31)) * ms
	s.WriteLatencyMeanNs = uint64(rng.IntN(1001)) * ms
	s.CrashFaultProbability = uniform(0.8, 1.0)

	p := &o.Process
	if !off(0.25) {
		p.CrashProbability = uniform(0, 2e-4)
	}
	p.RestartProbability = uniform(1e-3, 1e-2)
	if !off(0.5) {
		p.PauseProbability = uniform(0, 1e-4)
	}
	p.UnpauseProbability = uniform(1e-3, 1e-2)
	p.StabilityTicks = uint64(rng.IntN(1001))
	p.MaxDown = MaxDown(o.ReplicaCount)

	w := &o.Workload
	w.RequestProbability = uniform(0.01, 1)

	o.RealtimeEpochNs = 1_700_000_000 * 1_000_000_000
	if off(0.1) {
		o.RealtimeEpochNs = 4_950_000_000*1_000_000_000 + rng.Int64N(50_000_000*1_000_000_000)
	}
	return o
}

// MaxDown is how many replicas may be down at once while a view-change
// quorum stays up, so the cluster can still make progress; a solo or
// two-replica cluster may lose one (and stalls until it returns).
func MaxDown(replicas int) int {
	vc := int(vsr.QuorumsFor(uint8(replicas)).ViewChange)
	return max(1, replicas-vc)
}

// Describe lists every drawn option by name, for the run record.
func Describe(o Options) map[string]any {
	n, s, p, w := o.Network, o.Storage, o.Process, o.Workload
	return map[string]any{
		"replica_count":               o.ReplicaCount,
		"client_count":                o.ClientCount,
		"requests_max":                o.RequestsMax,
		"realtime_epoch_ns":           o.RealtimeEpochNs,
		"one_way_delay_min_ms":        n.OneWayDelayMinNs / ms,
		"one_way_delay_mean_ms":       n.OneWayDelayMeanNs / ms,
		"packet_loss_probability":     n.LossProbability,
		"packet_replay_probability":   n.ReplayProbability,
		"path_capacity":               n.PathCapacity,
		"path_clog_probability":       n.ClogProbability,
		"path_clog_duration_mean_ms":  n.ClogDurationMeanNs / ms,
		"partition_mode":              n.PartitionMode.String(),
		"partition_symmetric":         n.PartitionSymmetric,
		"partition_probability":       n.PartitionProbability,
		"unpartition_probability":     n.UnpartitionProbability,
		"partition_stability_ticks":   n.PartitionStabilityTicks,
		"unpartition_stability_ticks": n.UnpartitionStabilityTicks,
		"read_latency_min_ms":         s.ReadLatencyMinNs / ms,
		"read_latency_mean_ms":        s.ReadLatencyMeanNs / ms,
		"write_latency_min_ms":        s.WriteLatencyMinNs / ms,
		"write_latency_mean_ms":       s.WriteLatencyMeanNs / ms,
		"crash_fault_probability":     s.CrashFaultProbability,
		"crash_probability":           p.CrashProbability,
		"restart_probability":         p.RestartProbability,
		"pause_probability":           p.PauseProbability,
		"unpause_probability":         p.UnpauseProbability,
		"process_stability_ticks":     p.StabilityTicks,
		"replicas_down_max":           p.MaxDown,
		"request_probability":         w.RequestProbability,
	}
}
