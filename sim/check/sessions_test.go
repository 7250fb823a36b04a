package check

import (
	"strings"
	"testing"

	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

var clientA, clientB, clientC, clientD, clientE = u128.From64(0xA), u128.From64(0xB), u128.From64(0xC), u128.From64(0xD), u128.From64(0xE)

const opRequest = vsr.OperationStateMachineMin

func noSession(client u128.U128) Eviction {
	return Eviction{Client: client, Reason: vsr.EvictionNoSession, Replica: 1, View: 3, Session: 1, Request: 2, Operation: opRequest}
}

func wantErr(t *testing.T, err error, substr string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), substr) {
		t.Fatalf("want an error containing %q, got %v", substr, err)
	}
}

// A register into a full table evicts the session with the oldest reply, so
// that client's no_session is justified and a live client's is not.
func TestSessionsJudgeNoSessionByOldestReply(t *testing.T) {
	s := NewSessions(2)
	s.Commit(1, clientA, vsr.OperationRegister)
	s.Commit(2, clientB, vsr.OperationRegister)
	s.Commit(3, clientA, opRequest)             // A's reply is now newer than B's
	s.Commit(4, u128.Zero, opRequest)           // a pulse: no session moves
	s.Commit(5, clientC, vsr.OperationRegister) // full: evicts B
	if err := s.Eviction(noSession(clientB)); err != nil {
		t.Fatalf("B was evicted by C's register, yet no_session was refused: %v", err)
	}
	if !strings.Contains(s.EvictedBy(clientB), "op 5") {
		t.Fatalf("EvictedBy(B) = %q", s.EvictedBy(clientB))
	}
	err := s.Eviction(noSession(clientA))
	wantErr(t, err, "unjustified eviction: replica 1 (view 3) evicted client")
	wantErr(t, err, "no_session")
	wantErr(t, err, "holds its session, opened at op 1, last reply op 3")
	wantErr(t, s.Eviction(noSession(clientC)), "opened at op 5")
	if err := s.Eviction(noSession(clientD)); err != nil {
		t.Fatalf("a client that never registered has no session: %v", err)
	}
}

// The replica never prepares a request behind a register that could evict
// its session, so a request committed after its session was evicted is a
// wrongly judged table; it must not revive the session nor move its reply op.
func TestSessionsRequestAfterEviction(t *testing.T) {
	s := NewSessions(2)
	s.Commit(1, clientA, vsr.OperationRegister)
	s.Commit(2, clientB, vsr.OperationRegister)
	s.Commit(3, clientC, vsr.OperationRegister) // evicts A
	wantErr(t, s.Commit(4, clientA, opRequest), "op 4: a request of client")
	wantErr(t, s.Commit(4, clientA, opRequest), "evicted at op 3 by the register of")
	wantErr(t, s.Commit(6, clientE, opRequest), "it never registered")
	s.Commit(5, clientD, vsr.OperationRegister) // evicts B (op 2), not C (op 3)
	if err := s.Eviction(noSession(clientA)); err != nil {
		t.Fatalf("A was evicted at op 3: %v", err)
	}
	if err := s.Eviction(noSession(clientB)); err != nil {
		t.Fatalf("B was evicted at op 5: %v", err)
	}
	wantErr(t, s.Eviction(noSession(clientC)), "holds its session")
}

func TestSessionsJudgeSessionTooLow(t *testing.T) {
	s := NewSessions(4)
	s.Commit(1, clientA, vsr.OperationRegister)
	s.Commit(2, clientA, vsr.OperationRegister) // a second register: a newer session
	e := Eviction{Client: clientA, Reason: vsr.EvictionSessionTooLow, Session: 1, Request: 1, Operation: opRequest}
	// get finds the first entry, as the replica's does: session 1.
	wantErr(t, s.Eviction(e), "the request's session 1 is the committed one")
	s = NewSessions(1)
	s.Commit(1, clientA, vsr.OperationRegister)
	s.Commit(2, clientA, vsr.OperationRegister) // full: the first entry goes
	if err := s.Eviction(e); err != nil {
		t.Fatalf("session 2 is newer than the request's session 1: %v", err)
	}
	e.Client = clientB
	wantErr(t, s.Eviction(e), "holds no session for it at all")
}

func TestSessionsJudgeInvalidRequests(t *testing.T) {
	s := NewSessions(4)
	s.Commit(1, clientA, vsr.OperationRegister)
	e := Eviction{Client: clientA, Reason: vsr.EvictionInvalidRequestBody, Session: 1, Request: 1, Operation: opRequest}
	wantErr(t, s.Eviction(e), "with invalid_request_body (request 1, operation 128), but the request is valid")
	e.Invalid = vsr.EvictionInvalidRequestBodySize
	wantErr(t, s.Eviction(e), "but the request is invalid as invalid_request_body_size")
	e.Invalid = vsr.EvictionInvalidRequestBody
	if err := s.Eviction(e); err != nil {
		t.Fatalf("an invalid body evicted for its invalid body: %v", err)
	}
	e.Reason, e.Invalid = vsr.EvictionReleaseTooLow, 0
	wantErr(t, s.Eviction(e), "with client_release_too_low (request 1, operation 128), a reason this cluster")
}

func registerIf(request uint32) vsr.Operation {
	if request == 0 {
		return vsr.OperationRegister
	}
	return opRequest
}
