package loop

import (
	"sync"
	"testing"
	"time"
)

// testTick is short so that tick-driven tests finish quickly; nothing
// asserts how long anything takes.
const testTick = time.Millisecond

// runLoop runs l on its own goroutine until the test ends.
func runLoop(t *testing.T, l *Loop, onTick func()) {
	t.Helper()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Run(testTick, onTick, stop)
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
	runLoop(t, l, func() {})
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
	runLoop(t, l, func() {})
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
	runLoop(t, l, func() {
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
