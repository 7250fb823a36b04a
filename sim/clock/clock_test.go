package clock

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"viewstamp/sim/sched"
)

type trueTime struct{ ns uint64 }

func (t *trueTime) Now() uint64 { return t.ns }

const epochNs = 1_700_000_000 * second

func TestPerfectClockIsExact(t *testing.T) {
	tt := &trueTime{}
	c := New(Options{}, epochNs, tt)
	for _, ns := range []uint64{0, 1, sched.TickNs, 123_456_789_012, 4_000 * second} {
		tt.ns = ns
		if c.Monotonic() != ns || c.Realtime() != epochNs+int64(ns) || c.ErrorNs() != 0 {
			t.Fatalf("at %d: monotonic %d realtime %d", ns, c.Monotonic(), c.Realtime())
		}
	}
}

func TestDriftScalesBothClocks(t *testing.T) {
	tt := &trueTime{}
	c := New(Options{MonotonicBaseNs: 7, DriftPpb: -250_000, OffsetNs: 3 * millisecond}, epochNs, tt)
	tt.ns = 1000 * second // 250 ppm slow: 250 ms lost
	if got, want := c.Monotonic(), uint64(7+1000*second-250*millisecond); got != want {
		t.Fatalf("monotonic %d, want %d", got, want)
	}
	if got, want := c.ErrorNs(), int64(3*millisecond-250*millisecond); got != want {
		t.Fatalf("wall clock error %d, want %d", got, want)
	}
}

func TestWanderIsATriangle(t *testing.T) {
	tt := &trueTime{}
	c := New(Options{WanderNs: 100 * millisecond, WanderPeriodTicks: 400}, epochNs, tt)
	for _, tc := range []struct {
		tick uint64
		want int64
	}{{0, -100 * millisecond}, {100, 0}, {200, 100 * millisecond}, {300, 0}, {400, -100 * millisecond}, {450, -50 * millisecond}} {
		tt.ns = tc.tick * sched.TickNs
		if got := c.ErrorNs(); got != tc.want {
			t.Errorf("tick %d: error %d, want %d", tc.tick, got, tc.want)
		}
	}
}

func TestStepsHappenAtTheirTicks(t *testing.T) {
	steps := []Step{{100, 2 * second}, {250, -3 * second}, {251, 0}}
	tt := &trueTime{}
	c := New(Options{DriftPpb: 100_000, WanderNs: 5 * millisecond, WanderPeriodTicks: 77, Steps: steps}, epochNs, tt)
	smooth := New(Options{DriftPpb: 100_000, WanderNs: 5 * millisecond, WanderPeriodTicks: 77}, epochNs, tt)
	for tick := range uint64(400) {
		for _, sub := range []uint64{0, sched.TickNs - 1} {
			tt.ns = tick*sched.TickNs + sub
			var want int64
			for _, s := range steps {
				if s.AtTick <= tick {
					want = s.OffsetNs
				}
			}
			if got := c.Realtime() - smooth.Realtime(); got != want {
				t.Fatalf("tick %d: step %d, want %d", tick, got, want)
			}
			if c.Monotonic() != smooth.Monotonic() {
				t.Fatalf("tick %d: a step moved the monotonic clock", tick)
			}
		}
	}
	if got := c.Taken(); !reflect.DeepEqual(got, steps) {
		t.Fatalf("steps taken %v", got)
	}
}

func TestHealEndsSteps(t *testing.T) {
	tt := &trueTime{ns: 150 * sched.TickNs}
	c := New(Options{OffsetNs: 9, Steps: []Step{{100, 40 * second}, {300, -40 * second}}}, epochNs, tt)
	if c.ErrorNs() != 9+40*second {
		t.Fatalf("error %d", c.ErrorNs())
	}
	c.Heal()
	for _, tick := range []uint64{150, 299, 300, 1000} {
		tt.ns = tick * sched.TickNs
		if c.ErrorNs() != 9 {
			t.Fatalf("tick %d after heal: error %d", tick, c.ErrorNs())
		}
	}
	if got := c.Taken(); len(got) != 1 || !got[0].Far() {
		t.Fatalf("steps taken %v", got)
	}
}

// Whatever a seed draws, the monotonic clock never goes backwards, within a
// tick or across ticks, while the wall clock may.
func TestMonotonicNeverGoesBackwards(t *testing.T) {
	backwards := 0
	for seed := range uint64(200) {
		p := Draw(rand.New(rand.NewPCG(seed, 1)), 3, 100_000)
		for i, o := range p.Replicas {
			tt := &trueTime{}
			c := New(o, epochNs, tt)
			lastMono, lastReal := c.Monotonic(), c.Realtime()
			for ns := uint64(0); ns < 100_000*sched.TickNs; ns += 3*sched.TickNs + 7 {
				tt.ns = ns
				m, r := c.Monotonic(), c.Realtime()
				if m < lastMono {
					t.Fatalf("seed %d replica %d: monotonic %d after %d", seed, i, m, lastMono)
				}
				if r < lastReal {
					backwards++
				}
				lastMono, lastReal = m, r
			}
		}
	}
	if backwards == 0 {
		t.Fatal("no wall clock ever went backwards: the draw has no backward steps or wander")
	}
}

func TestDrawIsDeterministic(t *testing.T) {
	for seed := range uint64(50) {
		a := Draw(rand.New(rand.NewPCG(seed, 1)), 5, 400_000)
		b := Draw(rand.New(rand.NewPCG(seed, 1)), 5, 400_000)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d: two draws differ", seed)
		}
	}
}

// Across seeds the draw covers perfect plans, every fault class on and off,
// and keeps its promises: near errors inside their bounds, steps in order,
// at most one replica far at a time, none for a solo replica.
func TestDrawCoversAndBounds(t *testing.T) {
	var perfect, drift, wander, near, far, forward, backward int
	const horizon = 400_000
	for seed := range uint64(1000) {
		r := 1 + int(seed%6)
		p := Draw(rand.New(rand.NewPCG(seed, 1)), r, horizon)
		if len(p.Replicas) != r {
			t.Fatalf("seed %d: %d clocks for %d replicas", seed, len(p.Replicas), r)
		}
		if p.Perfect() {
			perfect++
			continue
		}
		if r == 1 && p.Far > 0 {
			t.Fatalf("seed %d: a solo replica drew far steps", seed)
		}
		var farSpans [][2]uint64
		for i, o := range p.Replicas {
			if abs(o.DriftPpb) > DriftMaxPpb || abs(o.OffsetNs) > OffsetMaxNs || o.WanderNs > WanderMaxNs || len(o.Steps) > StepsMax {
				t.Fatalf("seed %d replica %d: %+v out of bounds", seed, i, o)
			}
			if o.DriftPpb != 0 {
				drift++
			}
			if o.WanderNs != 0 {
				wander++
			}
			var prev Step
			for j, s := range o.Steps {
				if j > 0 && s.AtTick <= prev.AtTick {
					t.Fatalf("seed %d replica %d: steps out of order %+v", seed, i, o.Steps)
				}
				if s.AtTick >= horizon+FarTicksMax {
					t.Fatalf("seed %d replica %d: step past the horizon", seed, i)
				}
				switch {
				case s.Far():
					far++
					// A far step is followed by its return to a near offset.
					if j+1 == len(o.Steps) || abs(o.Steps[j+1].OffsetNs) > StepMaxNs {
						t.Fatalf("seed %d replica %d: far step without return %+v", seed, i, o.Steps)
					}
					farSpans = append(farSpans, [2]uint64{s.AtTick, o.Steps[j+1].AtTick})
				case abs(s.OffsetNs) <= StepMaxNs:
					near++
				default:
					t.Fatalf("seed %d replica %d: step %d neither near nor far", seed, i, s.OffsetNs)
				}
				if s.OffsetNs > prev.OffsetNs {
					forward++
				} else if s.OffsetNs < prev.OffsetNs {
					backward++
				}
				prev = s
			}
		}
		for a := range farSpans {
			for b := range farSpans {
				if a != b && farSpans[a][0] < farSpans[b][1] && farSpans[b][0] < farSpans[a][1] {
					t.Fatalf("seed %d: two clocks far at once: %v", seed, farSpans)
				}
			}
		}
		if len(farSpans) != p.Far {
			t.Fatalf("seed %d: %d far spans, plan says %d", seed, len(farSpans), p.Far)
		}
	}
	for name, n := range map[string]int{"perfect": perfect, "drift": drift, "wander": wander, "near steps": near,
		"far steps": far, "forward steps": forward, "backward steps": backward} {
		if n < 50 {
			t.Errorf("%s: only %d in 1000 seeds", name, n)
		}
	}
	if perfect > 400 {
		t.Errorf("%d perfect seeds in 1000", perfect)
	}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
