package sim

import (
	"math/rand/v2"

	replicaio "viewstamp/replica/io"
	"viewstamp/reports"
	simclock "viewstamp/sim/clock"
)

// clockStream names the seed's PCG stream for clock faults: a stream of its
// own, so that turning them on changes no other draw of the seed.
const clockStream = 0xC10C

// clocks holds each replica's clock when Config.ClockFaults is on; a
// replica keeps its clock across restarts, as a machine does.
type clocks struct {
	plan simclock.Plan
	of   []*simclock.Clock // nil: every replica reads the one perfect clock
}

func (c *Cluster) newClocks() {
	if !c.cfg.ClockFaults {
		return
	}
	rng := rand.New(rand.NewPCG(c.opts.Seed, clockStream))
	c.clocks.plan = simclock.Draw(rng, c.opts.ReplicaCount, c.cfg.TicksMax)
	for _, o := range c.clocks.plan.Replicas {
		c.clocks.of = append(c.clocks.of, simclock.New(o, c.opts.RealtimeEpochNs, &c.sched))
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
	rec := &reports.Clock{Perfect: c.clocks.plan.Perfect()}
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
