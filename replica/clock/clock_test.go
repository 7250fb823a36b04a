package clock

import (
	"math/rand/v2"
	"testing"
)

const (
	ms = 1_000_000
	s  = 1_000 * ms
	// testEpochNs is true wall time at tick 0.
	testEpochNs = 1_700_000_000 * s
	pingEvery   = 100 // ticks, as vsr's PingTicks
)

// nodeTime is one replica's clocks: monotonic = true elapsed time, realtime
// = true wall time plus the node's offset, which a test may step.
type nodeTime struct {
	w      *world
	offset int64
}

func (t *nodeTime) Monotonic() uint64 { return t.w.now }
func (t *nodeTime) Realtime() int64   { return testEpochNs + int64(t.w.now) + t.offset }

type pong struct {
	to, from uint8
	m0       uint64
	t1       int64
	due      uint64 // true time of arrival
}

// world runs the clocks of a cluster: every pingEvery ticks each replica
// pings every other; the pong carries the peer's wall time read after a
// random forward delay and arrives after a random return delay, both whole
// ticks in [delayMin, delayMax]. reachable decides which pings get answers.
type world struct {
	t                  *testing.T
	now                uint64
	tick               uint64
	times              []*nodeTime
	clocks             []*Clock
	rng                *rand.Rand
	delayMin, delayMax uint64
	pending            []pong
	reachable          func(from, to uint8) bool
}

func newWorld(t *testing.T, cfg Config, offsets ...int64) *world {
	w := &world{t: t, rng: rand.New(rand.NewPCG(7, uint64(len(offsets)))), delayMin: 1, delayMax: 3,
		reachable: func(_, _ uint8) bool { return true }}
	for i, o := range offsets {
		nt := &nodeTime{w: w, offset: o}
		w.times = append(w.times, nt)
		w.clocks = append(w.clocks, New(cfg, uint8(len(offsets)), uint8(i), nt))
	}
	return w
}

func (w *world) delay() uint64 {
	return (w.delayMin + w.rng.Uint64N(w.delayMax-w.delayMin+1)) * TickNs
}

// trueNow is the wall time a perfect clock would read.
func (w *world) trueNow() int64 { return testEpochNs + int64(w.now) }

func (w *world) step() {
	w.now += TickNs
	w.tick++
	keep := w.pending[:0]
	for _, p := range w.pending {
		if p.due <= w.now {
			w.clocks[p.to].Learn(p.from, p.m0, p.t1, w.now)
		} else {
			keep = append(keep, p)
		}
	}
	w.pending = keep
	if w.tick%pingEvery == 0 {
		for i := range w.clocks {
			for j := range w.clocks {
				if i == j || !w.reachable(uint8(i), uint8(j)) {
					continue
				}
				there := w.delay()
				back := w.delay()
				t1 := testEpochNs + int64(w.now+there) + w.times[j].offset
				w.pending = append(w.pending, pong{to: uint8(i), from: uint8(j), m0: w.now, t1: t1, due: w.now + there + back})
			}
		}
	}
	for _, c := range w.clocks {
		c.Tick()
	}
}

func (w *world) run(ticks uint64) {
	for range ticks {
		w.step()
	}
}

// near checks replica i's cluster time lies within [lo, hi] of true time.
func (w *world) near(i int, lo, hi int64) {
	w.t.Helper()
	got, ok := w.clocks[i].Realtime()
	if !ok {
		w.t.Fatalf("tick %d: replica %d not synchronized", w.tick, i)
	}
	if d := got - w.trueNow(); d < lo || d > hi {
		w.t.Fatalf("tick %d: replica %d cluster time off by %d ns, want [%d, %d]", w.tick, i, d, lo, hi)
	}
}

// maxDelay is the largest one-way delay a sample can have: the most a
// Realtime may err by beyond the sources' own offsets.
func (w *world) maxDelay() int64 { return int64(w.delayMax * TickNs) }

func TestSoloUsesItsOwnClock(t *testing.T) {
	w := newWorld(t, ProductionConfig(), 5*s)
	if !w.clocks[0].Synchronized() {
		t.Fatal("a solo replica is always synchronized")
	}
	w.run(10)
	w.near(0, 5*s, 5*s)
}

func TestConvergesWithPeersAtKnownOffsets(t *testing.T) {
	offsets := []int64{0, 40 * ms, -25 * ms, 10 * ms, 3 * ms, -7 * ms}
	for r := 2; r <= SourcesMax; r++ {
		w := newWorld(t, ProductionConfig(), offsets[:r]...)
		w.run(WindowMinTicks - 1)
		for i, c := range w.clocks {
			if c.Synchronized() {
				t.Fatalf("r=%d: replica %d synchronized before the window's minimum", r, i)
			}
		}
		w.run(pingEvery + 1)
		lo, hi := slicesMinMax(offsets[:r])
		for range 3 * EpochMaxTicks {
			w.step()
			for i, c := range w.clocks {
				// Every agreement holds the true offsets of a quorum of
				// sources, each known to within its delay.
				w.near(i, lo-w.maxDelay(), hi+w.maxDelay())
				if n := c.Sources(); n < int(ReplicationQuorum(uint8(r))) {
					t.Fatalf("r=%d: replica %d agrees with %d sources", r, i, n)
				}
			}
		}
		st := w.clocks[0].Stats()
		if st.EpochsExpired != 0 || st.WindowsExpired != 0 || st.Synchronizations < 3*EpochMaxTicks/WindowMaxTicks {
			t.Fatalf("r=%d: %+v", r, st)
		}
	}
}

func slicesMinMax(v []int64) (lo, hi int64) {
	lo, hi = v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}

// A replica whose clock is a minute fast is outvoted: the others agree
// without it, and it too takes their time rather than its own.
func TestFalseTickerIsOutvoted(t *testing.T) {
	w := newWorld(t, ProductionConfig(), 0, 60*s, 2*ms, -3*ms, 5*ms)
	w.run(WindowMinTicks + pingEvery + 1)
	for i, c := range w.clocks {
		w.near(i, -3*ms-w.maxDelay(), 5*ms+w.maxDelay())
		iv, ok := c.Interval()
		if !ok || iv.SourcesFalse < 1 {
			t.Fatalf("replica %d: interval %+v, synchronized %v: the false ticker was not left out", i, iv, ok)
		}
	}
	if off := w.clocks[1].Offset(); off > -60*s+10*ms || off < -60*s-10*ms {
		t.Fatalf("the false ticker corrects its clock by %d ns", off)
	}
}

// With three replicas, one false ticker still leaves a quorum of two; two
// that disagree with each other and with us leave none.
func TestNoAgreementLeavesUnsynchronized(t *testing.T) {
	w := newWorld(t, ProductionConfig(), 0, 30*s, -30*s)
	w.run(2 * WindowMaxTicks)
	for i, c := range w.clocks {
		if _, ok := c.Realtime(); ok || c.Synchronized() {
			t.Fatalf("replica %d synchronized with no two clocks within tolerance", i)
		}
		if st := c.Stats(); st.WindowsExpired < 1 || st.Synchronizations != 0 {
			t.Fatalf("replica %d: %+v", i, st)
		}
	}
}

func TestTooFewSourcesLeavesUnsynchronized(t *testing.T) {
	// Five replicas need three sources: ourselves and one peer are not
	// enough, however well they agree.
	w := newWorld(t, ProductionConfig(), 0, 0, 0, 0, 0)
	w.reachable = func(from, to uint8) bool { return from+to == 1 }
	w.run(2*WindowMaxTicks + 10)
	for i, c := range w.clocks {
		if c.Synchronized() {
			t.Fatalf("replica %d synchronized", i)
		}
	}
	if got := w.clocks[0].WindowSources(); got != 2 {
		t.Fatalf("replica 0 sampled %d sources, want itself and replica 1", got)
	}
	// A third source suffices.
	w.reachable = func(from, to uint8) bool { return from < 3 && to < 3 }
	w.run(WindowMaxTicks)
	for i := range 3 {
		w.near(i, -w.maxDelay(), w.maxDelay())
	}
	if w.clocks[3].Synchronized() {
		t.Fatal("an isolated replica synchronized")
	}
}

// fixed is a clock whose readings the test sets.
type fixed struct {
	mono uint64
	real int64
}

func (f *fixed) Monotonic() uint64 { return f.mono }
func (f *fixed) Realtime() int64   { return f.real }

func (f *fixed) advance(ns uint64) {
	f.mono += ns
	f.real += int64(ns)
}

// A pong for a ping sent before the window began has a round trip longer
// than the window is old: it is refused, as is one arriving after the
// window's maximum age and one whose times run backwards.
func TestLongRoundTripIsDiscarded(t *testing.T) {
	f := &fixed{mono: 1000 * s, real: testEpochNs}
	c := New(ProductionConfig(), 3, 0, f)
	start := f.mono
	f.advance(5 * s)
	c.Learn(1, start-1, testEpochNs, f.mono)
	if st := c.Stats(); st.RejectedStale != 1 || st.Accepted != 0 {
		t.Fatalf("stale ping: %+v", st)
	}
	c.Learn(1, f.mono, testEpochNs, f.mono-1)
	if st := c.Stats(); st.RejectedBackwards != 1 {
		t.Fatalf("backwards: %+v", st)
	}
	c.Learn(0, f.mono-ms, f.real, f.mono)
	c.Learn(3, f.mono-ms, f.real, f.mono)
	if st := c.Stats(); st.RejectedSource != 2 {
		t.Fatalf("bad sources: %+v", st)
	}
	if c.WindowSources() != 1 {
		t.Fatal("a refused sample was kept")
	}
	f.advance(WindowMaxTicks*TickNs - 5*s + 1)
	c.Learn(1, start, f.real, f.mono)
	if st := c.Stats(); st.RejectedExpired != 1 || st.Accepted != 0 {
		t.Fatalf("expired: %+v", st)
	}
}

// Of a peer's samples the least delayed decides: a slow pong whose wide
// interval would contain our own offset loses to a fast one that puts the
// peer 50 ms ahead, so agreement needs a tolerance of 20 ms at least.
func TestLeastDelayedSampleWins(t *testing.T) {
	f := &fixed{mono: 1000 * s, real: testEpochNs}
	c := New(ProductionConfig(), 2, 0, f)
	f.advance(s)
	// 400 ms round trip, peer apparently 150 ms ahead.
	m0 := f.mono
	f.advance(400 * ms)
	c.Learn(1, m0, f.real-200*ms+150*ms, f.mono)
	// 20 ms round trip, peer 50 ms ahead.
	m0 = f.mono
	f.advance(20 * ms)
	c.Learn(1, m0, f.real-10*ms+50*ms, f.mono)
	// A later slow one does not replace it.
	m0 = f.mono
	f.advance(600 * ms)
	c.Learn(1, m0, f.real-300*ms, f.mono)
	f.advance(WindowMinTicks * TickNs)
	c.Tick()
	// The narrowest tolerance still agreeing is 10 s / 2^8 = 39.0625 ms:
	// ours [-tol, tol], the peer's [50 ms - 10 ms - tol, 50 ms + 10 ms + tol].
	iv, ok := c.Interval()
	if want := (Interval{937_500, 39_062_500, 2, 0}); !ok || iv != want {
		t.Fatalf("interval %+v synchronized %v, want %+v", iv, ok, want)
	}
	// Our clock lies below the agreement: cluster time is its lower end.
	if off := c.Offset(); off != 937_500 {
		t.Fatalf("offset %d", off)
	}
}

// When agreement is lost (here: the peers fall silent), the last epoch
// stands until it is EpochMaxTicks old, counted from the start of the
// window that made it; then the clock is unsynchronized.
func TestExpiredWindowKeepsEpochUntilItsBound(t *testing.T) {
	w := newWorld(t, ProductionConfig(), 0, 4*ms, -4*ms)
	w.run(WindowMinTicks + pingEvery + 1)
	c := w.clocks[0]
	silent := w.tick
	w.reachable = func(_, _ uint8) bool { return false }
	// Pongs in flight may still synchronize the window once more.
	var epochStart uint64
	for c.Synchronized() {
		epochStart = c.epoch.monotonic / TickNs
		w.step()
		if w.tick > silent+EpochMaxTicks+WindowMaxTicks {
			t.Fatal("still synchronized long after the peers fell silent")
		}
	}
	if w.tick != epochStart+EpochMaxTicks {
		t.Fatalf("unsynchronized at tick %d, want the epoch's start %d + %d", w.tick, epochStart, EpochMaxTicks)
	}
	if w.tick < silent+WindowMaxTicks {
		t.Fatal("unsynchronized before a window could expire")
	}
	if st := c.Stats(); st.WindowsExpired < 1 || st.EpochsExpired != 1 {
		t.Fatalf("%+v", st)
	}
	// Agreement returns: so does synchronization.
	w.reachable = func(_, _ uint8) bool { return true }
	w.run(WindowMaxTicks)
	w.near(0, -4*ms-w.maxDelay(), 4*ms+w.maxDelay())
}

// Our own wall clock jumping does not move cluster time beyond the
// agreement: Realtime clamps it, backwards and forwards.
func TestOwnClockJumpIsClamped(t *testing.T) {
	w := newWorld(t, ProductionConfig(), 0, 2*ms, -2*ms)
	w.run(WindowMinTicks + pingEvery + 1)
	for _, jump := range []int64{-5 * s, 5 * s, -30 * s, 90 * s} {
		w.times[0].offset = jump
		for range pingEvery {
			w.step()
			w.near(0, -2*ms-w.maxDelay(), 2*ms+w.maxDelay())
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := ProductionConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, mut := range []func(*Config){
		func(c *Config) { c.TickNs = 0 },
		func(c *Config) { c.ToleranceMaxNs = 0 },
		func(c *Config) { c.WindowMinTicks = 0 },
		func(c *Config) { c.WindowMinTicks = c.WindowMaxTicks + 1 },
		func(c *Config) { c.EpochMaxTicks = c.WindowMaxTicks },
	} {
		c := ProductionConfig()
		mut(&c)
		if c.Validate() == nil {
			t.Errorf("%+v validated", c)
		}
	}
}

func TestLearnAndTickDoNotAllocate(t *testing.T) {
	f := &fixed{mono: s, real: testEpochNs}
	c := New(ProductionConfig(), 6, 2, f)
	allocs := testing.AllocsPerRun(1000, func() {
		m0 := f.mono
		f.advance(TickNs)
		for p := range uint8(6) {
			c.Learn(p, m0, f.real, f.mono)
		}
		c.Tick()
		c.Realtime()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per tick", allocs)
	}
}

// A sample slower than the epoch's best for that peer, whose offset moved by
// about the extra delay, had the extra on one path only: it is put back by
// the extra. One whose offset stayed within the margin is kept as it is.
func TestAsymmetricDelayIsCorrected(t *testing.T) {
	f := &fixed{mono: 1000 * s, real: testEpochNs}
	c := New(ProductionConfig(), 2, 0, f)
	// pingPeer samples a peer with a perfect clock over the given paths.
	pingPeer := func(there, back uint64) {
		m0 := f.mono
		f.advance(there)
		t1 := f.real
		f.advance(back)
		c.Learn(1, m0, t1, f.mono)
	}
	pingPeer(5*ms, 5*ms)
	f.advance(WindowMinTicks * TickNs)
	c.Tick()
	if !c.Synchronized() || c.epoch.sources[1] != (sample{offset: 0, delay: 5 * ms, ok: true}) {
		t.Fatalf("epoch %+v", c.epoch.sources[1])
	}
	for _, tc := range []struct {
		there, back uint64
		want        int64
	}{
		{45 * ms, 5 * ms, 0}, // read 20 ms late: +20 ms uncorrected
		{5 * ms, 45 * ms, 0}, // read 20 ms early: -20 ms uncorrected
		{20 * ms, 10 * ms, 5 * ms},
		{10 * ms, 20 * ms, -5 * ms},
	} {
		c.window.sources[1] = sample{}
		pingPeer(tc.there, tc.back)
		if got := c.window.sources[1].offset; got != tc.want {
			t.Errorf("paths %d/%d ms: offset %d, want %d", tc.there/ms, tc.back/ms, got, tc.want)
		}
	}
}
