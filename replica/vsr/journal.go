package vsr

import (
	"bytes"

	rio "viewstamp/replica/io"
	"viewstamp/replica/u128"
)

// journal is the replica's view of its write-ahead log: one slot per op
// (op % JournalSlotCount), each holding a header the replica believes is part
// of its log, the prepare for it if the replica has one, and what is known to
// be durable on disk.
//
// A prepare is written to the prepares ring first and its header to the
// redundant header ring second; only then is it durable and acknowledged. So
// at recovery a slot whose header ring entry is valid but whose prepare is not
// once held an acknowledged prepare (faulty: never nack it), while a torn
// prepare with no header was never acknowledged (safe to nack).
type journal struct {
	cfg     Config
	storage rio.Storage
	slots   []slot

	headerRing []byte // what the header ring should hold
	sectors    []sectorWrite

	onDurable func(op uint64, sum u128.U128)
	// onDrop hears of a header leaving the log at its own op (replaced or
	// removed); a slot taken over by a later op is not a drop.
	onDrop  func(op uint64, sum u128.U128)
	version uint64 // bumped whenever the set of headers changes

	chain chainSegment // a hash-chained run of the log, for verifiedFrom

	// ringCorrupt marks slots whose header ring entry read damaged at open;
	// headerRing keeps those bytes (a damaged entry must read damaged again
	// after a crash, lest a hidden op seem never written) until repairRing.
	ringCorrupt []bool

	// Reused across writes: Storage.Write copies its buffer before
	// returning, and each slot or sector has one write in flight at a time,
	// so one completion per slot and per sector serves every write.
	scratch     []byte
	prepareDone []func()
	sectorDone  []func()
}

type slot struct {
	has      bool // header is part of this replica's log
	header   Header
	prepare  *Message  // the last prepare seen for this slot; it counts only if it matches header
	inflight *Message  // the prepare being written: its header goes to the ring once it lands
	durable  u128.U128 // checksum of the prepare known durable in this slot
	faulty   bool      // the slot held an acknowledged prepare that can no longer be read
	// faultyFor, for a faulty slot, is the op its damage is known to be
	// confined to: its header-ring entry, read intact at open, names that
	// op, and a prepare is acknowledged only once its entry is durable, so
	// no later op of the slot was acknowledged. 0: unknown, the damage may
	// hide any op of the slot.
	faultyFor uint64
	writing   u128.U128 // checksum of the prepare being written
	queued    *Message  // written once the in-flight write completes
	ringDone  bool      // the header ring write for `writing` is under way
}

type sectorWrite struct {
	writing bool
	flight  []ringWaiter
	waiting []ringWaiter
	// spare is a third list to rotate through flight and waiting: the
	// waiters of a completed write are being told while the next write
	// is in flight and more wait, and the header ring's writes then
	// allocate no lists of their own.
	spare []ringWaiter
}

type ringWaiter struct {
	slot uint64
	sum  u128.U128
	// rewrite: the sector is written only to bring the disk in line with
	// headerRing (fixRing, repairRing); no prepare waits on it.
	rewrite bool
}

func newJournal(cfg Config, storage rio.Storage, onDurable func(uint64, u128.U128)) *journal {
	perSector := cfg.SectorSize / HeaderSize
	return &journal{
		cfg:        cfg,
		storage:    storage,
		slots:      make([]slot, cfg.JournalSlotCount),
		headerRing: make([]byte, cfg.JournalSlotCount*HeaderSize),
		sectors:    make([]sectorWrite, cfg.JournalSlotCount/perSector),
		onDurable:  onDurable,

		prepareDone: make([]func(), cfg.JournalSlotCount),
		sectorDone:  make([]func(), cfg.JournalSlotCount/perSector),
	}
}

func (j *journal) slotFor(op uint64) *slot { return &j.slots[op%j.cfg.JournalSlotCount] }

// header returns the header at op, if the log has one for exactly that op.
func (j *journal) header(op uint64) (*Header, bool) {
	s := j.slotFor(op)
	if !s.has || s.header.Op != op {
		return nil, false
	}
	return &s.header, true
}

func (j *journal) checksum(op uint64) (u128.U128, bool) {
	h, ok := j.header(op)
	if !ok {
		return u128.Zero, false
	}
	return h.Checksum, true
}

// setHeader puts h into the log. A prepare held for another header is dropped.
func (j *journal) setHeader(h *Header) {
	s := j.slotFor(h.Op)
	if s.has && s.header.Checksum == h.Checksum {
		return
	}
	if s.has && s.header.Op != h.Op {
		// The slot's previous op leaves the log too.
		j.chain.cut(s.header.Op)
	} else if s.has && j.onDrop != nil {
		j.onDrop(h.Op, s.header.Checksum)
	}
	j.chain.cut(h.Op)
	j.bumpVersion()
	s.has = true
	s.header = *h
}

func (j *journal) removeHeader(op uint64) {
	s := j.slotFor(op)
	if s.has && s.header.Op == op {
		if j.onDrop != nil {
			j.onDrop(op, s.header.Checksum)
		}
		j.chain.cut(op)
		j.bumpVersion()
		s.has = false
		s.header = Header{}
	}
}

// forgetBehind drops every header at or below checkpoint op cp that is not
// hash-chained down from the checkpoint's own header (sum). A replica that
// synced over ops (cp] never executed them: its slots there may still hold
// a leftover of a view that was truncated, which "behind commit_min" would
// otherwise vouch for as executed when served to a laggard (seed 8860050).
// The same holds after a restart from any later checkpoint while such a
// leftover's slot has not been reused. A canonical header below a gap in the
// chain goes too: it cannot be told from a leftover, and a peer that needs
// it can repair from others or sync. This is no rollback of the log (every
// op here is behind the checkpoint), so the drop is not reported. It returns
// how many headers went.
func (j *journal) forgetBehind(cp uint64, sum u128.U128) (forgot int) {
	lo := cp + 1
	for op, want := cp, sum; ; op-- {
		h, ok := j.header(op)
		if !ok || h.Checksum != want {
			break
		}
		lo, want = op, h.Parent
		if op == 0 {
			break
		}
	}
	for i := range j.slots {
		if s := &j.slots[i]; s.has && s.header.Op <= cp && s.header.Op < lo {
			j.chain.cut(s.header.Op)
			j.bumpVersion()
			// A slot faulty only for the op forgotten is faulty for
			// nothing this replica still needs: left faulty without a
			// header, it would read as hiding an unknown op, and its later
			// ops would never be nacked (seed 8872164 --clock-faults
			// --storage-faults: a primary's torn write of op 68, beside an
			// intact ring entry of op 4, left a view change unable to
			// truncate ops that no replica held). A slot whose damage is
			// not known to be that op's stays faulty: a header installed
			// there since (from the superblock's view headers) says nothing
			// of what the damage hides (seed 8874197: both copies of op
			// 134's slot lost at a crash, op 102's header installed over
			// them and forgotten, and op 134, acknowledged, then nacked).
			if s.faulty && s.faultyFor == s.header.Op {
				s.faulty, s.faultyFor = false, 0
			}
			s.has = false
			s.header = Header{}
			forgot++
		}
	}
	return forgot
}

// prepare returns the prepare for the header at op, if held.
func (j *journal) prepare(op uint64) *Message {
	s := j.slotFor(op)
	if !s.has || s.header.Op != op || s.prepare == nil || s.prepare.Header.Checksum != s.header.Checksum {
		return nil
	}
	return s.prepare
}

// present reports whether the prepare for the header at op is durable.
func (j *journal) present(op uint64) bool {
	s := j.slotFor(op)
	return s.has && s.header.Op == op && s.durable == s.header.Checksum
}

// faulty reports whether op's slot may hide a prepare that this replica
// acknowledged and can no longer read, so that it must not nack op. Any op
// of the slot counts, as in TigerBeetle: a slot faulty for another op it
// names could be let nack op (a header-ring entry is written before each
// acknowledgement, so it names the last op acknowledged there), but no
// seed has yet needed that, and a nack is a promise a view change builds on.
func (j *journal) faulty(op uint64) bool { return j.slotFor(op).faulty }

// findPrepare returns a held prepare with the given op and checksum, if any.
func (j *journal) findPrepare(op uint64, sum u128.U128) *Message {
	s := j.slotFor(op)
	if s.prepare != nil && s.prepare.Header.Op == op && s.prepare.Header.Checksum == sum {
		return s.prepare
	}
	return nil
}

// repairRing rebuilds the header ring entries that read damaged at open,
// once the log is known (the head was certain, or a view settled it at
// head), so that no ring sector written later carries the damage forward.
// Each entry says what recovery after a crash must conclude of its slot:
//
//   - the slot's durable prepare: its header;
//   - a header of the log whose prepare is missing: that header, so that a
//     prepare left over from an older op (a lost or misdirected write) is
//     read as a faulty slot of this op, never as the slot's content;
//   - a faulty slot whose op is not known: a faulty marker (FaultyMarker), a
//     deliberate entry that hides no acknowledged op, unlike damage, and
//     outranks any prepare on disk not newer than the slot's op at head;
//   - anything else: zeros, never written. A slot whose prepare ring never
//     held anything never held an acknowledged op, and zeros beside a
//     damaged prepare are a faulty slot.
func (j *journal) repairRing(cluster u128.U128, head uint64) {
	for s, bad := range j.ringCorrupt {
		if !bad {
			continue
		}
		sl := &j.slots[s]
		entry := j.headerRing[uint64(s)*HeaderSize : uint64(s+1)*HeaderSize]
		switch {
		case sl.has && sl.prepare != nil && sl.durable == sl.header.Checksum && sl.prepare.Header.Checksum == sl.durable:
			copy(entry, sl.prepare.Bytes()[:HeaderSize])
		case sl.has:
			EncodeHeader(&sl.header, entry)
		case sl.faulty:
			m := FaultyMarker(cluster, slotOpAtOrBelow(uint64(s), head, j.cfg.JournalSlotCount))
			EncodeHeader(&m, entry)
		default:
			clear(entry)
		}
		j.ringCorrupt[s] = false
		j.rewriteRingSector(uint64(s))
	}
}

// slotOpAtOrBelow is the highest op at or below head that slot s holds, or
// s itself if head is below it.
func slotOpAtOrBelow(s, head, slots uint64) uint64 {
	if head < s {
		return s
	}
	return head - (head-s)%slots
}

// fixRing makes each header-ring entry agree with its slot's durable
// prepare where the two differ at open (the entry damaged, of an older op,
// or of another prepare of the op: the WAL decision table's "fix"), in
// memory and on disk. This is safe before the head is settled: a prepare
// lands before its header, so a valid prepare in a slot proves that no later
// op was ever durable, hence acknowledged, there; nothing a damaged entry
// might have named is hidden by overwriting it. Left alone, a stale entry
// would outlive the prepare beside it, and after a fault on that prepare the
// slot would read as the stale op.
func (j *journal) fixRing() {
	for s := range j.slots {
		sl := &j.slots[s]
		if sl.prepare == nil || sl.durable.IsZero() || sl.durable != sl.prepare.Header.Checksum {
			continue
		}
		entry := j.headerRing[uint64(s)*HeaderSize : uint64(s+1)*HeaderSize]
		want := sl.prepare.Bytes()[:HeaderSize]
		if bytes.Equal(entry, want) {
			continue
		}
		copy(entry, want)
		if j.ringCorrupt != nil {
			j.ringCorrupt[s] = false
		}
		j.rewriteRingSector(uint64(s))
	}
}

// rewriteRingSector writes the header-ring sector holding slot as
// headerRing has it, for no prepare's sake.
func (j *journal) rewriteRingSector(slotIndex uint64) {
	k := slotIndex / (j.cfg.SectorSize / HeaderSize)
	sw := &j.sectors[k]
	for _, w := range sw.waiting {
		if w.rewrite {
			return // the next write of the sector carries it
		}
	}
	sw.waiting = append(sw.waiting, ringWaiter{slot: slotIndex, rewrite: true})
	if !sw.writing {
		j.flushSector(k)
	}
}

// ringSettled reports whether the header-ring sector holding slot has no
// write in flight or waiting: the disk holds what headerRing does.
func (j *journal) ringSettled(slotIndex uint64) bool {
	sw := &j.sectors[slotIndex/(j.cfg.SectorSize/HeaderSize)]
	return !sw.writing && len(sw.waiting) == 0
}

// write makes m durable in its slot. The header must already be in the log.
// onDurable fires once the prepare and its header-ring copy are both on disk.
//
// The journal keeps m (a clone, if m is a receive buffer) unless it already
// holds the same prepare, so a retransmission allocates nothing.
func (j *journal) write(m *Message) {
	s := j.slotFor(m.Header.Op)
	sum := m.Header.Checksum
	if s.prepare == nil || s.prepare.Header.Checksum != sum {
		s.prepare = m.retain()
	}
	m = s.prepare
	if s.durable == sum && !s.faulty {
		j.onDurable(m.Header.Op, sum)
		return
	}
	if !s.writing.IsZero() {
		// One write per slot at a time: two in flight could land out of
		// order. The queued write is the one the slot's header wants now:
		// asking again for the write in flight drops an older wish.
		if s.writing != sum {
			s.queued = m
		} else {
			s.queued = nil
		}
		return
	}
	j.startWrite(m)
}

func (j *journal) startWrite(m *Message) {
	s := j.slotFor(m.Header.Op)
	s.writing = m.Header.Checksum
	s.inflight = m
	s.ringDone = false
	wire := m.Bytes()
	size := (uint64(len(wire)) + j.cfg.SectorSize - 1) / j.cfg.SectorSize * j.cfg.SectorSize
	if uint64(cap(j.scratch)) < size {
		j.scratch = make([]byte, size)
	}
	buf := j.scratch[:size]
	clear(buf[copy(buf, wire):])
	slotIndex := m.Header.Op % j.cfg.JournalSlotCount
	if j.prepareDone[slotIndex] == nil {
		j.prepareDone[slotIndex] = func() { j.prepareWritten(slotIndex) }
	}
	j.storage.Write(rio.ZoneWALPrepares, slotIndex*j.cfg.MessageSizeMax, buf, j.prepareDone[slotIndex])
}

// prepareWritten puts the header of the prepare that just landed into the
// header ring.
func (j *journal) prepareWritten(slotIndex uint64) {
	s := &j.slots[slotIndex]
	m := s.inflight
	s.inflight = nil
	copy(j.headerRing[slotIndex*HeaderSize:(slotIndex+1)*HeaderSize], m.Bytes()[:HeaderSize])
	if j.ringCorrupt != nil {
		j.ringCorrupt[slotIndex] = false
	}
	j.writeRingSector(slotIndex, m.Header.Checksum)
}

// writeRingSector writes the header-ring sector holding slot. Writes to one
// sector are serialized and coalesced; each waiter is told once a write that
// includes its header completes.
func (j *journal) writeRingSector(slotIndex uint64, sum u128.U128) {
	perSector := j.cfg.SectorSize / HeaderSize
	k := slotIndex / perSector
	sw := &j.sectors[k]
	sw.waiting = append(sw.waiting, ringWaiter{slot: slotIndex, sum: sum})
	if !sw.writing {
		j.flushSector(k)
	}
}

func (j *journal) flushSector(k uint64) {
	sw := &j.sectors[k]
	sw.writing = true
	sw.flight, sw.waiting, sw.spare = sw.waiting, sw.spare[:0], sw.flight[:0]
	off := k * j.cfg.SectorSize
	if j.sectorDone[k] == nil {
		j.sectorDone[k] = func() { j.sectorWritten(k) }
	}
	j.storage.Write(rio.ZoneWALHeaders, off, j.headerRing[off:off+j.cfg.SectorSize], j.sectorDone[k])
}

func (j *journal) sectorWritten(k uint64) {
	sw := &j.sectors[k]
	sw.writing = false
	done := sw.flight
	sw.flight = nil
	if len(sw.waiting) > 0 {
		j.flushSector(k)
	}
	for _, w := range done {
		s := &j.slots[w.slot]
		if w.rewrite || s.writing != w.sum {
			continue
		}
		s.writing = u128.Zero
		s.durable = w.sum
		s.faulty, s.faultyFor = false, 0
		op := s.header.Op
		if q := s.queued; q != nil {
			s.queued = nil
			// Only if the log still wants it: a header that moved on since
			// (a later op, or another prepare) must not be overwritten on
			// disk by a prepare nobody holds any more.
			if s.has && s.header.Checksum == q.Header.Checksum {
				j.startWrite(q)
			}
		}
		if s.has && s.header.Checksum == w.sum {
			j.onDurable(op, w.sum)
		}
	}
	// done's list goes back into the rotation: as the next flight's if no
	// write is under way (flushSector makes it the spare), else as the
	// spare.
	if sw.flight == nil {
		sw.flight = done[:0]
	} else if sw.spare == nil {
		sw.spare = done[:0]
	}
}
