package ledger

import (
	"viewstamp/replica/storage"
	"viewstamp/replica/storage/grid"
	"viewstamp/replica/storage/snapshot"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// Machine adapts a Ledger to the replica's StateMachine interface.
type Machine struct {
	// The ledger is held whole in memory: nothing to prefetch or compact.
	vsr.InMemory
	L *Ledger
	// batches runs each request's batches.
	batches batchRunner
	// checkpoints writes the ledger whole at each checkpoint, until the
	// ledger lives in the LSM forest.
	checkpoints snapshot.Keeper
}

// NewMachine returns a ledger state machine whose batches fit messages of
// messageSizeMax bytes.
func NewMachine(messageSizeMax int, bugs Bugs) *Machine {
	return &Machine{L: New(Config{BatchMax: BatchMaxFor(messageSizeMax, vsr.HeaderSize), Bugs: bugs})}
}

func (m *Machine) Check(op vsr.Operation, body []byte) vsr.EvictionReason {
	return checkReason(m.L.ValidateBody(uint8(op), body))
}

// checkReason is the eviction for an invalid request body.
func checkReason(v Invalid) vsr.EvictionReason {
	switch v {
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
	return BodyEventCount(uint8(op), body)
}

func (m *Machine) Pulse(timestamp uint64) (vsr.Operation, bool) {
	return vsr.Operation(OpPulse), m.L.PulseDue(timestamp)
}

// Commit executes the op's batches and hands the caller its own copy of the
// reply: the replica caches replies in client sessions, while the machine
// reuses its reply buffer on the next op.
func (m *Machine) Commit(_ u128.U128, _, timestamp uint64, op vsr.Operation, body []byte) []byte {
	reply := m.batches.execute(m.L, uint8(op), timestamp, body, nil)
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

// MarkCheckpoint captures the state as of the op just committed for the next
// checkpoint.
func (m *Machine) MarkCheckpoint() { m.checkpoints.Capture(m.L.Snapshot()) }

// Checkpoint writes the captured state into the grid.
func (m *Machine) Checkpoint(g *grid.Grid, cs *storage.CheckpointState, done func()) {
	m.checkpoints.Checkpoint(g, cs, done)
}

// Open restores the ledger a checkpoint holds; the formatted state is the
// empty ledger the machine starts with.
func (m *Machine) Open(g *grid.Grid, cs *storage.CheckpointState, done func(ok bool)) {
	m.checkpoints.Open(g, cs, func(state []byte, ok bool) {
		if ok && state != nil {
			ok = m.Restore(state) == nil
		}
		done(ok)
	})
}
