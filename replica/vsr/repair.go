package vsr

// repairPreparesMax bounds get_prepare requests per repair round, so a
// replica far behind does not flood its peers.
const repairPreparesMax = 8

// repair asks peers for what the log lacks: first the header that breaks the
// hash chain below the verified suffix, then prepares for verified headers.
func (r *Replica) repair() {
	switch {
	case r.status == StatusNormal:
	case r.status == StatusViewChange && r.logInstall:
	default:
		return
	}
	r.repairRound++
	v := r.verifiedFrom()
	need := r.commitMin + 1
	if r.logInstall && r.op > r.cfg.PipelineMax {
		need = min(need, r.op-r.cfg.PipelineMax)
	} else if r.logInstall {
		need = min(need, 1)
	}
	if v > need && v > 0 {
		lo := need
		if v-1-lo >= uint64(r.cfg.HeadersPerReply) {
			lo = v - uint64(r.cfg.HeadersPerReply)
		}
		r.send(r.repairPeer(v-1), &Message{Header: Header{Command: CommandGetHeaders, CommitMin: lo, Op: v - 1}})
	}
	if top := min(r.commitMax, r.prepareMax()); !r.isPrimary() && top > r.op && r.status == StatusNormal {
		// Only as far as our WAL may hold: the answer comes from the top.
		r.send(r.primaryIndex(r.view), &Message{Header: Header{Command: CommandGetHeaders, CommitMin: r.op + 1, Op: top}})
	}
	asked := 0
	for op := max(v, r.executedFloor()+1); op <= r.op && asked < repairPreparesMax; op++ {
		h, ok := r.journal.header(op)
		if !ok {
			continue
		}
		if r.journal.prepare(op) != nil {
			if !r.journal.present(op) {
				// Held in memory, not yet on disk: (re)issue the write, which
				// is a no-op if it is already in flight.
				r.journal.write(r.journal.prepare(op))
			}
			continue
		}
		r.send(r.repairPeer(op), &Message{Header: Header{Command: CommandGetPrepare, Op: op, Ref: h.Checksum}})
		asked++
	}
}

// repairPeer picks the peer to ask for op in this round. Peers are taken in
// order from the primary (skipping ourselves), at position (op + round) mod
// the peer count: one round spreads consecutive ops over every peer, and
// successive rounds ask each op of the next peer, so within ReplicaCount-1
// rounds every op has been asked of every peer and one dead or lagging peer
// cannot stall any op. (A cursor bumped per request instead pins an op to one
// peer whenever a round makes a multiple of the peer count in requests.)
func (r *Replica) repairPeer(op uint64) uint8 {
	n := uint64(r.cfg.ReplicaCount)
	if n == 1 {
		return r.index
	}
	start := uint64(r.primaryIndex(r.view))
	k := (op + r.repairRound) % (n - 1)
	if self := (uint64(r.index) + n - start) % n; k >= self {
		k++
	}
	return uint8((start + k) % n)
}

func (r *Replica) onGetHeaders(m *Message) {
	h := &m.Header
	if r.status == StatusRecovering || h.Op < h.CommitMin {
		return
	}
	if body := r.appendServed(nil, h.CommitMin, h.Op); len(body) > 0 {
		r.send(h.Replica, &Message{Header: Header{Command: CommandHeaders}, Body: body})
	}
}

// appendServed appends to body the headers a get_headers for ops [lo, hi]
// is answered with, highest op first, at most HeadersPerReply of them.
func (r *Replica) appendServed(body []byte, lo, hi uint64) []byte {
	v := r.verifiedFrom()
	var b [HeaderSize]byte
	end := len(body) + r.cfg.HeadersPerReply*HeaderSize
	for op := min(hi, r.op); op >= lo && len(body) < end; op-- {
		// Serve only headers we know to be canonical: executed, or chained to
		// our head.
		if hdr, ok := r.journal.header(op); ok && (op >= v || op <= r.commitMin) {
			EncodeHeader(hdr, b[:])
			body = append(body, b[:]...)
		}
		if op == 0 {
			break
		}
	}
	return body
}

func (r *Replica) onHeaders(m *Message) {
	n := len(m.Body) / HeaderSize
	if len(m.Body)%HeaderSize != 0 {
		r.Drops.Decode++
		return
	}
	fromPrimary := r.status == StatusNormal && !r.isPrimary() && m.Header.View == r.view && m.Header.Replica == r.primaryIndex(r.view)
	changed := false
	for i := 0; i < n; i++ {
		var h Header
		if DecodeHeader(m.Body[i*HeaderSize:], &h) != nil || h.Command != CommandPrepare {
			r.Drops.Decode++
			return
		}
		switch {
		case h.Op > r.prepareMax():
			// Past what our WAL may hold: its slot still belongs to an op
			// our checkpoint does not cover (state sync brings us there).
		case h.Op > r.op && fromPrimary:
			// The primary serves only canonical headers of its view: one past
			// our head moves the head.
			for op := r.op + 1; op < h.Op; op++ {
				r.journal.removeHeader(op)
			}
			r.journal.setHeader(&h)
			r.op = h.Op
			changed = true
		case h.Op <= r.op:
			if r.acceptRepairHeader(&h) {
				changed = true
			}
		}
	}
	if changed {
		r.commitJournal()
		r.tryStartView()
		r.repair()
	}
}

// acceptRepairHeader takes h into the log if it is provably canonical: the
// verified header above it names it as parent.
func (r *Replica) acceptRepairHeader(h *Header) bool {
	if h.Op == 0 || h.Op >= r.op {
		return false
	}
	if cur, ok := r.journal.header(h.Op); ok && cur.Checksum == h.Checksum {
		return false
	}
	next, ok := r.journal.header(h.Op + 1)
	if !ok || next.Parent != h.Checksum || h.Op+1 < r.verifiedFrom() {
		return false
	}
	if h.Op <= r.executedFloor() {
		return false
	}
	r.journal.setHeader(h)
	r.Repairs.Headers++
	return true
}

func (r *Replica) onGetPrepare(m *Message) {
	h := &m.Header
	if r.status == StatusRecovering {
		return
	}
	if p := r.journal.findPrepare(h.Op, h.Ref); p != nil {
		r.sendRaw(h.Replica, p.Bytes())
	}
}
