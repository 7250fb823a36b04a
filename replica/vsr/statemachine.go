package vsr

import "viewstamp/replica/u128"

// StateMachine is the replicated service. Every replica runs the same
// operations in the same order with the same timestamps, so every method must
// be deterministic. Commit must not do IO; when the storage engine arrives it
// will supply objects through a separate prefetch step.
type StateMachine interface {
	// Valid reports whether a request body for operation is acceptable;
	// invalid requests are rejected before they are prepared.
	Valid(operation Operation, body []byte) bool
	// EventCount is how many timestamps the batch consumes (at least 1).
	EventCount(operation Operation, body []byte) uint64
	// Commit applies a committed operation. timestamp is the batch's highest;
	// its events own timestamp-EventCount+1 .. timestamp. It returns the reply body.
	Commit(client u128.U128, op, timestamp uint64, operation Operation, body []byte) []byte
	// Checksum summarizes the whole state, for checkers comparing replicas.
	Checksum() u128.U128
}

// Observer hears about what a replica does, for checkers and logs. The
// replica calls it synchronously; it must not call back into the replica.
type Observer interface {
	Committed(replica uint8, h *Header, reply []byte, state u128.U128)
	StatusChanged(replica uint8, status Status, view uint32)
	Logf(replica uint8, format string, args ...any)
}

type nopObserver struct{}

func (nopObserver) Committed(uint8, *Header, []byte, u128.U128) {}
func (nopObserver) StatusChanged(uint8, Status, uint32)         {}
func (nopObserver) Logf(uint8, string, ...any)                  {}
