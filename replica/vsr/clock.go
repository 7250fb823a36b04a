package vsr

import (
	"viewstamp/replica/clock"
)

// The replica's view of cluster time. Pings carry the sender's monotonic
// time, pongs echo it with the responder's wall clock, and the clock
// (replica/clock) turns those samples into an agreed interval. A primary
// stamps prepares only from synchronized time: a replica whose wall clock is
// a false ticker must not date the ledger's objects, and one that hears no
// quorum cannot know which clock is wrong.

// replicaClock is the replica's clock and what the primary does about it.
type replicaClock struct {
	c *clock.Clock // nil: Options.AgreedTime, the world's time is already agreed
	// syncedAt is the last tick this replica was not an unsynchronized
	// primary in normal status: the start of the stretch a bad clock has
	// held up its view.
	syncedAt uint64
	// abdicated: the current abdication is for the clock, so it ends only
	// once the clock is synchronized again, whatever commits meanwhile.
	abdicated bool
	stats     ClockStats
	// stamps hears each timestamp issued, if the Observer asks to.
	stamps StampObserver
}

// StampObserver is an Observer that also hears every prepare a primary
// stamps, as it stamps it: a checker compares the timestamp with true time
// then, however long the op takes to commit, or if it never does.
type StampObserver interface {
	Stamped(replica uint8, h *Header)
}

// ClockStats count what the clock cost this replica process.
type ClockStats struct {
	// UnsynchronizedTicks are ticks spent as a primary in normal status
	// without a synchronized clock.
	UnsynchronizedTicks uint64
	// Abdications are the times this replica stepped aside as primary for
	// want of a synchronized clock.
	Abdications uint64
}

func (r *Replica) newClock(agreed bool) {
	r.clock.stamps, _ = r.obs.(StampObserver)
	if !agreed {
		r.clock.c = clock.New(r.cfg.Clock, r.cfg.ReplicaCount, r.index, r.time)
	}
}

// clockRealtime is the cluster's time now, or false when this replica has
// none to give.
func (r *Replica) clockRealtime() (uint64, bool) {
	if r.clock.c == nil {
		return uint64(r.time.Realtime()), true
	}
	t, ok := r.clock.c.Realtime()
	if !ok || t < 0 {
		return 0, false
	}
	return uint64(t), true
}

// ClockSynchronized reports whether the replica could stamp a prepare now.
func (r *Replica) ClockSynchronized() bool { return r.clock.c == nil || r.clock.c.Synchronized() }

// ClockStats returns the clock's costs; Clock the clock itself (nil with
// Options.AgreedTime), for reports.
func (r *Replica) ClockStats() ClockStats { return r.clock.stats }
func (r *Replica) Clock() *clock.Clock    { return r.clock.c }

// ClockAbdicated reports a primary stepping aside for its clock now.
func (r *Replica) ClockAbdicated() bool { return r.abdicating && r.clock.abdicated }

// onPong takes one sample of a peer's wall clock: m0, our monotonic time at
// the ping, echoed back; t1 the peer's wall clock as it answered.
func (r *Replica) onPong(h *Header) {
	if r.clock.c == nil || h.Replica == r.index {
		return
	}
	r.clock.c.Learn(h.Replica, h.Timestamp, int64(h.Timestamp2), r.time.Monotonic())
}

// tickClock advances the clock and, for a primary, the stretch it has been
// unable to stamp anything.
func (r *Replica) tickClock() {
	if r.clock.c == nil {
		return
	}
	r.clock.c.Tick()
	if r.status != StatusNormal || !r.isPrimary() || r.clock.c.Synchronized() {
		r.clock.syncedAt = r.ticks
		return
	}
	r.clock.stats.UnsynchronizedTicks++
}

// tickPrimaryClock runs each tick of a primary in normal status: it prepares
// what waited for the clock, and steps aside once the clock has been out for
// ClockAbdicateTicks with requests waiting, so that a primary whose clock
// cannot agree with a quorum hands the view to one whose clock can. An
// abdication for the clock ends when the clock is back.
func (r *Replica) tickPrimaryClock() {
	synced := r.ClockSynchronized()
	switch {
	case r.abdicating && r.clock.abdicated:
		if synced {
			r.resume()
		}
	case synced:
		r.prepareQueued()
	case !r.abdicating && !r.solo() && len(r.requestQueue) > 0 && r.ticks-r.clock.syncedAt > r.cfg.ClockAbdicateTicks:
		r.abdicating, r.clock.abdicated = true, true
		r.clock.stats.Abdications++
		r.logf("abdicating in view %d: clock unsynchronized for %d ticks, %d requests waiting", r.view, r.ticks-r.clock.syncedAt, len(r.requestQueue))
	}
}

// nextTimestamp is the timestamp of the next prepare: never behind cluster
// time, and above every timestamp this replica has issued, executed or holds
// in its log. The log's head is the newest op, so its timestamp is the
// highest of every header a view change or repair installed: a new primary
// inheriting ops stamped by a clock ahead of its own does not stamp below
// them. False: no synchronized clock, nothing may be stamped.
func (r *Replica) nextTimestamp() (uint64, bool) {
	now, ok := r.clockRealtime()
	if !ok {
		return 0, false
	}
	if h, ok := r.journal.header(r.op); ok && h.Timestamp > r.lastTimestamp {
		r.lastTimestamp = h.Timestamp
	}
	return max(r.lastTimestamp+1, now), true
}

func (r *Replica) stamped(h *Header) {
	if r.clock.stamps != nil {
		r.clock.stamps.Stamped(r.index, h)
	}
}
