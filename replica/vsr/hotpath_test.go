package vsr

import (
	"testing"

	rio "viewstamp/replica/io"
	"viewstamp/replica/u128"
)

// A replica on an in-memory data file, driven by hand: completions run when
// the test drains them, never inside Read or Write.
type allocStorage struct {
	zones   [rio.ZoneCount][]byte
	pending []func()
}

func (s *allocStorage) zone(z rio.Zone, end uint64) []byte {
	if uint64(len(s.zones[z])) < end {
		s.zones[z] = append(s.zones[z], make([]byte, end-uint64(len(s.zones[z])))...)
	}
	return s.zones[z]
}

func (s *allocStorage) Read(z rio.Zone, off uint64, buf []byte, done func()) {
	copy(buf, s.zone(z, off+uint64(len(buf)))[off:])
	s.pending = append(s.pending, done)
}

func (s *allocStorage) Write(z rio.Zone, off uint64, buf []byte, done func()) {
	copy(s.zone(z, off+uint64(len(buf)))[off:], buf)
	s.pending = append(s.pending, done)
}

func (s *allocStorage) drain() {
	for len(s.pending) > 0 {
		done := s.pending[0]
		s.pending = s.pending[1:]
		done()
	}
}

// countNet keeps only the last message sent and counts the rest, so that
// sending allocates nothing of its own.
type countNet struct {
	sent uint64
	last []byte
}

func (n *countNet) SendToReplica(_ uint8, b []byte)    { n.sent++; n.last = b }
func (n *countNet) SendToClient(_ u128.U128, b []byte) { n.sent++; n.last = b }

// newBackup returns replica 1 of 3 in view 0, normal and recovered from a
// freshly formatted data file.
func newBackup(t testing.TB) (*Replica, *allocStorage, *countNet) {
	return newBackupWith(t, nopSM{})
}

// newBackupWith is newBackup running sm.
func newBackupWith(t testing.TB, sm StateMachine) (*Replica, *allocStorage, *countNet) {
	cfg := SimConfig(3)
	st, net := &allocStorage{}, &countNet{}
	Format(cfg, testCluster, 1, st, func() {})
	st.drain()
	r, err := New(Options{Config: cfg, Cluster: testCluster, Replica: 1, Time: memTime{}, AgreedTime: true, Network: net, Storage: st, SM: sm, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	r.Open()
	st.drain()
	if r.Status() != StatusNormal || r.Primary() {
		t.Fatalf("replica did not recover as a normal backup: %s", r.Debug())
	}
	return r, st, net
}

// fromPrimary encodes m as replica 0, the primary of view 0, would send it.
func fromPrimary(m *Message) []byte {
	m.Header.Cluster, m.Header.Replica = testCluster, 0
	return m.Encode()
}

func firstPrepare() []byte {
	return fromPrimary(&Message{Header: Header{Command: CommandPrepare, Op: 1, Parent: RootHeader(testCluster).Checksum,
		Operation: OperationStateMachineMin, Timestamp: 2}, Body: []byte("batch")})
}

// A backup keeps a received prepare by its wire bytes, copying neither them
// nor, on a retransmission, the message again; and get_prepare is answered
// with those same bytes.
func TestBackupKeepsReceivedPrepareBytes(t *testing.T) {
	r, st, net := newBackup(t)
	prep := firstPrepare()
	r.OnMessage(prep)
	st.drain()
	kept := r.journal.prepare(1)
	if kept == nil || !r.journal.present(1) {
		t.Fatalf("prepare op 1 not held durably: %s", r.Debug())
	}
	if &kept.Bytes()[0] != &prep[0] {
		t.Fatal("the journal holds a new encoding of the prepare, not the received bytes")
	}
	if kept.borrowed || kept == &r.rx {
		t.Fatal("the journal kept the receive message itself")
	}
	if net.sent == 0 || net.last[114] != byte(CommandPrepareOK) {
		t.Fatal("no prepare_ok for the durable prepare")
	}
	r.OnMessage(prep)
	st.drain()
	if r.journal.prepare(1) != kept {
		t.Fatal("a retransmission replaced the kept prepare")
	}
	r.OnMessage(fromPrimary(&Message{Header: Header{Command: CommandGetPrepare, Op: 1, Ref: kept.Header.Checksum}}))
	if &net.last[0] != &prep[0] {
		t.Fatal("get_prepare was answered with a new encoding")
	}
	if r.rx.Header != (Header{}) || r.rx.wire != nil {
		t.Fatal("the receive message was not cleared after use")
	}
}

// The steady-state receive path allocates only what it sends: nothing for
// a commit heartbeat or a get_prepare answer, the prepare_ok's bytes (owned
// by the network) for a duplicate prepare.
func TestReceivePathAllocations(t *testing.T) {
	r, st, net := newBackup(t)
	prep := firstPrepare()
	r.OnMessage(prep)
	st.drain()
	commit := fromPrimary(&Message{Header: Header{Command: CommandCommit, Commit: 1, Ref: r.journal.prepare(1).Header.Checksum}})
	r.OnMessage(commit)
	if r.CommitMin() != 1 {
		t.Fatalf("op 1 not executed on commit: %s", r.Debug())
	}
	getPrepare := fromPrimary(&Message{Header: Header{Command: CommandGetPrepare, Op: 1, Ref: r.journal.prepare(1).Header.Checksum}})
	cases := []struct {
		name   string
		msg    []byte
		allocs float64
		sends  uint64 // per message
	}{
		{"commit heartbeat", commit, 0, 0},
		{"get_prepare", getPrepare, 0, 1},
		{"duplicate prepare", prep, 1, 1},
	}
	const runs = 100
	for _, c := range cases {
		before := net.sent
		got := testing.AllocsPerRun(runs, func() { r.OnMessage(c.msg) })
		t.Logf("%s: %.1f allocations per message", c.name, got)
		if got > c.allocs {
			t.Errorf("%s: %.1f allocations per message, want at most %.0f", c.name, got, c.allocs)
		}
		// AllocsPerRun runs the function once more to warm up.
		if sends := net.sent - before; sends != c.sends*(runs+1) {
			t.Errorf("%s: %d messages sent for %d received, want %d each", c.name, sends, runs+1, c.sends)
		}
	}
	if r.Drops != (Drops{}) {
		t.Fatalf("messages dropped: %+v", r.Drops)
	}
}

// A message is encoded once: Bytes returns the bytes Encode made or Decode
// was given until the header is sealed anew.
func TestMessageWireIsEncodedOnce(t *testing.T) {
	m := &Message{Header: Header{Command: CommandPrepare, Cluster: testCluster, Op: 3}, Body: []byte("body")}
	wire := m.Encode()
	if b := m.Bytes(); &b[0] != &wire[0] {
		t.Fatal("Bytes re-encoded a sealed message")
	}
	got, err := Decode(wire, testCluster, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if b := got.Bytes(); &b[0] != &wire[0] {
		t.Fatal("Bytes of a decoded message is not the received buffer")
	}
	if got.retain() != got {
		t.Fatal("a message the caller owns was copied on retain")
	}
	got.borrowed = true
	kept := got.retain()
	if kept == got || kept.borrowed || &kept.Bytes()[0] != &wire[0] {
		t.Fatal("retain of a borrowed message must copy the message and share its bytes")
	}
	// A new seal makes a new encoding; the old bytes, perhaps still in
	// flight, are left as they were.
	old := append([]byte(nil), wire...)
	got.Header.Op = 4
	got.Header.Seal(got.Body)
	again := got.Bytes()
	if &again[0] == &wire[0] || string(wire) != string(old) {
		t.Fatal("resealing wrote into the shared wire bytes")
	}
	if d, err := Decode(again, testCluster, 4096); err != nil || d.Header.Op != 4 {
		t.Fatalf("new encoding does not decode to the new header: %v", err)
	}
}
