// Package packet is the simulator's packet network: deterministic, single
// goroutine, driven by the event scheduler in sim/sched.
//
// Every packet gets an independent one-way delay (minimum plus an exponential
// part whose mean brings the total to the mean delay), so packets on one path
// are reordered. Faults, all drawn from the *rand.Rand handed to New:
//
//   - loss: decided when a packet is submitted;
//   - replay: when a packet is delivered, one more copy may be scheduled with a
//     fresh delay (a duplicate is never replayed again, so this is bounded);
//   - late replay: when a packet is delivered, one more copy may be scheduled
//     seconds to a minute later (LateReplayDelayMinNs..LateReplayDelayMaxNs),
//     outside its path's capacity. The network VSR assumes may delay and
//     duplicate a message without bound, and only a copy that outlives a
//     crash, a restart or a view change tests the guards against stale
//     messages (a `view` that must echo this boot's nonce, a stale view's
//     prepare_ok): ordinary delays end within a second, before any of those;
//   - path capacity: at most PathCapacity packets in flight per directed path;
//     submitting one more drops a random in-flight packet of that path;
//   - clogs: a directed path clogs for an exponential duration. Nothing is
//     delivered on a clogged path and nothing is lost because of the clog:
//     a packet submitted while its path is clogged is scheduled for the clog's
//     end plus its drawn delay, and a packet already in flight that falls due
//     while the path is clogged is held and delivered at the clog's end
//     (FoundationDB style: heavy reordering and delay, no loss);
//   - partitions (replicas only, never clients): checked at delivery time, so a
//     packet in flight when a partition cuts its path is dropped on arrival;
//   - down nodes (SetNodeUp): a packet arriving at a down node is dropped;
//   - corruption: a delivered packet may arrive with bits flipped, truncated,
//     or with its tail replaced by the bytes of a recently sent packet. The
//     receiver gets a private copy; the shared buffer is never touched, so a
//     replayed copy or another receiver of the same buffer sees it intact.
//     Corruption never yields a byte-identical packet, the original or the
//     spliced one, so every corrupted packet must fail the receiver's
//     checksums.
//
// Self-sends (from == to) are reliable: they are delivered by a scheduler event
// at the current time (zero delay, after the events already due now), never
// lost, replayed, partitioned, clogged, corrupted, or counted against path
// capacity. They
// are dropped only if the node is down at delivery.
//
// The network takes ownership of each submitted data slice and never modifies
// it: it keeps a reference while a copy (duplicates included) is in flight,
// and to the last few submitted as splice sources for corruption. Callers and
// receivers must treat it as read-only.
//
// Randomness is drawn only when it matters (a probability of exactly 0 or 1
// draws nothing), and the clog process draws one geometric "ticks until the
// next clog" per path instead of a Bernoulli per path per tick; both are
// functions of the seed alone, so a seed replays exactly. Delays and clog
// gaps come from sim/draw's integer exponential and geometric, so they are
// the same on every CPU.
package packet

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"

	"viewstamp/sim/draw"
	"viewstamp/sim/sched"
)

// PartitionMode chooses how a partition splits the replicas in two sides.
type PartitionMode uint8

const (
	// PartitionNone never partitions.
	PartitionNone PartitionMode = iota
	// PartitionUniformSize picks a side size k uniformly in [1, replicas-1],
	// then a uniformly random subset of k replicas as one side.
	PartitionUniformSize
	// PartitionUniformPartition puts each replica on either side with
	// probability 1/2, redrawing while one side is empty.
	PartitionUniformPartition
	// PartitionIsolateSingle isolates one uniformly random replica.
	PartitionIsolateSingle
)

// String returns the mode's snake_case name.
func (m PartitionMode) String() string {
	switch m {
	case PartitionNone:
		return "none"
	case PartitionUniformSize:
		return "uniform_size"
	case PartitionUniformPartition:
		return "uniform_partition"
	case PartitionIsolateSingle:
		return "isolate_single"
	}
	return fmt.Sprintf("PartitionMode(%d)", uint8(m))
}

// Corruption is how a corrupted packet was damaged.
type Corruption uint8

const (
	// CorruptFlip flips one to CorruptFlipsMax bits.
	CorruptFlip Corruption = iota
	// CorruptTruncate cuts the packet short, possibly to nothing.
	CorruptTruncate
	// CorruptSplice keeps a prefix and replaces the rest with the bytes of a
	// recently submitted packet from that offset on (the lengths may differ).
	CorruptSplice
	// Corruptions is the number of kinds.
	Corruptions
)

// String returns the kind's snake_case name.
func (k Corruption) String() string {
	switch k {
	case CorruptFlip:
		return "bit_flip"
	case CorruptTruncate:
		return "truncate"
	case CorruptSplice:
		return "splice"
	}
	return fmt.Sprintf("Corruption(%d)", uint8(k))
}

const (
	// CorruptFlipsMax bounds the bits one bit-flip corruption flips.
	CorruptFlipsMax = 4
	// spliceSources is how many recently submitted packets splices draw on.
	spliceSources = 8
	// LateReplayDelayMinNs and LateReplayDelayMaxNs bound a late copy's
	// delay (uniform between): past a crash and restart (a replica stays
	// down for hundreds of ticks) and a view change's timeouts, within a
	// run's safety phase.
	LateReplayDelayMinNs = 1_000_000_000
	LateReplayDelayMaxNs = 60_000_000_000
)

// PartitionModes lists every mode, in order, for seed-driven choice.
var PartitionModes = [...]PartitionMode{PartitionNone, PartitionUniformSize, PartitionUniformPartition, PartitionIsolateSingle}

// Options are the network's fault parameters, normally drawn from a seed.
type Options struct {
	// OneWayDelayMinNs and OneWayDelayMeanNs: each packet's delay is
	// min + exponential(mean - min), independently, hence reordering; the
	// mean is the whole delay's, so a mean at or below min is exactly min.
	OneWayDelayMinNs, OneWayDelayMeanNs uint64
	// LossProbability drops a packet at submit time (0..1).
	LossProbability float64
	// ReplayProbability: a delivered packet is delivered once more later,
	// with a fresh delay (0..1). Duplicates are not replayed.
	ReplayProbability float64
	// LateReplayProbability: a delivered packet is delivered once more
	// much later, LateReplayDelayMinNs to LateReplayDelayMaxNs after
	// (0..1); the copy does not count against PathCapacity, which bounds
	// what a path carries now, not what it carried a minute ago.
	// Duplicates are not replayed.
	LateReplayProbability float64
	// PathCapacity bounds packets in flight per directed path; 0 = unbounded.
	PathCapacity int
	// ClogProbability: per directed path per tick, an unclogged path clogs.
	ClogProbability float64
	// ClogDurationMeanNs is the mean of the exponential clog duration.
	ClogDurationMeanNs uint64
	// PartitionMode chooses how partitions split the replicas.
	PartitionMode PartitionMode
	// PartitionSymmetric: both directions across sides are cut. Otherwise each
	// ordered pair across sides is cut independently with probability 1/2
	// (at least one direction is always cut): one-way partitions.
	PartitionSymmetric bool
	// PartitionProbability per tick, when whole and stable.
	PartitionProbability float64
	// UnpartitionProbability per tick, when partitioned and stable.
	UnpartitionProbability float64
	// PartitionStabilityTicks is the minimum number of ticks a partition lasts.
	PartitionStabilityTicks uint64
	// UnpartitionStabilityTicks is the minimum number of ticks the network
	// stays whole before a new partition.
	UnpartitionStabilityTicks uint64
	// CorruptProbability: a packet delivered to its receiver (not a
	// self-send) arrives corrupted (0..1), each kind equally likely.
	CorruptProbability float64
}

// Validate reports the first invalid option.
func (o Options) Validate() error {
	probs := [...]struct {
		name string
		p    float64
	}{
		{"LossProbability", o.LossProbability},
		{"ReplayProbability", o.ReplayProbability},
		{"LateReplayProbability", o.LateReplayProbability},
		{"ClogProbability", o.ClogProbability},
		{"PartitionProbability", o.PartitionProbability},
		{"UnpartitionProbability", o.UnpartitionProbability},
		{"CorruptProbability", o.CorruptProbability},
	}
	for _, q := range probs {
		if !(q.p >= 0 && q.p <= 1) {
			return fmt.Errorf("packet: %s = %v, want 0..1", q.name, q.p)
		}
	}
	if o.PathCapacity < 0 {
		return fmt.Errorf("packet: PathCapacity = %d, want >= 0", o.PathCapacity)
	}
	if o.PartitionMode > PartitionIsolateSingle {
		return fmt.Errorf("packet: unknown %v", o.PartitionMode)
	}
	return nil
}

// Stats counts packets and faults since New.
//
// Sent counts Submit calls; Duplicated counts replayed copies; every packet
// and copy ends up Delivered or Dropped, or is still in flight:
// Sent + Duplicated == Delivered + Dropped + InFlight(). Corrupted counts
// delivered packets that arrived corrupted, CorruptedBy the same per kind.
type Stats struct {
	Sent, Delivered, Dropped, Duplicated, Partitions, Clogs uint64
	// LateReplays counts the late copies among Duplicated.
	LateReplays uint64
	Corrupted   uint64
	CorruptedBy [Corruptions]uint64
}

// Deliver receives a packet. It runs inside a scheduler event and may call
// Submit. data is shared with duplicates: read-only. corrupted says the
// network damaged it on the way, so the receiver must reject it.
type Deliver func(from, to int, data []byte, corrupted bool)

const never = math.MaxUint64

// packet is one copy in flight. Packets are recycled through a free list; each
// carries its delivery event as a method value bound once, so steady-state
// Submit and delivery allocate nothing.
type packet struct {
	n        *Network
	data     []byte
	from, to int32
	path     int32 // from*nodes + to
	slot     int32 // index in n.inflight[path], -1 when not tracked
	dropped  bool  // dropped for capacity while in flight: the event only recycles
	dup      bool  // a replayed copy: never replayed again
	self     bool  // from == to: reliable
	fire     sched.Event
}

// Network is the simulated packet network. Not safe for concurrent use (the
// simulator has a single goroutine).
type Network struct {
	opts     Options
	rng      *rand.Rand
	s        *sched.Scheduler
	deliver  Deliver
	nodes    int
	replicas int

	stats  Stats
	free   []*packet
	ticks  uint64
	healed bool
	fixed  uint64 // delay after Heal

	up []bool // per node

	// Per directed path (from*nodes + to).
	inflight  [][]*packet
	clogUntil []uint64 // ns; clogged while now < clogUntil
	nextClog  []uint64 // tick of the path's next clog; never for self paths
	clogMin   uint64   // min(nextClog): Tick skips the scan before it

	// Partitions, replicas only.
	partitioned bool
	stability   uint64 // ticks left before the partition state may change
	side        []bool // per replica: side A
	cut         []bool // replicas*replicas: from→to cut
	scratch     []int  // permutation scratch

	recent     [spliceSources][]byte // last submitted packets, splice sources
	recentNext int
}

// New builds a network of nodes nodes, of which 0..replicas-1 are replicas and
// replicas..nodes-1 clients. Every random choice is drawn from rng; every
// delivery is an event on s. It panics on invalid arguments.
func New(opts Options, rng *rand.Rand, s *sched.Scheduler, nodes, replicas int, deliver Deliver) *Network {
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	if rng == nil || s == nil || deliver == nil {
		panic("packet: nil rng, scheduler or deliver")
	}
	if nodes <= 0 || replicas < 0 || replicas > nodes || nodes > math.MaxInt32/nodes {
		panic(fmt.Sprintf("packet: nodes = %d, replicas = %d", nodes, replicas))
	}
	n := &Network{
		opts:      opts,
		rng:       rng,
		s:         s,
		deliver:   deliver,
		nodes:     nodes,
		replicas:  replicas,
		up:        make([]bool, nodes),
		inflight:  make([][]*packet, nodes*nodes),
		clogUntil: make([]uint64, nodes*nodes),
		nextClog:  make([]uint64, nodes*nodes),
		side:      make([]bool, replicas),
		cut:       make([]bool, replicas*replicas),
		scratch:   make([]int, replicas),
	}
	for i := range n.up {
		n.up[i] = true
	}
	// Draw each path's first clog tick, in path order. Trials start at tick 1
	// (the first Tick call).
	n.clogMin = never
	for path := range n.nextClog {
		if path/nodes == path%nodes {
			n.nextClog[path] = never
			continue
		}
		n.nextClog[path] = n.geometricClog(0)
		n.clogMin = min(n.clogMin, n.nextClog[path])
	}
	n.stability = opts.UnpartitionStabilityTicks
	return n
}

// Stats returns the counters so far.
func (n *Network) Stats() Stats { return n.stats }

// Options returns the current options (Heal changes them).
func (n *Network) Options() Options { return n.opts }

// InPartition reports whether a partition is in force.
func (n *Network) InPartition() bool { return n.partitioned }

// Side reports which side of the current partition a replica is on; the
// sides are arbitrary labels, so only their difference means anything.
func (n *Network) Side(replica int) bool { return n.side[replica] }

// Healed reports whether Heal was called.
func (n *Network) Healed() bool { return n.healed }

// InFlight returns the number of packet copies scheduled and not yet
// delivered or dropped.
func (n *Network) InFlight() int {
	return int(n.stats.Sent + n.stats.Duplicated - n.stats.Delivered - n.stats.Dropped)
}

// PathInFlight returns the number of packets in flight from→to, as bounded by
// PathCapacity (self-sends are not counted).
func (n *Network) PathInFlight(from, to int) int {
	n.check(from, to)
	return len(n.inflight[from*n.nodes+to])
}

// Clogged reports whether the path from→to is clogged now.
func (n *Network) Clogged(from, to int) bool {
	n.check(from, to)
	return n.s.Now() < n.clogUntil[from*n.nodes+to]
}

// Partitioned reports whether packets from→to are currently cut by a
// partition. Clients and self-paths are never cut.
func (n *Network) Partitioned(from, to int) bool {
	n.check(from, to)
	if from >= n.replicas || to >= n.replicas {
		return false
	}
	return n.cut[from*n.replicas+to]
}

// SetNodeUp marks a node up or down. Packets arriving at a down node are
// dropped (a crashed process receives nothing); packets it sent before going
// down still arrive.
func (n *Network) SetNodeUp(node int, up bool) {
	n.check(node, node)
	n.up[node] = up
}

// NodeUp reports whether a node is up.
func (n *Network) NodeUp(node int) bool {
	n.check(node, node)
	return n.up[node]
}

func (n *Network) check(from, to int) {
	if uint(from) >= uint(n.nodes) || uint(to) >= uint(n.nodes) {
		panic(fmt.Sprintf("packet: path %d→%d outside %d nodes", from, to, n.nodes))
	}
}

// chance returns true with probability p, drawing only when 0 < p < 1.
func (n *Network) chance(p float64) bool {
	if p <= 0 {
		return false
	}
	if p >= 1 {
		return true
	}
	return n.rng.Float64() < p
}

// delay draws one packet's one-way delay.
func (n *Network) delay() uint64 {
	if n.healed {
		return n.fixed
	}
	lo, mean := n.opts.OneWayDelayMinNs, n.opts.OneWayDelayMeanNs
	if mean <= lo {
		return lo
	}
	return lo + draw.Exp(n.rng, mean-lo)
}

// Submit sends data from→to. Delivery (or drop) happens in a later scheduler
// event; data must not be modified afterwards.
func (n *Network) Submit(from, to int, data []byte) {
	n.check(from, to)
	n.stats.Sent++
	if from == to {
		p := n.alloc(from, to, data)
		p.self = true
		n.s.At(n.s.Now(), p.fire)
		return
	}
	n.recent[n.recentNext] = data
	n.recentNext = (n.recentNext + 1) % spliceSources
	if n.chance(n.opts.LossProbability) {
		n.stats.Dropped++
		return
	}
	n.enqueue(from, to, data, false)
}

// enqueue schedules a copy on a path with a fresh delay, making room under
// the path's capacity.
func (n *Network) enqueue(from, to int, data []byte, dup bool) {
	path := from*n.nodes + to
	q := n.inflight[path]
	if c := n.opts.PathCapacity; c > 0 && len(q) >= c {
		i := n.rng.IntN(len(q))
		victim := q[i]
		victim.dropped = true
		last := len(q) - 1
		q[i] = q[last]
		q[i].slot = int32(i)
		q[last] = nil
		q = q[:last]
		victim.slot = -1
		n.stats.Dropped++
	}
	p := n.alloc(from, to, data)
	p.dup = dup
	p.slot = int32(len(q))
	n.inflight[path] = append(q, p)
	at := n.s.Now()
	if u := n.clogUntil[path]; u > at {
		at = u
	}
	n.s.At(at+n.delay(), p.fire)
}

func (n *Network) alloc(from, to int, data []byte) *packet {
	var p *packet
	if k := len(n.free); k > 0 {
		p = n.free[k-1]
		n.free[k-1] = nil
		n.free = n.free[:k-1]
	} else {
		p = &packet{n: n}
		p.fire = p.arrive
	}
	p.data = data
	p.from, p.to = int32(from), int32(to)
	p.path = int32(from*n.nodes + to)
	p.slot = -1
	p.dropped, p.dup, p.self = false, false, false
	return p
}

func (n *Network) release(p *packet) {
	p.data = nil
	n.free = append(n.free, p)
}

// untrack removes p from its path's in-flight list.
func (n *Network) untrack(p *packet) {
	q := n.inflight[p.path]
	i := int(p.slot)
	last := len(q) - 1
	q[i] = q[last]
	q[i].slot = int32(i)
	q[last] = nil
	n.inflight[p.path] = q[:last]
	p.slot = -1
}

// arrive is a packet's delivery event.
func (p *packet) arrive() {
	n := p.n
	if p.dropped { // already counted when capacity dropped it
		n.release(p)
		return
	}
	from, to, data := int(p.from), int(p.to), p.data
	if !p.self {
		if u := n.clogUntil[p.path]; n.s.Now() < u {
			n.s.At(u, p.fire) // held until the clog ends
			return
		}
		if p.slot >= 0 { // a late copy is not on its path's list
			n.untrack(p)
		}
		if n.Partitioned(from, to) {
			n.stats.Dropped++
			n.release(p)
			return
		}
	}
	if !n.up[to] {
		n.stats.Dropped++
		n.release(p)
		return
	}
	n.stats.Delivered++
	self := p.self
	replay := !self && !p.dup && n.chance(n.opts.ReplayProbability)
	late := !self && !p.dup && n.chance(n.opts.LateReplayProbability)
	n.release(p)
	if replay {
		n.stats.Duplicated++
		n.enqueue(from, to, data, true)
	}
	if late {
		n.stats.Duplicated++
		n.stats.LateReplays++
		q := n.alloc(from, to, data)
		q.dup = true
		n.s.At(n.s.Now()+LateReplayDelayMinNs+n.rng.Uint64N(LateReplayDelayMaxNs-LateReplayDelayMinNs+1), q.fire)
	}
	corrupted := !self && n.chance(n.opts.CorruptProbability)
	if corrupted {
		data = n.corrupt(data)
	}
	n.deliver(from, to, data, corrupted)
}

// corrupt returns a damaged private copy of data, never equal to data nor to
// the splice source it used.
func (n *Network) corrupt(data []byte) []byte {
	kind := Corruption(n.rng.IntN(int(Corruptions)))
	var out []byte
	switch kind {
	case CorruptTruncate:
		if len(data) > 0 {
			out = bytes.Clone(data[:n.rng.IntN(len(data))])
		}
	case CorruptSplice:
		src := n.recent[n.rng.IntN(spliceSources)]
		if len(data) > 1 && src != nil {
			cut := 1 + n.rng.IntN(len(data)-1)
			out = append(bytes.Clone(data[:cut]), src[min(cut, len(src)):]...)
			if bytes.Equal(out, data) || bytes.Equal(out, src) {
				out = nil
			}
		}
	}
	if out == nil && len(data) > 0 { // a flip, or a fallback when the other kind could not differ
		kind = CorruptFlip
		out = bytes.Clone(data)
		for flips := 1 + n.rng.IntN(CorruptFlipsMax); flips > 0 || bytes.Equal(out, data); flips-- {
			bit := n.rng.IntN(8 * len(out))
			out[bit/8] ^= 1 << (bit % 8)
		}
	}
	if out == nil { // an empty packet cannot be damaged further than it is
		out = []byte{}
	}
	n.stats.Corrupted++
	n.stats.CorruptedBy[kind]++
	return out
}

// Tick evolves partitions and clogs; call it once per simulated tick, at the
// tick's time. It allocates nothing and is O(1) unless a clog is due, then
// O(paths).
func (n *Network) Tick() {
	n.ticks++
	if n.healed {
		return
	}
	n.tickPartition()
	if n.ticks >= n.clogMin {
		n.tickClogs()
	}
}

func (n *Network) tickClogs() {
	now := n.s.Now()
	m := uint64(never)
	for path, next := range n.nextClog {
		if next <= n.ticks {
			d := draw.Exp(n.rng, n.opts.ClogDurationMeanNs)
			n.clogUntil[path] = now + d
			n.stats.Clogs++
			// Trials resume at the first tick the path is whole again.
			whole := n.ticks + max(1, (d+sched.TickNs-1)/sched.TickNs)
			next = n.geometricClog(whole - 1)
			n.nextClog[path] = next
		}
		m = min(m, next)
	}
	n.clogMin = m
}

// geometricClog returns the tick of the next clog when Bernoulli trials run
// at ticks base+1, base+2, ...
func (n *Network) geometricClog(base uint64) uint64 {
	p := n.opts.ClogProbability
	if p <= 0 {
		return never
	}
	if p >= 1 {
		return base + 1
	}
	k := draw.Geometric(n.rng, p)
	if k >= 1<<62 || base >= 1<<62 {
		return never
	}
	return base + 1 + k
}

func (n *Network) tickPartition() {
	if n.opts.PartitionMode == PartitionNone || n.replicas < 2 {
		return
	}
	if n.stability > 0 {
		n.stability--
		return
	}
	if n.partitioned {
		if n.chance(n.opts.UnpartitionProbability) {
			n.unpartition()
			n.stability = n.opts.UnpartitionStabilityTicks
		}
		return
	}
	if n.chance(n.opts.PartitionProbability) {
		n.partition()
		n.stability = n.opts.PartitionStabilityTicks
	}
}

func (n *Network) unpartition() {
	n.partitioned = false
	clear(n.cut)
	clear(n.side)
}

// partition splits the replicas per the mode and cuts paths across sides.
func (n *Network) partition() {
	r := n.replicas
	clear(n.side)
	switch n.opts.PartitionMode {
	case PartitionUniformSize:
		k := 1 + n.rng.IntN(r-1)
		for i := range n.scratch {
			n.scratch[i] = i
		}
		for i := 0; i < k; i++ { // partial Fisher-Yates
			j := i + n.rng.IntN(r-i)
			n.scratch[i], n.scratch[j] = n.scratch[j], n.scratch[i]
			n.side[n.scratch[i]] = true
		}
	case PartitionUniformPartition:
		for {
			a := 0
			for i := range n.side {
				n.side[i] = n.rng.Uint64()&1 == 1
				if n.side[i] {
					a++
				}
			}
			if a > 0 && a < r {
				break
			}
		}
	case PartitionIsolateSingle:
		n.side[n.rng.IntN(r)] = true
	}
	clear(n.cut)
	cutAny := false
	for a := 0; a < r; a++ {
		for b := a + 1; b < r; b++ {
			if n.side[a] == n.side[b] {
				continue
			}
			ab, ba := true, true
			if !n.opts.PartitionSymmetric {
				bits := n.rng.Uint64()
				ab, ba = bits&1 == 1, bits&2 == 2
			}
			n.cut[a*r+b], n.cut[b*r+a] = ab, ba
			cutAny = cutAny || ab || ba
		}
	}
	if !cutAny { // asymmetric and every coin said no: cut one random cross direction
		k := n.rng.IntN(n.crossPairs())
		for a := 0; a < r && k >= 0; a++ {
			for b := a + 1; b < r; b++ {
				if n.side[a] == n.side[b] {
					continue
				}
				if k == 0 {
					x, y := a, b
					if n.rng.Uint64()&1 == 1 {
						x, y = b, a
					}
					n.cut[x*r+y] = true
					k = -1
					break
				}
				k--
			}
		}
	}
	n.partitioned = true
	n.stats.Partitions++
}

// crossPairs counts unordered replica pairs on different sides.
func (n *Network) crossPairs() int {
	a := 0
	for _, s := range n.side {
		if s {
			a++
		}
	}
	return a * (n.replicas - a)
}

// Heal ends the fault phase: partitions and clogs are removed and no new ones
// start, loss, replay and capacity drops stop, and every packet submitted from
// now on takes exactly delayNs (so each path is FIFO again). Packets already in flight still arrive at their
// scheduled time (packets held by a clog, at that clog's former end); they
// are no longer cut by the lifted partitions. Down nodes stay down.
func (n *Network) Heal(delayNs uint64) {
	n.healed = true
	n.fixed = delayNs
	n.opts.LossProbability = 0
	n.opts.ReplayProbability = 0
	n.opts.LateReplayProbability = 0
	n.opts.PathCapacity = 0
	n.opts.ClogProbability = 0
	n.opts.PartitionProbability = 0
	n.opts.UnpartitionProbability = 1
	n.opts.CorruptProbability = 0
	n.opts.OneWayDelayMinNs, n.opts.OneWayDelayMeanNs = delayNs, 0
	n.unpartition()
	clear(n.clogUntil)
	for i := range n.nextClog {
		n.nextClog[i] = never
	}
	n.clogMin = never
}
