package check

import (
	"testing"

	"viewstamp/replica/vsr"
)

func TestViewsDurableNeverDecrease(t *testing.T) {
	v := NewViews(2)
	for _, s := range [][2]uint32{{0, 0}, {1, 0}, {1, 1}, {3, 1}, {3, 3}} {
		if err := v.Durable(0, s[0], s[1]); err != nil {
			t.Fatalf("view %d log_view %d: %v", s[0], s[1], err)
		}
	}
	// A restart that recovers an older superblock is still replica 0.
	wantErr(t, v.Durable(0, 2, 1), "replica 0: durable view went back from 3 to 2")
	wantErr(t, v.Durable(0, 4, 2), "replica 0: durable log_view went back from 3 to 2")
	wantErr(t, v.Durable(1, 1, 2), "replica 1: durable log_view 2 is ahead of its durable view 1")
	if v.Joined(0) != 3 {
		t.Fatalf("joined %d", v.Joined(0))
	}
}

func TestViewsCatchPrepareOKAndCommitInAnOldView(t *testing.T) {
	v := NewViews(3)
	if err := v.Durable(1, 4, 4); err != nil {
		t.Fatal(err)
	}
	ok := vsr.Header{Command: vsr.CommandPrepareOK, View: 3, Op: 7}
	wantErr(t, v.Sent(1, &ok, 4, 4), "replica 1 sent prepare_ok for op 7 in view 3 after joining view 4")
	// Durable now, not yet polled.
	commit := vsr.Header{Command: vsr.CommandCommit, View: 4, Commit: 9}
	wantErr(t, v.Sent(1, &commit, 5, 5), "replica 1 sent commit 9 in view 4 after joining view 5")
	ok.View = 4
	if err := v.Sent(1, &ok, 4, 4); err != nil {
		t.Fatalf("prepare_ok in the joined view: %v", err)
	}
	// A retransmitted prepare keeps the view it was first prepared in.
	old := vsr.Header{Command: vsr.CommandPrepare, View: 1, Op: 2}
	if err := v.Sent(1, &old, 4, 4); err != nil {
		t.Fatalf("a prepare of an older view: %v", err)
	}
}

// A promise must be durable before it is made: join_view after the view,
// prepare_ok, commit and view after the log_view.
func TestViewsCatchPromisesBeforeDurable(t *testing.T) {
	v := NewViews(3)
	join := vsr.Header{Command: vsr.CommandJoinView, View: 5}
	wantErr(t, v.Sent(2, &join, 4, 4), "replica 2 sent join_view for view 5 before that view was durable (durable view 4)")
	if err := v.Sent(2, &join, 5, 4); err != nil {
		t.Fatalf("join_view after its view is durable: %v", err)
	}
	ok := vsr.Header{Command: vsr.CommandPrepareOK, View: 5, Op: 3}
	wantErr(t, v.Sent(2, &ok, 5, 4), "replica 2 sent prepare_ok for op 3 in view 5 before its log_view 5 was durable (durable log_view 4)")
	commit := vsr.Header{Command: vsr.CommandCommit, View: 5, Commit: 2}
	wantErr(t, v.Sent(2, &commit, 5, 4), "replica 2 sent commit 2 in view 5 before its log_view 5 was durable (durable log_view 4)")
	start := vsr.Header{Command: vsr.CommandView, View: 5}
	wantErr(t, v.Sent(2, &start, 5, 4), "replica 2 sent view 5 (as its primary) before its log_view 5 was durable (durable log_view 4)")
	// A backup's view (view 5's primary is 2) installs no log: it answers a
	// get_view with its checkpoint and view alone.
	if err := v.Sent(1, &start, 5, 4); err != nil {
		t.Fatalf("a backup's view in a view change: %v", err)
	}
	for _, h := range []*vsr.Header{&ok, &commit, &start} {
		if err := v.Sent(2, h, 5, 5); err != nil {
			t.Fatalf("%v after log_view durable: %v", h.Command, err)
		}
	}
}
