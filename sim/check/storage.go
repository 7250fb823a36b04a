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
//
// A reply slot a replica declares missing (it synced to a checkpoint naming
// a reply it never executed, and fetches the body from a peer) is not
// compared: the replica knows its slot is stale. Every slot it claims to
// hold must match.
type Checkpoints struct {
	ids   map[uint64]Stored
	first map[uint64]int
	// blocks keeps, for the newest checkpoint ops only, the first
	// replica's digest of each block, so a mismatch names the block.
	blocks     map[uint64][]Digest
	blocksKept []uint64 // the ops blocks holds, oldest first
	// spare are block lists no longer kept, for BlocksBuffer: a list is
	// as long as the forest, and one is made at every checkpoint.
	spare [][]Digest
	// slots keeps, for the newest checkpoint ops, the digest of every
	// reply slot some replica held at that op.
	slots     map[uint64][]Digest
	slotsKept []uint64
}

// Stored is what a replica holds at a checkpoint, as digests.
type Stored struct {
	ID   u128.U128 // the checkpoint id
	Grid u128.U128 // every referenced grid block: address and bytes
	// Blocks are the per-block digests behind Grid, in address order.
	Blocks []Digest
	// Slots are the client reply slots its sessions name, in slot order
	// (Address is the slot).
	Slots []Digest
}

// Digest is one grid block's (or reply slot's) address and the digest of its
// bytes; Missing marks a reply slot its replica knows it lacks.
type Digest struct {
	Address uint64
	Digest  u128.U128
	Missing bool
}

const (
	// blocksKept bounds the checkpoint ops whose per-block digests are
	// kept for diagnosis, so the checker's memory does not grow with the
	// run.
	blocksKept = 4
	// slotsKept bounds the checkpoint ops whose reply slots are kept for
	// comparison: a replica checkpointing an op older than that (after
	// more than this many checkpoints of lag) has its grid compared, not
	// its replies.
	slotsKept = 64
)

func NewCheckpoints() *Checkpoints {
	return &Checkpoints{ids: map[uint64]Stored{}, first: map[uint64]int{},
		blocks: map[uint64][]Digest{}, slots: map[uint64][]Digest{}}
}

// spareKept bounds the spare block lists: a checkpoint needs one at a time.
const spareKept = 2

// BlocksBuffer returns an empty list to build a Stored's Blocks in, reusing
// the memory of one Checkpointed no longer keeps.
func (c *Checkpoints) BlocksBuffer() []Digest {
	n := len(c.spare)
	if n == 0 {
		return nil
	}
	b := c.spare[n-1]
	c.spare = c.spare[:n-1]
	return b[:0]
}

func (c *Checkpoints) recycle(b []Digest) {
	if len(c.spare) < spareKept && cap(b) > 0 {
		c.spare = append(c.spare, b)
	}
}

// Checkpointed judges what replica stores at its durable checkpoint op. It
// keeps got.Blocks only for the first replica at op; the others' lists are
// given back to BlocksBuffer, so got.Blocks is not the caller's any more.
func (c *Checkpoints) Checkpointed(replica int, op uint64, got Stored) error {
	want, ok := c.ids[op]
	if !ok {
		c.ids[op], c.first[op] = Stored{ID: got.ID, Grid: got.Grid}, replica
		c.blocks[op] = got.Blocks
		for len(c.blocksKept) >= blocksKept {
			c.recycle(c.blocks[c.blocksKept[0]])
			c.blocksKept = keepNewest(c.blocks, c.blocksKept, len(c.blocksKept)-1)
		}
		c.blocksKept = append(c.blocksKept, op)
		c.slots[op] = append([]Digest(nil), got.Slots...)
		c.slotsKept = keepNewest(c.slots, append(c.slotsKept, op), slotsKept)
		return nil
	}
	defer c.recycle(got.Blocks)
	first := c.first[op]
	switch {
	case want.ID != got.ID:
		return fmt.Errorf("replica %d checkpointed op %d as %v, but replica %d checkpointed it as %v", replica, op, got.ID, first, want.ID)
	case want.Grid != got.Grid:
		return fmt.Errorf("replica %d checkpointed op %d with grid blocks unlike replica %d's%s", replica, op, first, diffDigests("block", c.blocks[op], got.Blocks))
	}
	if ref, ok := c.slots[op]; ok {
		merged, err := mergeSlots(ref, got.Slots)
		if err != nil {
			return fmt.Errorf("replica %d checkpointed op %d with client replies unlike the cluster's: %v", replica, op, err)
		}
		c.slots[op] = merged
	}
	return nil
}

// keepNewest drops the oldest ops of kept past limit from m.
func keepNewest(m map[uint64][]Digest, kept []uint64, limit int) []uint64 {
	for len(kept) > limit {
		delete(m, kept[0])
		kept = kept[1:]
	}
	return kept
}

// mergeSlots compares a replica's reply slots with those seen so far at the
// same checkpoint: both name the same slots, and a slot both hold has the
// same bytes. A slot seen only as missing so far takes the first held copy.
func mergeSlots(ref, got []Digest) ([]Digest, error) {
	if len(ref) != len(got) {
		return nil, fmt.Errorf("%d reply slots, the cluster has %d", len(got), len(ref))
	}
	for i := range ref {
		r, g := &ref[i], got[i]
		switch {
		case r.Address != g.Address:
			return nil, fmt.Errorf("reply slot %d where the cluster has reply slot %d", g.Address, r.Address)
		case g.Missing:
		case r.Missing:
			*r = g
		case r.Digest != g.Digest:
			return nil, fmt.Errorf("reply slot %d differs", g.Address)
		}
	}
	return ref, nil
}

// diffDigests names the first block in which two address-ordered lists
// differ, if the first list is still kept.
func diffDigests(what string, want, got []Digest) string {
	if want == nil {
		return ""
	}
	for i := 0; i < len(want) || i < len(got); i++ {
		switch {
		case i >= len(got):
			return fmt.Sprintf(": it lacks %s %d", what, want[i].Address)
		case i >= len(want):
			return fmt.Sprintf(": it has %s %d in addition", what, got[i].Address)
		case want[i].Address != got[i].Address:
			return fmt.Sprintf(": %s %d where the other has %s %d", what, got[i].Address, what, want[i].Address)
		case want[i].Digest != got[i].Digest:
			return fmt.Sprintf(": %s %d differs", what, got[i].Address)
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
