package sim

import (
	"fmt"
	"strings"

	"viewstamp/replica/vsr"
)

// progress is what the safety phase saw of the conditions clients need, so
// that a seed completing nothing can say why from observation rather than
// guesswork.
type progress struct {
	ticks       uint64 // safety-phase ticks observed
	quorumDown  uint64 // fewer than a view-change quorum of replicas up (not crashed, not paused)
	partitioned uint64 // a quorum up, but partitions leave no quorum able to talk both ways
	clogged     uint64 // not partitioned so, but clogged paths (which hold every packet) do
	group       []int  // scratch: connected-group search
	seen        []bool
}

// causeShareMin is the share of ticks, in percent, a condition must cover to
// be named as a cause.
const causeShareMin = 20

// observeProgress samples the current tick. O(replicas²) only while a
// partition is in force; replicas are at most six.
func (c *Cluster) observeProgress() {
	p := &c.progress
	p.ticks++
	r := len(c.replicas)
	q := int(vsr.QuorumsFor(uint8(r)).ViewChange)
	if r-c.downCount() < q {
		p.quorumDown++
		return
	}
	switch {
	case c.net.InPartition() && c.largestGroup(false) < q:
		p.partitioned++
	case c.opts.Network.ClogProbability > 0 && c.largestGroup(true) < q:
		p.clogged++
	}
}

// largestGroup is the size of the largest set of up replicas connected by
// paths open in both directions, not partitioned (and, with clogs, not
// clogged either): replicas that could form a view together now.
func (c *Cluster) largestGroup(clogs bool) int {
	p := &c.progress
	r := len(c.replicas)
	if p.seen == nil {
		p.seen, p.group = make([]bool, r), make([]int, 0, r)
	}
	clear(p.seen)
	best := 0
	for start := range r {
		if p.seen[start] || c.down[start] || c.paused[start] {
			continue
		}
		p.seen[start] = true
		p.group = append(p.group[:0], start)
		for k := 0; k < len(p.group); k++ {
			a := p.group[k]
			for b := range r {
				if p.seen[b] || c.down[b] || c.paused[b] || c.net.Partitioned(a, b) || c.net.Partitioned(b, a) {
					continue
				}
				if clogs && (c.net.Clogged(a, b) || c.net.Clogged(b, a)) {
					continue
				}
				p.seen[b] = true
				p.group = append(p.group, b)
			}
		}
		best = max(best, len(p.group))
	}
	return best
}

// noProgressCause explains a safety phase that completed no request, from
// the clients' state and the share of ticks the cluster could not form a
// view. When nothing observed explains it, it says so, with the counts a
// reader would look at next.
func (c *Cluster) noProgressCause() string {
	var causes []string
	evicted, registered := 0, 0
	for _, sc := range c.clients {
		if sc.evicted {
			evicted++
		}
		if sc.c.Registered() {
			registered++
		}
	}
	switch {
	case evicted == len(c.clients):
		causes = append(causes, "all clients evicted")
	case registered == 0:
		causes = append(causes, "no client registered")
	case c.requestsSent == 0:
		causes = append(causes, "no request sent")
	}
	p := c.progress
	share := func(n uint64) uint64 { return n * 100 / max(p.ticks, 1) }
	if s := share(p.quorumDown); s >= causeShareMin {
		causes = append(causes, fmt.Sprintf("view-change quorum down for %d%% of ticks", s))
	}
	if s := share(p.partitioned); s >= causeShareMin {
		causes = append(causes, fmt.Sprintf("partitioned without a connected quorum for %d%% of ticks", s))
	}
	if s := share(p.clogged); s >= causeShareMin {
		causes = append(causes, fmt.Sprintf("clogged without a connected quorum for %d%% of ticks", s))
	}
	if len(causes) == 0 {
		causes = append(causes, fmt.Sprintf("none observed: a connected quorum up for %d%% of %d ticks; %d view changes, %d crashes, %d pauses, write latency mean %d ms",
			100-share(p.quorumDown+p.partitioned+p.clogged), p.ticks, c.viewChanges, c.crashes, c.pauses, c.opts.Storage.WriteLatencyMeanNs/1_000_000))
	}
	return strings.Join(causes, "; ")
}
