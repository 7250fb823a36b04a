package check

import (
	"fmt"

	"viewstamp/replica/u128"
)

// Checkpoints is the storage checker: every replica that checkpoints op N
// must name the same checkpoint id (the checksum of its checkpoint state: the
// checkpointed prepare, the references to the free set, client sessions,
// state and manifest, the storage size), hold the same grid blocks byte for
// byte, and keep the same client replies in its replies zone. Grids are
// filled deterministically, so a replica whose bytes differ has diverged in
// what it stores even if it executed the same ops and names the same id: a
// block it never fetched after a state sync, a buffer not cleared, a write
// that landed elsewhere.
type Checkpoints struct {
	ids   map[uint64]Stored
	first map[uint64]int
	// blocks keeps, for the newest checkpoint ops only, the first
	// replica's digest of each block, so a mismatch names the block.
	blocks map[uint64][]BlockDigest
	kept   []uint64 // the ops blocks holds, oldest first
}

// Stored is what a replica holds at a checkpoint, as digests.
type Stored struct {
	ID      u128.U128 // the checkpoint id
	Grid    u128.U128 // every referenced grid block: address and bytes
	Replies u128.U128 // every session's reply body in its slot
	// Blocks are the per-block digests behind Grid, in address order.
	Blocks []BlockDigest
}

// BlockDigest is one grid block's address and the digest of its bytes.
type BlockDigest struct {
	Address uint64
	Digest  u128.U128
}

// blocksKept bounds the checkpoint ops whose per-block digests are kept for
// diagnosis, so the checker's memory does not grow with the run.
const blocksKept = 4

func NewCheckpoints() *Checkpoints {
	return &Checkpoints{ids: map[uint64]Stored{}, first: map[uint64]int{}, blocks: map[uint64][]BlockDigest{}}
}

// Checkpointed judges what replica stores at its durable checkpoint op.
func (c *Checkpoints) Checkpointed(replica int, op uint64, got Stored) error {
	want, ok := c.ids[op]
	if !ok {
		c.ids[op], c.first[op] = Stored{ID: got.ID, Grid: got.Grid, Replies: got.Replies}, replica
		c.keepBlocks(op, got.Blocks)
		return nil
	}
	first := c.first[op]
	switch {
	case want.ID != got.ID:
		return fmt.Errorf("replica %d checkpointed op %d as %v, but replica %d checkpointed it as %v", replica, op, got.ID, first, want.ID)
	case want.Grid != got.Grid:
		return fmt.Errorf("replica %d checkpointed op %d with grid blocks unlike replica %d's%s", replica, op, first, diffBlocks(c.blocks[op], got.Blocks))
	case want.Replies != got.Replies:
		return fmt.Errorf("replica %d checkpointed op %d with client replies unlike replica %d's", replica, op, first)
	}
	return nil
}

func (c *Checkpoints) keepBlocks(op uint64, blocks []BlockDigest) {
	c.blocks[op] = blocks
	c.kept = append(c.kept, op)
	if len(c.kept) > blocksKept {
		delete(c.blocks, c.kept[0])
		c.kept = c.kept[1:]
	}
}

// diffBlocks names the first block in which two address-ordered lists differ,
// if the first list is still kept.
func diffBlocks(want, got []BlockDigest) string {
	if want == nil {
		return ""
	}
	for i := 0; i < len(want) || i < len(got); i++ {
		switch {
		case i >= len(got):
			return fmt.Sprintf(": it lacks block %d", want[i].Address)
		case i >= len(want):
			return fmt.Sprintf(": it has block %d in addition", got[i].Address)
		case want[i].Address != got[i].Address:
			return fmt.Sprintf(": block %d where the other has block %d", got[i].Address, want[i].Address)
		case want[i].Digest != got[i].Digest:
			return fmt.Sprintf(": block %d differs", got[i].Address)
		}
	}
	return ""
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
