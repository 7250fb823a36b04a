package clock

import (
	"testing"
	"time"
)

func TestMonotonicNeverGoesBack(t *testing.T) {
	var c Clock
	prev := c.Monotonic()
	if prev == 0 {
		t.Fatal("monotonic clock reads 0")
	}
	for range 10000 {
		now := c.Monotonic()
		if now < prev {
			t.Fatalf("monotonic went from %d back to %d", prev, now)
		}
		prev = now
	}
}

func TestMonotonicClampsABackwardReading(t *testing.T) {
	var c Clock
	future := c.Monotonic() + uint64(time.Hour)
	c.last.Store(future)
	if got := c.Monotonic(); got != future {
		t.Fatalf("reading below the last: got %d, want the last %d", got, future)
	}
}

// TestRealtimeIsTheWallClock compares with the Go runtime's own wall clock,
// with a generous bound: the two are read at slightly different moments.
func TestRealtimeIsTheWallClock(t *testing.T) {
	var c Clock
	got := time.Unix(0, c.Realtime())
	if d := time.Since(got).Abs(); d > time.Minute {
		t.Fatalf("realtime %v is %v from time.Now", got, d)
	}
}
