package check

import (
	"strings"
	"testing"

	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// The history keeps a margin behind every replica's newest checkpoint, and
// what a replica can still name stays judged: a replay from a recent
// checkpoint, a reply a client has yet to accept (its body still compared),
// while a replica opening a checkpoint older than the window is reported.
func TestStateKeepsAWindowBehindCheckpoints(t *testing.T) {
	const keep, n = 100, 5000
	s := NewState(2, root)
	s.Keep(keep)
	hs := chain(root, n, 0)
	late := uint64(10) // its client accepts the reply only at the end
	for i := range hs {
		op := hs[i].Op
		for r := 0; r < 2; r++ {
			if err := s.Commit(r, &hs[i], []byte{byte(op)}, state(op)); err != nil {
				t.Fatalf("replica %d op %d: %v", r, op, err)
			}
		}
		if op%50 == 0 {
			s.Checkpointed(0, op)
			s.Checkpointed(1, op)
		}
	}
	if kept := len(s.history); kept > keep+2*windowSlack {
		t.Fatalf("history holds %d ops after %d with a margin of %d", kept, n, keep)
	}
	if s.CommitMax() != n {
		t.Fatalf("commit max %d, want %d", s.CommitMax(), n)
	}
	// A restart from the newest checkpoint replays what the window holds.
	s.Restarted(1)
	if err := s.Opened(1, n-50, state(n-50)); err != nil {
		t.Fatalf("opening the newest checkpoint: %v", err)
	}
	for i := n - 50; i < n; i++ {
		if err := s.Commit(1, &hs[i], nil, state(hs[i].Op)); err != nil {
			t.Fatalf("replay of op %d: %v", hs[i].Op, err)
		}
	}
	if err := s.Opened(1, n-40, state(n-39)); err == nil || !strings.Contains(err.Error(), "the history reached") {
		t.Fatalf("a checkpoint with the wrong state: got %v", err)
	}
	s.Restarted(0)
	if err := s.Opened(0, 50, state(50)); err == nil || !strings.Contains(err.Error(), "older than every replica's newest checkpoint") {
		t.Fatalf("opening a checkpoint far below the window: got %v", err)
	}
	// Every reply but op late's was accepted in time in a real run; here
	// none was, so all are kept, and op late's is still judged.
	r := NewReplies(s)
	client := u128.From64(9)
	r.last[client] = int64(late) - 1
	if err := r.Reply(client, uint32(late), late, vsr.OperationStateMachineMin, []byte{byte(late + 1)}); err == nil ||
		!strings.Contains(err.Error(), "differs") {
		t.Fatalf("a wrong reply body for an op below the window: got %v", err)
	}
	r.last[client] = int64(late) - 1
	if err := r.Reply(client, uint32(late), late, vsr.OperationStateMachineMin, []byte{byte(late)}); err != nil {
		t.Fatalf("the right reply for an op below the window: %v", err)
	}
	if _, ok := s.window.unreplied[late]; ok {
		t.Fatal("an accepted reply is still kept below the window")
	}
}
