package vsr

import (
	"fmt"
	"slices"
	"testing"

	"viewstamp/replica/u128"
)

// A commit heartbeat names the checksum of the op it commits. A backup that
// holds another prepare there, however well it chains, must not execute it:
// it drops it and asks the primary for the canonical one.
func TestCommitHeartbeatChecksumMismatch(t *testing.T) {
	st := newMemStorage(SimConfig(3))
	r, net := openReplica(t, 3, 1, st, true)
	if r.Status() != StatusNormal || r.Primary() {
		t.Fatalf("replica 1 should be a backup in normal status, is %v (primary %v)", r.Status(), r.Primary())
	}
	root := RootHeader(testCluster)
	ours := prepareFrom(0, 0, 1, root.Checksum, u128.U128{Lo: 1})
	r.OnMessage(ours.Bytes())
	st.flush()
	if r.Op() != 1 {
		t.Fatalf("op %d after a prepare of op 1", r.Op())
	}
	canonical := prepareFrom(0, 0, 1, root.Checksum, u128.U128{Lo: 2})
	net.sent = nil
	commit := &Message{Header: Header{Command: CommandCommit, Cluster: testCluster, Replica: 0, Commit: 1, Ref: canonical.Header.Checksum, Timestamp: 10}}
	r.OnMessage(commit.Encode())
	st.flush()
	if r.CommitMin() != 0 {
		t.Fatalf("executed op %d although the heartbeat committed another prepare there", r.CommitMin())
	}
	if _, ok := r.journal.header(1); ok {
		t.Fatalf("kept a header at op 1 that the heartbeat's checksum contradicts")
	}
	asked := false
	for _, m := range net.sent {
		if m.Header.Command == CommandGetHeaders && m.Header.Op >= 1 && m.Header.CommitMin <= 1 {
			asked = true
		}
	}
	if !asked {
		t.Fatalf("did not ask for the canonical header of op 1; sent %d messages", len(net.sent))
	}
	// The primary's headers bring the canonical op, which then executes.
	hs := &Message{Header: Header{Command: CommandHeaders, Cluster: testCluster, Replica: 0}, Body: make([]byte, HeaderSize)}
	EncodeHeader(&canonical.Header, hs.Body)
	r.OnMessage(hs.Encode())
	r.OnMessage(canonical.Bytes())
	st.flush()
	if r.CommitMin() != 1 {
		t.Fatalf("commit_min %d: the canonical op 1 did not execute", r.CommitMin())
	}
	if h, _ := r.journal.header(1); h.Checksum != canonical.Header.Checksum {
		t.Fatalf("op 1 holds %v, want the committed %v", h.Checksum, canonical.Header.Checksum)
	}
}

// A matching heartbeat executes the op as before.
func TestCommitHeartbeatChecksumMatch(t *testing.T) {
	st := newMemStorage(SimConfig(3))
	r, _ := openReplica(t, 3, 1, st, true)
	root := RootHeader(testCluster)
	p := prepareFrom(0, 0, 1, root.Checksum, u128.U128{Lo: 1})
	r.OnMessage(p.Bytes())
	st.flush()
	commit := &Message{Header: Header{Command: CommandCommit, Cluster: testCluster, Replica: 0, Commit: 1, Ref: p.Header.Checksum, Timestamp: 10}}
	r.OnMessage(commit.Encode())
	st.flush()
	if r.CommitMin() != 1 {
		t.Fatalf("commit_min %d after a heartbeat committing the op held", r.CommitMin())
	}
}

// heldSM is a state machine whose prefetches and compactions complete only
// when the test releases them, as a storage engine's do from its reads and
// writes; it logs every step it is asked for.
type heldSM struct {
	nopSM
	held []func()
	log  []string
}

func (m *heldSM) Prefetch(op, _ uint64, _ Operation, _ []byte, done func()) {
	m.log = append(m.log, fmt.Sprintf("prefetch %d", op))
	m.held = append(m.held, done)
}

func (m *heldSM) Commit(_ u128.U128, op, _ uint64, _ Operation, _ []byte) []byte {
	m.log = append(m.log, fmt.Sprintf("commit %d", op))
	return nil
}

func (m *heldSM) Compact(op uint64, done func()) {
	m.log = append(m.log, fmt.Sprintf("compact %d", op))
	m.held = append(m.held, done)
}

// release completes the one step in flight.
func (m *heldSM) release(t *testing.T) {
	t.Helper()
	if len(m.held) != 1 {
		t.Fatalf("%d state machine steps in flight, want 1 (log %v)", len(m.held), m.log)
	}
	done := m.held[0]
	m.held = m.held[:0]
	done()
}

// A committed op goes prefetch, commit, compact, and the next op's prefetch
// starts only once the compaction is done, however late the state machine
// completes; messages that arrive meanwhile commit nothing out of turn.
func TestCommitWaitsForTheStateMachine(t *testing.T) {
	sm := &heldSM{}
	r, st, _ := newBackupWith(t, sm)
	p1 := &Message{Header: Header{Command: CommandPrepare, Op: 1, Parent: RootHeader(testCluster).Checksum,
		Operation: OperationStateMachineMin, Timestamp: 2}, Body: []byte("one")}
	r.OnMessage(fromPrimary(p1))
	p1h := r.journal.prepare(1).Header
	p2 := &Message{Header: Header{Command: CommandPrepare, Op: 2, Parent: p1h.Checksum, Commit: 1,
		Operation: OperationStateMachineMin, Timestamp: 3}, Body: []byte("two")}
	r.OnMessage(fromPrimary(p2))
	st.drain()
	p2h := r.journal.prepare(2).Header
	commit := fromPrimary(&Message{Header: Header{Command: CommandCommit, Commit: 2, Ref: p2h.Checksum}})
	r.OnMessage(commit)
	if r.CommitMin() != 0 {
		t.Fatalf("op 1 executed before its prefetch completed: %s", r.Debug())
	}
	r.OnMessage(commit) // a heartbeat while the prefetch is out starts nothing
	sm.release(t)       // prefetch 1
	if r.CommitMin() != 1 {
		t.Fatalf("op 1 not executed once prefetched: %s", r.Debug())
	}
	r.OnMessage(commit)
	sm.release(t) // compact 1
	sm.release(t) // prefetch 2
	sm.release(t) // compact 2
	if r.CommitMin() != 2 || len(sm.held) != 0 {
		t.Fatalf("ops not executed in turn: %s (held %d)", r.Debug(), len(sm.held))
	}
	want := []string{"prefetch 1", "commit 1", "compact 1", "prefetch 2", "commit 2", "compact 2"}
	if !slices.Equal(sm.log, want) {
		t.Fatalf("state machine steps %v, want %v", sm.log, want)
	}
}
