// Package scrub re-reads, over a bounded cycle, every grid block the current
// checkpoint references, and reports each one that no longer verifies
// against the reference its parent holds. Disks rot: a block written once
// and read rarely (an old table's value block, a trailer) can lose its only
// good local copy long before anything reads it, and by then the peers that
// could have repaired it may have lost theirs too. Finding it early, while a
// peer's copy is still intact, is the scrubber's whole job; repairing it is
// the replica's (the same get_blocks path that serves failed reads).
//
// The scrubber does no IO itself: it asks its Grid for local reads, and is
// driven by Tick. Its tour is rooted in blocks the owner names when a
// checkpoint becomes current (Start); each block read intact may name more
// (Children: an index block its value blocks, a trailer block the block it
// links back to), so the tour finds the whole tree without trusting
// anything but checksummed references.
package scrub

import (
	"fmt"
	"slices"

	"viewstamp/replica/storage/block"
)

const (
	// SimulatorCycleTicks is how long one tour of the checkpoint's blocks
	// may take in the simulator (60 s of 10 ms ticks). A latent fault must
	// be found while a peer still holds a good copy, and a run lasts
	// minutes; a shorter cycle takes read bandwidth the foreground needs.
	SimulatorCycleTicks = 6000
	// ProductionCycleTicks is TigerBeetle's production cycle, 180 days:
	// terabytes re-read without a noticeable share of the disk.
	ProductionCycleTicks = 180 * 24 * 3600 * 100
	// ReadsMax bounds the scrubber's reads in flight, so that it takes at
	// most this share of the grid's read slots from foreground reads.
	ReadsMax = 2
	// paceDivisor: reads are paced to finish the tour in the first
	// 1/paceDivisor of the cycle, leaving the rest as slack for slow reads
	// and for blocks the estimate did not count.
	paceDivisor = 2
)

// Grid is the part of the grid the scrubber uses.
type Grid interface {
	// ReadBlockLocal reads a block from local storage only and verifies
	// it against ref; ok is false on any mismatch. blk is valid during
	// done only.
	ReadBlockLocal(ref block.Ref, done func(blk []byte, ok bool))
	// Skip reports whether address must not be read now: released since
	// the checkpoint (its block may be freed and reused before the tour
	// ends) or being written (the disk is about to change under the read).
	Skip(address uint64) bool
}

// Config sets the cycle. Zero fields take SimulatorCycleTicks and ReadsMax.
type Config struct {
	CycleTicks uint64
	ReadsMax   int
}

// Stats counts the scrubber's work, for the run record.
type Stats struct {
	Scrubbed uint64 // blocks read and verified
	Faults   uint64 // blocks that failed verification
	Skipped  uint64 // blocks skipped: released or being written
	Cycles   uint64 // cycles whose tour completed
	// Overruns counts tours still reading when their cycle's ticks ran
	// out: a checkpoint made near the cycle's end brought blocks not yet
	// read, or the disk is too slow for ReadsMax. The tour goes on until
	// done; OverrunTicksMax is the longest it went on past its cycle.
	Overruns        uint64
	OverrunTicksMax uint64
	// Restarts counts tours re-rooted at a newer checkpoint mid-cycle.
	Restarts uint64
	// Reroots counts finished tours re-rooted at the owner's newer blocks
	// (Reroot).
	Reroots uint64
}

// Scrubber tours the current checkpoint's blocks once per cycle.
//
// A checkpoint usually replaces the last long before a cycle ends, and the
// two share most blocks. So a new checkpoint re-roots the tour without
// restarting the cycle: blocks already verified this cycle under the same
// reference (same address and checksum, so the same bytes) are not read
// again, and their children are remembered, so the tour reaches the new
// checkpoint's other blocks within the same cycle. Were the cycle restarted
// instead, checkpoints more frequent than a cycle would leave the tour's
// tail never read.
type Scrubber struct {
	cfg      Config
	grid     Grid
	children func(dst []block.Ref, blk []byte) []block.Ref
	fault    func(ref block.Ref)

	active bool
	gen    uint64 // bumped per tour: reads of an older tour are not followed
	// cycleGen is bumped per cycle: an older tour's read landing in the
	// same cycle still counts as verified, one from before is ignored.
	cycleGen uint64
	roots    []block.Ref
	// estimate is how many blocks the owner expects the tour to visit; it
	// sets the pace only.
	estimate uint64
	tour     []block.Ref // roots, then children as reads find them
	next     int         // tour[:next] have been issued or skipped
	// verified holds the blocks verified this cycle, with their children:
	// a span of kids, which holds every child found this cycle, so that a
	// cycle's memory is one list and one map of small values, whatever the
	// grid holds. Only looked up, never iterated.
	verified map[block.Ref]kidSpan
	kids     []block.Ref
	issued   uint64 // reads issued this cycle
	inFlight int    // reads in flight, of any tour (ReadsMax bounds it)
	// inFlightTour are this tour's: it is over once they have landed.
	inFlightTour int
	tick         uint64 // ticks into this cycle

	stats Stats
}

// kidSpan is where a verified block's children lie in Scrubber.kids.
type kidSpan struct{ lo, hi uint32 }

// New returns an idle scrubber over g. children appends to dst the blocks
// an intact block references (nil: none); fault hears of each block that
// fails.
func New(cfg Config, g Grid, children func(dst []block.Ref, blk []byte) []block.Ref, fault func(ref block.Ref)) *Scrubber {
	if cfg.CycleTicks == 0 {
		cfg.CycleTicks = SimulatorCycleTicks
	}
	if cfg.ReadsMax == 0 {
		cfg.ReadsMax = ReadsMax
	}
	if cfg.CycleTicks < paceDivisor || cfg.ReadsMax < 1 {
		panic(fmt.Sprintf("scrub: cycle of %d ticks, %d reads", cfg.CycleTicks, cfg.ReadsMax))
	}
	return &Scrubber{cfg: cfg, grid: g, children: children, fault: fault, verified: map[block.Ref]kidSpan{}}
}

// Start roots the tour at a checkpoint that has just become current,
// abandoning the tour of an older one: its reads still in flight are
// ignored when they land, and what it found damaged is no longer reported.
// roots are the blocks the checkpoint names directly; estimate is how many
// blocks its whole tree holds, for pacing. An idle scrubber starts a cycle.
func (s *Scrubber) Start(roots []block.Ref, estimate uint64) {
	if s.active {
		s.stats.Restarts++
	} else {
		s.active = true
		s.newCycle()
	}
	s.roots = append(s.roots[:0], roots...)
	s.estimate = max(estimate, uint64(len(roots)))
	s.newTour()
}

// Reroot points a tour that is done at roots, the blocks the owner names
// now, if they differ from those it was rooted at, and reports whether it
// did. The owner's tree moves on between checkpoints (compaction writes new
// tables and releases old ones), and a tour rooted only when a checkpoint
// became current never reads the tables written since: on a quiet cluster,
// where no checkpoint comes to re-root it, it would read half the blocks
// the grid holds, cycle after cycle. Blocks verified this cycle are not read
// again, so a re-rooted tour reads only what is new.
func (s *Scrubber) Reroot(roots []block.Ref, estimate uint64) bool {
	if !s.active || !s.done() || slices.Equal(roots, s.roots) {
		return false
	}
	s.stats.Reroots++
	s.roots = append(s.roots[:0], roots...)
	s.estimate = max(estimate, uint64(len(roots)))
	s.newTour()
	return true
}

// Stop abandons the tour and the cycle: the blocks it knows may no longer
// be the replica's (a state sync replaces the whole grid). Start resumes
// with a new cycle.
func (s *Scrubber) Stop() {
	s.active = false
	s.gen++
	s.cycleGen++
	s.tour = s.tour[:0]
	s.next, s.inFlightTour = 0, 0
	clear(s.verified)
	s.kids = s.kids[:0]
}

// Active reports whether a tour is under way.
func (s *Scrubber) Active() bool { return s.active }

// Stats returns the counters.
func (s *Scrubber) Stats() Stats { return s.stats }

func (s *Scrubber) newCycle() {
	s.cycleGen++
	clear(s.verified)
	s.kids = s.kids[:0]
	s.issued, s.tick = 0, 0
}

func (s *Scrubber) newTour() {
	s.gen++
	s.tour = append(s.tour[:0], s.roots...)
	s.next, s.inFlightTour = 0, 0
}

// done reports whether every block of the tour has been read or skipped.
func (s *Scrubber) done() bool { return s.next == len(s.tour) && s.inFlightTour == 0 }

// Done reports whether a tour is under way and has read or skipped every
// block it knows of.
func (s *Scrubber) Done() bool { return s.active && s.done() }

// Tick advances the cycle by one tick and issues the reads now due.
func (s *Scrubber) Tick() {
	if !s.active {
		return
	}
	s.tick++
	if s.tick >= s.cfg.CycleTicks {
		if s.done() {
			s.stats.OverrunTicksMax = max(s.stats.OverrunTicksMax, s.tick-s.cfg.CycleTicks)
			s.stats.Cycles++
			s.newCycle()
			s.newTour()
		} else if s.tick == s.cfg.CycleTicks {
			s.stats.Overruns++
		}
	} else if s.done() {
		return // this cycle's tour is over; wait for its end
	}
	s.issue()
}

// due is how many reads the pace allows by now.
func (s *Scrubber) due() uint64 {
	pace := s.cfg.CycleTicks / paceDivisor
	if s.tick >= pace {
		return ^uint64(0)
	}
	return (s.estimate*s.tick + pace - 1) / pace
}

func (s *Scrubber) issue() {
	due := s.due()
	for s.next < len(s.tour) && s.inFlight < s.cfg.ReadsMax && s.issued < due {
		ref := s.tour[s.next]
		s.next++
		if s.grid.Skip(ref.Address) {
			// Its children are released with it: a table is released
			// whole, a trailer with the checkpoint that replaced it.
			s.stats.Skipped++
			continue
		}
		if sp, ok := s.verified[ref]; ok {
			s.tour = append(s.tour, s.kids[sp.lo:sp.hi]...)
			continue
		}
		s.issued++
		s.inFlight++
		s.inFlightTour++
		gen, cycleGen := s.gen, s.cycleGen
		s.grid.ReadBlockLocal(ref, func(blk []byte, ok bool) {
			s.inFlight--
			if cycleGen != s.cycleGen {
				return // a read of an abandoned cycle
			}
			if gen != s.gen {
				// A read of a tour re-rooted since: what it verified
				// holds for this cycle, but a fault is not reported, for
				// the block may no longer be the current checkpoint's.
				if ok {
					s.verify(ref, blk)
				}
				return
			}
			s.inFlightTour--
			s.stats.Scrubbed++
			if !ok {
				s.stats.Faults++
				s.fault(ref)
				return
			}
			sp := s.verify(ref, blk)
			s.tour = append(s.tour, s.kids[sp.lo:sp.hi]...)
		})
	}
}

// verify notes ref verified this cycle, with the children its bytes name.
func (s *Scrubber) verify(ref block.Ref, blk []byte) kidSpan {
	sp := kidSpan{lo: uint32(len(s.kids))}
	if s.children != nil {
		s.kids = s.children(s.kids, blk)
	}
	sp.hi = uint32(len(s.kids))
	s.verified[ref] = sp
	return sp
}
