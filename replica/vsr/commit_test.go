package vsr

import (
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
