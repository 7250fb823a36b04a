// Package sched is the simulator's single source of time and order: an event
// queue keyed by simulated nanoseconds, ties broken by insertion order, so that
// packet deliveries and IO completions within one 10 ms tick happen in a
// deterministic sub-tick order.
package sched

// TickNs is the length of one simulated tick: 10 ms.
const TickNs = 10_000_000

// Event is a deferred action. Handlers are plain funcs: the scheduler has no
// opinion on what happens, only on when.
type Event func()

type entry struct {
	at  uint64
	seq uint64
	fn  Event
}

// Scheduler is a min-heap of events plus the current simulated time.
type Scheduler struct {
	now  uint64
	seq  uint64
	heap []entry
}

// Now returns the current simulated time in nanoseconds.
func (s *Scheduler) Now() uint64 { return s.now }

// Tick returns the current tick number.
func (s *Scheduler) Tick() uint64 { return s.now / TickNs }

// Pending returns how many events are queued.
func (s *Scheduler) Pending() int { return len(s.heap) }

// At schedules fn at absolute time at (clamped to now: no event runs in the past).
func (s *Scheduler) At(at uint64, fn Event) {
	if at < s.now {
		at = s.now
	}
	s.seq++
	s.heap = append(s.heap, entry{at: at, seq: s.seq, fn: fn})
	s.up(len(s.heap) - 1)
}

// After schedules fn delay nanoseconds from now.
func (s *Scheduler) After(delay uint64, fn Event) { s.At(s.now+delay, fn) }

// RunUntil runs every event due at or before t, in order, advancing Now to
// each event's time, and finally sets Now to t. Events scheduled while running
// also run if they fall due before t.
func (s *Scheduler) RunUntil(t uint64) {
	for len(s.heap) > 0 && s.heap[0].at <= t {
		e := s.pop()
		s.now = e.at
		e.fn()
	}
	if t > s.now {
		s.now = t
	}
}

func (s *Scheduler) less(i, j int) bool {
	a, b := &s.heap[i], &s.heap[j]
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}

func (s *Scheduler) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !s.less(i, p) {
			return
		}
		s.heap[i], s.heap[p] = s.heap[p], s.heap[i]
		i = p
	}
}

func (s *Scheduler) pop() entry {
	h := s.heap
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = entry{}
	s.heap = h[:last]
	i, n := 0, last
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && s.less(r, l) {
			m = r
		}
		if !s.less(m, i) {
			break
		}
		s.heap[i], s.heap[m] = s.heap[m], s.heap[i]
		i = m
	}
	return top
}
