package vsr

import (
	"slices"

	"viewstamp/replica/storage/block"
	"viewstamp/replica/storage/lsm"
	"viewstamp/replica/storage/scrub"
	"viewstamp/replica/u128"
)

// The grid scrubber (replica/storage/scrub) re-reads the current
// checkpoint's blocks over a bounded cycle; what fails verification is
// fetched from peers with get_blocks and written by the grid's repair path.
// Its repairs are kept apart from missingBlocks (the blocks parked reads
// wait for), because they are only safe while the checkpoint they were found
// in is current: a block the checkpoint references may be released during
// its interval and is freed once the next checkpoint is durable, after which
// a late copy from a peer would overwrite the block reusing its address. So
// every new checkpoint (written, opened, or synced to) drops them and starts
// a new tour, and none is taken while a checkpoint is being opened or synced.

// scrubRepairsMax bounds the damaged blocks awaiting a peer's copy; a fault
// found beyond it is found again next cycle.
const scrubRepairsMax = 8

// BlockRooted is a state machine kept in grid blocks (the forest): the
// blocks its current state names from memory, from which every other block
// it holds is reachable through index blocks. Right after a checkpoint is
// written or opened, these are the checkpoint's.
type BlockRooted interface {
	// AppendBlockRoots appends the roots to dst and returns it: the
	// scrubber asks every repair round a tour is done, so a list made
	// anew each time would cost allocation in proportion to the forest.
	AppendBlockRoots(dst []block.Ref) []block.Ref
}

// ScrubStats counts the scrubber's work, for the run record.
type ScrubStats struct {
	scrub.Stats
	Requested uint64 // get_blocks sent for damaged blocks
	Repaired  uint64 // damaged blocks rewritten from a peer's copy
	Dropped   uint64 // damaged blocks not queued: the queue was full
}

type scrubbing struct {
	s      *scrub.Scrubber
	faults []block.Ref // damaged blocks awaiting a peer's copy, oldest first
	round  uint64      // turns get_blocks over the peers and the queue
	cpID   u128.U128   // the checkpoint the tour is of
	stats  ScrubStats
	roots  []block.Ref // scrubRoots' list, reused (the scrubber copies it)
}

// ScrubStats returns the scrubber's counters.
func (r *Replica) ScrubStats() ScrubStats {
	st := r.scrub.stats
	if r.scrub.s != nil {
		st.Stats = r.scrub.s.Stats()
	}
	return st
}

func (r *Replica) scrubber() *scrub.Scrubber {
	if r.scrub.s == nil {
		r.scrub.s = scrub.New(scrub.Config{CycleTicks: r.cfg.ScrubCycleTicks}, scrubGrid{r}, appendScrubChildren, r.onScrubFault)
	}
	return r.scrub.s
}

// scrubGrid is the grid as the scrubber may read it: not at all while a
// checkpoint is being opened or synced to (the free set is being replaced).
type scrubGrid struct{ r *Replica }

func (g scrubGrid) ReadBlockLocal(ref block.Ref, done func([]byte, bool)) {
	g.r.grid.ReadBlockLocalLent(ref, done)
}

func (g scrubGrid) Skip(address uint64) bool {
	return !g.r.scrubSafe() || scrub.GridOf(g.r.grid).Skip(address)
}

func (r *Replica) scrubSafe() bool {
	return r.status != StatusRecovering && !r.opening && !r.syncing() && !r.retargeting
}

// scrubCheckpoint starts a tour of the checkpoint that has just become
// current (its superblock written, or opened after a start or a sync),
// abandoning the last one and its pending repairs.
func (r *Replica) scrubCheckpoint() {
	r.scrub.faults = r.scrub.faults[:0]
	r.scrub.cpID = r.cpID
	r.scrubber().Start(r.scrubRoots())
}

// scrubRoots are the blocks the tour starts from: the checkpoint's trailers
// and the state machine's blocks as it holds them now, with how many blocks
// the grid holds for them, for pacing.
func (r *Replica) scrubRoots() ([]block.Ref, uint64) {
	cs := &r.checkpoint
	roots := r.scrub.roots[:0]
	for _, t := range []block.Ref{cs.FreeSetAcquired.Last, cs.FreeSetReleased.Last, cs.ClientSessions.Last, cs.Snapshot.Last} {
		if t.Address != 0 {
			roots = append(roots, t)
		}
	}
	if sm, ok := r.sm.(BlockRooted); ok {
		roots = sm.AppendBlockRoots(roots)
	}
	r.scrub.roots = roots
	var referenced uint64
	r.grid.FreeSet().EachReferenced(func(uint64) { referenced++ })
	return roots, referenced
}

// scrubTick drives the scrubber, and once per repair round asks a peer for
// damaged blocks. A checkpoint written here starts its tour at once
// (checkpointDurable, before commits move the forest on); one opened or
// synced to starts it here, on the first tick it is safe to read.
func (r *Replica) scrubTick() {
	s := r.scrubber()
	if !r.scrubSafe() {
		if s.Active() {
			s.Stop()
			r.scrub.faults = r.scrub.faults[:0]
		}
		return
	}
	if r.checkpoint.Op == 0 {
		return // the formatted grid: no checkpoint references a block
	}
	if !s.Active() || r.scrub.cpID != r.cpID {
		r.scrubCheckpoint()
	} else if r.ticks%r.cfg.RepairTicks == 0 && s.Done() {
		// Commits since the checkpoint compacted the forest: new tables
		// hold the grid's live blocks, which the tour reads too.
		s.Reroot(r.scrubRoots())
	}
	s.Tick()
	if len(r.scrub.faults) == 0 || r.solo() || r.ticks%r.cfg.RepairTicks != 0 {
		return
	}
	// A block a parked read also waits for is the read's to repair: two
	// copies arriving would write it twice.
	r.scrub.faults = slices.DeleteFunc(r.scrub.faults, func(ref block.Ref) bool { return slices.Contains(r.missingBlocks, ref) })
	if len(r.scrub.faults) == 0 {
		return
	}
	r.scrub.round++
	r.scrub.stats.Requested++
	r.send(r.peerInTurn(r.scrub.round), &Message{Header: Header{Command: CommandGetBlocks},
		Body: appendBlockRefs(nil, r.scrub.faults, blockWindow(r.scrub.round, int(r.cfg.ReplicaCount)-1, len(r.scrub.faults)))})
}

// ScrubChildren names the blocks an intact block references, which the
// scrubber's tour reads after it: a trailer's predecessor, an index block's
// value blocks. The simulator's scrubber checker builds its tour tree with
// it.
func ScrubChildren(blk []byte) []block.Ref { return appendScrubChildren(nil, blk) }

// appendScrubChildren is ScrubChildren appending to dst: the scrubber keeps
// a cycle's children in one list.
func appendScrubChildren(dst []block.Ref, blk []byte) []block.Ref {
	if block.DecodeHeader(blk).Type != block.TypeIndex {
		return scrub.AppendTrailerChildren(dst, blk)
	}
	refs, ok := lsm.IndexBlockValues(block.Body(blk))
	if !ok {
		return dst
	}
	for _, ref := range refs {
		dst = append(dst, block.Ref{Address: ref.Address, Checksum: ref.Checksum})
	}
	return dst
}

func (r *Replica) onScrubFault(ref block.Ref) {
	if !r.scrubSafe() || slices.Contains(r.scrub.faults, ref) || slices.Contains(r.missingBlocks, ref) {
		return
	}
	if len(r.scrub.faults) >= scrubRepairsMax {
		r.scrub.stats.Dropped++
		return
	}
	r.logf("scrub: block %d is damaged, asking peers", ref.Address)
	r.scrub.faults = append(r.scrub.faults, ref)
}

// scrubRepair writes b if it is a damaged block the scrubber found in the
// current checkpoint, reporting whether it took it.
func (r *Replica) scrubRepair(ref block.Ref, b []byte) bool {
	if !r.scrubSafe() {
		return false
	}
	i := slices.Index(r.scrub.faults, ref)
	if i < 0 || !r.grid.WriteRepaired(ref, b, func() {}) {
		return false
	}
	r.scrub.faults = slices.Delete(r.scrub.faults, i, i+1)
	r.scrub.stats.Repaired++
	return true
}
