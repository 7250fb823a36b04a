package sched

import (
	"math/rand/v2"
	"testing"
)

func TestEventsRunInTimeThenInsertionOrder(t *testing.T) {
	var s Scheduler
	var got []int
	rng := rand.New(rand.NewPCG(1, 2))
	times := make([]uint64, 200)
	for i := range times {
		times[i] = uint64(rng.IntN(50))
		i := i
		s.At(times[i], func() { got = append(got, i) })
	}
	s.RunUntil(100)
	if len(got) != len(times) {
		t.Fatalf("ran %d of %d events", len(got), len(times))
	}
	for k := 1; k < len(got); k++ {
		a, b := got[k-1], got[k]
		if times[a] > times[b] || (times[a] == times[b] && a > b) {
			t.Fatalf("event %d (t=%d) ran before %d (t=%d)", a, times[a], b, times[b])
		}
	}
	if s.Now() != 100 {
		t.Fatalf("now = %d, want 100", s.Now())
	}
}

func TestEventsScheduledWhileRunning(t *testing.T) {
	var s Scheduler
	n := 0
	var again func()
	again = func() {
		n++
		if n < 5 {
			s.After(10, again)
		}
	}
	s.At(0, again)
	s.RunUntil(25)
	if n != 3 {
		t.Fatalf("ran %d times by t=25, want 3", n)
	}
	s.RunUntil(1000)
	if n != 5 {
		t.Fatalf("ran %d times, want 5", n)
	}
}
