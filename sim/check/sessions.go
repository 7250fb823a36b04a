package check

import (
	"fmt"

	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// Sessions is the eviction checker: a model of the replicas' client table,
// built only from the committed history, judges every eviction a client
// accepts. The table is replicated state, so at any op every replica's table
// equals the model's after that op; a primary may lag the history but never
// lead it, and a client's membership can only be regained by a register of
// its own, which our clients never send twice. So an eviction the model does
// not justify at the moment it arrives was never justified.
type Sessions struct {
	max int
	// The client releases the cluster serves, ReleaseClientMin to Release.
	releaseMin, releaseMax uint32
	entries                []sessionEntry // in the replica's order, so "oldest" ties break alike
	op                     uint64         // the last op applied
	// evictedBy remembers, per client, the register that evicted it, to name it.
	evictedBy map[u128.U128]sessionEviction
}

type sessionEntry struct {
	client  u128.U128
	release uint32 // the register's: every request of the session has it
	session uint64 // op of the register that opened it
	lastOp  uint64 // op of the last reply: a full table evicts the smallest
}

type sessionEviction struct {
	op     uint64
	by     u128.U128
	lastOp uint64
}

// NewSessions models a table of clientsMax sessions (vsr.Config.ClientsMax)
// of a cluster serving client releases releaseMin to releaseMax.
func NewSessions(clientsMax int, releaseMin, releaseMax uint32) *Sessions {
	return &Sessions{max: clientsMax, releaseMin: releaseMin, releaseMax: releaseMax, evictedBy: map[u128.U128]sessionEviction{}}
}

// Commit applies one op of the committed history, in op order, as the
// replica's execute does: a register opens a session (evicting the one with
// the oldest reply if the table is full); any other client op moves its
// session's last reply op.
//
// A client op whose session is gone by the time it commits is an error: the
// replica prepares a request only while its session is live and no register
// that could evict it is pending (vsr's sessionPending), so a request behind
// the register that evicts its session means the table was judged wrongly -
// for instance a table that evicts too late or not at all, which every
// replica would agree on. So is a client op of a release the cluster does
// not serve, or of another release than its session's: the primary evicts
// such a client instead.
func (s *Sessions) Commit(op uint64, client u128.U128, operation vsr.Operation, release uint32) error {
	s.op = op
	if client.IsZero() {
		return nil
	}
	if release < s.releaseMin || release > s.releaseMax {
		return fmt.Errorf("op %d: a %s of client %v committed with release %s, outside the releases served (%s to %s)",
			op, OperationName(operation), client, vsr.ReleaseString(release), vsr.ReleaseString(s.releaseMin), vsr.ReleaseString(s.releaseMax))
	}
	if operation == vsr.OperationRegister {
		if len(s.entries) >= s.max {
			oldest := 0
			for i := range s.entries {
				if s.entries[i].lastOp < s.entries[oldest].lastOp {
					oldest = i
				}
			}
			e := s.entries[oldest]
			s.evictedBy[e.client] = sessionEviction{op: op, by: client, lastOp: e.lastOp}
			s.entries = append(s.entries[:oldest], s.entries[oldest+1:]...)
		}
		s.entries = append(s.entries, sessionEntry{client: client, release: release, session: op, lastOp: op})
		return nil
	}
	e := s.get(client)
	if e == nil {
		return fmt.Errorf("op %d: a request of client %v committed, but the session table (clients_max %d) has no session for it (%s)", op, client, s.max, s.whyNoSession(client))
	}
	if release != e.release {
		return fmt.Errorf("op %d: a request of client %v committed with release %s, its session's is %s", op, client, vsr.ReleaseString(release), vsr.ReleaseString(e.release))
	}
	e.lastOp = op
	return nil
}

func (s *Sessions) get(client u128.U128) *sessionEntry {
	for i := range s.entries {
		if s.entries[i].client == client {
			return &s.entries[i]
		}
	}
	return nil
}

// Eviction is one eviction a client accepted, with what the checker needs to
// judge it.
type Eviction struct {
	Client  u128.U128
	Reason  vsr.EvictionReason
	Replica uint8  // the sender
	View    uint32 // the sender's view
	// Session is the client's session number (the op of its register's
	// reply), zero while it has none.
	Session uint64
	// Request, Operation: the request the client had in flight, or last sent.
	Request   uint32
	Operation vsr.Operation
	// Invalid is what validating that request gives (zero: valid), computed
	// by the harness with the state machine's own Check and the size limit.
	Invalid vsr.EvictionReason
	// Release is the release the client sends now; SessionRelease the one
	// it registered with.
	Release, SessionRelease uint32
}

// Eviction judges e against the model at the current end of the history.
func (s *Sessions) Eviction(e Eviction) error {
	where := fmt.Sprintf("replica %d (view %d) evicted client %v with %s (request %d, %s)",
		e.Replica, e.View, e.Client, e.Reason, e.Request, OperationName(e.Operation))
	entry := s.get(e.Client)
	switch e.Reason {
	case vsr.EvictionNoSession:
		if entry != nil {
			return fmt.Errorf("unjustified eviction: %s, but the committed history (to op %d) holds its session, opened at op %d, last reply op %d",
				where, s.op, entry.session, entry.lastOp)
		}
		return nil
	case vsr.EvictionSessionTooLow:
		if entry == nil {
			return fmt.Errorf("unjustified eviction: %s, but the committed history (to op %d) holds no session for it at all", where, s.op)
		}
		if entry.session <= e.Session {
			return fmt.Errorf("unjustified eviction: %s, but the request's session %d is the committed one (opened at op %d)",
				where, e.Session, entry.session)
		}
		return nil
	case vsr.EvictionReleaseTooLow:
		if e.Release >= s.releaseMin {
			return fmt.Errorf("unjustified eviction: %s, but release %s is not below the minimum %s", where, vsr.ReleaseString(e.Release), vsr.ReleaseString(s.releaseMin))
		}
		return nil
	case vsr.EvictionReleaseTooHigh:
		if e.Release <= s.releaseMax {
			return fmt.Errorf("unjustified eviction: %s, but release %s is not above the cluster's %s", where, vsr.ReleaseString(e.Release), vsr.ReleaseString(s.releaseMax))
		}
		return nil
	case vsr.EvictionSessionReleaseMismatch:
		if e.Release == e.SessionRelease || e.Session == 0 {
			return fmt.Errorf("unjustified eviction: %s, but release %s is its session's (session %d)", where, vsr.ReleaseString(e.Release), e.Session)
		}
		return nil
	case vsr.EvictionInvalidRequestOperation, vsr.EvictionInvalidRequestBody, vsr.EvictionInvalidRequestBodySize:
		if e.Invalid == e.Reason {
			return nil
		}
		if e.Invalid == 0 {
			return fmt.Errorf("unjustified eviction: %s, but the request is valid", where)
		}
		return fmt.Errorf("unjustified eviction: %s, but the request is invalid as %s", where, e.Invalid)
	}
	return fmt.Errorf("unjustified eviction: %s, a reason this cluster (one release, no upgrades) can never have", where)
}

// Live reports whether client holds a session in the table.
func (s *Sessions) Live(client u128.U128) bool { return s.get(client) != nil }

// EvictedBy describes why the model evicted client, for logs ("" if it did not).
func (s *Sessions) EvictedBy(client u128.U128) string {
	ev, ok := s.evictedBy[client]
	if !ok || s.get(client) != nil {
		return ""
	}
	return fmt.Sprintf("evicted at op %d by the register of %v (its last reply op %d was the oldest)", ev.op, ev.by, ev.lastOp)
}

func (s *Sessions) whyNoSession(client u128.U128) string {
	if why := s.EvictedBy(client); why != "" {
		return why
	}
	return "it never registered"
}

// OperationName names VSR's own operations and numbers the state machine's.
func OperationName(o vsr.Operation) string {
	switch o {
	case vsr.OperationRegister:
		return "register"
	case vsr.OperationNoop:
		return "noop"
	case vsr.OperationRoot:
		return "root"
	}
	return fmt.Sprintf("operation %d", uint8(o))
}
