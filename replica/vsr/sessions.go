package vsr

import "viewstamp/replica/u128"

// session is one client's entry in the client table: replicated state, built
// only by committing register and request prepares, so identical everywhere.
type session struct {
	client    u128.U128
	session   uint64 // op of the register that opened it
	request   uint32 // last committed request number
	requestCS u128.U128
	reply     Message // cached reply to resend on duplicates
	lastOp    uint64  // op of the last reply: eviction picks the smallest
}

// sessions is a small slice: clients_max is tens, and a slice keeps iteration
// order fixed without sorting.
type sessions struct {
	max     int
	entries []session
}

func (s *sessions) get(client u128.U128) *session {
	for i := range s.entries {
		if s.entries[i].client == client {
			return &s.entries[i]
		}
	}
	return nil
}

// open registers client at op, evicting the session with the oldest reply if
// the table is full. It returns the evicted client, if any.
func (s *sessions) open(client u128.U128, op uint64) (evicted u128.U128, did bool) {
	if len(s.entries) >= s.max {
		oldest := 0
		for i := range s.entries {
			if s.entries[i].lastOp < s.entries[oldest].lastOp {
				oldest = i
			}
		}
		evicted, did = s.entries[oldest].client, true
		s.entries = append(s.entries[:oldest], s.entries[oldest+1:]...)
	}
	s.entries = append(s.entries, session{client: client, session: op, lastOp: op})
	return evicted, did
}
