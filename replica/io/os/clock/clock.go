// Package clock is the production io.Time: the kernel's CLOCK_MONOTONIC and
// CLOCK_REALTIME read through the vDSO (unix.ClockGettime), so a reading costs
// no system call.
package clock

import (
	"fmt"
	"sync/atomic"

	"golang.org/x/sys/unix"

	rio "viewstamp/replica/io"
)

// Clock implements io.Time. The zero value is ready to use.
type Clock struct {
	// last is the highest monotonic reading handed out. CLOCK_MONOTONIC is
	// specified never to go backwards, but hypervisors have been seen to
	// break that; the replica's timeouts assume it, so a lower reading is
	// clamped to the last rather than passed on.
	last atomic.Uint64
}

var _ rio.Time = (*Clock)(nil)

// Monotonic returns CLOCK_MONOTONIC in nanoseconds, never less than an
// earlier reading from the same Clock.
func (c *Clock) Monotonic() uint64 {
	now := uint64(read(unix.CLOCK_MONOTONIC))
	for {
		last := c.last.Load()
		if now <= last {
			return last
		}
		if c.last.CompareAndSwap(last, now) {
			return now
		}
	}
}

// Realtime returns CLOCK_REALTIME in nanoseconds since the Unix epoch. It
// may jump either way (NTP, an operator); the replica's clock
// synchronisation is what makes it usable for timestamps.
func (c *Clock) Realtime() int64 { return read(unix.CLOCK_REALTIME) }

func read(id int32) int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(id, &ts); err != nil {
		// Both clocks exist on every Linux; failing to read one means the
		// process cannot keep time at all.
		panic(fmt.Sprintf("clock: clock_gettime(%d): %v", id, err))
	}
	return ts.Nano()
}
