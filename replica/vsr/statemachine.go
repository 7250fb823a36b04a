package vsr

import (
	"viewstamp/replica/storage"
	"viewstamp/replica/storage/grid"
	"viewstamp/replica/u128"
)

// StateMachine is the replicated service. Every replica runs the same
// operations in the same order with the same timestamps, so every method must
// be deterministic. Commit must not do IO: the objects an op reads are loaded
// before it by Prefetch, and its share of the storage engine's background work
// runs after it in Compact. A committing op goes Prefetch, Commit, Compact, and
// the next op's Prefetch starts only once Compact is done.
type StateMachine interface {
	// Check returns zero if a request is acceptable, else the reason to
	// evict the client that sent it: invalid requests are refused before
	// they are prepared, so nothing a client sends can fail a commit.
	Check(operation Operation, body []byte) EvictionReason
	// EventCount is how many timestamps the batch consumes besides the op's
	// own: each event of a batch gets a distinct timestamp.
	EventCount(operation Operation, body []byte) uint64
	// Pulse asks whether the state machine needs an operation of its own at
	// timestamp (the ledger expires pending transfers this way), and which.
	// The primary asks; it must not change state.
	Pulse(timestamp uint64) (Operation, bool)
	// Prefetch loads what Commit of the op will read and calls done once
	// Commit may run. It is called for state machine operations only, one
	// op at a time in op order; done may be called before Prefetch returns.
	Prefetch(op, timestamp uint64, operation Operation, body []byte, done func())
	// Commit applies a committed operation. timestamp is the batch's highest;
	// its events own timestamp-EventCount+1 .. timestamp. It returns the reply
	// body, which the caller owns. client is zero for the state machine's own
	// operations (pulses).
	Commit(client u128.U128, op, timestamp uint64, operation Operation, body []byte) []byte
	// Checksum summarizes the whole state, for checkers comparing replicas.
	Checksum() u128.U128
	// Compact does op's share of compaction once op has executed, for
	// every op (the protocol's own, such as register, too), in op order, and
	// calls done once the next op may prefetch; done may be called before
	// Compact returns.
	Compact(op uint64, done func())

	// MarkCheckpoint marks the state as of the op just compacted, a bar's
	// last, as the next checkpoint's. Checkpoint, called once the next bar's
	// last op is compacted and before any later Prefetch, writes that state:
	// the commits between must not change what it writes. (A forest's
	// tables at that point hold exactly the marked state; a state machine
	// held in memory copies itself here.)
	MarkCheckpoint()
	// Checkpoint writes the state MarkCheckpoint marked into g, fills in its part
	// of cs, and calls done once all of it is durable. It acquires every
	// block it writes before it returns: the free set is encoded next.
	Checkpoint(g *grid.Grid, cs *storage.CheckpointState, done func())
	// Open restores the state checkpoint cs holds (the empty state of a
	// formatted file when cs is zero) and calls done; ok is false if a
	// block of it cannot be read.
	Open(g *grid.Grid, cs *storage.CheckpointState, done func(ok bool))
	// Fetch reads every grid block the state opened last references, and
	// calls done once all were read: a replica that state-synced to a
	// checkpoint holds none of its blocks but those it read, and the grid
	// repairs each block it lacks from peers as it is read. Called after
	// such an Open only, before any commit, so the replica holds the whole
	// checkpoint before it writes one of its own.
	Fetch(done func())
}

// Observer hears about what a replica does, for checkers and logs. The
// replica calls it synchronously; it must not call back into the replica.
type Observer interface {
	Committed(replica uint8, h *Header, body, reply []byte, state u128.U128)
	StatusChanged(replica uint8, status Status, view uint32)
	// Opened: a replica resumes from checkpoint op with the state machine's
	// state checksum there, and replays from op+1: at a start, or after a
	// state sync (synced) to a peer's newer checkpoint.
	Opened(replica uint8, op uint64, state u128.U128, synced bool)
	// Checkpointed: the replica's checkpoint at op is durable in its
	// superblock. Every replica checkpointing op must name the same id.
	Checkpointed(replica uint8, op uint64, id u128.U128)
	// HeaderDropped: the header with checksum left the replica's log at op,
	// replaced by another header for the same op or removed, while the
	// replica was running (not while recovery rebuilds the log), for the log
	// of view: the view being installed or led. A committed op's header
	// never leaves a log this way: a replica may forget only what no quorum
	// has committed, and only for a view's log newer than any in which it
	// acknowledged that prepare.
	HeaderDropped(replica uint8, op uint64, checksum u128.U128, view uint32)
	// OwnJoinView: the primary of a view changing to it counts its own
	// join_view (the sealed message), which it sends to nobody; every
	// other join_view is a message on the network.
	OwnJoinView(replica uint8, b []byte)
	Logf(replica uint8, format string, args ...any)
}

type nopObserver struct{}

func (nopObserver) Committed(uint8, *Header, []byte, []byte, u128.U128) {}
func (nopObserver) StatusChanged(uint8, Status, uint32)                 {}
func (nopObserver) HeaderDropped(uint8, uint64, u128.U128, uint32)      {}
func (nopObserver) OwnJoinView(uint8, []byte)                           {}
func (nopObserver) Opened(uint8, uint64, u128.U128, bool)               {}
func (nopObserver) Checkpointed(uint8, uint64, u128.U128)               {}
func (nopObserver) Logf(uint8, string, ...any)                          {}

// InMemory gives a state machine held whole in memory the steps it has no use
// for: nothing to load before an op and nothing to compact after one. Embed
// it.
type InMemory struct{}

// Prefetch is done at once: every object is in memory.
func (InMemory) Prefetch(_, _ uint64, _ Operation, _ []byte, done func()) { done() }

// Compact is done at once: there are no tables.
func (InMemory) Compact(_ uint64, done func()) { done() }

// Fetch is done at once: Open read the whole state.
func (InMemory) Fetch(done func()) { done() }
