// Package clock models each simulated replica's clocks, the device behind its
// io.Time. Both clocks count the same oscillator, which may run fast or slow
// (drift); the wall clock adds a fixed offset, a periodic wander (a triangle
// wave, as from a time daemon slewing back and forth) and steps (as from a
// time daemon setting the clock), forwards and backwards. The monotonic clock
// has none of those: it only drifts, and never goes backwards.
//
// Everything is integer arithmetic, so a seed reads the same times on every
// CPU (see sim/draw).
package clock

import (
	"math/bits"

	"viewstamp/sim/sched"
)

// Step sets the wall clock's step component from tick AtTick on. Steps
// replace one another rather than add up, so a plan states each stretch's
// error directly and a step back to zero is as easy to say as one away.
type Step struct {
	AtTick   uint64
	OffsetNs int64
}

// Options is one replica's clock. The zero value is a perfect clock.
type Options struct {
	// MonotonicBaseNs is the monotonic reading at time zero: uptime at boot,
	// so that nothing may take a monotonic time for an age since the run
	// began.
	MonotonicBaseNs uint64
	// DriftPpb is the oscillator's rate error in parts per billion: both
	// clocks gain DriftPpb ns per second. Greater than -1e9.
	DriftPpb int64
	OffsetNs int64 // wall clock minus true time, at time zero
	// WanderNs is the amplitude of the wall clock's periodic error, over
	// WanderPeriodTicks, starting WanderPhaseTicks into the period.
	WanderNs          int64
	WanderPeriodTicks uint64
	WanderPhaseTicks  uint64
	Steps             []Step // by AtTick, ascending
}

// Perfect reports a clock that reads true time, from a monotonic zero.
func (o Options) Perfect() bool {
	return o.MonotonicBaseNs == 0 && o.DriftPpb == 0 && o.OffsetNs == 0 && o.WanderNs == 0 && len(o.Steps) == 0
}

// Now is the simulator's true time in nanoseconds.
type Now interface{ Now() uint64 }

// Clock is one replica's io.Time.
type Clock struct {
	o     Options
	now   Now
	epoch int64 // true wall time at time zero
	// healedAt: from this tick on, no steps apply.
	healedAt uint64
	healed   bool
}

// New returns the clock for o, reading true time from now; epochNs is the
// true wall time at time zero.
func New(o Options, epochNs int64, now Now) *Clock {
	if o.DriftPpb <= -1e9 {
		panic("clock: drift stops the oscillator")
	}
	return &Clock{o: o, now: now, epoch: epochNs}
}

// Options returns the clock's faults.
func (c *Clock) Options() Options { return c.o }

// Heal ends the step faults from now on: the wall clock steps back to its
// offset, drift and wander, and stays there. The liveness phase calls it, so
// a clock sent far off by a step does not hold a cluster's agreement hostage
// past the faults.
func (c *Clock) Heal() {
	if !c.healed {
		c.healed, c.healedAt = true, c.now.Now()/sched.TickNs
	}
}

// Monotonic is the oscillator's count: true time scaled by its rate.
func (c *Clock) Monotonic() uint64 { return c.o.MonotonicBaseNs + c.oscillator(c.now.Now()) }

// Realtime is the wall clock: true wall time at zero, plus the oscillator's
// count, plus the offset, wander and step in force.
func (c *Clock) Realtime() int64 {
	t := c.now.Now()
	return c.epoch + int64(c.oscillator(t)) + c.o.OffsetNs + c.wander(t) + c.step(t/sched.TickNs)
}

// ErrorNs is how far the wall clock is from true wall time now.
func (c *Clock) ErrorNs() int64 { return c.Realtime() - c.epoch - int64(c.now.Now()) }

// Taken returns the steps in force by now, in order, Heal's not counted.
func (c *Clock) Taken() []Step {
	tick := c.now.Now() / sched.TickNs
	n := 0
	for _, s := range c.o.Steps {
		if s.AtTick > tick || c.healed && s.AtTick >= c.healedAt {
			break
		}
		n++
	}
	return c.o.Steps[:n]
}

// Far reports a step that makes a false ticker.
func (s Step) Far() bool { return s.OffsetNs >= FarMinNs || s.OffsetNs <= -FarMinNs }

const ppbScale = 1_000_000_000

// oscillator is t·(1e9 + drift)/1e9, exact in 128 bits; non-decreasing in t
// since the rate is positive.
func (c *Clock) oscillator(t uint64) uint64 {
	hi, lo := bits.Mul64(t, uint64(ppbScale+c.o.DriftPpb))
	q, _ := bits.Div64(hi, lo, ppbScale)
	return q
}

// wander is a triangle wave of amplitude WanderNs: -A at the start of the
// period, +A half way.
func (c *Clock) wander(t uint64) int64 {
	a := c.o.WanderNs
	if a == 0 || c.o.WanderPeriodTicks == 0 {
		return 0
	}
	period := c.o.WanderPeriodTicks * sched.TickNs
	p := (t + c.o.WanderPhaseTicks*sched.TickNs) % period
	rise := p
	if 2*p >= period {
		rise = period - p
	}
	// 4A·rise/period, rise ≤ period/2: 0 to 2A.
	hi, lo := bits.Mul64(4*uint64(a), rise)
	q, _ := bits.Div64(hi, lo, period)
	return int64(q) - a
}

func (c *Clock) step(tick uint64) int64 {
	if c.healed && tick >= c.healedAt {
		return 0
	}
	var off int64
	for _, s := range c.o.Steps {
		if s.AtTick > tick {
			break
		}
		off = s.OffsetNs
	}
	return off
}
