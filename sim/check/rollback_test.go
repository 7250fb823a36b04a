package check

import (
	"testing"

	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// logOf is a replica log holding hs[:head] (op 1..head), chained as built.
func logOf(hs []vsr.Header, head uint64) Log {
	return Log{Head: head, Chained: func(op uint64) (u128.U128, bool) {
		if op == 0 {
			return root, true
		}
		if op > head {
			return u128.Zero, false
		}
		return hs[op-1].Checksum, true
	}}
}

func committed(t *testing.T, n int) (*State, []vsr.Header) {
	t.Helper()
	s := NewState(3, root)
	hs := chain(root, n, 0)
	for i := range hs {
		if err := s.Commit(0, &hs[i], nil, state(hs[i].Op)); err != nil {
			t.Fatal(err)
		}
	}
	return s, hs
}

func TestRollbackCommitNumbersNeverDecreaseWithoutARestart(t *testing.T) {
	r := NewRollback(NewState(2, root), 2)
	for _, p := range [][2]uint64{{0, 0}, {0, 3}, {2, 3}, {3, 3}} {
		if err := r.Progress(0, p[0], p[1]); err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, r.Progress(0, 2, 3), "replica 0: commit_min went back from 3 to 2 without a restart")
	wantErr(t, r.Progress(0, 3, 2), "replica 0: commit_max went back from 3 to 2 without a restart")
	r.Restarted(0)
	if err := r.Progress(0, 0, 1); err != nil {
		t.Fatalf("a restarted replica replays from op 1: %v", err)
	}
}

func TestRollbackNewPrimaryMustHoldTheHistory(t *testing.T) {
	s, hs := committed(t, 5)
	r := NewRollback(s, 3)
	wantErr(t, r.Normal(1, 2, true, logOf(hs, 4)), "committed op lost: replica 1 entering view 2 as primary has log head op 4, but ops up to 5 were committed")
	other := chain(root, 6, 7) // a log of another history
	wantErr(t, r.Normal(2, 3, true, logOf(other, 6)), "committed op lost: replica 2 entering view 3 as primary holds prepare")
	if err := r.Normal(0, 4, true, logOf(append(hs, other[5]), 6)); err != nil {
		t.Fatalf("a primary holding the history and an uncommitted op: %v", err)
	}
	// A chain broken above the history proves nothing either way.
	gap := Log{Head: 8, Chained: func(uint64) (u128.U128, bool) { return u128.Zero, false }}
	if err := r.Normal(0, 5, true, gap); err != nil {
		t.Fatalf("a log with a gap to repair: %v", err)
	}
}

func TestRollbackBackupMayLagButNotContradict(t *testing.T) {
	s, hs := committed(t, 5)
	r := NewRollback(s, 3)
	if err := r.Normal(1, 2, false, logOf(hs, 3)); err != nil {
		t.Fatalf("a backup installing a view described at op 3: %v", err)
	}
	other := chain(root, 3, 7)
	wantErr(t, r.Normal(2, 2, false, logOf(other, 3)), "committed op lost: replica 2 entering view 2 as backup holds prepare")
	// Once view 4 has started, view 3's log may lack what view 4 commits.
	if err := r.Normal(0, 4, false, logOf(hs, 5)); err != nil {
		t.Fatal(err)
	}
	if err := r.Normal(1, 3, true, logOf(hs, 2)); err != nil {
		t.Fatalf("an older view starting late: %v", err)
	}
}

func TestRollbackSettledClusterMissingACommittedOp(t *testing.T) {
	s, hs := committed(t, 5)
	r := NewRollback(s, 3)
	wantErr(t, r.Converged(0, 1, 4, logOf(hs, 4)), "committed op lost: settled cluster at commit 4 (primary replica 0, view 1) has log head op 4")
	if err := r.Converged(0, 1, 4, logOf(hs, 5)); err != nil {
		t.Fatalf("a primary still committing op 5: %v", err)
	}
}

func TestRollbackCommitHeartbeatNamesTheCommittedPrepare(t *testing.T) {
	s, hs := committed(t, 3)
	r := NewRollback(s, 3)
	if err := r.CommitHeartbeat(0, 1, 3, hs[2].Checksum); err != nil {
		t.Fatal(err)
	}
	if err := r.CommitHeartbeat(0, 1, 4, u128.From64(5)); err != nil {
		t.Fatalf("a commit beyond what anyone executed: %v", err)
	}
	wantErr(t, r.CommitHeartbeat(0, 1, 2, hs[1].Parent), "replica 0 (view 1) sent a commit heartbeat for op 2 naming prepare")
}

func TestRollbackDroppingACommittedHeaderFails(t *testing.T) {
	s, hs := committed(t, 4)
	r := NewRollback(s, 3)
	other := chain(root, 4, 1)
	// An uncommitted op, or a leftover of another view at a committed op,
	// may leave the log.
	for _, h := range []vsr.Header{chain(root, 5, 0)[4], other[2]} {
		if err := r.Dropped(1, h.Op, h.Checksum); err != nil {
			t.Fatalf("dropping op %d %v: %v", h.Op, h.Checksum, err)
		}
	}
	if err := r.Dropped(1, hs[2].Op, hs[2].Checksum); err == nil {
		t.Fatal("dropping committed op 3's header passed")
	}
}
