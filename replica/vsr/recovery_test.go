package vsr

import (
	"testing"

	rio "viewstamp/replica/io"
	"viewstamp/replica/storage"
	"viewstamp/replica/u128"
)

// walWithOp1 opens replica 1 of 3 with op 1 durable in both WAL rings, and
// returns its storage.
func walWithOp1(t *testing.T) (*memStorage, *Message) {
	t.Helper()
	st := newMemStorage(SimConfig(3))
	r, _ := openReplica(t, 3, 1, st, true)
	root := RootHeader(testCluster)
	body := []byte("a body to damage")
	p := &Message{Header: Header{Command: CommandPrepare, Cluster: testCluster, Replica: 0, Parent: root.Checksum,
		Client: u128.U128{Lo: 1}, Op: 1, Timestamp: 1, Operation: OperationRegister}, Body: body}
	p.Header.Seal(body)
	p = mustDecode(t, p)
	r.journal.setHeader(&p.Header)
	r.journal.write(p)
	st.flush()
	if !r.journal.present(1) {
		t.Fatal("op 1 not durable")
	}
	return st, p
}

func mustDecode(t *testing.T, p *Message) *Message {
	t.Helper()
	wire := append(make([]byte, 0, HeaderSize+len(p.Body)), make([]byte, HeaderSize)...)
	EncodeHeader(&p.Header, wire)
	wire = append(wire, p.Body...)
	m, err := Decode(wire, testCluster, SimConfig(3).MessageSizeMax)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// WAL open reads each slot's two copies and acts as the decision table in
// classifySlots says: a damaged prepare beside its header is faulty (never
// nacked, repaired from peers), a damaged header beside its prepare is
// rebuilt from the prepare, a lost prepare write is faulty, and a slot with
// both copies damaged is faulty with no header.
func TestWALOpenClassifiesBothCopies(t *testing.T) {
	cfg := SimConfig(3)
	slot := uint64(1)
	prep := func(st *memStorage) []byte { return st.zones[rio.ZoneWALPrepares][slot*cfg.MessageSizeMax:] }
	ring := func(st *memStorage) []byte { return st.zones[rio.ZoneWALHeaders][slot*HeaderSize:] }
	for _, tc := range []struct {
		name          string
		damage        func(st *memStorage)
		faulty, has   bool
		present, held bool
		op            uint64 // the op the slot's header names, if it has one
		// uncertain: the slot may hide an acknowledged op above the head,
		// so the replica waits in recovering_head and sends no join_view.
		uncertain bool
	}{
		{"intact", func(*memStorage) {}, false, true, true, true, 1, false},
		{"prepare body corrupt", func(st *memStorage) { prep(st)[HeaderSize+3] ^= 1 }, true, true, false, false, 1, false},
		{"prepare lost", func(st *memStorage) { clear(prep(st)[:cfg.SectorSize]) }, true, true, false, false, 1, false},
		// The prepare is the head: a wrap above it is past ack_max.
		{"header entry corrupt", func(st *memStorage) { ring(st)[40] ^= 1 }, false, true, true, true, 1, false},
		{"both corrupt", func(st *memStorage) { ring(st)[40] ^= 1; prep(st)[40] ^= 1 }, true, false, false, false, 0, true},
		// A wrap later, op 33's prepare write was lost (the slot still
		// holds op 1's) but its header reached the ring: op 33 was
		// acknowledged, and is faulty, not op 1 again.
		{"prepare write lost a wrap later", func(st *memStorage) {
			h := Header{Command: CommandPrepare, Cluster: testCluster, Op: 33, Timestamp: 33, Operation: OperationRegister}
			h.Seal(nil)
			EncodeHeader(&h, ring(st))
		}, true, true, false, false, 33, false},
	} {
		st, p := walWithOp1(t)
		tc.damage(st)
		r, net := openReplica(t, 3, 1, st, false)
		s := r.journal.slotFor(1)
		if s.faulty != tc.faulty || s.has != tc.has || r.journal.present(1) != tc.present || (r.journal.prepare(1) != nil) != tc.held {
			t.Fatalf("%s: faulty %v has %v present %v held %v; want %v %v %v %v", tc.name,
				s.faulty, s.has, r.journal.present(1), r.journal.prepare(1) != nil, tc.faulty, tc.has, tc.present, tc.held)
		}
		if tc.has && s.header.Op != tc.op {
			t.Fatalf("%s: slot holds op %d, want %d", tc.name, s.header.Op, tc.op)
		}
		if tc.has && s.header.Op == 1 && s.header.Checksum != p.Header.Checksum {
			t.Fatalf("%s: slot holds %v, want op 1's header", tc.name, s.header.Checksum)
		}
		// The join_view it would send: op 1 is the head (bit 0). A faulty
		// slot is never nacked, whatever else the replica knows.
		if r.RecoveringHead() != tc.uncertain {
			t.Fatalf("%s: recovering_head %v, want %v", tc.name, r.RecoveringHead(), tc.uncertain)
		}
		jv := sentJoinView(r, net)
		if tc.uncertain {
			if jv != nil {
				t.Fatalf("%s: a replica in recovering_head sent a join_view", tc.name)
			}
			continue
		}
		if jv == nil {
			t.Fatalf("%s: no join_view", tc.name)
		}
		if nacked := jv.Header.Nack&1 != 0; tc.faulty && nacked {
			t.Fatalf("%s: a faulty slot was nacked", tc.name)
		}
	}
}

// A reformatted data file opens in recovering_head with every WAL slot
// faulty (its predecessor may have acknowledged anything, so nothing may
// be nacked), sends no vote while it learns its view, and joins only at a
// view reformatViewMargin above the highest a view-change quorum of its
// peers answered this boot's get_view with.
func TestReformattedReplicaWaitsAndLearnsItsView(t *testing.T) {
	cfg := SimConfig(3)
	st := newMemStorage(cfg)
	Reformat(cfg, testCluster, 1, st, func() {})
	st.flush()
	r, net := openReplica(t, 3, 1, st, false)
	if !r.RecoveringHead() || !r.Reformatting() {
		t.Fatalf("reformatted replica opened %v (reformatting %v)", r.Status(), r.Reformatting())
	}
	// Slot 0 holds the root prepare, durable: every other one is faulty.
	for op := uint64(1); op < cfg.JournalSlotCount; op++ {
		if !r.journal.faulty(op) {
			t.Fatalf("slot of op %d is not faulty after a reformat: it could be nacked", op)
		}
	}
	asked := map[uint8]bool{}
	for i := 0; i < int(3*cfg.RepairTicks); i++ {
		r.Tick()
	}
	for _, m := range net.sent {
		switch m.Header.Command {
		case CommandGetView:
			if m.Header.Context != r.nonce {
				t.Fatalf("get_view without this boot's nonce")
			}
			asked[m.Header.Replica] = true
		case CommandExitView, CommandJoinView, CommandPrepareOK:
			t.Fatalf("a reformatted replica still learning its view sent %v", m.Header.Command)
		}
	}
	if len(net.sent) == 0 {
		t.Fatal("no get_view sent")
	}
	// Peers answer: replica 0 as a backup in view 7, replica 2 as primary
	// of view 8 (8 % 3 == 2). A stale answer (another nonce) counts for
	// nothing.
	answer := func(from uint8, view uint32, nonce u128.U128) {
		m := &Message{Header: Header{Command: CommandView, Cluster: testCluster, Replica: from, View: view, Context: nonce,
			Op: 0}, Body: make([]byte, viewCheckpointSize)}
		var cp storage.CheckpointState
		cp.Encode(m.Body)
		root := RootHeader(testCluster)
		var hb [HeaderSize]byte
		EncodeHeader(&root, hb[:])
		m.Body = append(m.Body, hb[:]...)
		r.OnMessage(m.Encode())
		st.flush()
	}
	answer(0, 20, u128.U128{Lo: 1})
	answer(0, 7, r.nonce)
	if r.View() != 0 {
		t.Fatalf("joined view %d after one peer's answer", r.View())
	}
	answer(2, 8, r.nonce)
	if want := uint32(8 + reformatViewMargin); r.View() != want || r.sb.durable.View != want || !r.sb.durable.Reformatted {
		t.Fatalf("view %d (durable %d, reformatted %v), want %d", r.View(), r.sb.durable.View, r.sb.durable.Reformatted, want)
	}
	// A view below the one learned does not settle it; one at it does.
	answer(2, 8, r.nonce)
	if !r.RecoveringHead() {
		t.Fatal("settled by a view below the one it learned")
	}
	answer(1, 10, u128.Zero)                // 10 % 3 == 1: itself, never its own primary
	v := uint32(8 + reformatViewMargin + 1) // 11 % 3 == 2
	answer(2, v, u128.Zero)
	if r.RecoveringHead() || r.Reformatting() || r.View() != v || r.LogView() != v {
		t.Fatalf("after view %d: %v view %d log_view %d reformatting %v", v, r.Status(), r.View(), r.LogView(), r.Reformatting())
	}
}

// An op the replica knows committed (at or below its commit_max) is never
// nacked, whatever its slot holds: a join_view names no commit_max, so the
// new primary may not know the op committed, and the acknowledgement that
// committed it may be one a reformat's lost data file made.
func TestJoinViewNacksNothingKnownCommitted(t *testing.T) {
	for _, commitMax := range []uint64{0, 1} {
		st, _ := walWithOp1(t)
		r, net := openReplica(t, 3, 1, st, false)
		r.journal.removeHeader(1) // a slot not faulty that holds nothing
		r.commitMax = commitMax
		jv := sentJoinView(r, net)
		if jv == nil {
			t.Fatalf("commit_max %d: no join_view", commitMax)
		}
		if nacked := jv.Header.Nack&1 != 0; nacked != (commitMax == 0) {
			t.Fatalf("commit_max %d: op 1 nacked %v, want %v", commitMax, nacked, commitMax == 0)
		}
	}
}

// sentJoinView has r send its join_view and returns it, nil if it sent none.
func sentJoinView(r *Replica, net *memNet) *Message {
	net.sent = nil
	r.sendJoinView()
	var jv *Message
	for _, m := range net.sent {
		if m.Header.Command == CommandJoinView {
			jv = m
		}
	}
	return jv
}

// A prepare beside a damaged header-ring entry is trusted only while no op
// the rings name lies a wrap or more above it: otherwise it may be the
// leftover of a lost or misdirected write, the acknowledged op the damaged
// entry named being a wrap later (seed 8804671: op 165's prepare read as
// the slot's content where op 197 had been committed). A faulty marker
// keeps that leftover distrusted across crashes, yet hides nothing: a
// prepare newer than the marker's op was written after it.
func TestWALOpenDistrustsLeftoverBesideDamage(t *testing.T) {
	cfg := SimConfig(3)
	slots := cfg.JournalSlotCount
	r, _ := openReplica(t, 3, 1, newMemStorage(cfg), true)
	prepareAt := func(op uint64) []byte {
		p := prepareFrom(0, 1, op, u128.U128{Lo: op}, u128.U128{Lo: 1})
		return mustDecode(t, p).Bytes()
	}
	headerAt := func(op uint64) []byte {
		h := prepareFrom(0, 1, op, u128.U128{Lo: op}, u128.U128{Lo: 1}).Header
		b := make([]byte, HeaderSize)
		EncodeHeader(&h, b)
		return b
	}
	marker := func(op uint64) []byte {
		h := FaultyMarker(testCluster, op)
		b := make([]byte, HeaderSize)
		EncodeHeader(&h, b)
		return b
	}
	damaged := func() []byte {
		b := headerAt(99)
		b[40] ^= 1
		return b
	}
	const s = 5
	for _, tc := range []struct {
		name       string
		entry      []byte // slot s's header-ring entry
		prepare    uint64 // the op of slot s's prepare
		otherOp    uint64 // an op the rings name in another slot (both copies)
		faulty     bool
		ringDamage bool
	}{
		{"damage beside the head's prepare", damaged(), s + slots, s + slots - 1, false, true},
		{"damage beside a prepare less than a wrap below the rings' top", damaged(), s, s + slots - 1, false, true},
		{"damage beside a leftover a wrap below", damaged(), s, s + slots + 1, true, true},
		{"marker beside a leftover", marker(s + slots), s, s + slots + 1, true, false},
		{"marker beside the marker's op, repaired then crashed", marker(s + slots), s + slots, s + slots + 1, true, false},
		{"marker beside a later prepare", marker(s), s + slots, s + slots - 1, false, false},
	} {
		ring := make([]byte, slots*HeaderSize)
		prepares := make([][]byte, slots)
		for i := range prepares {
			prepares[i] = make([]byte, cfg.SectorSize)
		}
		copy(ring[s*HeaderSize:], tc.entry)
		copy(prepares[s], prepareAt(tc.prepare))
		o := tc.otherOp % slots
		copy(ring[o*HeaderSize:], headerAt(tc.otherOp))
		copy(prepares[o], prepareAt(tc.otherOp))
		r.journal.slots = make([]slot, slots)
		corrupt := r.classifySlots(ring, prepares)
		sl := &r.journal.slots[s]
		if sl.faulty != tc.faulty || corrupt[s] != tc.ringDamage {
			t.Fatalf("%s: faulty %v ring damaged %v, want %v %v", tc.name, sl.faulty, corrupt[s], tc.faulty, tc.ringDamage)
		}
		if !tc.faulty && (!sl.has || sl.header.Op != tc.prepare || sl.durable != sl.header.Checksum) {
			t.Fatalf("%s: slot holds op %d (has %v), want the prepare's op %d durable", tc.name, sl.header.Op, sl.has, tc.prepare)
		}
		if tc.faulty && sl.has {
			t.Fatalf("%s: a faulty slot of unknown op holds op %d", tc.name, sl.header.Op)
		}
	}
}

// repairRing writes what recovery after a crash must conclude: a header of
// the log whose prepare is missing as itself, a faulty slot of unknown op
// as a faulty marker at its op at or below the head, never zeros (zeros
// beside an older op's prepare would read as that op).
func TestRepairRingMarksFaultySlots(t *testing.T) {
	cfg := SimConfig(3)
	slots := cfg.JournalSlotCount
	r, _ := openReplica(t, 3, 1, newMemStorage(cfg), true)
	j := r.journal
	j.ringCorrupt = make([]bool, slots)
	known := prepareFrom(0, 1, 3+slots, u128.U128{Lo: 3}, u128.U128{Lo: 1}).Header
	j.slots[3] = slot{has: true, header: known, faulty: true}
	j.slots[4] = slot{faulty: true}
	j.ringCorrupt[3], j.ringCorrupt[4] = true, true
	j.repairRing(testCluster, 2*slots+1)
	var h Header
	if err := DecodeHeader(j.headerRing[3*HeaderSize:], &h); err != nil || h.Checksum != known.Checksum {
		t.Fatalf("slot 3's entry: %v %v, want the log's header", err, h.Checksum)
	}
	if err := DecodeHeader(j.headerRing[4*HeaderSize:], &h); err != nil || !IsFaultyMarker(&h) || h.Op != 4+slots {
		t.Fatalf("slot 4's entry: %v marker %v op %d, want a faulty marker at op %d", err, IsFaultyMarker(&h), h.Op, 4+slots)
	}
}
