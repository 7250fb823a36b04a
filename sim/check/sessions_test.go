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
	s := NewSessions(2, testReleaseMin, testRelease)
	s.Commit(1, clientA, vsr.OperationRegister, testRelease)
	s.Commit(2, clientB, vsr.OperationRegister, testRelease)
	s.Commit(3, clientA, opRequest, testRelease)             // A's reply is now newer than B's
	s.Commit(4, u128.Zero, opRequest, testRelease)           // a pulse: no session moves
	s.Commit(5, clientC, vsr.OperationRegister, testRelease) // full: evicts B
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
	s := NewSessions(2, testReleaseMin, testRelease)
	s.Commit(1, clientA, vsr.OperationRegister, testRelease)
	s.Commit(2, clientB, vsr.OperationRegister, testRelease)
	s.Commit(3, clientC, vsr.OperationRegister, testRelease) // evicts A
	wantErr(t, s.Commit(4, clientA, opRequest, testRelease), "op 4: a request of client")
	wantErr(t, s.Commit(4, clientA, opRequest, testRelease), "evicted at op 3 by the register of")
	wantErr(t, s.Commit(6, clientE, opRequest, testRelease), "it never registered")
	s.Commit(5, clientD, vsr.OperationRegister, testRelease) // evicts B (op 2), not C (op 3)
	if err := s.Eviction(noSession(clientA)); err != nil {
		t.Fatalf("A was evicted at op 3: %v", err)
	}
	if err := s.Eviction(noSession(clientB)); err != nil {
		t.Fatalf("B was evicted at op 5: %v", err)
	}
	wantErr(t, s.Eviction(noSession(clientC)), "holds its session")
}

func TestSessionsJudgeSessionTooLow(t *testing.T) {
	s := NewSessions(4, testReleaseMin, testRelease)
	s.Commit(1, clientA, vsr.OperationRegister, testRelease)
	s.Commit(2, clientA, vsr.OperationRegister, testRelease) // a second register: a newer session
	e := Eviction{Client: clientA, Reason: vsr.EvictionSessionTooLow, Session: 1, Request: 1, Operation: opRequest}
	// get finds the first entry, as the replica's does: session 1.
	wantErr(t, s.Eviction(e), "the request's session 1 is the committed one")
	s = NewSessions(1, testReleaseMin, testRelease)
	s.Commit(1, clientA, vsr.OperationRegister, testRelease)
	s.Commit(2, clientA, vsr.OperationRegister, testRelease) // full: the first entry goes
	if err := s.Eviction(e); err != nil {
		t.Fatalf("session 2 is newer than the request's session 1: %v", err)
	}
	e.Client = clientB
	wantErr(t, s.Eviction(e), "holds no session for it at all")
}

func TestSessionsJudgeInvalidRequests(t *testing.T) {
	s := NewSessions(4, testReleaseMin, testRelease)
	s.Commit(1, clientA, vsr.OperationRegister, testRelease)
	e := Eviction{Client: clientA, Reason: vsr.EvictionInvalidRequestBody, Session: 1, Request: 1, Operation: opRequest}
	wantErr(t, s.Eviction(e), "with invalid_request_body (request 1, operation 128), but the request is valid")
	e.Invalid = vsr.EvictionInvalidRequestBodySize
	wantErr(t, s.Eviction(e), "but the request is invalid as invalid_request_body_size")
	e.Invalid = vsr.EvictionInvalidRequestBody
	if err := s.Eviction(e); err != nil {
		t.Fatalf("an invalid body evicted for its invalid body: %v", err)
	}
	e.Reason, e.Invalid = vsr.EvictionSessionTooLow+100, 0
	wantErr(t, s.Eviction(e), "a reason this cluster")
}

// Release evictions are judged by the release the client sent: below the
// minimum, above the cluster's, or not its session's.
func TestSessionsJudgeReleases(t *testing.T) {
	s := NewSessions(4, testReleaseMin, testRelease)
	s.Commit(1, clientA, vsr.OperationRegister, testRelease)
	e := Eviction{Client: clientA, Session: 1, Request: 2, Operation: opRequest, SessionRelease: testRelease}
	for _, c := range []struct {
		reason  vsr.EvictionReason
		release uint32
		want    string
	}{
		{vsr.EvictionReleaseTooLow, testReleaseMin - 1, ""},
		{vsr.EvictionReleaseTooLow, testReleaseMin, "is not below the minimum 0.16.4"},
		{vsr.EvictionReleaseTooHigh, testRelease + 1, ""},
		{vsr.EvictionReleaseTooHigh, testRelease, "is not above the cluster's 0.17.9"},
		{vsr.EvictionSessionReleaseMismatch, testRelease - 1, ""},
		{vsr.EvictionSessionReleaseMismatch, testRelease, "is its session's"},
	} {
		e.Reason, e.Release = c.reason, c.release
		err := s.Eviction(e)
		if c.want == "" && err != nil {
			t.Fatalf("%v of release %s: %v", c.reason, vsr.ReleaseString(c.release), err)
		} else if c.want != "" {
			wantErr(t, err, c.want)
		}
	}
	// Nothing of a release not served may commit.
	wantErr(t, s.Commit(2, clientA, opRequest, testRelease+1), "outside the releases served")
	wantErr(t, s.Commit(3, clientA, opRequest, testRelease-1), "its session's is 0.17.9")
}

func registerIf(request uint32) vsr.Operation {
	if request == 0 {
		return vsr.OperationRegister
	}
	return opRequest
}

// The releases the model's cluster serves in these tests: TigerBeetle 0.17's.
const (
	testReleaseMin = vsr.ReleaseClientMinProduction
	testRelease    = vsr.ReleaseProduction
)
