package check

import (
	"strings"
	"testing"

	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// chain builds n prepares hash-chained from root, for client c.
func chain(root u128.U128, n int, salt uint64) []vsr.Header {
	var hs []vsr.Header
	parent := root
	for op := uint64(1); op <= uint64(n); op++ {
		h := vsr.Header{Command: vsr.CommandPrepare, Op: op, Parent: parent, Client: u128.From64(9),
			Request: uint32(op), Operation: vsr.OperationStateMachineMin, Timestamp: op + salt}
		h.Seal(nil)
		hs = append(hs, h)
		parent = h.Checksum
	}
	return hs
}

var root = u128.From64(1)

func state(op uint64) u128.U128 { return u128.From64(op * 100) }

func TestStateAcceptsAgreeingReplicas(t *testing.T) {
	s := NewState(3, root)
	hs := chain(root, 5, 0)
	for r := 0; r < 3; r++ {
		for i := range hs {
			if err := s.Commit(r, &hs[i], nil, state(hs[i].Op)); err != nil {
				t.Fatalf("replica %d op %d: %v", r, hs[i].Op, err)
			}
		}
	}
	if s.CommitMax() != 5 {
		t.Fatalf("commit max %d", s.CommitMax())
	}
}

func TestStateCatchesDivergentPrepare(t *testing.T) {
	s := NewState(2, root)
	a, b := chain(root, 3, 0), chain(root, 3, 7)
	for i := range a {
		if err := s.Commit(0, &a[i], nil, state(a[i].Op)); err != nil {
			t.Fatal(err)
		}
	}
	err := s.Commit(1, &b[0], nil, state(1))
	if err == nil || !strings.Contains(err.Error(), "executed op 1 as prepare") {
		t.Fatalf("two replicas committing different prepares for op 1: got %v", err)
	}
}

func TestStateCatchesRollback(t *testing.T) {
	s := NewState(2, root)
	a, b := chain(root, 3, 0), chain(root, 3, 7)
	for i := range a {
		if err := s.Commit(0, &a[i], nil, state(a[i].Op)); err != nil {
			t.Fatal(err)
		}
	}
	// Replica 0 loses its memory, replays, and this time commits another op 2.
	s.Restarted(0)
	if err := s.Commit(0, &a[0], nil, state(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(0, &b[1], nil, state(2)); err == nil {
		t.Fatal("a committed op rolled back and replaced went unnoticed")
	}
}

func TestStateCatchesDivergentState(t *testing.T) {
	s := NewState(2, root)
	a := chain(root, 1, 0)
	if err := s.Commit(0, &a[0], nil, state(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(1, &a[0], nil, state(2)); err == nil {
		t.Fatal("same prepare, different state checksum went unnoticed")
	}
}

func TestStateCatchesBrokenChainAndGaps(t *testing.T) {
	s := NewState(1, root)
	a := chain(u128.From64(99), 2, 0) // op 1 does not chain to the root
	if err := s.Commit(0, &a[0], nil, state(1)); err == nil {
		t.Fatal("op 1 with a foreign parent went unnoticed")
	}
	s2 := NewState(1, root)
	b := chain(root, 2, 0)
	if err := s2.Commit(0, &b[1], nil, state(2)); err == nil {
		t.Fatal("committing op 2 before op 1 went unnoticed")
	}
}

func TestRepliesCatchUncommittedAndMismatched(t *testing.T) {
	client := u128.From64(9)
	fresh := func() *Replies {
		s := NewState(1, root)
		hs := chain(root, 2, 0)
		for i := range hs {
			if err := s.Commit(0, &hs[i], []byte{byte(i)}, state(hs[i].Op)); err != nil {
				t.Fatal(err)
			}
		}
		r := NewReplies(s)
		r.last[client] = 0 // registered
		return r
	}
	r := fresh()
	if err := r.Reply(client, 1, 1, vsr.OperationStateMachineMin, []byte{0}); err != nil {
		t.Fatalf("a good reply was refused: %v", err)
	}
	if c, _ := r.state.At(1); c.Reply != nil {
		t.Fatal("an accepted reply's body is still kept")
	}
	if err := r.Reply(client, 2, 7, vsr.OperationStateMachineMin, nil); err == nil || !strings.Contains(err.Error(), "no replica has committed") {
		t.Fatalf("a reply for an op never committed: got %v", err)
	}
	r = fresh()
	if err := r.Reply(client, 1, 1, vsr.OperationStateMachineMin, []byte{5}); err == nil {
		t.Fatal("a reply whose body differs from the committed op's went unnoticed")
	}
	r = fresh()
	if err := r.Reply(client, 1, 2, vsr.OperationStateMachineMin, []byte{1}); err == nil {
		t.Fatal("a reply naming another request's op went unnoticed")
	}
	r = fresh()
	_ = r.Reply(client, 1, 1, vsr.OperationStateMachineMin, []byte{0})
	if err := r.Reply(client, 1, 1, vsr.OperationStateMachineMin, []byte{0}); err == nil {
		t.Fatal("two replies for one request number went unnoticed")
	}
}

// A backup whose log holds another prepare at an op than the one the commit
// heartbeat names (a leftover of an older view) must repair it, not execute
// it: the state checker says so in those words.
func TestStateNamesAPrepareExecutedAgainstTheCommitHeartbeat(t *testing.T) {
	s := NewState(2, root)
	committedLog, leftover := chain(root, 2, 0), chain(root, 2, 7)
	for i := range committedLog {
		if err := s.Commit(0, &committedLog[i], nil, state(committedLog[i].Op)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Commit(1, &committedLog[0], nil, state(1)); err != nil {
		t.Fatal(err)
	}
	leftover[1].View = 1
	leftover[1].Parent = committedLog[0].Checksum
	err := s.Commit(1, &leftover[1], nil, state(2))
	if err == nil || !strings.Contains(err.Error(), "replica 1 executed op 2 as prepare") ||
		!strings.Contains(err.Error(), "(prepared in view 1)") ||
		!strings.Contains(err.Error(), "it executed a different prepare than the one committed at that op") {
		t.Fatalf("a backup executing its own prepare against the commit: got %v", err)
	}
}
