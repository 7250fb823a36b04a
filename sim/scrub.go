package sim

import (
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
