package storage

import "testing"

// TigerBeetle's figures for its production and test_min configurations,
// which the presets share (tigerbeetle-storage.md §5, §8).
func TestScheduleMatchesTigerBeetle(t *testing.T) {
	cases := []struct {
		name                                         string
		s                                            Schedule
		ops, first, trigger, prepareMax, durableAt   uint64
		prepareMaxAtFirst, ackMaxAtFirst, prepareMx0 uint64
	}{
		{"production", ProductionConfig().Schedule(), 960, 959, 991, 1007, 1000, 959 + 1008, 1919 + 32 + 8, 1007},
		{"simulator", SimulatorConfig().Schedule(), 20, 19, 23, 31, 28, 19 + 32, 39 + 4 + 4, 31},
	}
	for _, c := range cases {
		s := c.s
		if s.CheckpointOps() != c.ops || s.Checkpoint(1) != c.first || s.Next(0) != c.first {
			t.Errorf("%s: every %d ops, first %d", c.name, s.CheckpointOps(), s.Checkpoint(1))
		}
		if trig, ok := s.Trigger(c.first); !ok || trig != c.trigger {
			t.Errorf("%s: trigger %d, want %d", c.name, trig, c.trigger)
		}
		if d, ok := s.DurableAt(c.first); !ok || d != c.durableAt {
			t.Errorf("%s: durable at commit %d, want %d", c.name, d, c.durableAt)
		}
		if got := s.PrepareMax(0); got != c.prepareMx0 {
			t.Errorf("%s: prepare max at checkpoint 0: %d, want %d", c.name, got, c.prepareMx0)
		}
		if got := s.PrepareMax(c.first); got != c.prepareMaxAtFirst {
			t.Errorf("%s: prepare max at %d: %d, want %d", c.name, c.first, got, c.prepareMaxAtFirst)
		}
		if got := s.AckMax(c.first); got != c.ackMaxAtFirst {
			t.Errorf("%s: ack max at %d: %d, want %d", c.name, c.first, got, c.ackMaxAtFirst)
		}
		if _, ok := s.Trigger(0); ok {
			t.Errorf("%s: checkpoint 0 has a trigger", c.name)
		}
	}
}

// The properties the arithmetic exists for, over many checkpoints and every
// valid config of a sweep: the WAL never overwrites an op that is not yet
// checkpointed, checkpoints end bars, and durability comes after the trigger
// but before the next checkpoint's trigger.
func TestScheduleKeepsTheWALSafe(t *testing.T) {
	checked := 0
	for _, slots := range []uint64{32, 48, 64, 128, 1024} {
		for _, pipe := range []uint64{1, 2, 4, 8} {
			for _, bar := range []uint64{2, 4, 8, 32} {
				c := SimulatorConfig()
				c.JournalSlotCount, c.PipelineMax, c.CompactionOps = slots, pipe, bar
				if c.Validate() != nil {
					continue
				}
				checked++
				s := c.Schedule()
				cp := uint64(0)
				for n := uint64(1); n < 50; n++ {
					next := s.Next(cp)
					if next != s.Checkpoint(n) || !s.IsCheckpoint(next) || (next+1)%bar != 0 {
						t.Fatalf("%+v: checkpoint %d is %d", c, n, next)
					}
					if s.PrepareMax(cp)-cp > slots {
						t.Fatalf("%+v: at %d the WAL may hold up to %d, overwriting op %d", c, cp, s.PrepareMax(cp), s.PrepareMax(cp)-slots)
					}
					trig, _ := s.Trigger(next)
					durable, _ := s.DurableAt(next)
					nextTrig, _ := s.Trigger(s.Next(next))
					if !(trig < durable && durable <= s.PrepareMax(cp) && durable < nextTrig) {
						t.Fatalf("%+v: trigger %d durable %d next trigger %d", c, trig, durable, nextTrig)
					}
					if s.AckMax(cp) >= s.PrepareMax(cp) || s.AckMax(cp) < trig {
						t.Fatalf("%+v: ack max %d outside [trigger %d, prepare max %d)", c, s.AckMax(cp), trig, s.PrepareMax(cp))
					}
					for op := cp; op < next; op++ {
						if s.CheckpointBefore(op) != cp {
							t.Fatalf("%+v: checkpoint before %d is %d, want %d", c, op, s.CheckpointBefore(op), cp)
						}
					}
					cp = next
				}
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d configs checked", checked)
	}
}

func TestScheduleRefusesNonCheckpoints(t *testing.T) {
	s := SimulatorConfig().Schedule()
	defer func() {
		if recover() == nil {
			t.Fatal("Next(20) did not panic")
		}
	}()
	s.Next(20)
}
