package ledger

import (
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// Machine adapts a Ledger to the replica's StateMachine interface.
type Machine struct {
	L *Ledger
}

// NewMachine returns a ledger state machine whose batches fit messages of
// messageSizeMax bytes.
func NewMachine(messageSizeMax int, bugs Bugs) *Machine {
	return &Machine{L: New(Config{BatchMax: BatchMaxFor(messageSizeMax, vsr.HeaderSize), Bugs: bugs})}
}

func (m *Machine) Check(op vsr.Operation, body []byte) vsr.EvictionReason {
	switch m.L.Validate(uint8(op), body) {
	case Valid:
		return 0
	case InvalidOperation:
		return vsr.EvictionInvalidRequestOperation
	case InvalidTooManyEvents:
		return vsr.EvictionInvalidRequestBodySize
	default:
		return vsr.EvictionInvalidRequestBody
	}
}

func (m *Machine) EventCount(op vsr.Operation, body []byte) uint64 {
	return m.L.EventCount(uint8(op), body)
}

func (m *Machine) Pulse(timestamp uint64) (vsr.Operation, bool) {
	return vsr.Operation(OpPulse), m.L.PulseDue(timestamp)
}

// Commit executes the op and hands the caller its own copy of the reply: the
// replica caches replies in client sessions, while the ledger reuses its
// reply buffer on the next op.
func (m *Machine) Commit(_ u128.U128, _, timestamp uint64, op vsr.Operation, body []byte) []byte {
	reply := m.L.Execute(uint8(op), timestamp, body)
	return append([]byte(nil), reply...)
}

func (m *Machine) Checksum() u128.U128 { return m.L.Checksum() }

// Snapshot encodes the ledger's whole state for a checkpoint.
func (m *Machine) Snapshot() []byte { return m.L.Snapshot() }

// Restore replaces the ledger with the one snapshot holds, keeping the
// configuration; on error the current ledger stays.
func (m *Machine) Restore(snapshot []byte) error {
	l, err := Restore(m.L.cfg, snapshot)
	if err != nil {
		return err
	}
	m.L = l
	return nil
}
