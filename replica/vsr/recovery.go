package vsr

import (
	"fmt"

	rio "viewstamp/replica/io"
	"viewstamp/replica/u128"
)

// Format writes a fresh data file: view 0 superblock copies and the root
// prepare at op 0. done runs once everything is durable.
func Format(cfg Config, cluster u128.U128, replica uint8, storage rio.Storage, done func()) {
	format(cfg, cluster, replica, storage, false, done)
}

// Reformat writes a data file for a replica whose old one was lost (a disk
// replaced): Format's, marked Reformatted, so that the replica rejoins as
// the reformat protocol below says instead of believing it never promised
// anything. A cluster's first format must use Format.
func Reformat(cfg Config, cluster u128.U128, replica uint8, storage rio.Storage, done func()) {
	format(cfg, cluster, replica, storage, true, done)
}

func format(cfg Config, cluster u128.U128, replica uint8, storage rio.Storage, reformatted bool, done func()) {
	root := RootHeader(cluster)
	state := VSRState{Sequence: 1, Replica: replica, ViewHeaders: []Header{root}, Reformatted: reformatted}
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
	r.Repairs.Superblock += uint64(len(order))
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
	ringCorrupt := r.classifySlots(ring, prepares)
	r.journal.ringCorrupt = ringCorrupt
	r.reformat = reformatState{on: d.Reformatted, head: d.ReformatHead}
	if d.Reformatted && d.ReformatHead == 0 {
		// Learned before a crash (it is durable before anything uses it).
		r.reformat.view = d.View
	}
	if d.Reformatted {
		// Everything the lost data file held, it may have acknowledged:
		// only what this data file holds durably is known.
		for s := uint64(0); s < slots; s++ {
			if sl := &r.journal.slots[s]; !sl.has || sl.durable != sl.header.Checksum {
				sl.faulty, sl.faultyFor = true, 0
			}
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
	r.forgetBehindCheckpoint()
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
	uncertain := !r.solo() && (r.headUncertain(ringCorrupt) || (r.reformat.on && r.reformat.head == 0))
	r.journal.fixRing()
	if !uncertain {
		r.journal.repairRing(r.cluster, r.op)
	}
	switch {
	case uncertain:
		r.enterRecoveringHead()
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
	copyFaulty                   // a faulty marker (header ring only)
	copyCorrupt                  // anything else: written, then damaged
)

// FaultyMarker is the header-ring entry of a slot known faulty whose op is
// unknown, up to op: a sealed prepare header with the reserved operation,
// which no real prepare has (the root is OperationRoot). It is written on
// purpose, once the log is known, so unlike a damaged entry it hides no
// acknowledged op; and unlike zeros it keeps a prepare left over from an
// older op from being read as the slot's content after a crash. A prepare
// beside it for a later op was written after it (crash before the header
// write) and is read as that op.
func FaultyMarker(cluster u128.U128, op uint64) Header {
	h := Header{Cluster: cluster, Command: CommandPrepare, Operation: OperationReserved, Op: op}
	h.Seal(nil)
	return h
}

// IsFaultyMarker reports whether a decoded header-ring entry is a faulty
// marker.
func IsFaultyMarker(h *Header) bool {
	return h.Command == CommandPrepare && h.Operation == OperationReserved
}

// classifySlots fills the journal's slots from the two rings read at open,
// after TigerBeetle's WAL recovery table, with H the header ring's copy of a
// slot and P the prepare ring's. An op is acknowledged only once both its
// copies are durable, and the header ring entry is written second, so:
//
//   - a readable H (zeros, or a header) says what the slot last held as
//     acknowledged: an op whose H never landed was never acknowledged, and a
//     damaged or lost P beside it is a faulty slot of H's op, never nacked;
//
//   - a damaged H hides what the slot held. The prepare, if it reads, names
//     the op most likely there, but a lost prepare write could leave an
//     older op's under a newer acknowledged header. Crash tears damage
//     header ring sectors (a torn sector write takes sixteen headers with
//     it), and so do faults at rest, so this is not rare: the slot may hide
//     an acknowledged op a wrap above the prepare's. It returns which slots'
//     H is damaged, for headUncertain.
//
//     H       P       action
//     zero    zero    empty
//     valid   valid   same checksum: clean
//     H.op < P.op (crash before the header write): P
//     H.op > P.op (prepare write lost): faulty, H's header
//     same op, other checksum: the newer view's; faulty if H's
//     valid   zero    faulty, H's header (prepare write lost)
//     valid   corrupt faulty, H's header (torn or damaged prepare)
//     zero    valid   P (crash before the header write)
//     corrupt valid   P if no op the rings name is a wrap or more above P's,
//     or the replica is solo (a crash before the header write); else
//     faulty, no header (a lost write's leftover of an older op: the entry
//     may have named a later one). The damage may hide an op above the
//     head: headUncertain
//     faulty  valid   P if newer than the marker's op, else faulty, no header
//     faulty  other   faulty, no header
//     zero    corrupt faulty, no header (torn first write)
//     corrupt zero    faulty, no header (headUncertain)
//     corrupt corrupt faulty, no header (headUncertain)
func (r *Replica) classifySlots(ring []byte, prepares [][]byte) (ringCorrupt []bool) {
	slots := r.cfg.JournalSlotCount
	ringCorrupt = make([]bool, slots)
	hs := make([]Header, slots)
	ps := make([]*Message, slots)
	hState := make([]copyState, slots)
	pState := make([]copyState, slots)
	for s := uint64(0); s < slots; s++ {
		b := ring[s*HeaderSize : (s+1)*HeaderSize]
		switch {
		case allZero(b):
			hState[s] = copyZero
		case DecodeHeader(b, &hs[s]) == nil && hs[s].Command == CommandPrepare && hs[s].Op%slots == s && hs[s].Cluster == r.cluster:
			hState[s] = copyValid
			if IsFaultyMarker(&hs[s]) {
				hState[s] = copyFaulty
			}
		default:
			hState[s] = copyCorrupt
			ringCorrupt[s] = true
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
	// opMax is the highest op either ring names. A prepare beside a damaged
	// header entry may be a lost or misdirected write's leftover of an older
	// op, the acknowledged op the slot held being the one the damage hides.
	// It is trusted only if it is the slot's op at or below opMax: any later
	// op of the slot is then above every op the rings name, hence above the
	// head, where headUncertain looks for it. TigerBeetle trusts it only as
	// op_max itself (its table's cases E and F); this is that rule widened
	// by exactly the ops headUncertain covers, so a torn header sector over
	// the head's neighbours does not make each of them a repair.
	var opMax uint64
	for s := uint64(0); s < slots; s++ {
		if hState[s] == copyValid || hState[s] == copyFaulty {
			opMax = max(opMax, hs[s].Op)
		}
		if pState[s] == copyValid {
			opMax = max(opMax, ps[s].Header.Op)
		}
	}
	for s := uint64(0); s < slots; s++ {
		sl := &r.journal.slots[s]
		useP := func() {
			sl.has, sl.header, sl.prepare, sl.durable = true, ps[s].Header, ps[s], ps[s].Header.Checksum
			if hState[s] != copyValid || hs[s].Checksum != ps[s].Header.Checksum {
				r.Repairs.WALFixed++
			}
		}
		useH := func() {
			sl.faulty, sl.has, sl.header, sl.faultyFor = true, true, hs[s], hs[s].Op
			r.Repairs.WALFaulty++
		}
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
		case h == copyFaulty && p == copyValid && ps[s].Header.Op > hs[s].Op:
			useP()
		case h == copyCorrupt && p == copyValid && (r.solo() || ps[s].Header.Op+slots > opMax):
			useP()
		case h == copyZero && p == copyValid:
			useP()
		default:
			sl.faulty = true
			r.Repairs.WALFaulty++
		}
	}
	return ringCorrupt
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// nonceStream names the PRNG stream a replica's boot nonce is drawn from.
const nonceStream = 0x0BADC0DE

// headUncertain reports whether the WAL may have lost an op this replica
// acknowledged above its head (TigerBeetle's uncertain head): a slot whose
// header ring entry is damaged may hide any op it could hold, and one of
// those above the head, up to the highest op this replica may have
// acknowledged (AckMax of its checkpoint), would be an acknowledged op its
// log no longer names. Such a replica's join_view would let a view change
// nack or simply miss that op, so it waits in recovering_head. Below the
// head a hidden op is only a gap in a log whose head is known; repair fills
// it and a faulty slot is never nacked.
func (r *Replica) headUncertain(ringCorrupt []bool) bool {
	slots := r.cfg.JournalSlotCount
	top := min(r.ackMax(), r.op+slots-1)
	for op := r.op + 1; op <= top; op++ {
		if ringCorrupt[op%slots] {
			r.logf("recovering_head: slot %d may hide op %d (head %d, ack_max %d)", op%slots, op, r.op, r.ackMax())
			return true
		}
	}
	return false
}

// recovering_head. A replica that cannot vouch for its log (its head is
// uncertain, or its data file was reformatted) takes no part in consensus:
// no exit_view or join_view votes, no prepare_oks, never primary, no nacks.
// It serves what it holds (prepares by checksum, blocks, replies) and asks
// every peer for its view with this boot's nonce each repair round. A `view`
// settles it (settlesHead) if it is of a newer view, whose log a view change
// chose without us, or echoes our nonce, so was sent after the crash by the
// primary of our own view and names every op we acknowledged in it. It then
// installs that view as a backup, repairs and rejoins.
//
// Reformat. A replica whose data file is lost is given a new one (Reformat)
// and must never vote with state it no longer has: every prepare_ok, nack
// and join_view of its old incarnation was a promise the new data file does
// not remember. This is TigerBeetle's approach, adapted. TigerBeetle's
// `recover` commits a pipeline of no-ops through the cluster (so every op
// the old replica may have acknowledged is committed before the new file
// exists) and formats the file in the client's view + 2 (the old replica may
// have voted in view + 1), after which the replica joins by state sync. We
// learn the view from the replicas instead, and keep the replica out until
// it holds a view's log:
//
//  1. It starts in recovering_head with no view, and every slot of its WAL
//     faulty: it never nacks what it does not hold durably.
//  2. It asks every peer for its view (get_view, nonce). Once a view-change
//     quorum of distinct peers answered after this boot, it takes the
//     highest view heard plus reformatViewMargin, writes it durably, and
//     from then on accepts only a `view` of at least that view.
//  3. It asks that view of its peers (an exit_view for it, which moves them
//     there) and installs the first `view` of that view or later: a log a
//     view change chose without it, holding every committed op. It then
//     syncs to the primary's checkpoint if far behind (a syncing replica
//     does not join view changes) and repairs like any backup.
//  4. Its data file stays marked until its durable commit_max reaches the
//     head of that first view: every op the old replica acknowledged that
//     may still be uncommitted lies at or below it, so until then a restart
//     marks every slot not held durably faulty again.
//
// Why the margin is safe: the old replica voted or acknowledged in a view x
// only once x was durable; x was entered by a view-change quorum of
// exit_view votes for x-1 (a jump follows someone who was), and votes are
// sent only for durable views, so a quorum but the old replica had durable
// view >= x-1. Any view-change quorum of the others intersects it (2 view-
// change quorums exceed the replica count, less one), so the highest view
// heard is >= x-1, and highest + 2 > x: the new replica never speaks in a view
// the old one spoke in, and never takes a log older than what it promised.
// A step by its own exit_view (3) moves peers to a view no quorum left; the
// new replica settles and votes only in views a view change then started,
// which brings the argument back for the next reformat. No-ops are not
// needed: what they buy TigerBeetle (nacks of a fresh replica are of ops
// its predecessor never saw) the faulty WAL of step 1 and step 4 give here.
// A cluster of one or two cannot reformat (no view-change quorum of others);
// the simulator draws reformats only where the cluster can afford them.
const reformatViewMargin = 2

// reformatState is a reformatted replica's progress through the protocol
// above.
type reformatState struct {
	on   bool   // the data file is still marked Reformatted
	head uint64 // ReformatHead: 0 until a view settled the replica
	view uint32 // the first view it may join; 0 until learned
	// heard is, per peer, 1 + the view it answered with after this boot.
	heard [ReplicasMax]uint32
}

func (r *Replica) enterRecoveringHead() {
	r.logf("recovering_head: view %d log_view %d op %d reformatted=%v", r.view, r.logView, r.op, r.reformat.on)
	r.setStatus(StatusRecoveringHead)
	r.askViews()
}

// reformatMayHaveAcked reports whether op may have been acknowledged by the
// data file this replica lost, as far as it still has to assume: while the
// reformat is unpaid, every op up to the head of the view that settled it.
// Open marks such slots faulty, but a header installed since (a view's log
// naming another prepare than the one this file holds at that op) makes a
// slot that is not: neither may be nacked (seed 8800497 --storage-faults:
// op 32, the settled head, nacked after a restart).
func (r *Replica) reformatMayHaveAcked(op uint64) bool {
	return r.reformat.on && (r.reformat.head == 0 || op <= r.reformat.head)
}

// RecoveringHead reports whether the replica waits in recovering_head.
func (r *Replica) RecoveringHead() bool { return r.status == StatusRecoveringHead }

// Reformatting reports whether the replica runs from a reformatted data
// file that a view has not yet settled.
func (r *Replica) Reformatting() bool { return r.reformat.on && r.reformat.head == 0 }

// recoveringHeadHears reports whether a replica in recovering_head handles a
// message of command c: only what serves peers, keeps its clock, or may
// settle it.
func recoveringHeadHears(c Command) bool {
	switch c {
	case CommandPing, CommandPong, CommandPingClient, CommandView,
		CommandGetHeaders, CommandGetPrepare, CommandGetBlocks, CommandGetReply, CommandReply:
		return true
	}
	return false
}

// tickRecoveringHead runs once a repair round.
func (r *Replica) tickRecoveringHead() {
	r.askViews()
	if v := r.reformat.view; r.Reformatting() && v > 0 && r.sb.durable.View == v {
		// Move the peers to our view: they jump to the view an exit_view
		// names, and settle us from there.
		r.broadcast(&Message{Header: Header{Command: CommandExitView, View: v}})
	}
}

func (r *Replica) askViews() {
	for i := uint8(0); i < r.cfg.ReplicaCount; i++ {
		if i != r.index {
			r.send(i, &Message{Header: Header{Command: CommandGetView, Context: r.nonce}})
		}
	}
}

// settlesHead reports whether `view` m (from the primary of its view) lets a
// replica in recovering_head install it. A reformatted replica still
// learning its view records the answer instead.
func (r *Replica) settlesHead(m *Message) bool {
	h := &m.Header
	if r.Reformatting() {
		if r.reformat.view == 0 {
			r.learnView(h)
			return false
		}
		return h.View >= r.reformat.view && r.sb.durable.View == r.reformat.view && h.Replica == r.primaryIndex(h.View)
	}
	return h.Replica == r.primaryIndex(h.View) && (h.View > r.view || (h.View == r.view && h.Context == r.nonce))
}

// learnView records a peer's answer to this boot's get_view; once a
// view-change quorum of peers answered, the reformatted replica's view is
// the highest heard plus reformatViewMargin, made durable before it is used.
func (r *Replica) learnView(h *Header) {
	if h.Context != r.nonce || h.Replica == r.index {
		return
	}
	r.reformat.heard[h.Replica] = max(r.reformat.heard[h.Replica], h.View+1)
	n := uint8(0)
	var high uint32
	for i := range r.reformat.heard {
		if r.reformat.heard[i] > 0 {
			n++
			high = max(high, r.reformat.heard[i]-1)
		}
	}
	if n < r.q.ViewChange {
		return
	}
	r.reformat.view = high + reformatViewMargin
	r.view = r.reformat.view
	r.logf("reformat: heard %d peers, highest view %d: joining at view %d", n, high, r.view)
	r.stageSuperblock()
}

// settledReformat records, once a view settled a reformatted replica, the
// head of its log: the debt of step 4 is paid once commit_max reaches it.
func (r *Replica) settledReformat(head uint64) {
	if r.Reformatting() {
		r.reformat.head = max(head, 1)
		r.logf("reformat: settled at head %d", head)
	}
}

// reformatPaid clears the mark of a reformatted data file once its durable
// state no longer needs it (step 4).
func (r *Replica) reformatPaid(commitMax uint64) bool {
	if r.reformat.on && r.reformat.head > 0 && commitMax >= r.reformat.head {
		r.reformat.on = false
		r.logf("reformat: commit_max %d reached settled head %d", commitMax, r.reformat.head)
	}
	return !r.reformat.on
}
