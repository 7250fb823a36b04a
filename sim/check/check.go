// Package check holds the simulator's invariant checkers. They see every
// commit and every client reply as it happens and fail the run at the first
// violation, naming what diverged.
package check

import (
	"fmt"

	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// Committed is one entry of the cluster's single commit history.
type Committed struct {
	Checksum  u128.U128 // of the prepare header
	Parent    u128.U128
	State     u128.U128 // state machine checksum after executing it
	Client    u128.U128
	Request   uint32
	Operation vsr.Operation
	Reply     []byte
}

// State is the state checker: one global, hash-chained commit history. Every
// replica must commit exactly this history, op by op, and reach the same state
// checksum after each op; a replica that restarts replays it from op 1 and must
// commit the same prepares again, so a committed op lost or rolled back shows
// up as a divergence.
type State struct {
	history []Committed // ops base and up (see window.go)
	base    uint64
	window  window
	next    []uint64 // per replica: the op it must commit next
	// replyDropped has a bit per op whose reply body a client accepted,
	// after which the history keeps only its checksums.
	replyDropped []uint64
}

// NewState starts a history holding only the root prepare at op 0.
func NewState(replicas int, root u128.U128) *State {
	s := &State{history: []Committed{{Checksum: root}}, next: make([]uint64, replicas),
		window: window{floor: make([]uint64, replicas)}}
	for i := range s.next {
		s.next[i] = 1
	}
	return s
}

// CommitMax is the highest op committed by any replica.
func (s *State) CommitMax() uint64 { return s.base + uint64(len(s.history)) - 1 }

// At returns the committed entry at op. Below the window only the entries
// whose reply a client has still to accept are kept (see window.go).
func (s *State) At(op uint64) (Committed, bool) {
	if op > s.CommitMax() {
		return Committed{}, false
	}
	if op < s.base {
		c, ok := s.window.unreplied[op]
		return c, ok
	}
	return s.history[op-s.base], true
}

// Restarted tells the checker a replica lost its memory and will replay.
func (s *State) Restarted(replica int) { s.next[replica] = 1 }

// Opened tells the checker a starting replica resumes from its checkpoint at
// op with the given state: it replays from op+1, and that state must be the
// one the history reached at op (op 0: the formatted, empty state).
func (s *State) Opened(replica int, op uint64, state u128.U128) error {
	s.next[replica] = op + 1
	s.window.checkpointed(replica, op)
	if op == 0 {
		return nil
	}
	c, ok := s.At(op)
	switch {
	case op < s.base:
		return fmt.Errorf("replica %d opened a checkpoint at op %d, more than %d ops older than every replica's newest checkpoint (the history is kept from op %d)",
			replica, op, s.window.keep, s.base)
	case !ok:
		return fmt.Errorf("replica %d opened a checkpoint at op %d, beyond the committed history (op %d)", replica, op, s.CommitMax())
	case c.State != state:
		return fmt.Errorf("replica %d opened its checkpoint at op %d with state %v, but the history reached %v there", replica, op, state, c.State)
	}
	return nil
}

// Commit checks one replica executing one op.
func (s *State) Commit(replica int, h *vsr.Header, reply []byte, state u128.U128) error {
	op := h.Op
	if op != s.next[replica] {
		return fmt.Errorf("replica %d committed op %d out of order (expected op %d)", replica, op, s.next[replica])
	}
	s.next[replica]++
	if op < s.base {
		return fmt.Errorf("replica %d executed op %d, more than %d ops older than every replica's newest checkpoint (the history is kept from op %d)",
			replica, op, s.window.keep, s.base)
	}
	if op <= s.CommitMax() {
		c := &s.history[op-s.base]
		if c.Checksum != h.Checksum {
			// The commit heartbeat names the committed prepare by checksum; a
			// replica holding another prepare at that op must repair, not
			// execute what it has.
			return fmt.Errorf("replica %d executed op %d as prepare %v (prepared in view %d), but op %d was committed as prepare %v: it executed a different prepare than the one committed at that op",
				replica, op, h.Checksum, h.View, op, c.Checksum)
		}
		if c.State != state {
			return fmt.Errorf("replica %d: state after op %d is %v, others reached %v", replica, op, state, c.State)
		}
		return nil
	}
	if parent := s.history[op-1-s.base].Checksum; h.Parent != parent {
		return fmt.Errorf("replica %d committed op %d whose parent %v is not the committed op %d %v", replica, op, h.Parent, op-1, parent)
	}
	if len(s.replyDropped) <= int(op/64) {
		s.replyDropped = append(s.replyDropped, 0)
	}
	s.history = append(s.history, Committed{
		Checksum: h.Checksum, Parent: h.Parent, State: state, Client: h.Client,
		Request: h.Request, Operation: h.Operation, Reply: append([]byte(nil), reply...),
	})
	s.trim()
	return nil
}

// Replies is the client reply checker: each client gets exactly one reply per
// request number, in order, and each reply is for an op that was committed
// for that very request, carrying the body that op produced.
type Replies struct {
	state   *State
	last    map[u128.U128]int64  // client → last request number replied (-1: none)
	session map[u128.U128]uint64 // client → op of its register's reply
}

func NewReplies(s *State) *Replies {
	return &Replies{state: s, last: map[u128.U128]int64{}, session: map[u128.U128]uint64{}}
}

// Session is the session number a client holds: the op its register's reply
// named, zero before that.
func (r *Replies) Session(client u128.U128) uint64 { return r.session[client] }

// Reply checks one reply a client accepted.
func (r *Replies) Reply(client u128.U128, request uint32, op uint64, operation vsr.Operation, body []byte) error {
	last, ok := r.last[client]
	if !ok {
		last = -1
	}
	want := last + 1
	if operation == vsr.OperationRegister {
		want = 0
	}
	if int64(request) != want {
		return fmt.Errorf("client %v got a reply for request %d, expected request %d", client, request, want)
	}
	r.last[client] = int64(request)
	c, ok := r.state.At(op)
	if !ok {
		return fmt.Errorf("client %v request %d: reply for op %d, which no replica has committed", client, request, op)
	}
	if c.Client != client || c.Request != request || c.Operation != operation {
		return fmt.Errorf("client %v request %d: reply names op %d, committed for client %v request %d", client, request, op, c.Client, c.Request)
	}
	if r.state.replyDropped[op/64]&(1<<(op%64)) != 0 {
		panic(fmt.Sprintf("check: client %v request %d: the reply body of op %d was dropped when it was accepted before", client, request, op))
	}
	if string(c.Reply) != string(body) {
		return fmt.Errorf("client %v request %d: reply body for op %d differs from what the op produced", client, request, op)
	}
	if operation == vsr.OperationRegister {
		r.session[client] = op
	}
	// Accepted once, never again (a later reply for this request fails the
	// request number check first), so the body need not be kept: the
	// history's memory is a few checksums per op, not every reply.
	r.state.dropReply(op)
	r.state.replyDropped[op/64] |= 1 << (op % 64)
	return nil
}
