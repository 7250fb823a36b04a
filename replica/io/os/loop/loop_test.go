package loop

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testTick is short so that tick-driven tests finish quickly; nothing
// asserts how long anything takes.
const testTick = time.Millisecond

// noTick is a tick too long to happen during a test: with it only a Wake can
// end the loop's sleep, so a lost wake-up hangs the test instead of hiding
// behind the next tick.
const noTick = time.Hour

// runLoop runs l on its own goroutine until the test ends.
func runLoop(t *testing.T, l *Loop, tick time.Duration, onTick func()) {
	t.Helper()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Run(tick, onTick, stop)
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
}

// TestPostFromManyGoroutines: every function runs exactly once, on the loop
// goroutine, in each poster's order.
func TestPostFromManyGoroutines(t *testing.T) {
	const posters, each = 8, 1000
	l := New()
	runLoop(t, l, noTick, func() {})
	next := make([]int, posters) // touched only on the loop goroutine
	var offLoop, outOfOrder int
	all := make(chan struct{})
	total := 0
	var wg sync.WaitGroup
	for p := range posters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if l.OnLoop() {
				t.Error("a poster goroutine claims to be the loop")
			}
			for i := range each {
				l.Post(func() {
					if !l.OnLoop() {
						offLoop++
					}
					if next[p] != i {
						outOfOrder++
					}
					next[p] = i + 1
					total++
					if total == posters*each {
						close(all)
					}
				})
			}
		}()
	}
	wg.Wait()
	<-all
	check := make(chan struct{})
	l.Post(func() {
		if offLoop != 0 || outOfOrder != 0 {
			t.Errorf("%d functions ran off the loop, %d out of order", offLoop, outOfOrder)
		}
		close(check)
	})
	<-check
}

// TestPostFromLoopRunsLater: a function posted by a running function runs
// after it returns, never inside it.
func TestPostFromLoopRunsLater(t *testing.T) {
	l := New()
	runLoop(t, l, noTick, func() {})
	done := make(chan bool)
	l.Post(func() {
		inside := true
		l.Post(func() { done <- inside })
		inside = false
	})
	if inside := <-done; inside {
		t.Fatal("a function posted from the loop ran inside its poster")
	}
}

// TestTicksAndPostedBeforeRun: posts made before Run run in it, onTick runs
// on the loop goroutine, and closing stop ends Run.
func TestTicksAndPostedBeforeRun(t *testing.T) {
	l := New()
	early := make(chan bool, 1)
	l.Post(func() { early <- l.OnLoop() })
	ticks := make(chan bool, 1)
	n := 0
	runLoop(t, l, testTick, func() {
		n++
		if n == 3 {
			ticks <- l.OnLoop()
		}
	})
	if !<-early {
		t.Error("a function posted before Run ran off the loop")
	}
	if !<-ticks {
		t.Error("onTick ran off the loop")
	}
	if l.OnLoop() {
		t.Error("the test goroutine claims to be the loop")
	}
}

// TestStopReturns: Run returns once stop is closed even while functions keep
// being posted.
func TestStopReturns(t *testing.T) {
	l := New()
	stop := make(chan struct{})
	done := make(chan struct{})
	var repost func()
	repost = func() { l.Post(repost) }
	l.Post(repost)
	go func() {
		defer close(done)
		l.Run(testTick, func() {}, stop)
	}()
	close(stop)
	<-done
	if l.OnLoop() {
		t.Error("OnLoop true after Run returned")
	}
}

func BenchmarkPost(b *testing.B) {
	l := New()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Run(10*time.Millisecond, func() {}, stop)
	}()
	finished := make(chan struct{})
	count := 0
	fn := func() {
		count++
		if count == b.N {
			close(finished)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		l.Post(fn)
	}
	<-finished
	b.StopTimer()
	close(stop)
	<-done
}

// fakeWaiter stands for the io_uring data file: completions arrive from
// another goroutine into ready, and Wait delivers them itself.
type fakeWaiter struct {
	ready chan func()
	wake  chan struct{}
	waits atomic.Int64
}

func (f *fakeWaiter) Wait(timeout time.Duration) {
	f.waits.Add(1)
	deliver := func(fn func()) {
		fn()
		for {
			select {
			case fn := <-f.ready:
				fn()
			default:
				return
			}
		}
	}
	if timeout <= 0 {
		select {
		case fn := <-f.ready:
			deliver(fn)
		default:
		}
		return
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case fn := <-f.ready:
		deliver(fn)
	case <-f.wake:
	case <-timer.C:
	}
}

func (f *fakeWaiter) Wake() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// TestWaiter: the loop sleeps in its waiter, which delivers completions on
// the loop goroutine, and a Post wakes it (the tick never comes).
func TestWaiter(t *testing.T) {
	l := New()
	f := &fakeWaiter{ready: make(chan func(), 16), wake: make(chan struct{}, 1)}
	l.SetWaiter(f)
	if !l.HasWaiter() {
		t.Fatal("HasWaiter false after SetWaiter")
	}
	runLoop(t, l, noTick, func() {})
	for range 100 {
		onLoop := make(chan bool)
		f.ready <- func() { onLoop <- l.OnLoop() }
		if !<-onLoop {
			t.Fatal("a waiter's completion ran off the loop")
		}
		posted := make(chan bool)
		l.Post(func() { posted <- l.OnLoop() })
		if !<-posted {
			t.Fatal("a posted function ran off the loop")
		}
	}
	if f.waits.Load() == 0 {
		t.Fatal("the loop never waited in its waiter")
	}
	l.SetWaiter(nil)
	if l.HasWaiter() {
		t.Fatal("HasWaiter true after SetWaiter(nil)")
	}
	posted := make(chan struct{})
	l.Post(func() { close(posted) })
	<-posted
}
