package sim

import (
	"slices"

	rio "viewstamp/replica/io"
	"viewstamp/replica/storage"
	"viewstamp/replica/storage/block"
	"viewstamp/replica/vsr"
	"viewstamp/reports"
	"viewstamp/sim/check"
	"viewstamp/sim/disk"
)

// addScrub adds r's scrubber counters to sum (r may be nil: down).
func addScrub(sum *reports.Scrub, r *vsr.Replica) {
	if r == nil {
		return
	}
	st := r.ScrubStats()
	sum.Scrubbed += st.Scrubbed
	sum.Faults += st.Faults
	sum.Repaired += st.Repaired
	sum.Requested += st.Requested
	sum.Cycles += st.Cycles
	sum.Overruns += st.Overruns
	sum.OverrunTicksMax = max(sum.OverrunTicksMax, st.OverrunTicksMax)
}

// mended is what replicas mended and the grid damage their reads met,
// summed like the scrubbers' counters.
type mended struct {
	repairs vsr.Repairs
	reads   [block.ResultCount]uint64
}

// addMended adds r's repair and grid read counters to sum (r may be nil).
func addMended(sum *mended, r *vsr.Replica) {
	if r == nil {
		return
	}
	a, b := &sum.repairs, r.Repairs
	a.WALFixed += b.WALFixed
	a.WALFaulty += b.WALFaulty
	a.Superblock += b.Superblock
	a.Headers += b.Headers
	a.Prepares += b.Prepares
	a.Blocks += b.Blocks
	a.SyncBlocks += b.SyncBlocks
	a.Replies += b.Replies
	for k, n := range r.GridReads() {
		sum.reads[k] += n
	}
}

// repairsRecord is the run's repairs and failed grid reads: the replicas
// that crashed on the way and those running now.
func (c *Cluster) repairsRecord() (*reports.Repairs, map[string]uint64) {
	sum := c.mended
	for _, r := range c.replicas {
		addMended(&sum, r)
	}
	var reads map[string]uint64
	for k, n := range sum.reads {
		if block.Result(k) != block.Valid && n > 0 {
			if reads == nil {
				reads = map[string]uint64{}
			}
			reads[block.Result(k).String()] = n
		}
	}
	if sum.repairs == (vsr.Repairs{}) {
		return nil, reads
	}
	r := reports.Repairs(sum.repairs)
	return &r, reads
}

// scrubRecord is the run's scrubbing: the replicas that crashed on the way
// and those running now.
func (c *Cluster) scrubRecord() *reports.Scrub {
	sum := c.scrubbed
	for _, r := range c.replicas {
		addScrub(&sum, r)
	}
	if sum == (reports.Scrub{}) {
		return nil
	}
	return &sum
}

// scrubPollTicks is how often the scrubber checker reads the disks for
// damage on the blocks of each replica's checkpoint: its bound is cycles
// of thousands of ticks, and a poll walks every block.
const scrubPollTicks = 100

// scrubCheckpoint notes the blocks replica i's checkpoint references as it
// becomes current (written, or opened), before commits acquire the blocks
// of tables not yet built: the scrubber's tour reaches all of these, and
// only they are judged. Blocks acquired since are left to the next
// checkpoint.
func (c *Cluster) scrubCheckpoint(i int) {
	if !c.sfaults.on || c.replicas[i] == nil {
		return
	}
	k := c.checks
	blocks := k.scrubBlocks[i][:0]
	c.replicas[i].CheckpointBlocks(func(a uint64) { blocks = append(blocks, a) })
	k.scrubBlocks[i] = blocks
	clear(k.scrubTrees[i].children)
}

// scrubTree is one replica's tour tree as the blocks last written on its
// disk (PeekIntact) tell it: which block names which (an index block its
// value blocks, a trailer block the one it links back to). The tour learns
// of a block only from its parent's bytes, so a block under a damaged one
// is out of its reach until that one is repaired. A link counts only if the
// block it names is on disk with the checksum it names: the tree then
// follows checksums, and has no cycle.
type scrubTree struct {
	// children holds the references a parent names, parsed once per
	// checkpoint (a block's bytes are fixed by its checksum).
	children map[block.Ref][]block.Ref
	// onDisk and parent are a poll's: each judged block's header on disk,
	// and the block naming it.
	onDisk map[uint64]block.Header
	parent map[uint64]uint64
	buf    []byte
}

// link records, for every block of blocks found on disk, the block naming
// it, reading parents from d.
func (t *scrubTree) link(d *disk.Disk, l storage.Layout, blocks []uint64) {
	if t.children == nil {
		t.children, t.parent = map[block.Ref][]block.Ref{}, map[uint64]uint64{}
	}
	clear(t.parent)
	for _, a := range blocks {
		h, ok := t.onDisk[a]
		if !ok {
			continue
		}
		if !namesChildren(h.Type) {
			continue
		}
		ref := block.Ref{Address: a, Checksum: h.Checksum}
		children, parsed := t.children[ref]
		if !parsed {
			if cap(t.buf) < int(l.BlockSize) {
				t.buf = make([]byte, l.BlockSize)
			}
			blk := t.buf[:l.SectorCeil(uint64(h.Size))]
			d.PeekIntact(rio.ZoneGrid, l.BlockOffset(a), blk)
			children = vsr.ScrubChildren(blk)
			t.children[ref] = children
		}
		for _, child := range children {
			if ch, ok := t.onDisk[child.Address]; ok && ch.Checksum == child.Checksum {
				t.parent[child.Address] = a
			}
		}
	}
}

// shadowed reports whether a lies under a block of damaged (in address
// order).
func (t *scrubTree) shadowed(a uint64, damaged []uint64) bool {
	for {
		p, ok := t.parent[a]
		if !ok {
			return false
		}
		if _, found := slices.BinarySearch(damaged, p); found {
			return true
		}
		a = p
	}
}

// namesChildren reports whether blocks of type t name other blocks the tour
// reads: index blocks and the checkpoint trailers' blocks.
func namesChildren(t block.Type) bool {
	switch t {
	case block.TypeIndex, block.TypeFreeSet, block.TypeClientSessions, block.TypeSnapshot:
		return true
	}
	return false
}

// gridHeader reads the header of the block at address a of d, if a block
// of that address was ever written there (a synced replica fetches the
// blocks it lacks only when it reads them).
func gridHeader(d *disk.Disk, l storage.Layout, a uint64) (block.Header, bool) {
	var hdr [block.HeaderSize]byte
	d.Peek(rio.ZoneGrid, l.BlockOffset(a), hdr[:])
	h := block.DecodeHeader(hdr[:])
	return h, h.Address == a && uint64(h.Size) >= block.HeaderSize && uint64(h.Size) <= l.BlockSize
}

// checkScrub polls every running replica's scrubber, and every
// scrubPollTicks judges its damaged blocks (check.ScrubFound).
func (c *Cluster) checkScrub(i int, r *vsr.Replica) {
	k := c.checks
	eligible := !c.down[i] && r.ScrubEligible()
	st := r.ScrubStats()
	if c.sched.Tick()%scrubPollTicks != 0 {
		k.scrub.Eligibility(i, eligible, st.Cycles)
		return
	}
	l, d := c.vcfg.Layout(), c.disks[i]
	damaged := k.scrubDamaged[:0]
	t := &k.scrubTrees[i]
	if t.onDisk == nil {
		t.onDisk = map[uint64]block.Header{}
	}
	clear(t.onDisk)
	for _, a := range k.scrubBlocks[i] {
		if !eligible || !r.BlockReferenced(a) {
			continue
		}
		h, ok := gridHeader(d, l, a)
		if !ok {
			continue
		}
		t.onDisk[a] = h
		if d.Differs(rio.ZoneGrid, l.BlockOffset(a), l.SectorCeil(uint64(h.Size))) {
			damaged = append(damaged, a)
		}
	}
	k.scrubDamaged = damaged
	poll := check.ScrubPoll{Eligible: eligible, Cycles: st.Cycles, Dropped: st.Dropped, Damaged: damaged, Queued: r.BlockQueued}
	if len(damaged) > 1 {
		t.link(d, l, k.scrubBlocks[i])
		poll.Shadowed = func(a uint64) bool { return t.shadowed(a, damaged) }
	}
	if err := k.scrub.Poll(i, poll); err != nil {
		c.failCheck("scrub", err)
	}
}
