package check

import "testing"

const (
	tsNow   = int64(1_700_000_000_000_000_000)
	tsBound = int64(15_000_000_000)
)

// Committed timestamps strictly increase: an op stamped at or below its
// predecessor, as by a new primary that ignored the ops it inherited, fails.
func TestTimestampsCatchACommitAtOrBelowItsPredecessor(t *testing.T) {
	k := NewTimestamps()
	now := uint64(tsNow)
	for op := uint64(1); op <= 3; op++ {
		if err := k.Committed(op, now+op*10, tsNow, tsBound); err != nil {
			t.Fatalf("op %d: an increasing history refused: %v", op, err)
		}
	}
	wantErr(t, k.Committed(4, now+30, tsNow, tsBound), "op 4 committed with timestamp 1700000000000000030, not above op 3's 1700000000000000030")
	wantErr(t, k.Committed(4, now+29, tsNow, tsBound), "not above op 3's")
	if err := k.Committed(4, now+31, tsNow, tsBound); err != nil {
		t.Fatalf("one above the predecessor: %v", err)
	}
	// An op already judged (another replica committing it) is not judged
	// again.
	if err := k.Committed(2, now+20, tsNow, tsBound); err != nil {
		t.Fatalf("op judged twice: %v", err)
	}
}

// A committed timestamp was stamped before now: one beyond the bound ahead of
// true time came from a clock that was not agreed on.
func TestTimestampsCatchACommitFromTheFuture(t *testing.T) {
	k := NewTimestamps()
	if err := k.Committed(1, uint64(tsNow+tsBound), tsNow, tsBound); err != nil {
		t.Fatalf("exactly at the bound: %v", err)
	}
	wantErr(t, k.Committed(2, uint64(tsNow+tsBound+31_000_000_000), tsNow, tsBound), "46s ahead of true time, beyond the bound of 15s")
}

// A stamp is judged against true time when it is issued, in both directions:
// a false ticker 30 s behind is caught even though its ops would still
// increase.
func TestTimestampsCatchAStampFromAFalseTicker(t *testing.T) {
	k := NewTimestamps()
	if err := k.Stamped(0, 1, uint64(tsNow-tsBound), tsNow, tsBound); err != nil {
		t.Fatalf("exactly at the bound behind: %v", err)
	}
	if err := k.Stamped(0, 2, uint64(tsNow+200), tsNow, tsBound); err != nil {
		t.Fatalf("close to true time: %v", err)
	}
	wantErr(t, k.Stamped(2, 3, uint64(tsNow-30_000_000_000), tsNow, tsBound), "replica 2 stamped op 3 with 1699999970000000000, -30s off true time")
	wantErr(t, k.Stamped(1, 4, uint64(tsNow+tsBound+1), tsNow, tsBound), "15.000000001s off true time")
	if got := k.ErrorMaxNs(); got != 30_000_000_000 {
		t.Fatalf("largest error %d, want 30 s", got)
	}
	if k.Stamps() != 4 {
		t.Fatalf("%d stamps counted, want 4", k.Stamps())
	}
}
