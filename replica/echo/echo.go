// Package echo is a minimal deterministic state machine for exercising the
// replication protocol before the ledger: its state is a hash chain over
// every committed operation, so any divergence in order, content or timestamp
// between replicas shows up in the state checksum.
package echo

import (
	"encoding/binary"

	"viewstamp/replica/checksum"
	"viewstamp/replica/storage/snapshot"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// Operation is the one operation echo accepts.
const Operation = vsr.OperationStateMachineMin

// BodyMax bounds request bodies.
const BodyMax = 1024

// ReplySize is the size of every reply body: the op and the state after it.
const ReplySize = 24

// Machine is the echo state machine.
type Machine struct {
	// The state, with its checkpoints.
	snapshot.Hash
	vsr.InMemory
	buf []byte
}

func (m *Machine) Check(op vsr.Operation, body []byte) vsr.EvictionReason {
	if op != Operation {
		return vsr.EvictionInvalidRequestOperation
	}
	if len(body) > BodyMax {
		return vsr.EvictionInvalidRequestBodySize
	}
	return 0
}

// Pulse: echo has nothing to do on its own.
func (m *Machine) Pulse(uint64) (vsr.Operation, bool) { return 0, false }

// EventCount gives each 8 bytes of body its own timestamp, so batches of
// different sizes consume timestamps as the ledger's batches will.
func (m *Machine) EventCount(_ vsr.Operation, body []byte) uint64 { return uint64(len(body) / 8) }

func (m *Machine) Commit(client u128.U128, op, timestamp uint64, _ vsr.Operation, body []byte) []byte {
	m.buf = m.buf[:0]
	m.buf = binary.LittleEndian.AppendUint64(m.buf, m.State.Lo)
	m.buf = binary.LittleEndian.AppendUint64(m.buf, m.State.Hi)
	m.buf = binary.LittleEndian.AppendUint64(m.buf, client.Lo)
	m.buf = binary.LittleEndian.AppendUint64(m.buf, client.Hi)
	m.buf = binary.LittleEndian.AppendUint64(m.buf, op)
	m.buf = binary.LittleEndian.AppendUint64(m.buf, timestamp)
	m.buf = append(m.buf, body...)
	m.State = checksum.Sum(m.buf)
	return Reply(op, m.State)
}

// Reply encodes what a reply to op must contain.
func Reply(op uint64, state u128.U128) []byte {
	r := make([]byte, ReplySize)
	binary.LittleEndian.PutUint64(r, op)
	state.Put(r[8:])
	return r
}

func (m *Machine) Checksum() u128.U128 { return m.State }

var _ vsr.StateMachine = (*Machine)(nil)
