package clock

import (
	"cmp"
	"math/rand/v2"
	"slices"
)

// What a seed may draw. Near errors (offset, wander, steps and the drift of
// a long run) stay well inside the synchronization tolerance of 10 s, so
// honest clocks always agree; far steps are false tickers, at least FarMinNs
// off, beyond any agreement with an honest clock even after both have
// drifted. Drift is both clocks': a few hundred ppm is a poor oscillator or a
// virtual machine losing ticks.
const (
	// perfectProbability: seeds whose every clock is perfect, as all of
	// TigerBeetle's VOPR runs are, so runs without clock faults stay common.
	perfectProbability = 0.2
	// Each fault class is off on some seeds (swarm testing): probability
	// that a non-perfect seed turns it off.
	baseOff, driftOff, offsetOff, wanderOff, stepsOff, farOff = 0.3, 0.3, 0.3, 0.5, 0.4, 0.5

	MonotonicBaseMaxNs = 86_400 * second // a day of uptime
	DriftMaxPpb        = 500_000         // 500 ppm, 0.5 ms per second
	OffsetMaxNs        = 500 * millisecond
	WanderMaxNs        = 200 * millisecond
	WanderPeriodMin    = 100 // ticks
	WanderPeriodMax    = 10_000
	StepMaxNs          = 1 * second
	StepsMax           = 16  // per replica, far steps and their returns included
	StepGapMin         = 500 // ticks between a replica's steps
	StepGapMax         = 20_000
	// FarMinNs: a far clock 30 s off, less its own near error and the
	// drift of a long run, still lies beyond twice the 10 s tolerance from
	// any honest one.
	FarMinNs = 30 * second
	FarMaxNs = 120 * second
	// A far step lasts long enough to outlive a synchronization epoch (60 s),
	// so that a cluster that cannot outvote it loses its clock.
	FarTicksMin   = 500
	FarTicksMax   = 8_000
	FarGapMin     = 1_000 // ticks between far steps, cluster-wide
	FarGapMax     = 50_000
	FarPerSeedMax = 4

	millisecond = 1_000_000
	second      = 1_000 * millisecond
)

// Plan is every replica's clock for one run.
type Plan struct {
	Replicas []Options
	// Far is the number of far steps drawn. At most one replica is far at a
	// time, so far clocks never form a replication quorum of their own (the
	// smallest quorum across replicas is two), and with three replicas or
	// more the honest ones still do.
	Far int
}

// Perfect reports a plan whose every clock is perfect.
func (p Plan) Perfect() bool {
	for _, o := range p.Replicas {
		if !o.Perfect() {
			return false
		}
	}
	return true
}

// Draw draws the clocks of a cluster of replicas over a run of at most
// horizon ticks. rng should be a stream of its own, so that turning clock
// faults on does not change any other draw of the seed.
func Draw(rng *rand.Rand, replicas int, horizon uint64) Plan {
	p := Plan{Replicas: make([]Options, replicas)}
	if rng.Float64() < perfectProbability {
		return p
	}
	on := func(off float64) bool { return rng.Float64() >= off }
	signed := func(max int64) int64 { return rng.Int64N(2*max+1) - max }
	between := func(lo, hi uint64) uint64 { return lo + rng.Uint64N(hi-lo+1) }
	base, drift, offset, wander, steps, far := on(baseOff), on(driftOff), on(offsetOff), on(wanderOff), on(stepsOff), on(farOff)
	for i := range p.Replicas {
		o := &p.Replicas[i]
		if base {
			o.MonotonicBaseNs = rng.Uint64N(MonotonicBaseMaxNs + 1)
		}
		if drift {
			o.DriftPpb = signed(DriftMaxPpb)
		}
		if offset {
			o.OffsetNs = signed(OffsetMaxNs)
		}
		if wander {
			o.WanderNs = rng.Int64N(WanderMaxNs + 1)
			o.WanderPeriodTicks = between(WanderPeriodMin, WanderPeriodMax)
			o.WanderPhaseTicks = rng.Uint64N(o.WanderPeriodTicks)
		}
		if steps {
			for at := between(StepGapMin, StepGapMax); at < horizon && len(o.Steps) < StepsMax/2; at += between(StepGapMin, StepGapMax) {
				o.Steps = append(o.Steps, Step{AtTick: at, OffsetNs: signed(StepMaxNs)})
			}
		}
	}
	// A solo replica has no one to outvote its clock: a far step would be
	// the cluster's time, not a fault.
	if far && replicas > 1 {
		for at := between(FarGapMin, FarGapMax); at < horizon && p.Far < FarPerSeedMax; at += between(FarGapMin, FarGapMax) {
			o := &p.Replicas[rng.IntN(replicas)]
			ticks := between(FarTicksMin, FarTicksMax)
			off := int64(between(FarMinNs, FarMaxNs))
			if rng.IntN(2) == 0 {
				off = -off
			}
			o.Steps = farStep(o.Steps, at, at+ticks, off)
			at += ticks
			p.Far++
		}
	}
	return p
}

// farStep sends a clock to off over [from, to), then back to the near step
// the plan had in force at to; near steps inside are overruled.
func farStep(steps []Step, from, to uint64, off int64) []Step {
	var back int64
	for _, s := range steps {
		if s.AtTick <= to {
			back = s.OffsetNs
		}
	}
	kept := slices.DeleteFunc(steps, func(s Step) bool { return s.AtTick >= from && s.AtTick <= to })
	kept = append(kept, Step{AtTick: from, OffsetNs: off}, Step{AtTick: to, OffsetNs: back})
	slices.SortFunc(kept, func(a, b Step) int { return cmp.Compare(a.AtTick, b.AtTick) })
	return kept
}
