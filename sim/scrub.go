package sim

import (
	"viewstamp/replica/storage/block"
	"viewstamp/replica/vsr"
	"viewstamp/reports"
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
