// Package faults draws everything a simulator run varies from its seed:
// cluster shape, network, storage and process fault rates, and the workload's
// pace. This is swarm testing: each seed turns some fault classes off and
// others up, so that across seeds every combination is explored, rather than
// every run carrying the same moderate mix.
package faults

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"viewstamp/replica/vsr"
	"viewstamp/sim/disk"
	"viewstamp/sim/draw"
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
	Weather            Weather
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
	// Stragglers slow some replicas' disks (nil on seeds without
	// stragglers); one entry per replica otherwise.
	Stragglers []Straggler
	// RealtimeEpochNs is the cluster's wall clock at tick 0. Most seeds
	// start in 2023; some start near 2128, where a pending transfer's
	// expiry no longer fits below 2^63 and overflows_timeout is reachable.
	RealtimeEpochNs int64
}

// Straggler multiplies a replica's disk latencies (minimum and mean) as
// drawn for every disk; 1 leaves them as they are. Stragglers are how one
// replica falls behind its peers without any fault a checker would call a
// fault: a disk with slow reads delays the prefetches of its commits while
// its WAL writes, and so its acknowledgements, keep pace; one with slow
// writes acknowledges late and checkpoints late. Protocol rules that bound
// how far a replica may run ahead of its own durable state (AckMax: no
// acknowledgement past the next checkpoint's trigger plus a pipeline) are
// only ever tested when replicas drift apart like this.
type Straggler struct{ ReadFactor, WriteFactor uint64 }

// Straggler draws: stragglerOff of seeds have none; on the rest each replica
// is slowed with probability 1/replicas, by a factor in
// [stragglerFactorMin, stragglerFactorMax], in its reads, its writes or both.
const (
	stragglerOff       = 0.6
	stragglerFactorMin = 2
	stragglerFactorMax = 20
)

// Late replays (packet.Options.LateReplayProbability): lateReplayOff of
// seeds have none; the rest replay up to lateReplayPPMMax of delivered
// packets once more, seconds to a minute later. A few percent is plenty:
// what they test is the one stale copy that lands after a restart or a view
// change, and every late copy is a message a replica must handle.
const (
	lateReplayOff    = 0.5
	lateReplayPPMMax = 50_000
)

// Limits callers may override from the command line.
type Limits struct {
	RequestsMax int // 0: drawn
}

// Process fault rates per replica per tick span TigerBeetle's (calm: a
// replica runs for months of ticks between crashes, so rare interleavings
// have time to develop) up to a storm of constant failure; each is drawn
// log-uniformly between the two, independently but for recoveryRatioMin.
const (
	crashCalm, crashStorm     = 2e-7, 2e-4
	restartCalm, restartStorm = 2e-6, 1e-2
	pauseCalm, pauseStorm     = 2e-7, 1e-4
	unpauseCalm, unpauseStorm = 2e-6, 1e-2
	// recoveryRatioMin: a replica restarts (unpauses) at least this many
	// times as readily as it crashes (pauses), TigerBeetle's ratio, so it is
	// down a tenth of the time at most: a storm of crashes with calm restarts
	// would only park clusters of one or two replicas for the whole run.
	recoveryRatioMin = 10
	// corruptMin, corruptMax bound the drawn fraction of delivered messages
	// that arrive corrupted, when corruption is on.
	corruptMin, corruptMax = 1e-4, 3e-2
	// calmBelow and stormAbove split the log scale of the fault rates into
	// the thirds that label a seed.
	calmBelow, stormAbove = 1.0 / 3, 2.0 / 3
)

// Weather labels a seed's process faults for swarm summaries, by where its
// crash and pause rates fall on the log scale from calm to storm (the
// higher of the two decides).
type Weather string

const (
	Calm    Weather = "calm"
	Between Weather = "between"
	Storm   Weather = "storm"
)

// RequestsDrawnMin and RequestsDrawnMax bound the requests a seed draws
// for its safety phase (without Limits.RequestsMax).
const (
	RequestsDrawnMin = 20
	RequestsDrawnMax = 200
)

// Draw derives every option from seed. rng is consumed in a fixed order;
// adding an option means appending a draw, never inserting one, so that old
// seeds keep their meaning as long as possible.
//
// Every draw is an integer, or a float made from integers by one
// multiplication chain or division, never a fused a*b+c: a seed draws the
// same options on every CPU (see sim/draw). TestDescribeGolden pins them.
func Draw(seed uint64, lim Limits) Options {
	rng := rand.New(rand.NewPCG(seed, 0x5EED))
	o := Options{Seed: seed}
	o.ReplicaCount = 1 + rng.IntN(6)
	o.ClientCount = 1 + rng.IntN(8)
	o.RequestsMax = RequestsDrawnMin + rng.IntN(RequestsDrawnMax-RequestsDrawnMin+1)
	if lim.RequestsMax > 0 {
		o.RequestsMax = lim.RequestsMax
	}

	off := func(p float64) bool { return rng.Float64() < p }
	millis := func(lo, hi int) uint64 { return uint64(lo+rng.IntN(hi-lo+1)) * ms }
	ppm := func(lo, hi int) float64 { return draw.PPM(rng, lo, hi) }
	logUniform := func(lo, hi float64) (float64, float64) { return draw.LogUniform(rng, lo, hi) }

	// Latency means are the whole delay's (at least the minimum), as
	// TigerBeetle draws them, so every seed reorders.
	n := &o.Network
	n.OneWayDelayMinNs = millis(0, 30)
	n.OneWayDelayMeanNs = millis(30, 100)
	if !off(0.2) {
		n.LossProbability = ppm(0, 300_000)
	}
	if !off(0.3) {
		n.ReplayProbability = ppm(0, 500_000)
	}
	n.PathCapacity = 2 + rng.IntN(19)
	if !off(0.4) {
		n.ClogProbability = ppm(0, 20_000)
	}
	n.ClogDurationMeanNs = millis(0, 5000)
	n.PartitionMode = packet.PartitionModes[rng.IntN(len(packet.PartitionModes))]
	n.PartitionSymmetric = rng.IntN(2) == 0
	n.PartitionProbability = ppm(0, 30_000)
	n.UnpartitionProbability = ppm(10_000, 100_000)
	n.PartitionStabilityTicks = uint64(100 + rng.IntN(101))
	n.UnpartitionStabilityTicks = uint64(rng.IntN(21))

	s := &o.Storage
	s.ReadLatencyMinNs = millis(0, 30)
	s.ReadLatencyMeanNs = millis(30, 100)
	s.WriteLatencyMinNs = millis(0, 30)
	s.WriteLatencyMeanNs = millis(30, 1000)
	s.CrashFaultProbability = ppm(800_000, 1_000_000)

	p := &o.Process
	var crashAt, pauseAt float64
	if !off(0.1) {
		p.CrashProbability, crashAt = logUniform(crashCalm, crashStorm)
	}
	p.RestartProbability, _ = logUniform(max(restartCalm, float64(recoveryRatioMin*p.CrashProbability)), restartStorm)
	if !off(0.4) {
		p.PauseProbability, pauseAt = logUniform(pauseCalm, pauseStorm)
	}
	p.UnpauseProbability, _ = logUniform(max(unpauseCalm, float64(recoveryRatioMin*p.PauseProbability)), unpauseStorm)
	p.StabilityTicks = uint64(rng.IntN(1001))
	p.MaxDown = MaxDown(o.ReplicaCount)
	switch at := max(crashAt, pauseAt); {
	case at < calmBelow:
		p.Weather = Calm
	case at > stormAbove:
		p.Weather = Storm
	default:
		p.Weather = Between
	}

	w := &o.Workload
	w.RequestProbability = ppm(10_000, 1_000_000)

	o.RealtimeEpochNs = 1_700_000_000 * 1_000_000_000
	if off(0.1) {
		o.RealtimeEpochNs = 4_950_000_000*1_000_000_000 + rng.Int64N(50_000_000*1_000_000_000)
	}

	if !off(0.3) {
		n.CorruptProbability, _ = logUniform(corruptMin, corruptMax)
	}

	if !off(stragglerOff) {
		o.Stragglers = make([]Straggler, o.ReplicaCount)
		for i := range o.Stragglers {
			st := Straggler{ReadFactor: 1, WriteFactor: 1}
			if rng.IntN(o.ReplicaCount) == 0 {
				f := uint64(stragglerFactorMin + rng.IntN(stragglerFactorMax-stragglerFactorMin+1))
				switch rng.IntN(3) {
				case 0:
					st.ReadFactor = f
				case 1:
					st.WriteFactor = f
				default:
					st.ReadFactor, st.WriteFactor = f, f
				}
			}
			o.Stragglers[i] = st
		}
	}

	// Drawn last, so adding them moved no earlier draw.
	if !off(lateReplayOff) {
		n.LateReplayProbability = ppm(0, lateReplayPPMMax)
	}
	return o
}

// StorageFor is the disk options of replica i: the drawn ones, slowed if i
// is a straggler.
func (o Options) StorageFor(i int) disk.Options {
	s := o.Storage
	if i < len(o.Stragglers) {
		st := o.Stragglers[i]
		s.ReadLatencyMinNs *= st.ReadFactor
		s.ReadLatencyMeanNs *= st.ReadFactor
		s.WriteLatencyMinNs *= st.WriteFactor
		s.WriteLatencyMeanNs *= st.WriteFactor
	}
	return s
}

// describeStragglers names the slowed replicas, e.g. "1:reads*10 4:writes*3",
// or "none".
func describeStragglers(sts []Straggler) string {
	var parts []string
	for i, st := range sts {
		switch {
		case st.ReadFactor > 1 && st.WriteFactor > 1:
			parts = append(parts, fmt.Sprintf("%d:reads+writes*%d", i, st.ReadFactor))
		case st.ReadFactor > 1:
			parts = append(parts, fmt.Sprintf("%d:reads*%d", i, st.ReadFactor))
		case st.WriteFactor > 1:
			parts = append(parts, fmt.Sprintf("%d:writes*%d", i, st.WriteFactor))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
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
		"replica_count":                  o.ReplicaCount,
		"client_count":                   o.ClientCount,
		"requests_max":                   o.RequestsMax,
		"realtime_epoch_ns":              o.RealtimeEpochNs,
		"one_way_delay_min_ms":           n.OneWayDelayMinNs / ms,
		"one_way_delay_mean_ms":          n.OneWayDelayMeanNs / ms,
		"packet_loss_probability":        n.LossProbability,
		"packet_replay_probability":      n.ReplayProbability,
		"packet_replay_late_probability": n.LateReplayProbability,
		"path_capacity":                  n.PathCapacity,
		"path_clog_probability":          n.ClogProbability,
		"path_clog_duration_mean_ms":     n.ClogDurationMeanNs / ms,
		"partition_mode":                 n.PartitionMode.String(),
		"partition_symmetric":            n.PartitionSymmetric,
		"partition_probability":          n.PartitionProbability,
		"unpartition_probability":        n.UnpartitionProbability,
		"partition_stability_ticks":      n.PartitionStabilityTicks,
		"unpartition_stability_ticks":    n.UnpartitionStabilityTicks,
		"read_latency_min_ms":            s.ReadLatencyMinNs / ms,
		"read_latency_mean_ms":           s.ReadLatencyMeanNs / ms,
		"write_latency_min_ms":           s.WriteLatencyMinNs / ms,
		"write_latency_mean_ms":          s.WriteLatencyMeanNs / ms,
		"crash_fault_probability":        s.CrashFaultProbability,
		"crash_probability":              p.CrashProbability,
		"restart_probability":            p.RestartProbability,
		"pause_probability":              p.PauseProbability,
		"unpause_probability":            p.UnpauseProbability,
		"process_stability_ticks":        p.StabilityTicks,
		"replicas_down_max":              p.MaxDown,
		"process_faults":                 string(p.Weather),
		"corrupt_probability":            n.CorruptProbability,
		"request_probability":            w.RequestProbability,
		"stragglers":                     describeStragglers(o.Stragglers),
	}
}
