package check

import (
	"fmt"
	"time"
)

// Timestamps is the timestamp checker. Along the committed history every
// op's timestamp is above its predecessor's: the ledger dates objects by
// them and expires pending transfers by them, so a timestamp at or below an
// earlier one (a new primary stamping below the ops it inherited, a clock
// stepping back) reorders history. And every timestamp a primary issues lies
// within a bound of true time when it issues it, since it may issue one only
// from a synchronized clock: one stamped from a false ticker's wall clock
// lies outside it.
type Timestamps struct {
	lastOp, last uint64 // the newest op of the committed history, and its timestamp
	errMaxNs     int64  // largest |timestamp - true time| seen at stamping
	stamps       uint64
}

func NewTimestamps() *Timestamps { return &Timestamps{} }

// Committed checks op, with timestamp ts, entering the committed history at
// true wall time nowNs. It was stamped before, so it cannot be ahead of now
// by more than boundNs.
func (t *Timestamps) Committed(op, ts uint64, nowNs, boundNs int64) error {
	if op <= t.lastOp {
		return nil // already judged: histories are checked once per op
	}
	if ts <= t.last {
		return fmt.Errorf("op %d committed with timestamp %d, not above op %d's %d", op, ts, t.lastOp, t.last)
	}
	if ahead := int64(ts) - nowNs; ahead > boundNs {
		return fmt.Errorf("op %d committed with timestamp %d, %v ahead of true time, beyond the bound of %v",
			op, ts, time.Duration(ahead), time.Duration(boundNs))
	}
	t.lastOp, t.last = op, ts
	return nil
}

// Stamped checks a primary stamping op with ts at true wall time nowNs.
func (t *Timestamps) Stamped(replica int, op, ts uint64, nowNs, boundNs int64) error {
	off := int64(ts) - nowNs
	t.stamps++
	t.errMaxNs = max(t.errMaxNs, off, -off)
	if off > boundNs || -off > boundNs {
		return fmt.Errorf("replica %d stamped op %d with %d, %v off true time, beyond the bound of %v",
			replica, op, ts, time.Duration(off), time.Duration(boundNs))
	}
	return nil
}

// ErrorMaxNs is the largest distance from true time of any timestamp
// stamped so far.
func (t *Timestamps) ErrorMaxNs() int64 { return t.errMaxNs }

// Stamps counts the timestamps stamped so far.
func (t *Timestamps) Stamps() uint64 { return t.stamps }
