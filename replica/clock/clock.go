// Package clock gives a replica the cluster's agreed time. Each replica's
// wall clock may be off, drift or jump; from ping/pong samples of its peers'
// wall clocks it learns their offsets, and Marzullo's algorithm finds the
// smallest range of offsets that a replication quorum of sources (itself
// included) agrees on. Realtime is then the replica's own wall clock clamped
// into that range, so a replica whose clock is a false ticker is corrected by
// the others, and one that hears no quorum reports no time at all, which the
// protocol must treat as "do not stamp anything".
//
// Samples gather in a window. Once the window is old enough and holds an
// agreement it becomes the epoch, the synchronization in force, and a new
// window starts; a window that finds no agreement in time is discarded, and
// an epoch too old to trust (drift accumulates) leaves the clock
// unsynchronized. The package is pure: time comes from io.Time, and Tick and
// Learn are the only inputs.
package clock

import (
	"fmt"

	"viewstamp/replica/io"
)

// TigerBeetle's values (constants clock_offset_tolerance_max_ms,
// clock_synchronization_window_min_ms / _max_ms, clock_epoch_max_ms), in
// ticks of TickNs.
const (
	TickNs = 10_000_000 // one replica tick, 10 ms
	// ToleranceMaxNs is the widest tolerance tried: sources whose offsets
	// differ by more than twice this (plus their network delays) can never
	// agree.
	ToleranceMaxNs = 10_000_000_000
	// WindowMinTicks: a window gathers samples this long before it may
	// synchronize, so that every peer has been pinged a few times and the
	// best (least delayed) sample is likely among them.
	WindowMinTicks = 200
	// WindowMaxTicks: a window that has found no agreement by then is
	// discarded, and samples this old are refused: their offsets have
	// drifted.
	WindowMaxTicks = 2_000
	// EpochMaxTicks: a synchronization older than this is no longer
	// trusted; measured from the start of the window that made it.
	EpochMaxTicks = 6_000
)

// Limits that are not configuration.
const (
	// toleranceRounds caps the halvings of the tolerance; from 10 s the
	// tolerance reaches zero after 34, so this only guards the loop.
	toleranceRounds = 64
	// asymmetryMarginNs: a sample whose delay grew since the epoch's best
	// but whose offset moved by less than this is taken as symmetric.
	asymmetryMarginNs = 10_000_000
	// SourcesMax is the most sources a clock keeps: TigerBeetle's six
	// replicas.
	SourcesMax = 6
)

// Config sets the clock's windows; the simulator may shrink them so that
// runs see many epochs.
type Config struct {
	TickNs         uint64
	ToleranceMaxNs uint64
	WindowMinTicks uint64
	WindowMaxTicks uint64
	EpochMaxTicks  uint64
}

// ProductionConfig is TigerBeetle's.
func ProductionConfig() Config {
	return Config{TickNs: TickNs, ToleranceMaxNs: ToleranceMaxNs,
		WindowMinTicks: WindowMinTicks, WindowMaxTicks: WindowMaxTicks, EpochMaxTicks: EpochMaxTicks}
}

// Validate reports a configuration the clock cannot run with.
func (c Config) Validate() error {
	switch {
	case c.TickNs == 0:
		return fmt.Errorf("clock: tick length zero")
	case c.ToleranceMaxNs == 0 || c.ToleranceMaxNs > 1<<62:
		return fmt.Errorf("clock: tolerance %d ns outside [1, 2^62]", c.ToleranceMaxNs)
	case c.WindowMinTicks == 0 || c.WindowMinTicks > c.WindowMaxTicks:
		return fmt.Errorf("clock: window min %d ticks outside [1, window max %d]", c.WindowMinTicks, c.WindowMaxTicks)
	case c.EpochMaxTicks <= c.WindowMaxTicks:
		// An epoch begins when its window did, so it must outlive the next
		// window's search, or every failed window would unsynchronize.
		return fmt.Errorf("clock: epoch max %d ticks not above window max %d", c.EpochMaxTicks, c.WindowMaxTicks)
	}
	return nil
}

// ReplicationQuorum is the number of sources that must agree: TigerBeetle's
// replication quorum for r replicas (it must equal vsr's; a test checks).
func ReplicationQuorum(r uint8) uint8 {
	switch {
	case r <= 2:
		return r
	default:
		return min(3, (r+1)/2)
	}
}

// sample is the best measurement of one source in a window: its wall clock
// minus ours, and half the round trip it was measured over, the error bound
// before tolerance.
type sample struct {
	offset int64
	delay  uint64
	ok     bool
}

// epoch is a window of samples, and once synchronized, the clock's epoch.
// Offsets are against the realtime read when it began plus monotonic time
// elapsed since, so our own wall clock jumping during the window does not
// move them.
type epoch struct {
	sources   [SourcesMax]sample
	monotonic uint64
	realtime  int64
	interval  Interval
	synced    bool
	learned   bool // a sample arrived since the last attempt to synchronize
}

// Stats count what the clock did, for observers.
type Stats struct {
	Synchronizations uint64 // windows that became the epoch
	WindowsExpired   uint64 // windows discarded without agreement
	EpochsExpired    uint64 // synchronizations that aged out
	// Samples refused: from ourselves or no replica (a misrouted message),
	// pongs whose times run backwards, pings sent before the window began
	// (a reply to a ping from before a restart, or from the last window),
	// and pongs arriving after the window's maximum age.
	RejectedSource, RejectedBackwards, RejectedStale, RejectedExpired uint64
	Accepted                                                          uint64
}

// Clock is one replica's view of cluster time.
type Clock struct {
	cfg    Config
	time   io.Time
	self   uint8
	count  uint8
	quorum int

	windowMinNs, windowMaxNs, epochMaxNs uint64

	epoch  epoch
	window epoch
	tuples [2 * SourcesMax]Tuple
	stats  Stats
}

// New returns the clock of replica self of replicaCount; cfg must be valid.
func New(cfg Config, replicaCount, self uint8, t io.Time) *Clock {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	if replicaCount == 0 || replicaCount > SourcesMax || self >= replicaCount {
		panic(fmt.Sprintf("clock: replica %d of %d", self, replicaCount))
	}
	c := &Clock{cfg: cfg, time: t, self: self, count: replicaCount, quorum: int(ReplicationQuorum(replicaCount)),
		windowMinNs: cfg.WindowMinTicks * cfg.TickNs, windowMaxNs: cfg.WindowMaxTicks * cfg.TickNs,
		epochMaxNs: cfg.EpochMaxTicks * cfg.TickNs}
	c.reset(&c.epoch)
	c.reset(&c.window)
	return c
}

func (c *Clock) reset(e *epoch) {
	*e = epoch{monotonic: c.time.Monotonic(), realtime: c.time.Realtime()}
	// Our own clock is a source with no offset and no delay.
	e.sources[c.self] = sample{ok: true}
}

func (c *Clock) elapsed(e *epoch) uint64 { return c.time.Monotonic() - e.monotonic }

// Learn takes a pong from peer: m0 is our monotonic time when we sent the
// ping (echoed back), t1 the peer's wall clock when it answered, m2 our
// monotonic time on receipt. The peer read t1 somewhere in the round trip;
// assuming the middle, its clock is t1 + (m2-m0)/2 at m2, and the error is at
// most half the round trip. Only the least delayed sample per peer is kept.
func (c *Clock) Learn(peer uint8, m0 uint64, t1 int64, m2 uint64) {
	if c.count == 1 {
		return
	}
	w := &c.window
	switch {
	case peer == c.self || peer >= c.count:
		c.stats.RejectedSource++
		return
	case m0 > m2:
		c.stats.RejectedBackwards++
		return
	case m0 < w.monotonic:
		c.stats.RejectedStale++
		return
	case m2-w.monotonic > c.windowMaxNs:
		c.stats.RejectedExpired++
		return
	}
	delay := (m2 - m0) / 2
	ours := w.realtime + int64(m2-w.monotonic)
	offset := t1 + int64(delay) - ours
	offset += c.asymmetry(peer, delay, offset)
	if s := &w.sources[peer]; !s.ok || delay < s.delay {
		*s = sample{offset: offset, delay: delay, ok: true}
	}
	w.learned = true
	c.stats.Accepted++
}

// asymmetry corrects a sample whose delay grew since the epoch's best sample
// of the same peer. If its offset moved along with the extra delay, the extra
// was on one path only: forward if the peer seems ahead (its t1 read late),
// backward if behind. The correction moves the offset back by the extra.
func (c *Clock) asymmetry(peer uint8, delay uint64, offset int64) int64 {
	best := c.epoch.sources[peer]
	if !best.ok || delay <= best.delay {
		return 0
	}
	extra := int64(delay - best.delay)
	switch {
	case offset > best.offset+asymmetryMarginNs:
		return -extra
	case offset < best.offset-asymmetryMarginNs:
		return extra
	}
	return 0
}

// Tick advances the windows: it may synchronize the window, discard it, or
// expire the epoch.
func (c *Clock) Tick() {
	if c.count == 1 {
		return
	}
	c.synchronize()
	if c.elapsed(&c.epoch) >= c.epochMaxNs {
		if c.epoch.synced {
			c.stats.EpochsExpired++
		}
		c.reset(&c.epoch)
	}
}

func (c *Clock) synchronize() {
	w := &c.window
	age := c.elapsed(w)
	if age < c.windowMinNs {
		return
	}
	if age >= c.windowMaxNs {
		c.stats.WindowsExpired++
		c.reset(w)
		return
	}
	if !w.learned {
		return
	}
	w.learned = false
	// Tighten the tolerance while a quorum still agrees: the last interval
	// that did is the most precise the samples support. Its sources may be
	// fewer than at a looser tolerance; precision with a quorum wins.
	tolerance := c.cfg.ToleranceMaxNs
	for range toleranceRounds {
		iv := SmallestInterval(c.windowTuples(tolerance))
		if iv.SourcesTrue < c.quorum {
			break
		}
		w.interval, w.synced = iv, true
		if tolerance == 0 {
			break
		}
		tolerance /= 2
	}
	if !w.synced {
		return
	}
	c.stats.Synchronizations++
	c.epoch, c.window = c.window, c.epoch
	c.reset(&c.window)
}

func (c *Clock) windowTuples(tolerance uint64) []Tuple {
	n := 0
	for i := range c.count {
		s := c.window.sources[i]
		if !s.ok {
			continue
		}
		width := int64(s.delay + tolerance)
		c.tuples[n] = Tuple{Source: i, Offset: s.offset - width, Bound: Lower}
		c.tuples[n+1] = Tuple{Source: i, Offset: s.offset + width, Bound: Upper}
		n += 2
	}
	return c.tuples[:n]
}

// Synchronized reports whether the clock has cluster time to give.
func (c *Clock) Synchronized() bool { return c.count == 1 || c.epoch.synced }

// Realtime returns the cluster's time: our wall clock if it lies within the
// agreed interval, else the interval's nearest end. A solo replica has no one
// to agree with and uses its own wall clock. false: not synchronized.
func (c *Clock) Realtime() (int64, bool) {
	now := c.time.Realtime()
	if c.count == 1 {
		return now, true
	}
	if !c.epoch.synced {
		return 0, false
	}
	base := c.epoch.realtime + int64(c.elapsed(&c.epoch))
	return min(max(now, base+c.epoch.interval.Lower), base+c.epoch.interval.Upper), true
}

// Interval is the agreement in force, as offsets from the epoch's base
// time; false when unsynchronized.
func (c *Clock) Interval() (Interval, bool) { return c.epoch.interval, c.epoch.synced }

// Offset is how far Realtime corrects our wall clock (cluster time minus
// ours): zero while our clock lies within the agreement or when
// unsynchronized.
func (c *Clock) Offset() int64 {
	t, ok := c.Realtime()
	if !ok {
		return 0
	}
	return t - c.time.Realtime()
}

// Sources is the number of sources, ourselves included, whose samples agree
// in the synchronization in force; 0 when unsynchronized.
func (c *Clock) Sources() int {
	if !c.epoch.synced {
		return 0
	}
	return c.epoch.interval.SourcesTrue
}

// WindowSources is the number of sources sampled in the current window,
// ourselves included.
func (c *Clock) WindowSources() int {
	n := 0
	for i := range c.count {
		if c.window.sources[i].ok {
			n++
		}
	}
	return n
}

// Stats returns the clock's counters.
func (c *Clock) Stats() Stats { return c.stats }
