package vsr

import (
	"testing"

	"viewstamp/replica/clock"
	"viewstamp/replica/u128"
)

// wallEpochNs is where the tests' wall clocks start: far from zero, so that a
// step back of an hour stays positive.
const wallEpochNs = int64(1_700_000_000_000_000_000)

// stepTime is a replica's clock in these tests: the monotonic clock counts
// ticks, the wall clock adds an offset that a test may step.
type stepTime struct {
	ticks    *uint64
	offsetNs *int64
}

func (t stepTime) Monotonic() uint64 { return *t.ticks * clock.TickNs }
func (t stepTime) Realtime() int64 {
	return wallEpochNs + int64(*t.ticks*clock.TickNs) + *t.offsetNs
}

// clockCluster is a miniCluster whose replicas synchronize real clocks
// (no AgreedTime) over the messages it delivers, a tick at a time.
type clockCluster struct {
	*miniCluster
	ticks   uint64
	offsets []int64
	// stamps are the prepare timestamps seen leaving the first view's
	// primary, by op.
	stamps map[uint64]uint64
	order  []uint64 // timestamps in the order they were first sent
	// deaf: pongs to that primary are lost, so it hears no peer's clock.
	deaf    bool
	primary uint8
}

func newClockCluster(t *testing.T, count uint8) *clockCluster {
	t.Helper()
	c := &clockCluster{miniCluster: &miniCluster{}, offsets: make([]int64, count), stamps: map[uint64]uint64{}}
	cfg := SimConfig(count)
	for i := uint8(0); i < count; i++ {
		st := newMemStorage(cfg)
		Format(cfg, testCluster, i, st, func() {})
		st.flush()
		tm := stepTime{&c.ticks, &c.offsets[i]}
		r, err := New(Options{Config: cfg, Cluster: testCluster, Replica: i, Time: tm, Network: routeNet{i, &c.inflight}, Storage: st, SM: nopSM{}, Seed: uint64(i)})
		if err != nil {
			t.Fatal(err)
		}
		c.replicas = append(c.replicas, r)
		c.disks = append(c.disks, st)
		r.Open()
	}
	c.drop = func(p packet, m *Message) bool {
		if m.Header.Command == CommandPrepare && p.from == c.primary {
			if _, seen := c.stamps[m.Header.Op]; !seen {
				c.stamps[m.Header.Op] = m.Header.Timestamp
				c.order = append(c.order, m.Header.Timestamp)
			}
		}
		return c.deaf && p.to == c.primary && m.Header.Command == CommandPong
	}
	c.settle()
	c.primary = c.replicas[0].primaryIndex(c.replicas[0].View())
	return c
}

func (c *clockCluster) tick(n int) {
	for range n {
		c.ticks++
		for _, r := range c.replicas {
			r.Tick()
		}
		c.settle()
	}
}

// register sends the first primary a register from a new client.
func (c *clockCluster) register(client uint64) {
	m := registerRequest(u128.U128{Lo: client}, 0)
	c.replicas[c.primary].OnMessage(m.Bytes())
	c.settle()
}

// Until its clock agrees with a quorum, a primary prepares nothing: requests
// wait in its queue, and go once the clock is synchronized.
func TestPrimaryWaitsForItsClock(t *testing.T) {
	c := newClockCluster(t, 3)
	p := c.replicas[c.primary]
	if !p.Primary() || p.Status() != StatusNormal {
		t.Fatalf("replica %d: want the primary in normal status, got %v primary=%v", c.primary, p.Status(), p.Primary())
	}
	if p.ClockSynchronized() {
		t.Fatal("synchronized before any pong")
	}
	c.register(1)
	if p.Op() != 0 || len(p.requestQueue) != 1 {
		t.Fatalf("unsynchronized primary: op %d, %d queued; want op 0 and the register queued", p.Op(), len(p.requestQueue))
	}
	for i := 0; i < int(clock.WindowMaxTicks) && !p.ClockSynchronized(); i++ {
		c.tick(1)
	}
	if !p.ClockSynchronized() {
		t.Fatalf("no synchronization in %d ticks of pongs", clock.WindowMaxTicks)
	}
	if c.ticks < clock.WindowMinTicks {
		t.Fatalf("synchronized after %d ticks, before the window's minimum of %d", c.ticks, clock.WindowMinTicks)
	}
	c.tick(1)
	if p.CommitMax() != 1 || len(p.requestQueue) != 0 {
		t.Fatalf("synchronized: want the queued register committed, got commit %d, %d queued", p.CommitMax(), len(p.requestQueue))
	}
	ts := c.stamps[1]
	if now := uint64(p.time.Realtime()); ts > now || ts+uint64(p.cfg.PingTicks*clock.TickNs) < now {
		t.Fatalf("op 1 stamped %d, not the cluster's time near %d", ts, now)
	}
}

// A primary that cannot hear a quorum's clocks abdicates once requests have
// waited ClockAbdicateTicks, and resumes when its clock is back.
func TestUnsynchronizedPrimaryAbdicates(t *testing.T) {
	c := newClockCluster(t, 3)
	p := c.replicas[c.primary]
	c.deaf = true
	c.register(1)
	c.tick(int(p.cfg.ClockAbdicateTicks))
	if p.ClockAbdicated() || p.ClockStats().Abdications != 0 {
		t.Fatalf("abdicated within %d ticks", p.cfg.ClockAbdicateTicks)
	}
	c.tick(2)
	if !p.ClockAbdicated() || p.ClockStats().Abdications != 1 {
		t.Fatalf("clock out for %d ticks with a request waiting: not abdicating (%s)", c.ticks, p.Debug())
	}
	if p.Op() != 0 {
		t.Fatalf("prepared op %d without a clock", p.Op())
	}
	if got := p.ClockStats().UnsynchronizedTicks; got < p.cfg.ClockAbdicateTicks {
		t.Fatalf("%d unsynchronized ticks counted, want at least %d", got, p.cfg.ClockAbdicateTicks)
	}
	// Silence makes the backups leave the view; the next primary's clock
	// hears a quorum (the deaf one still answers pings).
	view := p.View()
	c.tick(int(2 * p.cfg.NormalHeartbeatTicks))
	for _, r := range c.replicas {
		if r.View() == view {
			t.Fatalf("replica %d still in view %d after the primary went quiet", r.Index(), view)
		}
	}
}

// The view after an abdication for the clock starts once the clock is
// back; commits meanwhile do not end the abdication.
func TestClockAbdicationEndsWithTheClock(t *testing.T) {
	c := newClockCluster(t, 3)
	p := c.replicas[c.primary]
	c.tick(int(clock.WindowMaxTicks))
	if !p.ClockSynchronized() {
		t.Fatal("no synchronization")
	}
	p.abdicating, p.clock.abdicated = true, true
	p.resume()
	if p.abdicating {
		t.Fatal("abdication for a synchronized clock did not end on resume")
	}
	c.deaf = true
	c.tick(int(clock.EpochMaxTicks))
	if p.ClockSynchronized() {
		t.Fatal("still synchronized an epoch after the last pong")
	}
	p.abdicating, p.clock.abdicated = true, true
	p.resume()
	if !p.abdicating {
		t.Fatal("resumed without a clock")
	}
}

// The wall clocks of the whole cluster step back an hour (a time server
// set them all). Once they agree again, cluster time is an hour behind the
// timestamps already issued; the primary still stamps each op above the one
// before.
func TestClockStepBackNeverRepeatsATimestamp(t *testing.T) {
	c := newClockCluster(t, 3)
	p := c.replicas[c.primary]
	c.tick(int(clock.WindowMaxTicks))
	for client := uint64(1); client <= 3; client++ {
		c.register(client)
	}
	before := c.stamps[3]
	for i := range c.offsets {
		c.offsets[i] = -3_600_000_000_000
	}
	// A new epoch forms from samples of the stepped clocks.
	c.tick(int(clock.EpochMaxTicks))
	now, ok := p.clockRealtime()
	if !ok || now >= before {
		t.Fatalf("cluster time %d (synchronized %v) is not behind the last timestamp %d: the test does not step back", now, ok, before)
	}
	for client := uint64(4); client <= 6; client++ {
		c.register(client)
	}
	if p.CommitMax() != 6 {
		t.Fatalf("commit %d, want the six registers", p.CommitMax())
	}
	for i := 1; i < len(c.order); i++ {
		if c.order[i] <= c.order[i-1] {
			t.Fatalf("prepare %d stamped %d, not above the previous %d (all: %v)", i+1, c.order[i], c.order[i-1], c.order)
		}
	}
}

// A solo replica's clock is its own: it needs no pongs, and a step back of
// its wall clock does not take its timestamps back.
func TestSoloStepBack(t *testing.T) {
	c := newClockCluster(t, 1)
	p := c.replicas[c.primary]
	if !p.ClockSynchronized() {
		t.Fatal("a solo replica waits for a clock it cannot agree on")
	}
	c.tick(1)
	c.register(1)
	c.register(2)
	c.offsets[0] = -3_600_000_000_000
	c.tick(1)
	c.register(3)
	if p.CommitMax() != 3 {
		t.Fatalf("commit %d, want the three registers", p.CommitMax())
	}
	// A solo primary sends no prepares: its log has the timestamps.
	var last uint64
	for op := uint64(1); op <= p.Op(); op++ {
		h, ok := p.journal.header(op)
		if !ok {
			t.Fatalf("op %d missing", op)
		}
		if h.Timestamp <= last {
			t.Fatalf("op %d stamped %d, not above %d", op, h.Timestamp, last)
		}
		last = h.Timestamp
	}
}

// A new primary inherits ops stamped by a clock ahead of its own: the log's
// head raises the next timestamp above them.
func TestNextTimestampIsAboveTheInheritedHead(t *testing.T) {
	st := newMemStorage(SimConfig(3))
	r, _ := openReplica(t, 3, 1, st, true)
	root := RootHeader(testCluster)
	p := prepareFrom(0, 0, 1, root.Checksum, u128.U128{Lo: 1})
	p.Header.Timestamp = 1_000_000
	p.Header.Seal(nil)
	r.OnMessage(p.Bytes())
	st.flush()
	if r.Op() != 1 || r.lastTimestamp != 0 {
		t.Fatalf("op %d, last timestamp %d: want op 1 held, not executed", r.Op(), r.lastTimestamp)
	}
	// memTime reads 1: far behind the inherited op.
	ts, ok := r.nextTimestamp()
	if !ok || ts != 1_000_001 {
		t.Fatalf("next timestamp %d (ok %v), want 1000001", ts, ok)
	}
}
