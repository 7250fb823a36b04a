package sim

import (
	rio "viewstamp/replica/io"
	"viewstamp/replica/storage/block"
	"viewstamp/replica/vsr"
	"viewstamp/reports"
	"viewstamp/sim/check"
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
	var hdr [block.HeaderSize]byte
	for _, a := range k.scrubBlocks[i] {
		if !eligible || !r.BlockReferenced(a) {
			continue
		}
		off := l.BlockOffset(a)
		d.Peek(rio.ZoneGrid, off, hdr[:])
		h := block.DecodeHeader(hdr[:])
		if h.Address != a || uint64(h.Size) < block.HeaderSize || uint64(h.Size) > l.BlockSize {
			continue // never written here (a synced replica fetches it on a read)
		}
		if d.Differs(rio.ZoneGrid, off, l.SectorCeil(uint64(h.Size))) {
			damaged = append(damaged, a)
		}
	}
	k.scrubDamaged = damaged
	if err := k.scrub.Poll(i, check.ScrubPoll{Eligible: eligible, Cycles: st.Cycles, Dropped: st.Dropped, Damaged: damaged, Queued: r.BlockQueued}); err != nil {
		c.failCheck("scrub", err)
	}
}
