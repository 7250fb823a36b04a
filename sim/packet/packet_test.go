package packet

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"viewstamp/sim/sched"
)

type delivery struct {
	from, to int
	at       uint64
	id       uint64
}

type harness struct {
	s   *sched.Scheduler
	n   *Network
	got []delivery
	// sentAt[id] = submit time
	sentAt []uint64
	bufs   [][]byte
}

func newHarness(t testing.TB, opts Options, seed uint64, nodes, replicas int) *harness {
	t.Helper()
	h := &harness{s: &sched.Scheduler{}}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	h.n = New(opts, rng, h.s, nodes, replicas, func(from, to int, data []byte, _ bool) {
		h.got = append(h.got, delivery{from, to, h.s.Now(), binary.LittleEndian.Uint64(data)})
	})
	return h
}

// send submits a packet carrying a fresh id.
func (h *harness) send(from, to int) uint64 {
	id := uint64(len(h.sentAt))
	b := binary.LittleEndian.AppendUint64(nil, id)
	h.sentAt = append(h.sentAt, h.s.Now())
	h.bufs = append(h.bufs, b)
	h.n.Submit(from, to, b)
	return id
}

// run advances n ticks, calling Tick at each tick boundary.
func (h *harness) run(ticks int) {
	for range ticks {
		h.s.RunUntil(h.s.Now() + sched.TickNs)
		h.n.Tick()
	}
}

// drain runs until nothing is scheduled.
func (h *harness) drain() {
	for h.s.Pending() > 0 {
		h.s.RunUntil(h.s.Now() + sched.TickNs)
	}
}

func (h *harness) counts() map[uint64]int {
	c := map[uint64]int{}
	for _, d := range h.got {
		c[d.id]++
	}
	return c
}

func checkConservation(t *testing.T, n *Network) {
	t.Helper()
	st := n.Stats()
	if st.Sent+st.Duplicated != st.Delivered+st.Dropped+uint64(n.InFlight()) {
		t.Fatalf("stats don't balance: %+v, in flight %d", st, n.InFlight())
	}
	total := 0
	for _, q := range n.inflight {
		total += len(q)
	}
	if total > n.InFlight() {
		t.Fatalf("%d tracked in flight, but InFlight() = %d", total, n.InFlight())
	}
}

var faulty = Options{
	OneWayDelayMinNs:          5_000_000,
	OneWayDelayMeanNs:         50_000_000,
	LossProbability:           0.1,
	ReplayProbability:         0.3,
	PathCapacity:              4,
	ClogProbability:           0.02,
	ClogDurationMeanNs:        500_000_000,
	PartitionMode:             PartitionUniformPartition,
	PartitionSymmetric:        false,
	PartitionProbability:      0.03,
	UnpartitionProbability:    0.1,
	PartitionStabilityTicks:   20,
	UnpartitionStabilityTicks: 5,
}

// traffic runs a random workload: each tick, a few random sends.
func traffic(h *harness, seed uint64, ticks, perTick int) {
	w := rand.New(rand.NewPCG(seed, 7))
	nodes := h.n.nodes
	for range ticks {
		for range perTick {
			h.send(w.IntN(nodes), w.IntN(nodes))
		}
		h.run(1)
	}
}

func TestSameSeedSameDeliveries(t *testing.T) {
	record := func(seed uint64) ([]delivery, Stats) {
		h := newHarness(t, faulty, seed, 8, 5)
		traffic(h, 99, 2000, 3)
		h.drain()
		checkConservation(t, h.n)
		return h.got, h.n.Stats()
	}
	a, sa := record(1)
	b, sb := record(1)
	if sa != sb {
		t.Fatalf("stats differ: %+v vs %+v", sa, sb)
	}
	if len(a) != len(b) {
		t.Fatalf("deliveries: %d vs %d", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("delivery %d differs: %+v vs %+v", i, a[i], b[i])
		}
	}
	if sa.Dropped == 0 || sa.Duplicated == 0 || sa.Partitions == 0 || sa.Clogs == 0 {
		t.Fatalf("workload exercised too little: %+v", sa)
	}
	c, _ := record(2)
	same := len(c) == len(a)
	for i := 0; same && i < len(a); i++ {
		same = a[i] == c[i]
	}
	if same {
		t.Fatalf("seeds 1 and 2 gave identical deliveries")
	}
}

func TestNoFaultsDeliversExactlyOnce(t *testing.T) {
	opts := Options{OneWayDelayMinNs: 1_000_000, OneWayDelayMeanNs: 40_000_000}
	h := newHarness(t, opts, 3, 10, 6)
	traffic(h, 5, 500, 7)
	h.drain()
	st := h.n.Stats()
	if st.Sent != 3500 || st.Delivered != st.Sent || st.Dropped != 0 || st.Duplicated != 0 {
		t.Fatalf("stats %+v", st)
	}
	c := h.counts()
	if len(c) != len(h.sentAt) {
		t.Fatalf("%d distinct delivered, %d sent", len(c), len(h.sentAt))
	}
	for id, k := range c {
		if k != 1 {
			t.Fatalf("packet %d delivered %d times", id, k)
		}
	}
	// Reordering happens on a single path.
	reordered := false
	last := map[[2]int]uint64{}
	for _, d := range h.got {
		k := [2]int{d.from, d.to}
		if prev, ok := last[k]; ok && d.id < prev && d.from != d.to {
			reordered = true
		}
		last[k] = d.id
	}
	if !reordered {
		t.Fatalf("no reordering on any path")
	}
}

func TestReplayDuplicatesOnce(t *testing.T) {
	opts := Options{OneWayDelayMinNs: 1_000_000, OneWayDelayMeanNs: 10_000_000, ReplayProbability: 1}
	h := newHarness(t, opts, 4, 4, 3)
	var self int
	for i := range 200 {
		from, to := i%4, (i/4)%4
		if from == to {
			self++
		}
		h.send(from, to)
	}
	h.drain()
	st := h.n.Stats()
	other := uint64(200 - self)
	if st.Duplicated != other || st.Delivered != 200+other || st.Dropped != 0 {
		t.Fatalf("stats %+v, want %d duplicates", st, other)
	}
	c := h.counts()
	for id, k := range c {
		want := 2
		if h.gotPath(id)[0] == h.gotPath(id)[1] {
			want = 1 // self-sends are reliable: never replayed
		}
		if k != want {
			t.Fatalf("packet %d delivered %d times, want %d", id, k, want)
		}
	}
}

// A late copy lands seconds to a minute after the original and never takes
// a place in its path's capacity: with a capacity of one and the originals
// sent one at a time, every original still arrives.
func TestLateReplayOutsideCapacity(t *testing.T) {
	opts := Options{OneWayDelayMinNs: 1_000_000, OneWayDelayMeanNs: 10_000_000, LateReplayProbability: 1, PathCapacity: 1}
	h := newHarness(t, opts, 7, 2, 2)
	const sends = 50
	for range sends {
		h.send(0, 1)
		h.run(10) // the original lands long before the next is sent
	}
	h.drain()
	st := h.n.Stats()
	if st.Duplicated != sends || st.LateReplays != sends || st.Dropped != 0 || st.Delivered != 2*sends {
		t.Fatalf("stats %+v, want %d late copies, all delivered", st, sends)
	}
	first := map[uint64]uint64{}
	for _, d := range h.got {
		at, seen := first[d.id]
		if !seen {
			first[d.id] = d.at
			continue
		}
		if late := d.at - at; late < LateReplayDelayMinNs || late > LateReplayDelayMaxNs {
			t.Fatalf("packet %d copied %d ns after it arrived, want %d..%d", d.id, late, LateReplayDelayMinNs, LateReplayDelayMaxNs)
		}
	}
	if len(first) != sends {
		t.Fatalf("%d distinct packets delivered, want %d", len(first), sends)
	}
}

// A late copy outlives its receiver's crash and restart: what a stale
// message to a previous boot looks like.
func TestLateReplayOutlivesARestart(t *testing.T) {
	opts := Options{OneWayDelayMinNs: 1_000_000, OneWayDelayMeanNs: 1_000_000, LateReplayProbability: 1}
	h := newHarness(t, opts, 9, 2, 2)
	for range 10 {
		h.send(0, 1)
	}
	h.run(1) // the originals land (1 ms each)
	h.n.SetNodeUp(1, false)
	h.run(50) // down for 0.5 s, less than any late copy's delay
	h.n.SetNodeUp(1, true)
	h.drain()
	if st := h.n.Stats(); st.Delivered != 20 || st.Dropped != 0 || st.LateReplays != 10 {
		t.Fatalf("stats %+v, want each of 10 packets delivered before the crash and again after the restart", st)
	}
}

// Heal stops late replays: a packet submitted after it is delivered once.
func TestHealStopsLateReplays(t *testing.T) {
	opts := Options{OneWayDelayMinNs: 1_000_000, OneWayDelayMeanNs: 10_000_000, LateReplayProbability: 1}
	h := newHarness(t, opts, 8, 2, 2)
	h.n.Heal(5_000_000)
	for range 20 {
		h.send(0, 1)
	}
	h.drain()
	if st := h.n.Stats(); st.LateReplays != 0 || st.Delivered != 20 {
		t.Fatalf("stats %+v after Heal, want 20 delivered and no late copies", st)
	}
}

func (h *harness) gotPath(id uint64) [2]int {
	for _, d := range h.got {
		if d.id == id {
			return [2]int{d.from, d.to}
		}
	}
	return [2]int{-1, -2}
}

func TestSymmetricIsolateSingleAndHeal(t *testing.T) {
	opts := Options{
		OneWayDelayMinNs:        20_000_000,
		OneWayDelayMeanNs:       1_000_000,
		PartitionMode:           PartitionIsolateSingle,
		PartitionSymmetric:      true,
		PartitionProbability:    1,
		PartitionStabilityTicks: 1_000_000,
	}
	const nodes, replicas = 6, 4
	h := newHarness(t, opts, 11, nodes, replicas)
	// In flight before the partition: dropped on arrival if it crosses.
	pre := make(map[[2]int]uint64)
	for a := range replicas {
		for b := range replicas {
			if a != b {
				pre[[2]int{a, b}] = h.send(a, b)
			}
		}
	}
	h.n.Tick()
	if st := h.n.Stats(); st.Partitions != 1 {
		t.Fatalf("partitions = %d", st.Partitions)
	}
	isolated := -1
	for r := range replicas {
		if h.n.side[r] {
			isolated = r
		}
	}
	for a := range nodes {
		for b := range nodes {
			want := a != b && a < replicas && b < replicas && (a == isolated) != (b == isolated)
			if got := h.n.Partitioned(a, b); got != want {
				t.Fatalf("Partitioned(%d,%d) = %v, want %v (isolated %d)", a, b, got, want, isolated)
			}
		}
	}
	post := make(map[[2]int]uint64)
	for a := range nodes {
		for b := range nodes {
			if a != b {
				post[[2]int{a, b}] = h.send(a, b)
			}
		}
	}
	h.run(50)
	c := h.counts()
	for k, id := range pre {
		if cut := h.n.Partitioned(k[0], k[1]); (c[id] == 0) != cut {
			t.Fatalf("in-flight %v: delivered %d, cut %v", k, c[id], cut)
		}
	}
	for k, id := range post {
		if cut := h.n.Partitioned(k[0], k[1]); (c[id] == 0) != cut {
			t.Fatalf("%v: delivered %d, cut %v", k, c[id], cut)
		}
	}
	wantDropped := uint64(2 * 2 * (replicas - 1))
	if st := h.n.Stats(); st.Dropped != wantDropped {
		t.Fatalf("dropped %d, want %d", st.Dropped, wantDropped)
	}

	h.n.Heal(1_000_000)
	for a := range nodes {
		for b := range nodes {
			if h.n.Partitioned(a, b) {
				t.Fatalf("%d→%d still partitioned after Heal", a, b)
			}
		}
	}
	healed := make([]uint64, 0)
	for a := range nodes {
		for b := range nodes {
			if a != b {
				healed = append(healed, h.send(a, b))
			}
		}
	}
	start := h.s.Now()
	h.run(100)
	c = h.counts()
	for _, id := range healed {
		if c[id] != 1 {
			t.Fatalf("packet %d delivered %d times after Heal", id, c[id])
		}
	}
	for _, d := range h.got {
		if d.id >= healed[0] && d.at != start+1_000_000 {
			t.Fatalf("healed delay %d, want 1ms", d.at-start)
		}
	}
	if h.n.Stats().Partitions != 1 {
		t.Fatalf("partitioned again after Heal")
	}
}

func TestAsymmetricCutsAtLeastOneDirection(t *testing.T) {
	oneWay := false
	for seed := uint64(0); seed < 300; seed++ {
		mode := PartitionModes[1+seed%3]
		opts := Options{
			PartitionMode:          mode,
			PartitionProbability:   1,
			UnpartitionProbability: 1,
		}
		replicas := 2 + int(seed%5)
		h := newHarness(t, opts, seed, replicas+2, replicas)
		for tick := 0; tick < 6; tick++ {
			h.n.Tick()
			if !h.n.partitioned {
				continue
			}
			a := 0
			for _, s := range h.n.side {
				if s {
					a++
				}
			}
			if a == 0 || a == replicas {
				t.Fatalf("seed %d %v: one side empty", seed, mode)
			}
			if mode == PartitionIsolateSingle && a != 1 {
				t.Fatalf("seed %d: isolate_single isolated %d", seed, a)
			}
			cuts := 0
			for x := range replicas + 2 {
				for y := range replicas + 2 {
					cut := h.n.Partitioned(x, y)
					if cut {
						cuts++
						if x >= replicas || y >= replicas || h.n.side[x] == h.n.side[y] {
							t.Fatalf("seed %d: cut %d→%d within a side or to a client", seed, x, y)
						}
						if !h.n.Partitioned(y, x) {
							oneWay = true
						}
					}
				}
			}
			if cuts == 0 {
				t.Fatalf("seed %d %v: asymmetric partition cuts nothing", seed, mode)
			}
		}
		if h.n.Stats().Partitions != 3 {
			t.Fatalf("seed %d: %d partitions in 6 ticks, want 3", seed, h.n.Stats().Partitions)
		}
	}
	if !oneWay {
		t.Fatalf("no one-way cut in 300 asymmetric partitions")
	}
}

func TestCapacityBound(t *testing.T) {
	opts := Options{OneWayDelayMinNs: 30_000_000, OneWayDelayMeanNs: 60_000_000, PathCapacity: 3, ReplayProbability: 0.5}
	h := newHarness(t, opts, 8, 3, 3)
	w := rand.New(rand.NewPCG(1, 1))
	peak := 0
	for range 300 {
		for range 6 {
			a, b := w.IntN(3), w.IntN(3)
			h.send(a, b)
			for x := range 3 {
				for y := range 3 {
					k := h.n.PathInFlight(x, y)
					if k > 3 {
						t.Fatalf("path %d→%d has %d in flight", x, y, k)
					}
					peak = max(peak, k)
				}
			}
		}
		h.run(1)
	}
	h.drain()
	checkConservation(t, h.n)
	st := h.n.Stats()
	if peak != 3 || st.Dropped == 0 || st.Sent+st.Duplicated != st.Delivered+st.Dropped {
		t.Fatalf("peak %d, stats %+v", peak, st)
	}
	for path, q := range h.n.inflight {
		if len(q) != 0 {
			t.Fatalf("path %d still tracks %d packets after drain", path, len(q))
		}
	}
	if h.n.InFlight() != 0 {
		t.Fatalf("%d in flight after drain", h.n.InFlight())
	}
}

func TestDelayRespectsMinimum(t *testing.T) {
	const min, mean = 25_000_000, 40_000_000
	opts := Options{OneWayDelayMinNs: min, OneWayDelayMeanNs: mean}
	h := newHarness(t, opts, 21, 5, 3)
	traffic(h, 3, 1000, 4)
	h.drain()
	var sum uint64
	var n uint64
	for _, d := range h.got {
		delay := d.at - h.sentAt[d.id]
		if d.from == d.to {
			if delay != 0 {
				t.Fatalf("self-send delayed %d", delay)
			}
			continue
		}
		if delay < min {
			t.Fatalf("packet %d took %d ns < min %d", d.id, delay, min)
		}
		sum += delay
		n++
	}
	// The mean is the whole delay's, minimum included.
	avg := float64(sum) / float64(n)
	if avg < 0.97*mean || avg > 1.03*mean {
		t.Fatalf("mean delay %.0f, want ~%d", avg, mean)
	}
}

func TestClogHoldsWithoutLoss(t *testing.T) {
	opts := Options{OneWayDelayMinNs: 50_000_000, ClogProbability: 1, ClogDurationMeanNs: 2_000_000_000}
	h := newHarness(t, opts, 5, 2, 2)
	before := h.send(0, 1) // in flight when the clog starts: held
	h.n.Tick()             // every path clogs at tick 1
	if !h.n.Clogged(0, 1) || !h.n.Clogged(1, 0) || h.n.Stats().Clogs != 2 {
		t.Fatalf("not clogged: %+v", h.n.Stats())
	}
	until := h.n.clogUntil[1]
	during := h.send(0, 1)
	h.drain()
	c := h.counts()
	if c[before] != 1 || c[during] != 1 || h.n.Stats().Dropped != 0 {
		t.Fatalf("clog lost packets: %v %+v", c, h.n.Stats())
	}
	for _, d := range h.got {
		switch d.id {
		case before:
			if d.at != max(until, opts.OneWayDelayMinNs) {
				t.Fatalf("held packet arrived at %d, clog until %d", d.at, until)
			}
		case during:
			if d.at != until+opts.OneWayDelayMinNs {
				t.Fatalf("packet sent while clogged arrived at %d, clog until %d", d.at, until)
			}
		}
	}
	// Clogs keep coming with probability 1, each path once it is whole again.
	h.run(1000)
	if k := h.n.Stats().Clogs; k < 4 {
		t.Fatalf("%d clogs in 1000 ticks at p=1", k)
	}
	h.n.Heal(0)
	if h.n.Clogged(0, 1) || h.n.Clogged(1, 0) {
		t.Fatalf("clogged after Heal")
	}
	k := h.n.Stats().Clogs
	h.run(100)
	if h.n.Stats().Clogs != k {
		t.Fatalf("clogs after Heal")
	}
}

func TestClogRate(t *testing.T) {
	const p, ticks = 0.01, 20000
	opts := Options{ClogProbability: p, ClogDurationMeanNs: 0}
	h := newHarness(t, opts, 6, 4, 4)
	for range ticks {
		h.n.Tick()
	}
	want := p * ticks * 12
	if got := float64(h.n.Stats().Clogs); got < 0.9*want || got > 1.1*want {
		t.Fatalf("%v clogs, want ~%v", got, want)
	}
}

func TestSelfSendAndDownNode(t *testing.T) {
	opts := Options{OneWayDelayMinNs: 10_000_000, LossProbability: 1}
	h := newHarness(t, opts, 9, 3, 3)
	self := h.send(1, 1)
	lost := h.send(0, 1)
	h.drain()
	c := h.counts()
	if c[self] != 1 || c[lost] != 0 || h.got[0].at != 0 {
		t.Fatalf("self %d lost %d, got %+v", c[self], c[lost], h.got)
	}

	h = newHarness(t, Options{OneWayDelayMinNs: 10_000_000}, 9, 3, 3)
	inflight := h.send(0, 2)
	h.n.SetNodeUp(2, false)
	h.send(1, 2)
	h.send(2, 2)
	fromDown := h.send(2, 0)
	h.drain()
	c = h.counts()
	if len(h.got) != 1 || c[fromDown] != 1 || c[inflight] != 0 || h.n.Stats().Dropped != 3 {
		t.Fatalf("down node: got %+v, stats %+v", h.got, h.n.Stats())
	}
	h.n.SetNodeUp(2, true)
	back := h.send(0, 2)
	h.drain()
	if h.counts()[back] != 1 {
		t.Fatalf("not delivered after the node came back")
	}
}

func TestDeliverMaySubmit(t *testing.T) {
	s := &sched.Scheduler{}
	var n *Network
	hops := 0
	n = New(Options{OneWayDelayMinNs: 1, OneWayDelayMeanNs: 1000}, rand.New(rand.NewPCG(1, 2)), s, 2, 2,
		func(from, to int, data []byte, _ bool) {
			hops++
			if hops < 100 {
				n.Submit(to, from, data)
			}
		})
	n.Submit(0, 1, []byte{1})
	for s.Pending() > 0 {
		s.RunUntil(s.Now() + sched.TickNs)
	}
	if hops != 100 || n.Stats().Delivered != 100 {
		t.Fatalf("hops %d, stats %+v", hops, n.Stats())
	}
}

func TestSteadyStateAllocatesNothing(t *testing.T) {
	s := &sched.Scheduler{}
	n := New(faulty, rand.New(rand.NewPCG(1, 2)), s, 10, 6, func(int, int, []byte, bool) {})
	data := make([]byte, 64)
	step := func() {
		for i := range 10 {
			n.Submit(i%10, (i*7+3)%10, data)
		}
		s.RunUntil(s.Now() + sched.TickNs)
		n.Tick()
	}
	for range 5000 { // warm up free list, heap and path slices
		step()
	}
	if a := testing.AllocsPerRun(1000, step); a != 0 {
		t.Fatalf("%v allocs per tick", a)
	}
}

func TestPartitionModeString(t *testing.T) {
	want := []string{"none", "uniform_size", "uniform_partition", "isolate_single"}
	for i, m := range PartitionModes {
		if m.String() != want[i] {
			t.Fatalf("%d: %q", i, m.String())
		}
	}
	if PartitionMode(9).String() != "PartitionMode(9)" {
		t.Fatal(PartitionMode(9).String())
	}
}

func TestValidate(t *testing.T) {
	bad := []Options{{LossProbability: -0.1}, {ReplayProbability: 1.5}, {PathCapacity: -1}, {PartitionMode: 7}}
	for i, o := range bad {
		if o.Validate() == nil {
			t.Fatalf("%d: accepted %+v", i, o)
		}
	}
	if faulty.Validate() != nil {
		t.Fatal(faulty.Validate())
	}
}

func BenchmarkSubmitDeliver(b *testing.B) {
	s := &sched.Scheduler{}
	opts := faulty
	opts.PathCapacity = 20
	n := New(opts, rand.New(rand.NewPCG(1, 2)), s, 10, 6, func(int, int, []byte, bool) {})
	data := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n.Submit(i%10, (i*7+3)%10, data)
		if i%16 == 15 { // ~16 packets per tick
			s.RunUntil(s.Now() + sched.TickNs)
			n.Tick()
		}
	}
	b.ReportMetric(float64(n.Stats().Delivered)/float64(b.N), "delivered/op")
}

func BenchmarkSubmitDeliverNoFaults(b *testing.B) {
	s := &sched.Scheduler{}
	n := New(Options{OneWayDelayMinNs: 1_000_000, OneWayDelayMeanNs: 30_000_000}, rand.New(rand.NewPCG(1, 2)), s, 10, 6, func(int, int, []byte, bool) {})
	data := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n.Submit(i%10, (i*7+3)%10, data)
		if i%16 == 15 {
			s.RunUntil(s.Now() + sched.TickNs)
			n.Tick()
		}
	}
}

// BenchmarkTickIdle: 19 nodes (342 paths) with 2% clogs per path per tick.
func BenchmarkTickIdle(b *testing.B) {
	s := &sched.Scheduler{}
	n := New(faulty, rand.New(rand.NewPCG(1, 2)), s, 19, 6, func(int, int, []byte, bool) {})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.RunUntil(s.Now() + sched.TickNs)
		n.Tick()
	}
}

// Corruption happens at the drawn rate, in every kind, on private copies:
// no submitted buffer changes, every corrupted delivery differs from every
// packet ever sent, and every clean one is some sent packet byte for byte.
func TestCorruption(t *testing.T) {
	const p, ticks, perTick, size = 0.05, 3000, 4, 300
	opts := Options{OneWayDelayMinNs: 1_000_000, OneWayDelayMeanNs: 20_000_000, ReplayProbability: 0.3, CorruptProbability: p}
	s := &sched.Scheduler{}
	var sent, pristine [][]byte
	valid := map[string]bool{}
	var corrupted, clean, selfCorrupted uint64
	n := New(opts, rand.New(rand.NewPCG(11, 12)), s, 6, 4, func(from, to int, data []byte, bad bool) {
		switch {
		case bad && from == to:
			selfCorrupted++
		case bad:
			corrupted++
			if valid[string(data)] {
				t.Fatalf("a corrupted delivery %d→%d is byte-identical to a sent packet", from, to)
			}
		default:
			if from != to {
				clean++
			}
			if !valid[string(data)] {
				t.Fatalf("a clean delivery %d→%d matches no sent packet", from, to)
			}
		}
	})
	w := rand.New(rand.NewPCG(13, 14))
	for range ticks {
		for range perTick {
			b := make([]byte, size/2+w.IntN(size))
			for i := range b {
				b[i] = byte(w.Uint32())
			}
			sent, pristine = append(sent, b), append(pristine, bytes.Clone(b))
			valid[string(b)] = true
			n.Submit(w.IntN(6), w.IntN(6), b)
		}
		s.RunUntil(s.Now() + sched.TickNs)
		n.Tick()
	}
	for s.Pending() > 0 {
		s.RunUntil(s.Now() + sched.TickNs)
	}
	for i := range sent {
		if !bytes.Equal(sent[i], pristine[i]) {
			t.Fatalf("submitted buffer %d was modified", i)
		}
	}
	st := n.Stats()
	if selfCorrupted != 0 {
		t.Errorf("%d self-sends corrupted", selfCorrupted)
	}
	if st.Corrupted != corrupted {
		t.Errorf("Stats.Corrupted = %d, deliveries flagged %d", st.Corrupted, corrupted)
	}
	if rate := float64(corrupted) / float64(corrupted+clean); rate < 0.9*p || rate > 1.1*p {
		t.Errorf("corrupted %d of %d deliveries (%.4f), want ~%v", corrupted, corrupted+clean, rate, p)
	}
	var kinds uint64
	for k, c := range st.CorruptedBy {
		kinds += c
		if float64(c) < 0.25*float64(corrupted) {
			t.Errorf("%v: %d of %d corruptions, want about a third", Corruption(k), c, corrupted)
		}
	}
	if kinds != st.Corrupted {
		t.Errorf("kinds sum to %d, corrupted %d", kinds, st.Corrupted)
	}
}
