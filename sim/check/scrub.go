package check

import (
	"fmt"
	"maps"
	"slices"
)

// ScrubFoundCycles is how many scrub cycles a replica may complete, from
// when latent damage on a block its checkpoint references is in reach of
// its scrubber, without having found it. The cycle running when the damage
// lands may already have verified the block; the next one's tour reads
// every block of the checkpoint, but starts from the roots it last knew, so
// a table installed just before the cycle ended waits for the tour's
// re-root, which an overrun can push into the cycle after. Past three, the
// scrubber missed the block: it read it and took the failure for a pass,
// or never read it.
const ScrubFoundCycles = 3

// ScrubFound is the scrubber checker. The simulator knows what the replica
// cannot: which grid blocks of its disk read other than last written. A
// replica whose scrubber runs (up, its checkpoint open, not syncing) must
// find such damage on a block its checkpoint references within
// ScrubFoundCycles of its scrub cycles, and then hold the block queued for a
// peer's copy until it is repaired (which clears the damage) or the block
// is no longer the checkpoint's. A queue cleared by a new checkpoint, or one
// full enough to drop a fault, starts the count again: the scrubber finds
// those again next cycle. So does a block under a damaged one (a value block
// whose index block is damaged, a trailer block behind a damaged link of its
// chain): the tour learns of it only from that block's bytes, so it cannot
// reach it before that block is repaired (TigerBeetle's scrubber, too, waits
// on a table's index block before reading its data blocks), which may take
// as long as the one peer holding a copy is down.
type ScrubFound struct {
	replicas []scrubReplica
}

type scrubReplica struct {
	eligible bool
	// from is the scrubber's completed-cycle count when it last became
	// able to scrub (or dropped a fault): cycles before it prove nothing.
	from    uint64
	dropped uint64
	// since is, per damaged block, the cycle count when its damage was
	// first seen, or when it was last seen queued.
	since map[uint64]uint64
}

// ScrubPoll is one replica's scrubbing as the simulator sees it.
type ScrubPoll struct {
	// Eligible: the replica is up and its scrubber may run (a restart is
	// reported to Restarted first).
	Eligible bool
	// Cycles is the scrubber's completed-cycle counter, Dropped its count
	// of faults found with the repair queue full.
	Cycles, Dropped uint64
	// Damaged lists, in address order, the blocks the checkpoint
	// references whose bytes on disk (within the block's sectors) read
	// other than last written.
	Damaged []uint64
	// Queued reports whether the replica waits for a peer's copy of a
	// block (found by its scrubber, or by a read).
	Queued func(address uint64) bool
	// Shadowed reports whether a damaged block lies under another damaged
	// block of the tour's tree, out of the tour's reach; nil: none does.
	Shadowed func(address uint64) bool
}

func NewScrubFound(replicas int) *ScrubFound {
	s := &ScrubFound{replicas: make([]scrubReplica, replicas)}
	for i := range s.replicas {
		s.replicas[i].since = map[uint64]uint64{}
	}
	return s
}

// Eligibility notes whether replica's scrubber may run now; the simulator
// calls it every tick, so that a pause too short for a damage poll to see
// still restarts the count.
func (s *ScrubFound) Eligibility(replica int, eligible bool, cycles uint64) {
	r := &s.replicas[replica]
	if eligible && !r.eligible {
		r.from = cycles
	}
	r.eligible = eligible
}

// Restarted notes a new process of replica: its scrubber counts from zero
// again, and what the old one saw is the new one's to find.
func (s *ScrubFound) Restarted(replica int) {
	r := &s.replicas[replica]
	r.eligible, r.from, r.dropped = false, 0, 0
	clear(r.since)
}

// Poll judges replica's damaged blocks.
func (s *ScrubFound) Poll(replica int, p ScrubPoll) error {
	s.Eligibility(replica, p.Eligible, p.Cycles)
	r := &s.replicas[replica]
	if !p.Eligible {
		return nil
	}
	if p.Dropped != r.dropped {
		r.dropped, r.from = p.Dropped, p.Cycles
	}
	var err error
	seen := 0
	for _, a := range p.Damaged {
		since, ok := r.since[a]
		if !ok || p.Queued(a) || p.Shadowed != nil && p.Shadowed(a) {
			since = p.Cycles
		}
		r.since[a] = since
		seen++
		if from := max(since, r.from); p.Cycles-from >= ScrubFoundCycles && err == nil {
			err = fmt.Errorf("replica %d: grid block %d has been damaged on disk for %d scrub cycles and is not queued for repair (scrub cycles completed: %d)",
				replica, a, p.Cycles-from, p.Cycles)
		}
	}
	if seen != len(r.since) {
		// Repaired, or no longer the checkpoint's: forget it.
		for _, a := range slices.Sorted(maps.Keys(r.since)) {
			if _, found := slices.BinarySearch(p.Damaged, a); !found {
				delete(r.since, a)
			}
		}
	}
	return err
}
