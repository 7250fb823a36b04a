package vsr

import (
	"fmt"

	rio "viewstamp/replica/io"
	"viewstamp/replica/storage"
	"viewstamp/replica/storage/grid"
	"viewstamp/replica/u128"
)

type gridRefs = grid.CheckpointRefs

// Checkpoints. A checkpoint makes the state as of op N durable, so that WAL
// slots of ops up to N may be reused and a restart replays only the ops after
// N. The schedule (storage.Schedule) is TigerBeetle's:
//
//	commit N             the state machine and the client table mark their
//	                     state as of N (MarkCheckpoint; the table is encoded)
//	commit trigger(N)    N + one bar: the state, the client replies changed
//	                     since the last checkpoint, the sessions trailer and
//	                     the free set are written; then the superblock names
//	                     the new checkpoint. Commits past the trigger wait
//	                     for that superblock write.
//	commit durable(N)+1  a replication quorum has checkpointed N: blocks the
//	                     previous checkpoint released are free again.
//
// A replica whose durable checkpoint is C writes prepares only up to
// PrepareMax(C) (the slot of C's own op) and acknowledges only up to
// AckMax(C), so that a replication quorum acknowledging past a trigger
// proves the checkpoint is on that quorum.

// checkpointing is a checkpoint between its op and its superblock write.
type checkpointing struct {
	op       uint64 // 0: none
	sessions []byte // the client table as of op
	replies  []replyWrite
	// missing are the slots whose reply body this replica lacked as of op
	// (a synced checkpoint named it): the replies zone does not hold it
	// until it is fetched.
	missing []int
	state   storage.CheckpointState
	started bool // the trigger has committed and the writes are under way
	pending int  // writes not yet durable
}

// replyWrite is one reply body for the client replies zone: only bodies
// changed since the last checkpoint are written, at the checkpoint, so that
// the zone always holds the replies of a checkpoint being made or made.
type replyWrite struct {
	slot int
	body []byte
}

func (r *Replica) schedule() storage.Schedule { return r.cfg.Schedule() }

// checkpointOp is the op of the durable checkpoint this replica runs from.
func (r *Replica) checkpointOp() uint64 { return r.checkpoint.Op }

// prepareMax is the highest op this replica may write to its WAL.
func (r *Replica) prepareMax() uint64 { return r.schedule().PrepareMax(r.checkpointOp()) }

// ackMax is the highest op this replica acknowledges. An acknowledgement
// past AckMax of the checkpoint before ours says "I hold our checkpoint",
// and a replication quorum of them makes it durable (Schedule.DurableAt):
// every replica then frees the blocks the checkpoint before it still
// needed. A checkpoint reached by state sync is held only once every block
// it references was fetched from the peers that wrote it (the open that
// ends a sync waits for each fetched block to land), so until then it does
// not count towards that quorum (TigerBeetle: syncing replicas withhold
// prepare_ok until commit_max shows their checkpoint durable). Otherwise a
// lone writer and a replica still fetching make a checkpoint durable whose
// only intact copy of a block a fault may then take (seed 8802260
// --clock-faults --storage-faults: one replica of three held checkpoint 59
// and lost a block of it, and the cluster could never commit op 78). Our
// sync fetches eagerly, so a synced replica counts once fetched, not only
// from its next checkpoint: else a cluster whose quorum synced to a
// checkpoint only a minority wrote could never make it durable (seed
// 9100187).
func (r *Replica) ackMax() uint64 {
	s := r.schedule()
	cp := r.checkpointOp()
	if r.fetchingSynced() {
		if durable, ok := s.DurableAt(cp); ok && r.commitMax < durable {
			return durable - 1
		}
	}
	return s.AckMax(cp)
}

// checkpointBlocksCommit reports whether op may not execute yet: its
// checkpoint trigger has committed and the superblock is not yet written.
func (r *Replica) checkpointBlocksCommit() bool {
	return r.ckpt.started
}

// afterExecute runs the checkpoint schedule once op has executed.
func (r *Replica) afterExecute(op uint64) {
	s := r.schedule()
	cp := r.checkpointOp()
	if durable, ok := s.DurableAt(cp); ok && op == durable {
		r.grid.CheckpointDurable()
	}
	next := s.Next(cp)
	switch {
	case op == next:
		r.sm.MarkCheckpoint()
		r.ckpt = checkpointing{op: op, sessions: r.sessions.encode()}
		for i := range r.sessions.slots {
			e := &r.sessions.slots[i]
			if e.used && e.lastOp > cp && len(e.reply.Body) > 0 {
				r.ckpt.replies = append(r.ckpt.replies, replyWrite{slot: i, body: e.reply.Body})
			}
			if e.used && e.replyMissing {
				r.ckpt.missing = append(r.ckpt.missing, i)
			}
		}
	case r.ckpt.op != 0 && !r.ckpt.started:
		if trigger, _ := s.Trigger(r.ckpt.op); op == trigger {
			r.startCheckpoint()
		}
	}
}

// startCheckpoint writes the state of r.ckpt.op: the state machine's first,
// so that its blocks are acquired before the free set is encoded, which
// grid.Checkpoint does last.
func (r *Replica) startCheckpoint() {
	c := &r.ckpt
	c.started = true
	h, ok := r.journal.header(c.op)
	if !ok {
		panic(fmt.Sprintf("replica %d: checkpoint op %d has left the log before its checkpoint", r.index, c.op))
	}
	prev := r.checkpoint
	c.state = storage.CheckpointState{
		HeaderChecksum: h.Checksum,
		Op:             c.op,
		ParentID:       prev.CheckpointID(),
		GrandparentID:  prev.ParentID,
	}
	c.pending = 2 + len(c.replies)
	r.sm.Checkpoint(r.grid, &c.state, r.checkpointWritten)
	for _, w := range c.replies {
		r.writeReplySlot(w.slot, w.body, r.checkpointWritten)
	}
	r.grid.Checkpoint(c.sessions, func(refs gridRefs) {
		c.state.ClientSessions = refs.ClientSessions
		c.state.FreeSetAcquired = refs.FreeSetAcquired
		c.state.FreeSetReleased = refs.FreeSetReleased
		c.state.StorageSize = refs.StorageSize
		r.checkpointWritten()
	})
}

// writeReplySlot writes a reply body into its session's slot of the client
// replies zone, padded to whole sectors. Writes to one slot go one at a time,
// in the order asked: two in flight at once may land in either order, and a
// reply a peer sent for a synced checkpoint must not land over the newer one
// the next checkpoint writes.
func (r *Replica) writeReplySlot(slot int, body []byte, done func()) {
	l := r.cfg.Layout()
	buf := make([]byte, l.SectorCeil(uint64(len(body))))
	copy(buf, body)
	if r.replySlots == nil {
		r.replySlots = make([][]slotWrite, r.cfg.ClientsMax)
	}
	q := append(r.replySlots[slot], slotWrite{buf, done})
	r.replySlots[slot] = q
	r.replyWrites++
	if len(q) == 1 {
		r.issueReplySlot(slot)
	}
}

// awaitReplySlots calls then once no client reply slot write is queued or
// in flight: a checkpoint names its sessions' replies in their slots, a
// fetched one included, so they land before its superblock does.
func (r *Replica) awaitReplySlots(then func()) {
	if r.replyWrites == 0 {
		then()
		return
	}
	r.replyIdle = append(r.replyIdle, then)
}

// slotWrite is a client reply slot write, waiting or in flight.
type slotWrite struct {
	buf  []byte
	done func()
}

// issueReplySlot writes the slot's oldest queued write; its completion
// issues the next.
func (r *Replica) issueReplySlot(slot int) {
	l := r.cfg.Layout()
	w := r.replySlots[slot][0]
	r.storage.Write(rio.ZoneClientReplies, l.ClientReplyOffset(uint64(slot)), w.buf, func() {
		q := r.replySlots[slot][1:]
		r.replySlots[slot] = q
		r.replyWrites--
		if len(q) > 0 {
			r.issueReplySlot(slot)
		}
		w.done()
		if r.replyWrites == 0 && len(r.replyIdle) > 0 {
			idle := r.replyIdle
			r.replyIdle = nil
			for _, fn := range idle {
				fn()
			}
		}
	})
}

// checkpointWritten counts one of the checkpoint's writes durable; the last
// one stages the superblock.
func (r *Replica) checkpointWritten() {
	r.ckpt.pending--
	if r.ckpt.pending > 0 {
		return
	}
	r.awaitReplySlots(func() {
		r.logf("checkpoint op %d: data durable, writing the superblock", r.ckpt.op)
		r.stageSuperblock()
	})
}

// checkpointDurable finishes a checkpoint whose superblock write completed:
// the grid frees what the old checkpoint released once the next is durable,
// commits resume, and what the old checkpoint held back goes out.
func (r *Replica) checkpointDurable() {
	r.setCheckpoint(r.ckpt.state)
	r.checkpointSessions, r.checkpointMissing = r.ckpt.sessions, r.ckpt.missing
	r.ckpt = checkpointing{}
	r.grid.CheckpointWritten()
	r.scrubCheckpoint()
	r.obs.Checkpointed(r.index, r.checkpoint.Op, r.checkpoint.CheckpointID())
	r.logf("checkpoint op %d durable: prepare up to %d, acknowledge up to %d", r.checkpoint.Op, r.prepareMax(), r.ackMax())
	if r.status != StatusNormal {
		return
	}
	// Acknowledgements withheld past the old limit.
	for op := r.commitMin + 1; op <= r.op; op++ {
		if h, ok := r.journal.header(op); ok && r.journal.present(op) {
			if r.isPrimary() {
				r.ackPipeline(op, h.Checksum, r.index)
			} else {
				r.sendPrepareOK(op)
			}
		}
	}
	r.commitJournal()
	if r.isPrimary() {
		r.prepareQueued()
	}
}

// openCheckpoint loads the durable checkpoint at a start: the grid's free set
// and client sessions, the replies the sessions name, then the state
// machine. then runs once all of it is in memory.
func (r *Replica) openCheckpoint(then func()) {
	if r.committing != nil {
		panic(fmt.Sprintf("replica %d: opening a checkpoint while op %d commits", r.index, r.committing.Header.Op))
	}
	cs := r.sb.durable.Checkpoint
	r.setCheckpoint(cs)
	r.opening, r.openThen, r.openStalled = true, then, 0
	r.openGen++
	gen := r.openGen
	opened := then
	then = func() {
		// Blocks still arriving for this open are not ours to write now.
		r.opening, r.openThen = false, nil
		r.expectedBlocks = r.expectedBlocks[:0]
		opened()
	}
	// abandoned: a newer checkpoint replaced this one mid-open (retarget);
	// the reads it cancelled answer here and are ignored.
	abandoned := func() bool { return gen != r.openGen }
	if cs.Op == 0 {
		r.sm.Open(r.grid, &cs, func(ok bool) {
			if !ok {
				panic("replica: the formatted state does not open")
			}
			r.obs.Opened(r.index, 0, r.sm.Checksum(), false)
			then()
		})
		return
	}
	// Blocks fetched for a checkpoint abandoned mid-open (retarget) may
	// still be writing; the free set is replaced only once they landed.
	r.grid.AwaitWrites(func() {
		if !abandoned() {
			r.openGrid(cs, abandoned, then)
		}
	})
}

// openGrid opens checkpoint cs's grid trailers, client replies and state
// machine for openCheckpoint.
func (r *Replica) openGrid(cs storage.CheckpointState, abandoned func() bool, then func()) {
	refs := gridRefs{ClientSessions: cs.ClientSessions, FreeSetAcquired: cs.FreeSetAcquired,
		FreeSetReleased: cs.FreeSetReleased, StorageSize: cs.StorageSize}
	r.grid.Open(refs, func(b []byte, ok bool) {
		if abandoned() {
			return
		}
		if !ok {
			// Only a storage fault loses a durable checkpoint's blocks;
			// fetching them from peers is the storage-fault work.
			panic(fmt.Sprintf("replica %d: checkpoint %d: grid trailers unreadable", r.index, cs.Op))
		}
		s, err := decodeSessions(b, int(r.cfg.ClientsMax))
		if err != nil {
			panic(fmt.Sprintf("replica %d: checkpoint %d: %v", r.index, cs.Op, err))
		}
		r.sessions = s
		r.readReplies(func() {
			r.sm.Open(r.grid, &cs, func(ok bool) {
				if abandoned() {
					return
				}
				if !ok {
					panic(fmt.Sprintf("replica %d: checkpoint %d: state machine blocks unreadable", r.index, cs.Op))
				}
				opened := func() {
					r.commitMin, r.commitMax = cs.Op, max(r.commitMax, cs.Op)
					r.obs.Opened(r.index, cs.Op, r.sm.Checksum(), r.sync.opening)
					r.logf("opened checkpoint op %d", cs.Op)
					then()
				}
				if cs.Op != r.syncOp {
					opened()
					return
				}
				r.sm.Fetch(func() {
					if !abandoned() {
						r.logf("checkpoint op %d: every block fetched", cs.Op)
						opened()
					}
				})
			})
		})
	})
}

// readReplies reads the body of every session's reply from its slot. A slot
// holding another body (a later checkpoint's, whose write began before a
// crash) leaves that reply to replay: its op is after this checkpoint, since
// a slot is only rewritten for a reply newer than the last checkpoint.
func (r *Replica) readReplies(then func()) {
	l := r.cfg.Layout()
	left := 1
	done := func() {
		left--
		if left == 0 {
			then()
		}
	}
	for i := range r.sessions.slots {
		e := &r.sessions.slots[i]
		if !e.used || e.reply.Header.Size <= HeaderSize {
			continue
		}
		n := uint64(e.reply.Header.Size) - HeaderSize
		buf := make([]byte, l.SectorCeil(n))
		left++
		r.storage.Read(rio.ZoneClientReplies, l.ClientReplyOffset(uint64(i)), buf, func() {
			body := buf[:n]
			if replyBodyMatches(&e.reply.Header, body) {
				e.reply.Body = body
			} else {
				// Replay rebuilds it if its op is after the checkpoint;
				// else (a synced checkpoint) a peer sends it.
				e.replyMissing = true
			}
			done()
		})
	}
	done()
}

// executedFloor is the op at or below which this replica wants no header or
// prepare: what it executed, or the checkpoint it is opening (whose ops it
// will never execute, and whose slots may already hold later ops).
func (r *Replica) executedFloor() uint64 { return max(r.commitMin, r.checkpoint.Op) }

// forgetBehindCheckpoint keeps, of the headers at or below the open
// checkpoint, only those its header chains down to (journal.forgetBehind):
// appendServed vouches for every header at or below commit_min as executed.
func (r *Replica) forgetBehindCheckpoint() {
	if cp := r.checkpoint; cp.Op > 0 {
		if n := r.journal.forgetBehind(cp.Op, cp.HeaderChecksum); n > 0 {
			r.logf("checkpoint op %d: forgot %d headers behind it not chained to its header", cp.Op, n)
		}
	}
}

// checkpointID names this replica's durable checkpoint to peers.
func (r *Replica) checkpointID() u128.U128 { return r.cpID }

// setCheckpoint makes cs the checkpoint this replica runs from.
func (r *Replica) setCheckpoint(cs storage.CheckpointState) {
	r.checkpoint = cs
	r.cpID = u128.Zero
	if cs.Op > 0 {
		r.cpID = cs.CheckpointID()
	}
}
