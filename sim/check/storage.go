package check

import (
	"fmt"

	"viewstamp/replica/u128"
)

// Checkpoints is the storage checker's first half: every replica that
// checkpoints op N must name the same checkpoint id, the checksum of its
// checkpoint state (the checkpointed prepare, the references to the free
// set, client sessions, state and manifest, the storage size). Grids are
// filled deterministically, so a replica whose id differs has diverged in
// what it stores even if it executed the same ops.
type Checkpoints struct {
	ids   map[uint64]u128.U128
	first map[uint64]int
}

func NewCheckpoints() *Checkpoints {
	return &Checkpoints{ids: map[uint64]u128.U128{}, first: map[uint64]int{}}
}

// Checkpointed judges replica's durable checkpoint at op.
func (c *Checkpoints) Checkpointed(replica int, op uint64, id u128.U128) error {
	want, ok := c.ids[op]
	if !ok {
		c.ids[op], c.first[op] = id, replica
		return nil
	}
	if want != id {
		return fmt.Errorf("replica %d checkpointed op %d as %v, but replica %d checkpointed it as %v", replica, op, id, c.first[op], want)
	}
	return nil
}

// Count is how many distinct checkpoint ops the cluster reached.
func (c *Checkpoints) Count() int { return len(c.ids) }
