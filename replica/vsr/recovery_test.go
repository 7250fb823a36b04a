package vsr

import (
	"testing"

	rio "viewstamp/replica/io"
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
	}{
		{"intact", func(*memStorage) {}, false, true, true, true, 1},
		{"prepare body corrupt", func(st *memStorage) { prep(st)[HeaderSize+3] ^= 1 }, true, true, false, false, 1},
		{"prepare lost", func(st *memStorage) { clear(prep(st)[:cfg.SectorSize]) }, true, true, false, false, 1},
		{"header entry corrupt", func(st *memStorage) { ring(st)[40] ^= 1 }, false, true, true, true, 1},
		{"both corrupt", func(st *memStorage) { ring(st)[40] ^= 1; prep(st)[40] ^= 1 }, true, false, false, false, 0},
		// A wrap later, op 33's prepare write was lost (the slot still
		// holds op 1's) but its header reached the ring: op 33 was
		// acknowledged, and is faulty, not op 1 again.
		{"prepare write lost a wrap later", func(st *memStorage) {
			h := Header{Command: CommandPrepare, Cluster: testCluster, Op: 33, Timestamp: 33, Operation: OperationRegister}
			h.Seal(nil)
			EncodeHeader(&h, ring(st))
		}, true, true, false, false, 33},
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
		net.sent = nil
		r.sendJoinView()
		var jv *Message
		for _, m := range net.sent {
			if m.Header.Command == CommandJoinView {
				jv = m
			}
		}
		if jv == nil {
			t.Fatalf("%s: no join_view", tc.name)
		}
		if nacked := jv.Header.Nack&1 != 0; tc.faulty && nacked {
			t.Fatalf("%s: a faulty slot was nacked", tc.name)
		}
	}
}
