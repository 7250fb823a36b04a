package check

import "testing"

func none(uint64) bool { return false }

// A block damaged on disk and never queued fails once its replica's
// scrubber has completed ScrubFoundCycles cycles since the damage was seen;
// one cycle fewer passes.
func TestScrubFoundCatchesDamageNeverQueued(t *testing.T) {
	s := NewScrubFound(3)
	poll := func(cycles uint64, damaged ...uint64) error {
		return s.Poll(1, ScrubPoll{Eligible: true, Cycles: cycles, Damaged: damaged, Queued: none})
	}
	for c := uint64(5); c < 5+ScrubFoundCycles; c++ {
		if err := poll(c, 7, 40); err != nil {
			t.Fatalf("cycle %d: %v", c, err)
		}
	}
	wantErr(t, poll(5+ScrubFoundCycles, 7, 40), "replica 1: grid block 7 has been damaged on disk for 3 scrub cycles and is not queued for repair")
}

// Damage found (queued) restarts the block's count at every poll that sees
// it queued; repaired (gone from the damaged list), it is forgotten, and a
// later fault on the same block counts from scratch.
func TestScrubFoundAcceptsQueuedAndRepaired(t *testing.T) {
	s := NewScrubFound(1)
	queued := func(a uint64) bool { return a == 9 }
	for c := range uint64(10) {
		if err := s.Poll(0, ScrubPoll{Eligible: true, Cycles: c, Damaged: []uint64{9}, Queued: queued}); err != nil {
			t.Fatalf("queued, cycle %d: %v", c, err)
		}
	}
	// A new checkpoint cleared the queue: the scrubber has the cycles
	// from the last poll that saw it queued.
	for c := uint64(10); c < 9+ScrubFoundCycles; c++ {
		if err := s.Poll(0, ScrubPoll{Eligible: true, Cycles: c, Damaged: []uint64{9}, Queued: none}); err != nil {
			t.Fatalf("dequeued, cycle %d: %v", c, err)
		}
	}
	wantErr(t, s.Poll(0, ScrubPoll{Eligible: true, Cycles: 9 + ScrubFoundCycles, Damaged: []uint64{9}, Queued: none}), "grid block 9")
	s = NewScrubFound(1)
	if err := s.Poll(0, ScrubPoll{Eligible: true, Cycles: 1, Damaged: []uint64{9}, Queued: none}); err != nil {
		t.Fatal(err)
	}
	if err := s.Poll(0, ScrubPoll{Eligible: true, Cycles: 2, Queued: none}); err != nil {
		t.Fatal(err)
	}
	if err := s.Poll(0, ScrubPoll{Eligible: true, Cycles: 1 + ScrubFoundCycles, Damaged: []uint64{9}, Queued: none}); err != nil {
		t.Fatalf("damage seen again after a repair counts from then: %v", err)
	}
}

// Cycles the scrubber could not have used prove nothing: a replica that
// stopped scrubbing (down, syncing, opening) counts from when it resumed,
// even if no damage poll saw the pause; a fault dropped on a full repair
// queue restarts the count too.
func TestScrubFoundCountsOnlyCyclesInReach(t *testing.T) {
	s := NewScrubFound(2)
	p := ScrubPoll{Eligible: true, Damaged: []uint64{3}, Queued: none}
	if err := s.Poll(0, p); err != nil {
		t.Fatal(err)
	}
	s.Eligibility(0, false, 2)
	s.Eligibility(0, true, 2)
	p.Cycles = 1 + ScrubFoundCycles
	if err := s.Poll(0, p); err != nil {
		t.Fatalf("paused at cycle 2: %v", err)
	}
	p.Cycles = 2 + ScrubFoundCycles
	wantErr(t, s.Poll(0, p), "replica 0: grid block 3")

	p = ScrubPoll{Eligible: true, Damaged: []uint64{3}, Queued: none}
	if err := s.Poll(1, p); err != nil {
		t.Fatal(err)
	}
	p.Cycles, p.Dropped = 2, 1
	if err := s.Poll(1, p); err != nil {
		t.Fatal(err)
	}
	p.Cycles = 1 + ScrubFoundCycles
	if err := s.Poll(1, p); err != nil {
		t.Fatalf("dropped at cycle 2: %v", err)
	}
	p.Cycles = 2 + ScrubFoundCycles
	wantErr(t, s.Poll(1, p), "replica 1: grid block 3")
	// Not eligible: not judged.
	p.Eligible = false
	if err := s.Poll(1, p); err != nil {
		t.Fatalf("not eligible: %v", err)
	}
	// A new process counts its own cycles from zero.
	s.Restarted(1)
	p = ScrubPoll{Eligible: true, Cycles: 1, Damaged: []uint64{3}, Queued: none}
	if err := s.Poll(1, p); err != nil {
		t.Fatalf("restarted: %v", err)
	}
}

// A value block under a damaged index block is out of the tour's reach: its
// count restarts at every poll that sees it shadowed, while the index block
// itself is judged (here it is queued, its only other copy unreachable).
// Once the index block is repaired the value block has ScrubFoundCycles
// cycles, as if its damage were new (seed 8801795).
func TestScrubFoundWaitsOnAShadowingBlock(t *testing.T) {
	const index, value = 512, 511
	queued := func(a uint64) bool { return a == index }
	shadowed := func(a uint64) bool { return a == value }
	// Not known to be shadowed, the value block is judged.
	s := NewScrubFound(1)
	for c := range uint64(ScrubFoundCycles) {
		if err := s.Poll(0, ScrubPoll{Eligible: true, Cycles: c, Damaged: []uint64{value, index}, Queued: queued}); err != nil {
			t.Fatalf("cycle %d: %v", c, err)
		}
	}
	wantErr(t, s.Poll(0, ScrubPoll{Eligible: true, Cycles: ScrubFoundCycles, Damaged: []uint64{value, index}, Queued: queued}),
		"grid block 511 has been damaged on disk for 3 scrub cycles")
	s = NewScrubFound(1)
	for c := range uint64(10) {
		if err := s.Poll(0, ScrubPoll{Eligible: true, Cycles: c, Damaged: []uint64{value, index}, Queued: queued, Shadowed: shadowed}); err != nil {
			t.Fatalf("index queued, cycle %d: %v", c, err)
		}
	}
	for c := uint64(10); c < 9+ScrubFoundCycles; c++ {
		if err := s.Poll(0, ScrubPoll{Eligible: true, Cycles: c, Damaged: []uint64{value}, Queued: none}); err != nil {
			t.Fatalf("index repaired, cycle %d: %v", c, err)
		}
	}
	wantErr(t, s.Poll(0, ScrubPoll{Eligible: true, Cycles: 9 + ScrubFoundCycles, Damaged: []uint64{value}, Queued: none}), "grid block 511")
}
