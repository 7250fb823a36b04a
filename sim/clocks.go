package sim

import (
	"math/rand/v2"

	rclock "viewstamp/replica/clock"
	replicaio "viewstamp/replica/io"
	"viewstamp/replica/vsr"
	"viewstamp/reports"
	"viewstamp/sim/check"
	simclock "viewstamp/sim/clock"
	"viewstamp/sim/sched"
)

// clockStream names the seed's PCG stream for clock faults: a stream of its
// own, so that turning them on changes no other draw of the seed.
const clockStream = 0xC10C

// clocks holds each replica's clock when Config.ClockFaults is on; a
// replica keeps its clock across restarts, as a machine does.
type clocks struct {
	plan simclock.Plan
	of   []*simclock.Clock // nil: every replica reads the one perfect clock

	// timestamps checks what the primaries stamp against true time, within
	// boundNs (timestampBound).
	timestamps *check.Timestamps
	boundNs    int64
	// unsynchronizedTicks: ticks on which some primary in normal status had
	// no synchronized clock; abdications, the times a primary stepped aside
	// for it (seen by polling, so each replica's last state is kept).
	unsynchronizedTicks uint64
	abdications         uint64
	abdicated           []bool
}

// timestampSlackNs covers what the clock's agreement adds to an honest
// clock's error besides the tolerance: the one-way delay of the samples it
// agreed on, and the drift of the replica's own oscillator over the epoch it
// extrapolates across (60 s at 500 ppm is 30 ms). A clogged path delays a
// sample by seconds (clog durations average up to 5 s).
const timestampSlackNs = 5_000_000_000

func (c *Cluster) newClocks() {
	c.clocks.timestamps = check.NewTimestamps()
	c.clocks.abdicated = make([]bool, c.opts.ReplicaCount)
	c.clocks.boundNs = rclock.ToleranceMaxNs + timestampSlackNs
	if !c.cfg.ClockFaults {
		return
	}
	rng := rand.New(rand.NewPCG(c.opts.Seed, clockStream))
	c.clocks.plan = simclock.Draw(rng, c.opts.ReplicaCount, c.cfg.TicksMax)
	for _, o := range c.clocks.plan.Replicas {
		c.clocks.of = append(c.clocks.of, simclock.New(o, c.opts.RealtimeEpochNs, &c.sched))
	}
	c.clocks.boundNs += c.honestErrorMaxNs()
}

// honestErrorMaxNs bounds how far any clock not stepped far can be from true
// time during the run: its offset, wander and largest near step, and its
// drift over the longest run.
func (c *Cluster) honestErrorMaxNs() int64 {
	horizonNs := (c.cfg.TicksMax + c.cfg.TicksMaxConvergence) * sched.TickNs
	abs := func(x int64) int64 { return max(x, -x) }
	var worst int64
	for _, o := range c.clocks.plan.Replicas {
		var step int64
		for _, s := range o.Steps {
			if !s.Far() {
				step = max(step, abs(s.OffsetNs))
			}
		}
		drift := int64(uint64(abs(o.DriftPpb)) * (horizonNs / 1_000_000_000))
		worst = max(worst, abs(o.OffsetNs)+o.WanderNs+step+drift)
	}
	return worst
}

// trueRealtime is true wall time now.
func (c *Cluster) trueRealtime() int64 { return c.opts.RealtimeEpochNs + int64(c.sched.Now()) }

// Stamped is the replicas' StampObserver: every timestamp is judged as it is
// issued.
func (o observer) Stamped(replica uint8, h *vsr.Header) {
	c := o.c
	if err := c.clocks.timestamps.Stamped(int(replica), h.Op, h.Timestamp, c.trueRealtime(), c.clocks.boundNs); err != nil {
		c.failCheck("timestamps", err)
	}
}

// checkTimestamp judges an op entering the committed history.
func (c *Cluster) checkTimestamp(h *vsr.Header) {
	if err := c.clocks.timestamps.Committed(h.Op, h.Timestamp, c.trueRealtime(), c.clocks.boundNs); err != nil {
		c.failCheck("timestamps", err)
	}
}

// observeClocks counts, once per tick, the primaries held up by their clocks.
func (c *Cluster) observeClocks() {
	k := &c.clocks
	held := false
	for i, r := range c.replicas {
		if r == nil || c.down[i] {
			k.abdicated[i] = false
			continue
		}
		if r.Status() == vsr.StatusNormal && r.Primary() && !r.ClockSynchronized() {
			held = true
		}
		a := r.ClockAbdicated()
		if a && !k.abdicated[i] {
			k.abdications++
		}
		k.abdicated[i] = a
	}
	if held {
		k.unsynchronizedTicks++
	}
}

func (c *Cluster) timeFor(replica int) replicaio.Time {
	if c.clocks.of == nil {
		return simTime{&c.sched, c.opts.RealtimeEpochNs}
	}
	return c.clocks.of[replica]
}

// healClocks ends the clocks' steps for the liveness phase; drift, offset
// and wander stay, being within any agreement.
func (c *Cluster) healClocks() {
	for _, k := range c.clocks.of {
		k.Heal()
	}
}

func (c *Cluster) clockRecord() *reports.Clock {
	if c.clocks.of == nil {
		return nil
	}
	rec := &reports.Clock{Perfect: c.clocks.plan.Perfect(), UnsynchronizedPrimaryTicks: c.clocks.unsynchronizedTicks,
		Abdications: c.clocks.abdications, TimestampErrorMaxNs: c.clocks.timestamps.ErrorMaxNs(), TimestampBoundNs: c.clocks.boundNs}
	abs := func(x int64) int64 { return max(x, -x) }
	for _, k := range c.clocks.of {
		o := k.Options()
		rec.OffsetMaxNs = max(rec.OffsetMaxNs, abs(o.OffsetNs))
		rec.DriftMaxPpb = max(rec.DriftMaxPpb, abs(o.DriftPpb))
		rec.WanderMaxNs = max(rec.WanderMaxNs, o.WanderNs)
		for _, s := range k.Taken() {
			rec.StepMaxNs = max(rec.StepMaxNs, abs(s.OffsetNs))
			rec.Steps++
			if s.Far() {
				rec.Far++
			}
		}
	}
	return rec
}
