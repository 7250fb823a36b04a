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

// WALWrite checks a prepare a replica writes to its WAL at op against its
// durable checkpoint: one past prepareMax overwrites the slot of an op that
// checkpoint does not cover, which a restart from it needs. (A write at or
// below the checkpoint is harmless: such an op is never needed again, and its
// slot holds nothing newer while its header is still the slot's.)
func WALWrite(replica int, op, checkpoint, prepareMax uint64) error {
	if op > prepareMax {
		return fmt.Errorf("replica %d wrote op %d to its WAL, past prepare_max %d of its durable checkpoint %d: the slot held an op a restart still needs", replica, op, prepareMax, checkpoint)
	}
	return nil
}
