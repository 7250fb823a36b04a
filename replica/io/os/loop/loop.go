// Package loop is the one event loop of a production replica process. The
// replica is single-threaded by design (replica/io): its Tick, OnMessage and
// IO completions must never run concurrently. The network and storage
// bindings do their blocking work on their own goroutines and hand results
// to the replica only through Post, so every callback runs on the loop's
// goroutine, one at a time.
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

// Loop runs posted functions and ticks on one goroutine.
type Loop struct {
	mu      sync.Mutex
	pending []func() // guarded by mu
	spare   []func() // the loop goroutine's batch, swapped with pending
	// wake has room for one token: a Post that finds it full knows the loop
	// will look at pending again before it blocks.
	wake chan struct{}
	// tid is the OS thread the loop goroutine is locked to while Run runs
	// (0 otherwise): a locked thread runs no other goroutine, so comparing
	// thread ids tells the loop goroutine apart from every other.
	tid atomic.Int64
}

// New returns a loop that is not yet running. Functions posted before Run
// starts run first thing in Run.
func New() *Loop {
	return &Loop{
		pending: make([]func(), 0, batchSpare),
		spare:   make([]func(), 0, batchSpare),
		wake:    make(chan struct{}, 1),
	}
}

// Post schedules fn to run on the loop goroutine. It is safe from any
// goroutine, including the loop's own (fn then runs after the current
// function returns, never inside it), and never blocks on the loop.
// Functions run in the order they were posted.
func (l *Loop) Post(fn func()) {
	l.mu.Lock()
	l.pending = append(l.pending, fn)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// OnLoop reports whether the caller is the loop goroutine inside Run. The
// storage and network bindings assert it where a completion is delivered.
func (l *Loop) OnLoop() bool {
	tid := l.tid.Load()
	return tid != 0 && int64(unix.Gettid()) == tid
}

// Run runs posted functions and calls onTick once every tick until stop is
// closed, then returns; functions still pending stay queued for a later Run.
// A function that runs long delays the next tick rather than piling ticks
// up: the replica's timeouts count ticks, so a late tick only slows them.
// Run must not be called concurrently with itself.
func (l *Loop) Run(tick time.Duration, onTick func(), stop <-chan struct{}) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	l.tid.Store(int64(unix.Gettid()))
	defer l.tid.Store(0)

	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	for {
		// Stop first, so that a flood of posts cannot keep the loop alive.
		select {
		case <-stop:
			return
		default:
		}
		l.runPending()
		select {
		case <-stop:
			return
		case <-ticker.C:
			onTick()
		case <-l.wake:
		}
	}
}

// runPending runs the functions posted so far; those they post run in the
// next round, after the loop has looked at stop and the ticker again.
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
