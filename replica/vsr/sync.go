package vsr

import (
	"encoding/binary"

	"viewstamp/replica/checksum"
	"viewstamp/replica/storage"
	"viewstamp/replica/storage/block"
	"viewstamp/replica/u128"
)

// State sync. A replica that has fallen behind what its peers' WALs still
// hold cannot repair its way forward: the prepares it needs were overwritten
// behind their checkpoints. It adopts a newer checkpoint instead, the one the
// primary's `view` message carries: it writes that checkpoint into its own
// superblock first (so that a crash from here on reopens the new checkpoint,
// never a half-fetched mix), then opens it as a restart would. The grid reads
// that find a block missing wait while the block is fetched from peers
// (get_blocks / block); client replies the new checkpoint names are fetched
// the same way (get_reply / reply). Commits then resume from the
// checkpoint's op + 1, by WAL repair.

const (
	// blocksPerRequest bounds the blocks one get_blocks asks for, as in
	// TigerBeetle, so that answers stay a few messages per peer and tick.
	blocksPerRequest = 4
	// blockRefSize is a block reference on the wire, TigerBeetle's
	// BlockRequest: checksum (u128) at 0, address (u64) at 16, then 8
	// reserved bytes, zero.
	blockRefSize       = 32
	blockRefChecksumAt = 0
	blockRefAddressAt  = 16
	// chainBlocksMax bounds the predecessors a peer sends after a trailer
	// block asked for: a trailer is a chain read backwards, so without them
	// a syncing replica would learn of one block per round trip.
	chainBlocksMax = 16
	// expectedBlocksMax bounds the chain links a replica accepts unasked.
	expectedBlocksMax = 4 * chainBlocksMax
	// syncStuckRepairs is how many repair rounds without a commit make a
	// replica that is one checkpoint behind sync instead of waiting for
	// prepares that may be gone from every peer.
	syncStuckRepairs = 50
)

// syncState is a replica's state sync, from the `view` that named the target
// to the open of its checkpoint.
type syncState struct {
	target  storage.CheckpointState // Op 0: not syncing
	opening bool                    // the superblock names target; opening it
	// lastCommit and stuck count repair rounds without progress.
	lastCommit uint64
	stuck      int
	// commitStalled counts repair rounds the committing op has waited on
	// missing blocks (noteCommitStalled).
	commitStalled int
	// undurable is the newest checkpoint this replica wanted to sync to but
	// had no evidence of as durable (syncable); 0: none. For the
	// simulator's liveness core (SyncAwaitsDurable).
	undurable uint64
}

func (r *Replica) syncing() bool { return r.sync.target.Op != 0 }

// noteProgress counts repair rounds without a commit, for the stuck rule.
func (r *Replica) noteProgress() {
	if r.commitMin != r.sync.lastCommit || r.commitMin >= r.commitMax {
		r.sync.lastCommit, r.sync.stuck = r.commitMin, 0
		return
	}
	r.sync.stuck++
}

// wantSync reports whether a checkpoint at op, durable (syncable), should
// be synced to: two or more checkpoints ahead of ours (its WAL cannot hold
// what we lack), or one ahead while repair has made no progress.
func (r *Replica) wantSync(op uint64) bool {
	if r.syncing() || r.ckpt.started || r.committing != nil || r.status != StatusNormal || r.isPrimary() || op <= r.commitMin {
		return false
	}
	s := r.schedule()
	next := s.Next(r.checkpointOp())
	return op > next || (op == next && r.sync.stuck >= syncStuckRepairs)
}

// syncable reports whether checkpoint cs, named by a peer whose commit_max
// is commit, is durable: a replication quorum holds it, so that every block
// it references keeps an intact copy whatever faults take (the fault model
// of sim/disk.Atlas: at most a replication quorum less one replica faulty
// per block). Only such a checkpoint is synced to, as in TigerBeetle. One
// that a minority wrote ahead of the rest may lose a block to a fault
// before anyone fetched it; the rest can still rebuild it by executing the
// ops up to it from their WALs, but not once they adopted it in their
// superblocks (seed 8872218 --clock-faults --storage-faults: replica 4
// synced at commit_max 127 to checkpoint 119, durable at 128, which only
// replica 5 had written and whose block 130 replica 5 then lost; reopened,
// replica 4 waited for the block forever).
//
// Durability shows in two ways. A commit_max past DurableAt: a replication
// quorum acknowledged past the checkpoint's trigger, which replicas without
// it never do (ackMax). Or a replication quorum of peers pinging it as held
// whole: an idle cluster commits nothing more to show it, and its laggard,
// a checkpoint behind and stuck, must still sync (seed 118: commit 67 and
// the laggard's ops gone from every WAL, DurableAt(59) 68).
func (r *Replica) syncable(cs storage.CheckpointState, commit uint64) bool {
	if durable, ok := r.schedule().DurableAt(cs.Op); ok && commit >= durable {
		return true
	}
	return r.peersHolding(cs) >= int(r.q.Replication)
}

// peersHolding counts the peers whose latest ping names cs as held whole.
func (r *Replica) peersHolding(cs storage.CheckpointState) int {
	want := heldCheckpoint{op: cs.Op, id: cs.CheckpointID()}
	held := 0
	for i := range r.cfg.ReplicaCount {
		if i != r.index && r.peerHeld[i] == want {
			held++
		}
	}
	return held
}

// viewSyncHoldersMin is how many peers must ping a checkpoint held whole
// before a replica that cannot hold a view's log syncs to it without proof
// of durability (onView). That replica must sync to take part in the view
// at all, and the primary names only its own newest checkpoint, which a
// quorum may not have written yet while the one before it is durable (seeds
// 8872537 and 8874670: five replicas, the newest checkpoint on two of them,
// the view's log past what the other three may prepare). Refusing it stalls
// the view; taking it from its only holder loses a block to one fault there
// (seed 9500463). Two holders survive any one fault. The full answer is to
// sync to the newest durable checkpoint, the one before, whose blocks the
// primary still holds until the newer one is durable; not built yet.
const viewSyncHoldersMin = 2

// syncableOrNoted is syncable, noting a checkpoint refused for want of
// evidence (syncState.undurable).
func (r *Replica) syncableOrNoted(cs storage.CheckpointState, commit uint64) bool {
	if r.syncable(cs, commit) {
		return true
	}
	r.sync.undurable = max(r.sync.undurable, cs.Op)
	return false
}

// heldCheckpoint is a checkpoint as a ping names it.
type heldCheckpoint struct {
	op uint64
	id u128.U128
}

// fetchingSynced reports whether this replica runs from a checkpoint it
// synced to whose blocks it may not all have yet. Otherwise it holds its
// checkpoint whole: it wrote the checkpoint itself, or the open that
// fetches every block of the one it synced to has finished.
func (r *Replica) fetchingSynced() bool {
	return r.syncOp != 0 && r.syncOp == r.checkpointOp() && (r.syncing() || r.opening)
}

// startSync adopts cs, the durable checkpoint of the primary of our view.
func (r *Replica) startSync(cs storage.CheckpointState) {
	r.logf("state sync: from checkpoint %d (commit %d) to checkpoint %d", r.checkpointOp(), r.commitMin, cs.Op)
	r.sync.target = cs
	r.sync.undurable = 0
	r.ckpt = checkpointing{}
	r.stageSuperblock()
}

// syncDurable opens the synced checkpoint once the superblock names it.
func (r *Replica) syncDurable() {
	r.sync.opening = true
	r.openCheckpoint(r.syncOpened)
}

func (r *Replica) syncOpened() {
	r.sync = syncState{lastCommit: r.commitMin}
	r.forgetBehindCheckpoint()
	r.logf("state sync: at checkpoint %d", r.commitMin)
	r.requestReplies()
	r.repair()
	r.commitJournal()
}

// ---- Blocks ----

// onBlockMissing hears from the grid of a block a read is waiting for.
func (r *Replica) onBlockMissing(ref block.Ref) {
	r.missingBlocks = append(r.missingBlocks, ref)
	r.requestBlocks()
}

// requestBlocks asks one peer, in turn, for a window of the missing blocks.
func (r *Replica) requestBlocks() {
	if len(r.missingBlocks) == 0 || r.solo() {
		return
	}
	r.blockRound++
	r.send(r.peerInTurn(r.blockRound), &Message{Header: Header{Command: CommandGetBlocks},
		Body: appendBlockRefs(nil, r.missingBlocks, blockWindow(r.blockRound, int(r.cfg.ReplicaCount)-1, len(r.missingBlocks)))})
}

// blockWindow is where round's get_blocks starts in a list of n blocks
// wanted, asked of peers in turn (peerInTurn(round)). Each window of
// blocksPerRequest is asked of every one of the peers before the next
// window: always the oldest blocks would starve the rest when the oldest
// are lost everywhere, and a window moving with the peers would pin each
// block to one peer whenever the window count is a multiple of the peer
// count. So within ceil(n / blocksPerRequest) * peers rounds every block has
// been asked of every peer.
func blockWindow(round uint64, peers, n int) int {
	if n <= blocksPerRequest {
		return 0
	}
	return int((round/uint64(peers))*blocksPerRequest) % n
}

// appendBlockRefs appends to body up to blocksPerRequest of refs, from
// start, wrapping, as get_blocks carries them.
func appendBlockRefs(body []byte, refs []block.Ref, start int) []byte {
	var b [blockRefSize]byte
	for i := range min(len(refs), blocksPerRequest) {
		ref := refs[(start+i)%len(refs)]
		ref.Checksum.Put(b[blockRefChecksumAt:])
		binary.LittleEndian.PutUint64(b[blockRefAddressAt:], ref.Address)
		body = append(body, b[:]...)
	}
	return body
}

// peerInTurn is the k-th peer in a rotation over every replica but us.
func (r *Replica) peerInTurn(k uint64) uint8 {
	n := uint64(r.cfg.ReplicaCount)
	p := (uint64(r.index) + 1 + k%(n-1)) % n
	return uint8(p)
}

// onGetBlocks serves the blocks asked for that this replica holds intact;
// others are not answered (the asker turns to another peer). After a
// trailer's block it sends the blocks its chain links back to as well.
func (r *Replica) onGetBlocks(m *Message) {
	if len(m.Body)%blockRefSize != 0 || len(m.Body) > blocksPerRequest*blockRefSize {
		r.Drops.Decode++
		return
	}
	to := m.Header.Replica
	for off := 0; off < len(m.Body); off += blockRefSize {
		ref := block.Ref{Address: binary.LittleEndian.Uint64(m.Body[off+blockRefAddressAt:]),
			Checksum: u128.Get(m.Body[off+blockRefChecksumAt:])}
		if ref.Address == 0 || ref.Address > r.cfg.GridBlockCount {
			r.Drops.Decode++
			return
		}
		r.serveBlock(to, ref, chainBlocksMax)
	}
}

func (r *Replica) serveBlock(to uint8, ref block.Ref, chain int) {
	r.grid.ReadBlockLocal(ref, func(blk []byte, ok bool) {
		if !ok {
			return
		}
		h := block.DecodeHeader(blk)
		r.sendRaw(to, blk[:h.Size])
		if link, ok := trailerLink(h, blk); ok && chain > 0 {
			r.serveBlock(to, link, chain-1)
		}
	})
}

// trailerLink is the block a trailer's block links back to, if any.
func trailerLink(h block.Header, blk []byte) (block.Ref, bool) {
	switch h.Type {
	case block.TypeFreeSet, block.TypeClientSessions, block.TypeSnapshot:
		link := block.Link(block.Metadata(blk))
		return link, link.Address != 0
	}
	return block.Ref{}, false
}

// onBlock writes a block a peer sent if we are missing it, or if a trailer
// block we wrote links to it (the rest of a chain being fetched).
func (r *Replica) onBlock(b []byte) {
	h := block.DecodeHeader(b)
	ref := block.Ref{Address: h.Address, Checksum: h.Checksum}
	// On the wire a block ends at its size; on disk it is padded with zeros
	// to its last sector, as WriteRepaired checks.
	padded := make([]byte, r.cfg.Layout().SectorCeil(uint64(len(b))))
	copy(padded, b)
	if r.grid.Writing(ref.Address) {
		// A copy of the same block is already on its way to disk.
		r.Drops.Stale++
		return
	}
	take := func(refs []block.Ref) ([]block.Ref, bool) {
		for i, want := range refs {
			if want == ref && r.grid.WriteRepaired(ref, padded, func() {}) {
				return append(refs[:i], refs[i+1:]...), true
			}
		}
		return refs, false
	}
	var ok bool
	if r.missingBlocks, ok = take(r.missingBlocks); ok {
		if r.opening {
			r.Repairs.SyncBlocks++
		} else {
			r.Repairs.Blocks++
		}
	} else {
		if r.scrubRepair(ref, padded) {
			return
		}
		// Links are taken only while a checkpoint is being opened: later
		// the same address may hold a newer block of our own.
		if !r.opening {
			r.Drops.Stale++
			return
		}
		if r.expectedBlocks, ok = take(r.expectedBlocks); !ok {
			r.Drops.Stale++
			return
		}
		r.Repairs.SyncBlocks++
	}
	if link, ok := trailerLink(h, padded); ok && len(r.expectedBlocks) < expectedBlocksMax {
		r.expectedBlocks = append(r.expectedBlocks, link)
	}
}

// ---- Client replies ----

// requestReplies asks a peer, in turn, for each session's reply whose body
// this replica lacks (a checkpoint it synced to names replies it never
// executed).
func (r *Replica) requestReplies() {
	if r.solo() {
		return
	}
	for i := range r.sessions.slots {
		e := &r.sessions.slots[i]
		if !e.used || !e.replyMissing {
			continue
		}
		r.replyRound++
		r.send(r.peerInTurn(r.replyRound), &Message{Header: Header{Command: CommandGetReply,
			Ref: canonicalReply(e.reply.Header).Checksum, Client: e.client, Op: e.lastOp}})
	}
}

// onGetReply answers with the reply this replica holds for the session, if
// it is the one asked for.
func (r *Replica) onGetReply(m *Message) {
	h := &m.Header
	s := r.sessions.get(h.Client)
	if s == nil || s.replyMissing || s.lastOp != h.Op || canonicalReply(s.reply.Header).Checksum != h.Ref {
		return
	}
	r.sendRaw(h.Replica, s.reply.Bytes())
}

// onReplyFromPeer attaches a reply body a peer sent for a session whose body
// this replica lacks, and writes it to the session's slot.
func (r *Replica) onReplyFromPeer(m *Message) {
	h := &m.Header
	for i := range r.sessions.slots {
		e := &r.sessions.slots[i]
		if !e.used || !e.replyMissing || e.client != h.Client || e.lastOp != h.Op || e.reply.Header.ChecksumBody != h.ChecksumBody {
			continue
		}
		e.reply.Body = append([]byte(nil), m.Body...)
		e.replyMissing = false
		r.Repairs.Replies++
		r.writeReplySlot(i, e.reply.Body, func() {})
		return
	}
	r.Drops.Stale++
}

// replyBodyMatches reports whether body is the one a reply header names.
func replyBodyMatches(h *Header, body []byte) bool {
	return uint64(h.Size) == HeaderSize+uint64(len(body)) && checksum.Sum(body) == h.ChecksumBody
}

// ---- Re-targeting ----

// noteOpenStalled counts repair rounds an open waits on missing blocks;
// after syncStuckRepairs it asks every peer for its view: any peer's
// answer names a newer checkpoint to open instead (the blocks of the one
// opening may have been reused by peers that moved two checkpoints on).
func (r *Replica) noteOpenStalled() {
	if !r.opening || len(r.missingBlocks) == 0 || r.retargeting {
		return
	}
	r.openStalled++
	if r.openStalled%syncStuckRepairs != 0 || r.solo() {
		return
	}
	for i := uint8(0); i < r.cfg.ReplicaCount; i++ {
		if i != r.index {
			r.send(i, &Message{Header: Header{Command: CommandGetView, Context: r.nonce}})
		}
	}
}

// onViewWhileOpening reads only the checkpoint of a `view` that arrives
// while a checkpoint is being opened.
func (r *Replica) onViewWhileOpening(m *Message) {
	h := &m.Header
	if h.Replica == r.index {
		r.Drops.Stale++
		return
	}
	// Any peer's: a durable checkpoint is committed state (onGetView).
	if cs, ok := r.viewCheckpoint(m); ok {
		r.retarget(cs)
	}
}

// retarget abandons the checkpoint being opened for cs, a newer one: cs is
// written into the superblock in its place (the rest of the superblock as
// it is), then opened.
func (r *Replica) retarget(cs storage.CheckpointState) {
	if !r.opening || r.retargeting || cs.Op <= r.checkpoint.Op {
		return
	}
	r.logf("state sync: checkpoint %d is out of reach, retargeting to %d", r.checkpoint.Op, cs.Op)
	r.openGen++
	r.retargeting = true
	r.sync.target = cs
	r.sync.opening = false
	r.grid.CancelParked()
	r.missingBlocks, r.expectedBlocks = r.missingBlocks[:0], r.expectedBlocks[:0]
	if r.status == StatusRecovering {
		// The view and log were not loaded yet: keep the durable ones.
		d := r.sb.durable
		d.Checkpoint = cs
		d.CommitMax = max(d.CommitMax, cs.Op)
		d.SyncOp, r.syncOp = cs.Op, cs.Op
		r.sb.stage(d)
		return
	}
	r.stageSuperblock()
}

// retargetDurable opens the checkpoint retarget wrote.
func (r *Replica) retargetDurable() {
	r.retargeting = false
	r.sync.opening = true
	then := r.syncOpened
	if r.status == StatusRecovering {
		// The start goes on (the journal) once the checkpoint is open.
		start := r.openThen
		then = func() {
			r.sync = syncState{lastCommit: r.commitMin}
			start()
		}
	}
	r.openCheckpoint(then)
}

// ---- A commit stalled on a block ----

// noteCommitStalled counts repair rounds the committing op waits on blocks
// that no peer has sent. A laggard's op may read a block of its own
// checkpoint's state that is damaged here and that every peer, a
// checkpoint or two ahead, has released and reused: no peer can serve it,
// so the commit never completes and the replica never leaves the commit to
// sync (seeds/storage-grid-laggard-stuck.json). After syncStuckRepairs
// rounds it asks every peer for its view: any peer's newer durable
// checkpoint lets it give the commit up and sync (onViewWhileStalled).
func (r *Replica) noteCommitStalled() {
	if r.committing == nil || r.opening || len(r.missingBlocks) == 0 {
		r.sync.commitStalled = 0
		return
	}
	r.sync.commitStalled++
	if r.sync.commitStalled%syncStuckRepairs != 0 || r.solo() {
		return
	}
	r.logf("op %d: commit waits on %d missing blocks for %d repair rounds: asking peers for a newer checkpoint",
		r.committing.Header.Op, len(r.missingBlocks), r.sync.commitStalled)
	for i := uint8(0); i < r.cfg.ReplicaCount; i++ {
		if i != r.index {
			r.send(i, &Message{Header: Header{Command: CommandGetView, Context: r.nonce}})
		}
	}
}

// onViewWhileStalled reads the checkpoint of a `view` while the committing
// op is stalled on missing blocks: a newer checkpoint than ours, durable at
// any peer (onGetView), is synced to in place of the commit. It reports
// whether the sync started.
func (r *Replica) onViewWhileStalled(m *Message) bool {
	if r.committing == nil || r.sync.commitStalled < syncStuckRepairs || r.syncing() || r.ckpt.started ||
		(r.status == StatusNormal && r.isPrimary()) {
		return false
	}
	cs, ok := r.viewCheckpoint(m)
	if !ok || cs.Op <= r.checkpointOp() || !r.syncableOrNoted(cs, m.Header.Commit) {
		return false
	}
	r.cancelCommit()
	r.startSync(cs)
	return true
}

// cancelCommit abandons the committing op: its parked grid reads fail, so
// the state machine's steps waiting on them stop there, and a completion
// that still arrives finds its steps unbound (bindSteps). The state machine is left
// mid-op; only a state sync, which reopens it from a checkpoint, may
// follow. An op already applied stays counted in commit_min: the synced
// checkpoint replaces that state, and ops past it replay from the WAL.
func (r *Replica) cancelCommit() {
	r.logf("op %d: commit cancelled for state sync", r.committing.Header.Op)
	r.bindSteps()
	r.committing = nil
	r.sync.commitStalled = 0
	r.missingBlocks = r.missingBlocks[:0]
	r.grid.CancelParked()
}
