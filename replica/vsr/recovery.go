package vsr

import (
	rio "viewstamp/replica/io"
	"viewstamp/replica/u128"
)

// Format writes a fresh data file: view 0 superblock copies and the root
// prepare at op 0. done runs once everything is durable.
func Format(cfg Config, cluster u128.U128, replica uint8, storage rio.Storage, done func()) {
	root := RootHeader(cluster)
	state := VSRState{Sequence: 1, Replica: replica, ViewHeaders: []Header{root}}
	pending := SuperblockCopies + 2
	complete := func() {
		pending--
		if pending == 0 {
			done()
		}
	}
	for c := uint8(0); c < SuperblockCopies; c++ {
		storage.Write(rio.ZoneSuperblock, cfg.Layout().SuperblockCopyOffset(uint64(c)), state.encode(cfg, cluster, c), complete)
	}
	prep := make([]byte, cfg.SectorSize)
	EncodeHeader(&root, prep)
	storage.Write(rio.ZoneWALPrepares, 0, prep, complete)
	ring := make([]byte, cfg.SectorSize)
	EncodeHeader(&root, ring)
	storage.Write(rio.ZoneWALHeaders, 0, ring, complete)
}

// Open starts recovery from the data file: superblock, then the whole WAL.
// The replica ignores messages until recovery completes.
func (r *Replica) Open() {
	r.status = StatusRecovering
	copies := make([][]byte, SuperblockCopies)
	left := SuperblockCopies
	for c := range copies {
		copies[c] = make([]byte, r.cfg.Layout().SuperblockCopySize)
		r.storage.Read(rio.ZoneSuperblock, r.cfg.Layout().SuperblockCopyOffset(uint64(c)), copies[c], func() {
			left--
			if left == 0 {
				r.openSuperblock(copies)
			}
		})
	}
}

func (r *Replica) openSuperblock(copies [][]byte) {
	var best VSRState
	found := false
	for _, b := range copies {
		s, ok := decodeSuperblock(b, r.cfg, r.cluster)
		if ok && s.Replica == r.index && (!found || s.Sequence > best.Sequence) {
			best, found = s, true
		}
	}
	if !found {
		panic("superblock: no valid copy (data file not formatted for this replica?)")
	}
	r.sb.durable = best
	r.syncOp = best.SyncOp
	// The newest version may sit in fewer than all copies if a crash cut its
	// write short. Complete it before relying on it, rewriting only copies
	// that hold something else, so no good copy is ever torn; the stale ones
	// may all be written at once, since a crash meanwhile leaves the good ones
	// to be found again. Writes of the next version assume this: they begin
	// with every copy equal.
	var stale []uint8
	for c, b := range copies {
		if s, ok := decodeSuperblock(b, r.cfg, r.cluster); !ok || s.Sequence != best.Sequence {
			stale = append(stale, uint8(c))
		}
	}
	r.repairSuperblock(stale, func() { r.openCheckpoint(r.openJournalReads) })
}

func (r *Replica) repairSuperblock(stale []uint8, then func()) {
	if len(stale) == 0 {
		then()
		return
	}
	left := len(stale)
	for _, c := range stale {
		r.storage.Write(rio.ZoneSuperblock, r.cfg.Layout().SuperblockCopyOffset(uint64(c)), r.sb.durable.encode(r.cfg, r.cluster, c), func() {
			left--
			if left == 0 {
				then()
			}
		})
	}
}

func (r *Replica) openJournalReads() {
	ring := make([]byte, r.cfg.JournalSlotCount*HeaderSize)
	slots := r.cfg.JournalSlotCount
	prepares := make([][]byte, slots)
	left := slots + 1
	next := func() {
		left--
		if left == 0 {
			r.openJournal(ring, prepares)
		}
	}
	r.storage.Read(rio.ZoneWALHeaders, 0, ring, next)
	for s := uint64(0); s < slots; s++ {
		prepares[s] = make([]byte, r.cfg.SectorSize)
		r.storage.Read(rio.ZoneWALPrepares, s*r.cfg.MessageSizeMax, prepares[s], r.readPrepareRest(s, prepares, next))
	}
}

// readPrepareRest reads the remainder of a prepare larger than one sector.
func (r *Replica) readPrepareRest(s uint64, prepares [][]byte, next func()) func() {
	return func() {
		size := uint64(0)
		var h Header
		if DecodeHeader(prepares[s], &h) == nil {
			size = uint64(h.Size)
		}
		if size <= r.cfg.SectorSize || size > r.cfg.MessageSizeMax {
			next()
			return
		}
		full := make([]byte, (size+r.cfg.SectorSize-1)/r.cfg.SectorSize*r.cfg.SectorSize)
		copy(full, prepares[s])
		rest := full[r.cfg.SectorSize:]
		r.storage.Read(rio.ZoneWALPrepares, s*r.cfg.MessageSizeMax+r.cfg.SectorSize, rest, func() {
			prepares[s] = full
			next()
		})
	}
}

// openJournal classifies every slot, overlays the superblock's view headers
// and drops any tail left over from a log view we have since left.
func (r *Replica) openJournal(ring []byte, prepares [][]byte) {
	d := r.sb.durable
	slots := r.cfg.JournalSlotCount
	copy(r.journal.headerRing, ring)
	for s := uint64(0); s < slots; s++ {
		var rh Header
		ringOK := DecodeHeader(ring[s*HeaderSize:], &rh) == nil && rh.Command == CommandPrepare && rh.Op%slots == s
		var p *Message
		if b := prepares[s]; len(b) >= HeaderSize {
			var h Header
			if DecodeHeader(b, &h) == nil && h.Command == CommandPrepare && h.Op%slots == s && uint64(h.Size) <= uint64(len(b)) {
				if m, err := Decode(b[:h.Size], r.cluster, r.cfg.MessageSizeMax); err == nil {
					p = m
				}
			}
		}
		sl := &r.journal.slots[s]
		switch {
		case p != nil:
			sl.has, sl.header, sl.prepare, sl.durable = true, p.Header, p, p.Header.Checksum
		case ringOK:
			// The header ring is written only after its prepare: the prepare
			// was once durable and may have been acknowledged.
			sl.faulty = true
			sl.has, sl.header = true, rh
		}
	}
	var viewHead uint64
	for i := range d.ViewHeaders {
		viewHead = max(viewHead, d.ViewHeaders[i].Op)
	}
	for s := uint64(0); s < slots; s++ {
		if sl := &r.journal.slots[s]; sl.has && sl.header.Op > viewHead && sl.header.View != d.LogView {
			r.journal.removeHeader(sl.header.Op)
		}
	}
	for i := range d.ViewHeaders {
		// A slot holding a later op of the log view has wrapped past this
		// view header: the op it names is behind the checkpoint.
		vh := &d.ViewHeaders[i]
		if sl := r.journal.slotFor(vh.Op); sl.has && sl.header.Op > vh.Op {
			continue
		}
		r.journal.setHeader(vh)
	}
	var head uint64
	for s := uint64(0); s < slots; s++ {
		if sl := &r.journal.slots[s]; sl.has {
			head = max(head, sl.header.Op)
		}
	}
	r.journal.version++
	r.view, r.logView, r.commitMax = d.View, d.LogView, d.CommitMax
	r.viewHeaders = append([]Header(nil), d.ViewHeaders...)
	r.op = head
	r.commitMax = min(r.commitMax, r.op)
	for s := uint64(0); s < slots; s++ {
		if sl := &r.journal.slots[s]; sl.has && sl.header.Timestamp > r.lastTimestamp {
			r.lastTimestamp = sl.header.Timestamp
		}
	}
	r.logf("recovered: view %d log_view %d op %d commit_max %d", r.view, r.logView, r.op, r.commitMax)
	r.tPing.start(r.rng)
	r.tRepair.start(r.rng)
	switch {
	case r.solo():
		// Alone, the durable hash-chained prefix of the log is exactly what
		// was committed: writes can complete out of order, but an op commits
		// only once it and all before it are durable, so anything past the
		// first hole was never committed and has no peer to repair it from.
		good := r.commitMin
		for op := r.commitMin + 1; op <= r.op; op++ {
			h, ok := r.journal.header(op)
			prev, _ := r.journal.checksum(op - 1)
			if !ok || h.Parent != prev || !r.journal.present(op) {
				break
			}
			good = op
		}
		for op := r.op; op > good; op-- {
			r.journal.removeHeader(op)
		}
		r.op = good
		r.commitMax = r.op
		r.enterNormal()
		r.tCommit.start(r.rng)
	case r.logView == r.view && !r.isPrimary():
		r.enterNormal()
		r.tNormal.start(r.rng)
		r.sendGetView()
	case r.logView == r.view:
		// A primary's pipeline died with it, and backups may hold prepares it
		// never wrote: it cannot carry on in the same view.
		r.status = StatusViewChange
		r.transitionToViewChange(r.view + 1)
	default:
		r.status = StatusNormal
		r.transitionToViewChange(r.view)
		r.sendJoinView()
		r.sendGetView()
	}
}

func (r *Replica) enterNormal() {
	r.setStatus(StatusNormal)
	r.commitJournal()
}
