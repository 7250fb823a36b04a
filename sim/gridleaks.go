package sim

import (
	"slices"

	rio "viewstamp/replica/io"
	"viewstamp/replica/storage"
	"viewstamp/replica/storage/block"
	"viewstamp/replica/storage/lsm"
	"viewstamp/sim/check"
)

// checkGridLeaks runs the block leak checker on replica i, which has just
// made a checkpoint durable: its free set and its forest have not changed
// since the checkpoint's data was written (commits wait for the superblock).
// What the checkpoint reaches is walked from the superblock's references and
// the forest's tables, reading blocks by peeking at the disks, so the check
// issues no IO and draws nothing: a run is the same with or without it.
func (c *Cluster) checkGridLeaks(i int) {
	r := c.replicas[i]
	cs := r.CheckpointState()
	held := c.leakHeld[:0]
	r.CheckpointBlocks(func(address uint64) { held = append(held, address) })
	c.leakHeld = held
	reached, ok := c.forestReached(i)
	if !ok {
		// A block is unreadable on every disk (a fault the replica will
		// repair): this checkpoint goes unchecked rather than misjudged.
		c.gridLeakSkips++
		return
	}
	for _, t := range []storage.TrailerRef{cs.FreeSetAcquired, cs.FreeSetReleased, cs.ClientSessions, cs.Snapshot} {
		if reached, ok = c.trailerReached(i, t, reached); !ok {
			c.gridLeakSkips++
			return
		}
	}
	slices.Sort(reached)
	c.leakReached = reached
	if err := check.GridBlocks(i, cs.Op, held, reached); err != nil {
		c.failCheck("grid blocks", err)
	}
	c.gridLeakChecks++
}

// forestReached lists the blocks of replica i's forest: its manifest log,
// and each table's index block and the value blocks that names.
func (c *Cluster) forestReached(i int) ([]uint64, bool) {
	refs, err := c.ledgers[i].Forest().LSM().ReferencesPeek(c.leakRefs, func(ref lsm.BlockRef) ([]byte, bool) {
		blk, ok := c.peekBlock(i, block.Ref{Address: ref.Address, Checksum: ref.Checksum})
		if !ok {
			return nil, false
		}
		return block.Body(blk), true
	})
	if err != nil {
		return nil, false
	}
	c.leakRefs = refs
	out := c.leakReached[:0]
	for _, ref := range refs {
		out = append(out, ref.Address)
	}
	c.leakReached = out
	return out, true
}

// trailerReached appends the blocks of trailer t, walking its chain back
// from the last block.
func (c *Cluster) trailerReached(i int, t storage.TrailerRef, out []uint64) ([]uint64, bool) {
	if t.IsZero() {
		return out, true
	}
	next := t.Last
	for range t.BlockCount {
		blk, ok := c.peekBlock(i, next)
		if !ok {
			return out, false
		}
		out = append(out, next.Address)
		next = block.Link(block.Metadata(blk))
	}
	return out, true
}

// peekBlock reads the block ref names from replica i's disk or, if that
// copy is damaged, from a peer's: the block is the same wherever it
// verifies. The result is valid until the next call.
func (c *Cluster) peekBlock(i int, ref block.Ref) ([]byte, bool) {
	l := c.vcfg.Layout()
	if ref.Address == 0 || ref.Address > l.GridBlockCount {
		return nil, false
	}
	if uint64(cap(c.leakBuf)) < l.BlockSize {
		c.leakBuf = make([]byte, l.BlockSize)
	}
	buf := c.leakBuf[:l.BlockSize]
	for k := range c.disks {
		d := c.disks[(i+k)%len(c.disks)]
		blk := buf[:block.HeaderSize]
		d.Peek(rio.ZoneGrid, l.BlockOffset(ref.Address), blk)
		size := min(max(uint64(block.DecodeHeader(blk).Size), block.HeaderSize), l.BlockSize)
		blk = buf[:l.SectorCeil(size)]
		d.Peek(rio.ZoneGrid, l.BlockOffset(ref.Address), blk)
		if block.Verify(blk, l.SectorSize, c.cluster, ref) == block.Valid {
			return blk, true
		}
	}
	return nil, false
}
