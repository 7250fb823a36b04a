package vsr

import (
	"encoding/binary"

	"viewstamp/replica/checksum"
	rio "viewstamp/replica/io"
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
	// blockRefSize is a block reference on the wire: address, checksum.
	blockRefSize = 8 + 16
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

// wantSync reports whether a checkpoint at op, durable at a peer, should be
// synced to: two or more checkpoints ahead of ours (its WAL cannot hold what
// we lack), or one ahead while repair has made no progress.
func (r *Replica) wantSync(op uint64) bool {
	if r.syncing() || r.ckpt.started || r.status != StatusNormal || r.isPrimary() || op <= r.commitMin {
		return false
	}
	s := r.schedule()
	next := s.Next(r.checkpointOp())
	return op > next || (op == next && r.sync.stuck >= syncStuckRepairs)
}

// startSync adopts cs, the durable checkpoint of the primary of our view.
func (r *Replica) startSync(cs storage.CheckpointState) {
	r.logf("state sync: from checkpoint %d (commit %d) to checkpoint %d", r.checkpointOp(), r.commitMin, cs.Op)
	r.sync.target = cs
	r.ckpt = checkpointing{}
	r.StateSyncs++
	r.stageSuperblock()
}

// syncDurable opens the synced checkpoint once the superblock names it.
func (r *Replica) syncDurable() {
	r.sync.opening = true
	r.openCheckpoint(func() {
		r.sync = syncState{lastCommit: r.commitMin}
		r.logf("state sync: at checkpoint %d", r.commitMin)
		r.repair()
		r.commitJournal()
	})
}

// ---- Blocks ----

// onBlockMissing hears from the grid of a block a read is waiting for.
func (r *Replica) onBlockMissing(ref block.Ref) {
	r.missingBlocks = append(r.missingBlocks, ref)
	r.requestBlocks()
}

// requestBlocks asks one peer, in turn, for the oldest missing blocks.
func (r *Replica) requestBlocks() {
	if len(r.missingBlocks) == 0 || r.solo() {
		return
	}
	n := min(len(r.missingBlocks), blocksPerRequest)
	body := make([]byte, n*blockRefSize)
	for i, ref := range r.missingBlocks[:n] {
		binary.LittleEndian.PutUint64(body[i*blockRefSize:], ref.Address)
		ref.Checksum.Put(body[i*blockRefSize+8:])
	}
	r.blockRound++
	r.send(r.peerInTurn(r.blockRound), &Message{Header: Header{Command: CommandGetBlocks}, Body: body})
}

// peerInTurn is the k-th peer in a rotation over every replica but us.
func (r *Replica) peerInTurn(k uint64) uint8 {
	n := uint64(r.cfg.ReplicaCount)
	p := (uint64(r.index) + 1 + k%(n-1)) % n
	return uint8(p)
}

// onGetBlocks serves the blocks asked for that this replica holds intact;
// others are not answered (the asker turns to another peer).
func (r *Replica) onGetBlocks(m *Message) {
	if len(m.Body)%blockRefSize != 0 || len(m.Body) > blocksPerRequest*blockRefSize {
		r.Drops.Decode++
		return
	}
	to := m.Header.Replica
	for off := 0; off < len(m.Body); off += blockRefSize {
		ref := block.Ref{Address: binary.LittleEndian.Uint64(m.Body[off:]), Checksum: u128.Get(m.Body[off+8:])}
		if ref.Address == 0 || ref.Address > r.cfg.GridBlockCount {
			r.Drops.Decode++
			return
		}
		r.grid.ReadBlockLocal(ref, func(blk []byte, ok bool) {
			if ok {
				r.sendRaw(to, blk[:block.DecodeHeader(blk).Size])
			}
		})
	}
}

// onBlock writes a block a peer sent, if it is one we are missing.
func (r *Replica) onBlock(b []byte) {
	h := block.DecodeHeader(b)
	ref := block.Ref{Address: h.Address, Checksum: h.Checksum}
	for i, want := range r.missingBlocks {
		if want != ref {
			continue
		}
		if r.grid.WriteRepaired(ref, b, func() {}) {
			r.missingBlocks = append(r.missingBlocks[:i], r.missingBlocks[i+1:]...)
		}
		return
	}
	r.Drops.Stale++
}

// ---- Client replies ----

// canonicalReplySum is the checksum of a reply's header as every replica
// stores it in its checkpoint (replica and view zeroed).
func canonicalReplySum(h Header) u128.U128 {
	h.Replica, h.View = 0, 0
	h.sealHeader()
	return h.Checksum
}

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
		r.blockRound++
		r.send(r.peerInTurn(r.blockRound), &Message{Header: Header{Command: CommandGetReply,
			Ref: canonicalReplySum(e.reply.Header), Client: e.client, Op: e.lastOp}})
	}
}

// onGetReply answers with the reply this replica holds for the session, if
// it is the one asked for.
func (r *Replica) onGetReply(m *Message) {
	h := &m.Header
	s := r.sessions.get(h.Client)
	if s == nil || s.replyMissing || s.lastOp != h.Op || canonicalReplySum(s.reply.Header) != h.Ref {
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
		l := r.cfg.Layout()
		buf := make([]byte, l.SectorCeil(uint64(len(m.Body))))
		copy(buf, m.Body)
		r.storage.Write(rio.ZoneClientReplies, l.ClientReplyOffset(uint64(i)), buf, func() {})
		return
	}
	r.Drops.Stale++
}

// replyBodyMatches reports whether body is the one a reply header names.
func replyBodyMatches(h *Header, body []byte) bool {
	return uint64(h.Size) == HeaderSize+uint64(len(body)) && checksum.Sum(body) == h.ChecksumBody
}
