package vsr

import (
	"fmt"

	"viewstamp/replica/storage"
	"viewstamp/replica/storage/block"
	"viewstamp/replica/u128"
)

// Read-only views of a replica for the simulator's checkers. None of them
// changes the replica's state. VerifiedFrom and Served may fill the memo of
// the verified suffix, a pure function of the log: every later answer is the
// same with or without it, so calling them cannot change a run.

// DurableView returns the view and log_view of the replica's durable
// superblock: the promises that survive a crash.
func (r *Replica) DurableView() (view, logView uint32) {
	return r.sb.durable.View, r.sb.durable.LogView
}

// ChainedChecksum returns the checksum of the header at op if it is
// hash-chained down from the head of the log (the head itself included),
// false if the chain breaks above op. It walks from the head, so it costs
// the distance from op to the head.
func (r *Replica) ChainedChecksum(op uint64) (u128.U128, bool) {
	if op > r.op {
		return u128.Zero, false
	}
	cur, ok := r.journal.header(r.op)
	if !ok {
		return u128.Zero, false
	}
	for o := r.op; o > op; o-- {
		prev, ok := r.journal.header(o - 1)
		if !ok || prev.Checksum != cur.Parent {
			return u128.Zero, false
		}
		cur = prev
	}
	return cur.Checksum, true
}

// VerifiedFrom is the lowest op of the log's verified suffix: every header
// from there to the head is present and hash-chained to the head.
func (r *Replica) VerifiedFrom() uint64 { return r.verifiedFrom() }

// Served appends to buf the body of the headers message the replica would
// answer a get_headers for ops [lo, hi] with, were one to arrive now. A
// checker can so hold the replica's serving rule to account in every state
// the replica passes through, not only in those a request happens to probe.
func (r *Replica) Served(buf []byte, lo, hi uint64) []byte { return r.appendServed(buf, lo, hi) }

// DurableCheckpoint is the op of the checkpoint the durable superblock
// names: what a restart would open.
func (r *Replica) DurableCheckpoint() uint64 { return r.sb.durable.Checkpoint.Op }

// GridBlocksAcquired is how many grid blocks the replica's free set holds
// acquired.
func (r *Replica) GridBlocksAcquired() uint64 { return r.grid.FreeSet().AcquiredCount() }

// SettledSlots calls fn with each WAL slot the replica holds settled: the
// prepare of a header of its log known durable there, no write in flight
// for the slot or its header-ring sector, and its ring entry not known to
// read damaged. Both copies on disk must then hold that header (the
// journal checker).
func (r *Replica) SettledSlots(fn func(slot uint64, h *Header)) {
	j := r.journal
	for s := range j.slots {
		sl := &j.slots[s]
		if !sl.has || sl.faulty || sl.durable != sl.header.Checksum || !sl.writing.IsZero() || sl.queued != nil ||
			!j.ringSettled(uint64(s)) || (j.ringCorrupt != nil && j.ringCorrupt[s]) {
			continue
		}
		fn(uint64(s), &sl.header)
	}
}

// GridReads counts the replica's grid reads by what verification found
// (block.Valid first): the damage its storage faults put in its way.
func (r *Replica) GridReads() [block.ResultCount]uint64 { return r.grid.Stats().Reads }

// CheckpointBlocks calls fn, in address order, with every grid block the
// checkpoint this replica runs from references. Replicas at the same
// checkpoint must hold the same blocks, byte for byte.
func (r *Replica) CheckpointBlocks(fn func(address uint64)) { r.grid.FreeSet().EachReferenced(fn) }

// CheckpointReplies calls fn, in slot order, for each session of the last
// checkpoint this replica wrote that keeps a reply body in its slot of the
// client replies zone: the body's size, and whether the replica knew it
// lacked that body (it synced to a checkpoint naming a reply it never
// executed, and fetches it from a peer), so the slot may hold anything. It
// reports false if the replica has written no checkpoint since it started.
func (r *Replica) CheckpointReplies(fn func(slot int, size uint64, missing bool)) bool {
	if r.checkpointSessions == nil {
		return false
	}
	s, err := decodeSessions(r.checkpointSessions, int(r.cfg.ClientsMax))
	if err != nil {
		panic(fmt.Sprintf("replica %d: its own checkpoint's sessions do not decode: %v", r.index, err))
	}
	missing := r.checkpointMissing
	for i := range s.slots {
		e := &s.slots[i]
		lacks := len(missing) > 0 && missing[0] == i
		if lacks {
			missing = missing[1:]
		}
		if e.used && e.reply.Header.Size > HeaderSize {
			fn(i, uint64(e.reply.Header.Size)-HeaderSize, lacks)
		}
	}
	return true
}

// CheckpointState is the checkpoint this replica runs from, as its durable
// superblock names it: where a checker starts walking what it references.
func (r *Replica) CheckpointState() storage.CheckpointState { return r.checkpoint }

// DiskCheckpoint returns the op of the checkpoint a replica's data file
// names: that of the valid superblock copy with the highest sequence, read
// through read (bytes of the superblock zone at an offset), and whether the
// replica reached it by state sync and has not yet replaced it with one of
// its own (SyncOp). ok is false when no copy is valid (the file is not
// formatted for this replica).
func DiskCheckpoint(cfg Config, cluster u128.U128, replica uint8, read func(offset uint64, buf []byte)) (op uint64, synced, ok bool) {
	l := cfg.Layout()
	buf := make([]byte, l.SuperblockCopySize)
	var best VSRState
	for c := uint64(0); c < SuperblockCopies; c++ {
		read(l.SuperblockCopyOffset(c), buf)
		s, valid := decodeSuperblock(buf, cfg, cluster)
		if valid && s.Replica == replica && (!ok || s.Sequence > best.Sequence) {
			best, ok = s, true
		}
	}
	return best.Checkpoint.Op, best.SyncOp != 0 && best.SyncOp == best.Checkpoint.Op, ok
}

// ScrubEligible reports whether the grid scrubber may run now: the replica
// has a checkpoint whose blocks it may read (not recovering, opening,
// syncing or retargeting).
func (r *Replica) ScrubEligible() bool { return r.scrubSafe() && r.checkpoint.Op > 0 }

// BlockQueued reports whether the replica waits for a peer's copy of the
// block at address: found damaged by its scrubber, or missing for a read.
func (r *Replica) BlockQueued(address uint64) bool {
	for _, q := range [][]block.Ref{r.scrub.faults, r.missingBlocks} {
		for _, ref := range q {
			if ref.Address == address {
				return true
			}
		}
	}
	return false
}

// MissingBlocks calls fn for each block the replica cannot go on without
// until a peer sends it: a parked read's, one of a checkpoint it opens or
// syncs to. Its scrubber's finds are not among them: nothing waits on those.
func (r *Replica) MissingBlocks(fn func(ref block.Ref)) {
	for _, ref := range r.missingBlocks {
		fn(ref)
	}
}

// SyncAwaitsDurable returns the newest checkpoint, newer than this
// replica's, that it wanted to state-sync to but found no evidence of as
// durable (syncable), or 0.
func (r *Replica) SyncAwaitsDurable() uint64 {
	if r.sync.undurable <= r.checkpointOp() {
		return 0
	}
	return r.sync.undurable
}

// HeldCheckpoint returns the checkpoint whose blocks are all on this
// replica's disk, as its pings name it (fetchingSynced).
func (r *Replica) HeldCheckpoint() (op uint64, ok bool) {
	return r.checkpoint.Op, !r.fetchingSynced()
}

// StartViewWaits calls fn for each op whose prepare this replica, a new
// primary that installed its view change's canonical log, waits for before
// it starts the view (tryStartView), with the checksum it wants.
func (r *Replica) StartViewWaits(fn func(op uint64, checksum u128.U128)) {
	if r.status != StatusViewChange || !r.logInstall {
		return
	}
	for op := r.commitMax + 1; op <= r.op; op++ {
		if h, ok := r.journal.header(op); ok && (!r.journal.present(op) || r.journal.prepare(op) == nil) {
			fn(op, h.Checksum)
		}
	}
}

// BlockReferenced reports whether the current checkpoint references the
// block at address: acquired and not released since.
func (r *Replica) BlockReferenced(address uint64) bool {
	f := r.grid.FreeSet()
	return f.IsAcquired(address) && !f.IsReleased(address)
}

// ReformatOwed reports, for a replica running from a reformatted data file
// that a view has settled, the head of that view: every op its lost data
// file may have acknowledged and that may still be uncommitted lies at or
// below it, so until its commit_max reaches it (owed false from then on)
// it must nack none of them.
func (r *Replica) ReformatOwed() (head uint64, owed bool) {
	return r.reformat.head, r.reformat.on && r.reformat.head > 0
}
