package check

import (
	"testing"

	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// nackHistory commits ops 1..n as prepares whose checksums are {Lo: op}.
func nackHistory(t *testing.T, n uint64) (*State, *Nacks) {
	t.Helper()
	s := NewState(3, u128.U128{})
	k := NewNacks(s)
	for op := uint64(1); op <= n; op++ {
		h := vsr.Header{Op: op, Checksum: u128.U128{Lo: op}, Parent: u128.U128{Lo: op - 1}}
		if err := s.Commit(0, &h, nil, u128.U128{}); err != nil {
			t.Fatal(err)
		}
		if err := k.Committed(op, h.Checksum); err != nil {
			t.Fatal(err)
		}
	}
	return s, k
}

// A join_view suffix of ops head-len+1..head, all held as the history's
// prepares.
func suffix(head uint64, n int) ([]vsr.Header, []bool) {
	headers, blank := make([]vsr.Header, n), make([]bool, n)
	for i := range headers {
		op := head - uint64(i)
		headers[i] = vsr.Header{Op: op, Checksum: u128.U128{Lo: op}}
	}
	return headers, blank
}

// A replica that acknowledged a committed prepare and then nacks it (its
// header held but the slot taken as never written, or a blank slot) fails
// the run; nacks of prepares it never acknowledged, or at or below its own
// commit_max, do not.
func TestNacksCatchNackOfAcknowledgedCommitted(t *testing.T) {
	_, k := nackHistory(t, 8)
	k.Acked(1, 7, u128.U128{Lo: 7}, 2)
	k.Acked(1, 5, u128.U128{Lo: 5}, 2)
	headers, blank := suffix(8, 4) // ops 8, 7, 6, 5
	// Replica 2 never acknowledged op 7; replica 1 nacks op 6 only.
	if err := k.JoinView(2, 3, 3, 8, 4, 0, headers, blank, 1<<1); err != nil {
		t.Fatalf("another replica's nack: %v", err)
	}
	if err := k.JoinView(1, 3, 3, 8, 4, 0, headers, blank, 1<<2); err != nil {
		t.Fatalf("nack of an op it never acknowledged: %v", err)
	}
	// At or below its commit_max the primary never truncates.
	if err := k.JoinView(1, 3, 3, 8, 7, 0, headers, blank, 1<<1); err != nil {
		t.Fatalf("nack at its commit_max: %v", err)
	}
	wantErr(t, k.JoinView(1, 3, 3, 8, 4, 0, headers, blank, 1<<1),
		"replica 1 nacked op 7 (checksum 00000000000000000000000000000007) in its join_view for view 3 (its header held; log_view 3, head 8, committed 4), but it had sent prepare_ok for that prepare")
	blank[3] = true
	headers[3] = vsr.Header{}
	wantErr(t, k.JoinView(1, 3, 3, 8, 4, 0, headers, blank, 1<<3), "replica 1 nacked op 5 (checksum 00000000000000000000000000000005) in its join_view for view 3 (a blank slot;")
}

// A nack of an acknowledged prepare not yet committed waits for the op: it
// fails when that prepare commits, and is forgotten when another one does
// (the view change truncated it, as a nack quorum may).
func TestNacksJudgePendingWhenTheOpCommits(t *testing.T) {
	s, k := nackHistory(t, 4)
	other := u128.U128{Hi: 1, Lo: 6}
	k.Acked(0, 5, u128.U128{Lo: 5}, 2)
	k.Acked(0, 6, other, 2)
	headers, blank := suffix(6, 3) // ops 6, 5, 4
	headers[0].Checksum = other
	if err := k.JoinView(0, 2, 2, 6, 4, 0, headers, blank, 1<<0|1<<1); err != nil {
		t.Fatalf("nacks of uncommitted ops: %v", err)
	}
	h := vsr.Header{Op: 5, Checksum: u128.U128{Lo: 5}, Parent: u128.U128{Lo: 4}}
	if err := s.Commit(0, &h, nil, u128.U128{}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, k.Committed(5, h.Checksum), "replica 0 nacked op 5")
	h = vsr.Header{Op: 6, Checksum: u128.U128{Lo: 6}, Parent: u128.U128{Lo: 5}}
	if err := s.Commit(0, &h, nil, u128.U128{}); err != nil {
		t.Fatal(err)
	}
	if err := k.Committed(6, h.Checksum); err != nil {
		t.Fatalf("the nacked prepare was truncated and another committed: %v", err)
	}
}

// Acknowledgements outlive a restart and a reformat alike (the checker
// keeps them per replica index), and are forgotten NacksKeepOps behind the
// newest commit.
func TestNacksForgetFarBehind(t *testing.T) {
	_, k := nackHistory(t, 3)
	k.Acked(2, 3, u128.U128{Lo: 3}, 2)
	if _, ok := k.acked[3]; !ok {
		t.Fatal("acknowledgement not kept")
	}
	if err := k.Committed(NacksKeepOps+4, u128.U128{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := k.acked[3]; ok {
		t.Fatalf("acknowledgement of op 3 kept at commit %d", NacksKeepOps+4)
	}
}

// A replica whose reformatted data file is still marked nacks nothing up to
// the head of the view that settled it, acknowledged by anyone or not: its
// lost file may have acknowledged it. Above that head, and at or below its
// commit_max, it may.
func TestNacksHoldReformattedToItsLostFile(t *testing.T) {
	_, k := nackHistory(t, 4)
	headers, blank := suffix(9, 5) // ops 9..5
	blank[2] = true                // op 7
	if err := k.JoinView(2, 12, 12, 9, 4, 7, headers, blank, 1<<0|1<<1); err != nil {
		t.Fatalf("nacks above the settled head: %v", err)
	}
	if err := k.JoinView(2, 12, 12, 9, 7, 7, headers, blank, 1<<2|1<<3); err != nil {
		t.Fatalf("nacks at or below its commit_max: %v", err)
	}
	wantErr(t, k.JoinView(2, 12, 12, 9, 4, 7, headers, blank, 1<<2),
		"replica 2 nacked op 7 in its join_view for view 12 (log_view 12, head 9, committed 4), but its data file was reformatted and the view that settled it reached op 7")
}

// Silence is a nack: an acknowledged op above a join_view's head fails the
// run once that prepare commits, unless the replica's log dropped the
// header (a view install truncated it) or a wiped data file acknowledged it.
func TestNacksCatchAcknowledgedOpAboveTheHead(t *testing.T) {
	s, k := nackHistory(t, 4)
	k.Acked(1, 5, u128.U128{Lo: 5}, 2)
	k.Acked(1, 6, u128.U128{Lo: 6}, 2)
	k.Acked(2, 6, u128.U128{Lo: 6}, 2)
	k.Acked(0, 5, u128.U128{Lo: 5}, 2)
	headers, blank := suffix(4, 2) // ops 4, 3
	k.Dropped(2, 6, u128.U128{Lo: 6}, 3)
	if err := k.JoinView(2, 3, 3, 4, 3, 0, headers, blank, 0); err != nil {
		t.Fatalf("an acknowledged op a view install truncated: %v", err)
	}
	k.Wiped(0)
	if err := k.JoinView(0, 3, 3, 4, 3, 0, headers, blank, 0); err != nil {
		t.Fatalf("an op a wiped data file acknowledged: %v", err)
	}
	// Pending until op 5 commits.
	if err := k.JoinView(1, 3, 3, 4, 3, 0, headers, blank, 0); err != nil {
		t.Fatalf("acknowledged ops above the head, not yet committed: %v", err)
	}
	h := vsr.Header{Op: 5, Checksum: u128.U128{Lo: 5}, Parent: u128.U128{Lo: 4}}
	if err := s.Commit(0, &h, nil, u128.U128{}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, k.Committed(5, h.Checksum),
		"replica 1 nacked op 5 (checksum 00000000000000000000000000000005) in its join_view for view 3 (above its head, so nacked by omission; log_view 3, head 4, committed 3)")
	// Committed already: judged at once.
	wantErr(t, k.JoinView(1, 4, 3, 4, 3, 0, headers, blank, 0), "replica 1 nacked op 5")
	// What the replica knows committed is never judged.
	if err := k.JoinView(1, 4, 3, 4, 5, 0, headers, blank, 0); err != nil {
		t.Fatalf("an acknowledged op at its commit: %v", err)
	}
}

// A drop for the log of a view no newer than the acknowledgement proves
// nothing (within a view the primary's log only grows: that log is a stale
// `view` message's), so the acknowledgement stays and the run fails once
// the cluster commits the prepare; a newer view's log not holding it
// proves it uncommitted and forgets it.
func TestNacksCatchStaleLogDroppingAnAcknowledgement(t *testing.T) {
	s, k := nackHistory(t, 4)
	k.Acked(1, 5, u128.U128{Lo: 5}, 3)
	k.Acked(2, 5, u128.U128{Lo: 5}, 3)
	k.Dropped(1, 5, u128.U128{Lo: 5}, 3) // a stale view-3 log
	k.Dropped(2, 5, u128.U128{Lo: 5}, 4) // view 4's log
	headers, blank := suffix(4, 2)
	if err := k.JoinView(2, 5, 4, 4, 3, 0, headers, blank, 0); err != nil {
		t.Fatalf("an acknowledgement a newer view's log dropped: %v", err)
	}
	h := vsr.Header{Op: 5, Checksum: u128.U128{Lo: 5}, Parent: u128.U128{Lo: 4}}
	if err := s.Commit(0, &h, nil, u128.U128{}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, k.Committed(5, h.Checksum),
		"replica 1 dropped op 5 (checksum 00000000000000000000000000000005) from its log for view 3's, not newer than view 3 in which it had sent prepare_ok for that prepare, which the cluster committed")
}

// A restarted replica that leaves recovery without waiting in
// recovering_head must hold every op its data file acknowledged: one above
// its head was lost by its open, which then trusted that head. Waiting,
// an acknowledgement of a wiped file, or one a newer view's log dropped is
// no failure.
func TestNacksCatchReopenBelowAnAcknowledgement(t *testing.T) {
	_, k := nackHistory(t, 4)
	k.Acked(1, 6, u128.U128{Lo: 6}, 3)
	k.Acked(2, 6, u128.U128{Lo: 6}, 3)
	k.Acked(0, 6, u128.U128{Lo: 6}, 3)
	if err := k.Reopened(1, 6, 0, 3, false); err != nil {
		t.Fatalf("reopened holding its acknowledgement: %v", err)
	}
	if err := k.Reopened(1, 5, 0, 3, true); err != nil {
		t.Fatalf("reopened below it in recovering_head: %v", err)
	}
	k.Dropped(2, 6, u128.U128{Lo: 6}, 4)
	if err := k.Reopened(2, 5, 0, 3, false); err != nil {
		t.Fatalf("an acknowledgement view 4's log dropped: %v", err)
	}
	k.Wiped(0)
	if err := k.Reopened(0, 0, 0, 3, false); err != nil {
		t.Fatalf("a wiped file's acknowledgement: %v", err)
	}
	if err := k.Reopened(1, 5, 6, 3, false); err != nil {
		t.Fatalf("an acknowledgement its checkpoint covers: %v", err)
	}
	if err := k.Reopened(1, 5, 0, 4, false); err != nil {
		t.Fatalf("an acknowledgement of view 3 above the head of view 4's log, its log view: %v", err)
	}
	wantErr(t, k.Reopened(1, 5, 0, 3, false),
		"replica 1 reopened at head op 5 and took part in consensus, but its data file had sent prepare_ok for op 6 (checksum 00000000000000000000000000000006, view 3)")
}
