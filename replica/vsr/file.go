package vsr

import (
	"errors"
	"fmt"

	"viewstamp/replica/u128"
)

// Reading a data file from outside a running replica: the production CLI
// learns a file's cluster, replica index and cluster size from its
// superblock before it can build the Config that opens it, and `inspect`
// reports a file without starting a replica on it.

// SuperblockCopy is one decoded copy of a data file's superblock.
type SuperblockCopy struct {
	Copy         uint8
	Cluster      u128.U128
	ReplicaCount uint8
	State        VSRState
}

// ErrSuperblockCopy is returned for a copy that does not check out.
var ErrSuperblockCopy = errors.New("superblock copy is not valid")

// DecodeSuperblockCopy decodes b, one copy of Layout().SuperblockCopySize
// bytes, taking the cluster and replica count from the copy itself (the
// checksum covers both); cfg supplies only the sizes, whatever its
// ReplicaCount.
func DecodeSuperblockCopy(b []byte, cfg Config) (SuperblockCopy, error) {
	if uint64(len(b)) != cfg.Layout().SuperblockCopySize {
		return SuperblockCopy{}, fmt.Errorf("%w: %d bytes, want %d", ErrSuperblockCopy, len(b), cfg.Layout().SuperblockCopySize)
	}
	cluster := u128.Get(b[sbCluster:])
	cfg.ReplicaCount = b[sbReplicaCount]
	s, ok := decodeSuperblock(b, cfg, cluster)
	if !ok {
		return SuperblockCopy{}, ErrSuperblockCopy
	}
	return SuperblockCopy{Copy: b[sbCopy], Cluster: cluster, ReplicaCount: cfg.ReplicaCount, State: s}, nil
}

// Session is one client session as the replica holds it.
type Session struct {
	Client  u128.U128
	Session uint64 // op of the register that opened it
	Request uint32 // last committed request number
	LastOp  uint64 // op of its last reply
}

// Sessions calls fn with every client session, in slot order.
func (r *Replica) Sessions(fn func(Session)) {
	for i := range r.sessions.slots {
		if s := &r.sessions.slots[i]; s.used {
			fn(Session{Client: s.client, Session: s.session, Request: s.request, LastOp: s.lastOp})
		}
	}
}
