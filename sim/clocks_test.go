package sim

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"viewstamp/faults"
	simclock "viewstamp/sim/clock"
)

// clockTestTicks keeps these runs short: the clock hook, not the protocol,
// is under test.
const clockTestTicks = 4_000

func clockConfig(on bool) Config {
	return Config{Lite: true, TicksMax: clockTestTicks, ClockFaults: on}
}

// Clock faults replay like everything else, and only when asked for do they
// appear in the record.
func TestClockFaultsReplay(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		a, b := run(seed, clockConfig(true)), run(seed, clockConfig(true))
		if a.TraceHash != b.TraceHash || !reflect.DeepEqual(a.Clock, b.Clock) {
			t.Fatalf("seed %d replayed differently: %s %+v vs %s %+v", seed, a.TraceHash, a.Clock, b.TraceHash, b.Clock)
		}
		if a.Clock == nil {
			t.Fatalf("seed %d: no clock section", seed)
		}
		if off := run(seed, clockConfig(false)); off.Clock != nil {
			t.Fatalf("seed %d: a clock section without clock faults", seed)
		}
	}
}

// A seed whose clocks all draw perfect runs exactly as without clock faults:
// the model's perfect clock is the simulator's plain one.
func TestPerfectClocksRunLikeNoClockFaults(t *testing.T) {
	perfect, faulty := 0, 0
	for seed := uint64(1); perfect < 2 || faulty < 2; seed++ {
		p := simclock.Draw(rand.New(rand.NewPCG(seed, clockStream)), 3, clockTestTicks)
		on, off := run(seed, clockConfig(true)), run(seed, clockConfig(false))
		if p.Perfect() {
			perfect++
			if on.TraceHash != off.TraceHash || !on.Clock.Perfect {
				t.Fatalf("seed %d: perfect clocks changed the run (%s vs %s), record %+v", seed, on.TraceHash, off.TraceHash, on.Clock)
			}
		} else if on.ReplicaCount > 1 {
			faulty++
			if on.Clock.Perfect {
				t.Fatalf("seed %d: record calls drawn faults perfect", seed)
			}
		}
	}
}

// Each replica reads its own clock, which survives its restarts.
func TestReplicasReadTheirOwnClocks(t *testing.T) {
	for seed := uint64(1); ; seed++ {
		c, err := New(faults.Draw(seed, faults.Limits{}), clockConfig(true))
		if err != nil {
			t.Fatal(err)
		}
		if c.clocks.plan.Perfect() || len(c.replicas) < 2 {
			continue
		}
		for i := range c.replicas {
			if c.timeFor(i) != c.clocks.of[i] {
				t.Fatalf("replica %d does not read its clock", i)
			}
		}
		c.sched.RunUntil(100 * 10_000_000)
		before := c.clocks.of[0].Realtime()
		c.crash(0)
		c.restart(0)
		if c.timeFor(0) != c.clocks.of[0] || c.clocks.of[0].Realtime() != before {
			t.Fatal("a restart replaced the replica's clock")
		}
		return
	}
}
