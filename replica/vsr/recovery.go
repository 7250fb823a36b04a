package vsr

import (
	"fmt"

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
	best, order, err := chooseSuperblock(copies, r.cfg, r.cluster, r.index)
	if err != nil {
		panic(err)
	}
	r.sb.durable = best
	r.syncOp = best.SyncOp
	// Copies that do not hold the chosen version in their own place are
	// rewritten one at a time, those that count toward no quorum first, so
	// a crash mid-repair never takes away a copy open relied on. Writes of
	// the next version assume this: they begin with every copy equal.
	r.repairSuperblock(order, func() { r.openCheckpoint(r.openJournalReads) })
}

// foundCopy is one valid superblock copy found at open.
type foundCopy struct {
	slot  uint8 // where it was read
	claim uint8 // the copy index it names (a misdirected copy names another)
	state VSRState
	sum   u128.U128
}

// chooseSuperblock picks the version to open from the copies read, and the
// copies to rewrite, in order. Valid copies are grouped by checksum, each
// counted once per copy index it names (a misdirected copy is a duplicate,
// not a vote). The highest sequence opens if superblockOpenQuorum copies
// hold it, or if fewer do but the version below it, which it names as its
// parent, makes up the quorum (a crash after its first copy, with an old
// copy damaged at rest). Two versions of one sequence are a fork; a highest
// version naming no version found below it, with no quorum of its own, is
// a lost quorum: both mean more faults than the data file can survive.
func chooseSuperblock(copies [][]byte, cfg Config, cluster u128.U128, replica uint8) (VSRState, []uint8, error) {
	var valid []foundCopy
	for c, b := range copies {
		s, ok := decodeSuperblock(b, cfg, cluster)
		if !ok || s.Replica != replica {
			continue
		}
		claim := b[sbCopy]
		if claim >= SuperblockCopies {
			claim = uint8(c)
		}
		valid = append(valid, foundCopy{slot: uint8(c), claim: claim, state: s, sum: u128.Get(b[sbChecksum:])})
	}
	if len(valid) == 0 {
		return VSRState{}, nil, fmt.Errorf("superblock: no valid copy (data file not formatted for this replica?)")
	}
	votes := func(sum u128.U128) int {
		var seen uint8
		n := 0
		for _, v := range valid {
			if v.sum == sum && seen&(1<<v.claim) == 0 {
				seen |= 1 << v.claim
				n++
			}
		}
		return n
	}
	top := valid[0]
	for _, v := range valid[1:] {
		if v.state.Sequence > top.state.Sequence {
			top = v
		}
	}
	for _, v := range valid {
		if v.state.Sequence == top.state.Sequence && v.sum != top.sum {
			return VSRState{}, nil, fmt.Errorf("superblock: fork at sequence %d", v.state.Sequence)
		}
	}
	parent := votes(top.state.Parent)
	if n := votes(top.sum); n < superblockOpenQuorum && n+parent < superblockOpenQuorum {
		return VSRState{}, nil, fmt.Errorf("superblock: quorum lost: %d copies of sequence %d, %d of its parent", n, top.state.Sequence, parent)
	}
	// Rewrite order: copies holding neither the chosen version nor its
	// parent, then those holding the parent; never one holding the chosen
	// version in its own place.
	rank := func(c uint8) int {
		for _, v := range valid {
			if v.slot != c {
				continue
			}
			switch {
			case v.sum == top.sum && v.claim == c:
				return -1
			case v.sum == top.state.Parent:
				return 1
			}
		}
		return 0
	}
	var order []uint8
	for want := 0; want <= 1; want++ {
		for c := uint8(0); c < SuperblockCopies; c++ {
			if rank(c) == want {
				order = append(order, c)
			}
		}
	}
	return top.state, order, nil
}

func (r *Replica) repairSuperblock(order []uint8, then func()) {
	if len(order) == 0 {
		then()
		return
	}
	c := order[0]
	r.storage.Write(rio.ZoneSuperblock, r.cfg.Layout().SuperblockCopyOffset(uint64(c)), r.sb.durable.encode(r.cfg, r.cluster, c), func() {
		r.repairSuperblock(order[1:], then)
	})
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

// openJournal classifies every slot (classifySlots), overlays the
// superblock's view headers and drops any tail left over from a log view we
// have since left.
func (r *Replica) openJournal(ring []byte, prepares [][]byte) {
	d := r.sb.durable
	slots := r.cfg.JournalSlotCount
	copy(r.journal.headerRing, ring)
	r.classifySlots(ring, prepares)
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

// copyState is what one copy of a WAL slot reads as.
type copyState uint8

const (
	copyZero    copyState = iota // never written: all zeros
	copyValid                    // a prepare header for an op of this slot
	copyCorrupt                  // anything else: written, then damaged
)

// classifySlots fills the journal's slots from the two rings read at open,
// after TigerBeetle's WAL recovery table, with H the header ring's copy of a
// slot and P the prepare ring's. It leans on two facts of the fault model
// (sim/disk's atlas holds the simulator to them):
//
//   - a replica never has both copies of a slot damaged at once. A damaged
//     header ring entry thus sits beside the prepare as last written, and a
//     lost or damaged prepare beside its intact header;
//   - damage flips bits and never yields zeros, and a header ring write is
//     never lost, so a copy of all zeros was never written.
//
// An op is acknowledged only once both its copies are durable, so a slot
// whose copies are both unreadable is a torn append (both writes in flight
// at a crash), never acknowledged, and no slot can hide an acknowledged op
// above the head: the head is always certain, and TigerBeetle's
// recovering_head, for a data file that can lose both copies of a slot, has
// no case to serve here. Faulty slots are still never nacked.
//
//	H       P       action
//	zero    zero    empty
//	valid   valid   same checksum: clean
//	                H.op < P.op (crash before the header write): P
//	                H.op > P.op (prepare write lost): faulty, H's header
//	                same op, other checksum: the newer view's; faulty if H's
//	valid   zero    faulty, H's header (prepare write lost)
//	valid   corrupt faulty, H's header (torn or damaged prepare)
//	zero    valid   P (crash before the header write)
//	corrupt valid   P (the header entry damaged; P is what was last written)
//	zero    corrupt faulty, no header (torn first write)
//	corrupt zero    faulty, no header
//	corrupt corrupt faulty, no header (torn append)
func (r *Replica) classifySlots(ring []byte, prepares [][]byte) {
	slots := r.cfg.JournalSlotCount
	hs := make([]Header, slots)
	ps := make([]*Message, slots)
	hState := make([]copyState, slots)
	pState := make([]copyState, slots)
	for s := uint64(0); s < slots; s++ {
		b := ring[s*HeaderSize : (s+1)*HeaderSize]
		switch {
		case allZero(b):
			hState[s] = copyZero
		case DecodeHeader(b, &hs[s]) == nil && hs[s].Command == CommandPrepare && hs[s].Op%slots == s:
			hState[s] = copyValid
		default:
			hState[s] = copyCorrupt
		}
		pState[s] = copyCorrupt
		if b := prepares[s]; allZero(b) {
			pState[s] = copyZero
		} else if len(b) >= HeaderSize {
			var h Header
			if DecodeHeader(b, &h) == nil && h.Command == CommandPrepare && h.Op%slots == s && uint64(h.Size) <= uint64(len(b)) {
				if m, err := Decode(b[:h.Size], r.cluster, r.cfg.MessageSizeMax); err == nil {
					ps[s], pState[s] = m, copyValid
				}
			}
		}
	}
	for s := uint64(0); s < slots; s++ {
		sl := &r.journal.slots[s]
		useP := func() { sl.has, sl.header, sl.prepare, sl.durable = true, ps[s].Header, ps[s], ps[s].Header.Checksum }
		useH := func() { sl.faulty, sl.has, sl.header = true, true, hs[s] }
		switch h, p := hState[s], pState[s]; {
		case h == copyZero && p == copyZero:
		case h == copyValid && p == copyValid:
			hp, pp := &hs[s], &ps[s].Header
			switch {
			case hp.Checksum == pp.Checksum || hp.Op < pp.Op:
				useP()
			case hp.Op > pp.Op:
				useH()
			case pp.View > hp.View:
				useP()
			default:
				useH()
			}
		case h == copyValid:
			useH()
		case p == copyValid:
			useP()
		default:
			sl.faulty = true
		}
	}
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
