// Package loop is the one event loop of a production replica process. The
// replica is single-threaded by design (replica/io): its Tick, OnMessage and
// IO completions must never run concurrently. Everything reaches it through
// the loop: other goroutines (the message bus, the sync disk workers) hand
// results over with Post, and a Waiter (the io_uring data file) delivers its
// completions from inside the loop's own sleep. Every callback therefore
// runs on the loop's goroutine, one at a time.
package loop

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// batchSpare is how many posted functions the loop's two swap buffers hold
// before growing: enough for a tick's worth of messages and completions, so
// the steady state allocates nothing.
const batchSpare = 1024

// Waiter is a facility that the loop sleeps in instead of its own wait.
// io_uring posts a completion through the thread that submitted the IO, so
// a loop thread asleep inside io_uring_enter collects an IO with one wake-up
// where a separate reaper goroutine would need three (the loop thread for
// the kernel's task work, the reaper, the loop again).
type Waiter interface {
	// Wait delivers the completions that are ready, calling their
	// callbacks on the loop goroutine. If timeout > 0 and none is ready, it
	// first sleeps until one is, Wake is called, or timeout has passed.
	Wait(timeout time.Duration)
	// Wake ends a current or the next Wait's sleep. Any goroutine.
	Wake()
}

// Loop runs posted functions, ticks and a Waiter's completions on one
// goroutine.
type Loop struct {
	mu      sync.Mutex
	pending []func() // guarded by mu
	spare   []func() // the loop goroutine's batch, swapped with pending
	// sleeping is set while the loop is about to sleep or sleeps in its
	// waiter; the Post that clears it wakes the waiter.
	sleeping atomic.Bool
	waiter   atomic.Pointer[waiterBox]
	own      chanWaiter // the waiter without SetWaiter
	// tid is the OS thread the loop goroutine is locked to while Run runs
	// (0 otherwise): a locked thread runs no other goroutine, so comparing
	// thread ids tells the loop goroutine apart from every other.
	tid atomic.Int64
}

type waiterBox struct{ w Waiter }

// New returns a loop that is not yet running. Functions posted before Run
// starts run first thing in Run.
func New() *Loop {
	l := &Loop{
		pending: make([]func(), 0, batchSpare),
		spare:   make([]func(), 0, batchSpare),
		own:     newChanWaiter(),
	}
	l.SetWaiter(nil)
	return l
}

// SetWaiter makes the loop sleep in w (nil: the loop's own wait). It may be
// called from any goroutine; a sleep begun in the previous waiter is woken
// so that the next one is in w.
func (l *Loop) SetWaiter(w Waiter) {
	if w == nil {
		w = &l.own
	}
	if old := l.waiter.Swap(&waiterBox{w}); old != nil {
		old.w.Wake()
	}
}

// HasWaiter reports whether a waiter other than the loop's own is set.
func (l *Loop) HasWaiter() bool { return l.waiter.Load().w != Waiter(&l.own) }

// Post schedules fn to run on the loop goroutine. It is safe from any
// goroutine, including the loop's own (fn then runs after the current
// function returns, never inside it), and never blocks on the loop.
// Functions run in the order they were posted.
func (l *Loop) Post(fn func()) {
	l.mu.Lock()
	l.pending = append(l.pending, fn)
	l.mu.Unlock()
	l.wake()
}

// wake interrupts the loop's sleep, once per sleep: the poster that clears
// sleeping pays for the system call, the others see it clear.
func (l *Loop) wake() {
	if l.sleeping.CompareAndSwap(true, false) {
		l.waiter.Load().w.Wake()
	}
}

// OnLoop reports whether the caller is the loop goroutine inside Run. The
// storage and network bindings assert it where a completion is delivered.
func (l *Loop) OnLoop() bool {
	tid := l.tid.Load()
	return tid != 0 && int64(unix.Gettid()) == tid
}

// Run runs posted functions and the waiter's completions, and calls onTick
// once every tick, until stop is closed; then it returns, and functions
// still pending stay queued for a later Run. A function that runs long
// delays the next tick rather than piling ticks up: the replica's timeouts
// count ticks, so a late tick only slows them. Run must not be called
// concurrently with itself.
func (l *Loop) Run(tick time.Duration, onTick func(), stop <-chan struct{}) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	l.tid.Store(int64(unix.Gettid()))
	defer l.tid.Store(0)

	// A closed stop must end any sleep, whatever the waiter.
	exited := make(chan struct{})
	defer close(exited)
	var stopped atomic.Bool
	go func() {
		select {
		case <-stop:
			stopped.Store(true)
			l.sleeping.Store(true)
			l.wake()
		case <-exited:
		}
	}()

	// closed also reads stop itself: a stop closed by a callback on this
	// goroutine is seen at once, before the watcher above has run, so
	// onTick never runs again after it closed stop.
	closed := func() bool {
		if stopped.Load() {
			return true
		}
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	next := time.Now().Add(tick)
	for !closed() {
		l.runPending()
		if closed() {
			break
		}
		w := l.waiter.Load().w
		now := time.Now()
		if !now.Before(next) {
			onTick()
			next = next.Add(tick)
			if now.After(next) {
				// Behind by more than a tick: skip the missed ones.
				next = now.Add(tick)
			}
			w.Wait(0)
			continue
		}
		l.sleeping.Store(true)
		// Checked after announcing the sleep: a Post that came before
		// this check is seen here, one after it sees sleeping and wakes.
		if l.hasPending() || stopped.Load() {
			l.sleeping.Store(false)
			w.Wait(0)
			continue
		}
		w.Wait(next.Sub(now))
		l.sleeping.Store(false)
	}
}

func (l *Loop) hasPending() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending) > 0
}

// runPending runs the functions posted so far; those they post run in the
// next round, after the loop has looked at stop, the clock and the waiter.
func (l *Loop) runPending() {
	l.mu.Lock()
	batch := l.pending
	l.pending = l.spare[:0]
	l.mu.Unlock()
	for i, fn := range batch {
		batch[i] = nil // let the closure be collected once run
		fn()
	}
	l.spare = batch[:0]
}

// chanWaiter sleeps on a channel: the loop's wait when nothing else is set.
type chanWaiter struct {
	// wake has room for one token, so a Wake before the Wait is kept.
	wake  chan struct{}
	timer *time.Timer
}

func newChanWaiter() chanWaiter {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return chanWaiter{wake: make(chan struct{}, 1), timer: t}
}

func (c *chanWaiter) Wait(timeout time.Duration) {
	if timeout <= 0 {
		return
	}
	c.timer.Reset(timeout)
	select {
	case <-c.wake:
	case <-c.timer.C:
	}
	c.timer.Stop()
}

func (c *chanWaiter) Wake() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}
