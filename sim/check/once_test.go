package check

import (
	"testing"

	"viewstamp/replica/u128"
)

func TestOnceCatchesARequestExecutedTwice(t *testing.T) {
	o := NewOnce()
	steps := []struct {
		op      uint64
		client  u128.U128
		request uint32
	}{{1, clientA, 0}, {2, clientB, 0}, {3, clientA, 1}, {4, u128.Zero, 0}, {5, u128.Zero, 0}, {6, clientB, 1}, {7, clientA, 2}}
	for _, s := range steps {
		if err := o.Commit(s.op, s.client, s.request, s.request > 0); err != nil {
			t.Fatalf("op %d: a legal history refused: %v", s.op, err)
		}
	}
	wantErr(t, o.Commit(8, clientA, 1, true), "request 1 executed twice: committed at op 3 and again at op 8")
	wantErr(t, o.Commit(9, clientB, 0, true), "request 0 executed twice: committed at op 2 and again at op 9 (its session was still live")
	if err := o.Commit(10, clientA, 3, true); err != nil {
		t.Fatal(err)
	}
}

// A register retried after its session was evicted opens a new session.
func TestOnceAllowsARegisterAfterEviction(t *testing.T) {
	o := NewOnce()
	if err := o.Commit(1, clientA, 0, false); err != nil {
		t.Fatal(err)
	}
	if err := o.Commit(9, clientA, 0, false); err != nil {
		t.Fatalf("a register whose session was evicted, retried: %v", err)
	}
	wantErr(t, o.Commit(10, clientA, 0, true), "committed at op 9 and again at op 10")
}

// Through the session model: the retried register is legal only once the
// first session is gone.
func TestOnceWithTheSessionModel(t *testing.T) {
	s, o := NewSessions(1, testReleaseMin, testRelease), NewOnce()
	commit := func(op uint64, client u128.U128, request uint32) error {
		err := o.Commit(op, client, request, s.Live(client))
		s.Commit(op, client, registerIf(request), testRelease)
		return err
	}
	for _, step := range []struct {
		op     uint64
		client u128.U128
	}{{1, clientA}, {2, clientB}, {3, clientA}} { // B evicts A, A's retry evicts B
		if err := commit(step.op, step.client, 0); err != nil {
			t.Fatalf("op %d: %v", step.op, err)
		}
	}
	wantErr(t, commit(4, clientA, 0), "request 0 executed twice: committed at op 3 and again at op 4")
}
