package check

import (
	"fmt"

	"viewstamp/replica/u128"
)

// Rollback is the no-rollback checker. The state checker holds every replica
// to the one commit history as it executes; this one catches a committed op
// lost before anyone executes it again: from a replica's memory (commit_min
// or commit_max going back without a restart), from the log a view starts
// with, or from the log a converged cluster ends with. Each is a correctness
// failure the moment it is seen, never a liveness one.
type Rollback struct {
	state                *State
	commitMin, commitMax []uint64
	// normalMax is the highest view any replica has been normal in. A log is
	// judged against the history only in a view no newer view has started
	// beside: ops committed in a newer view need not be in an older view's
	// log, which is legal for as long as that older view commits nothing.
	normalMax uint32
}

func NewRollback(s *State, replicas int) *Rollback {
	return &Rollback{state: s, commitMin: make([]uint64, replicas), commitMax: make([]uint64, replicas)}
}

// NewestView is the highest view any replica has been normal in.
func (r *Rollback) NewestView() uint32 { return r.normalMax }

// Restarted forgets what replica had in memory: it replays from op 1, as
// there are no checkpoints yet.
func (r *Rollback) Restarted(replica int) { r.commitMin[replica], r.commitMax[replica] = 0, 0 }

// Progress checks a running replica's commit_min and commit_max.
func (r *Rollback) Progress(replica int, commitMin, commitMax uint64) error {
	if commitMin == r.commitMin[replica] && commitMax == r.commitMax[replica] {
		return nil // the common case, polled every tick: kept inlinable
	}
	return r.progressed(replica, commitMin, commitMax)
}

func (r *Rollback) progressed(replica int, commitMin, commitMax uint64) error {
	if commitMin < r.commitMin[replica] {
		return fmt.Errorf("replica %d: commit_min went back from %d to %d without a restart", replica, r.commitMin[replica], commitMin)
	}
	if commitMax < r.commitMax[replica] {
		return fmt.Errorf("replica %d: commit_max went back from %d to %d without a restart", replica, r.commitMax[replica], commitMax)
	}
	r.commitMin[replica], r.commitMax[replica] = commitMin, commitMax
	return nil
}

// Log is a replica's log as seen by the checker: its head op, and the
// checksum at an op of the header hash-chained down from the head (false if
// the chain breaks before reaching it: a gap that repair will fill).
type Log struct {
	Head    uint64
	Chained func(op uint64) (u128.U128, bool)
}

// Normal checks the log of a replica entering normal status in view. Its
// chain from the head is that view's canonical log, so wherever it reaches
// down to the history it must hold the history's prepare (one op suffices:
// the rest is tied to it by the hash chain). A primary starting a view must
// moreover reach the whole history: every committed op survives every view
// change. A backup may hold less, as the view it installs may have been
// described before the newest commits.
func (r *Rollback) Normal(replica int, view uint32, primary bool, log Log) error {
	if view < r.normalMax {
		return nil
	}
	r.normalMax = view
	return r.check(fmt.Sprintf("replica %d entering view %d as %s", replica, view, role(primary)), primary, log)
}

// Converged checks the primary of a cluster that has settled (every replica
// normal in view, nothing left to execute) with commit below the history: if
// its log lacks a committed op, nothing will ever bring it back.
func (r *Rollback) Converged(replica int, view uint32, commit uint64, log Log) error {
	if view < r.normalMax {
		return nil
	}
	return r.check(fmt.Sprintf("settled cluster at commit %d (primary replica %d, view %d)", commit, replica, view), true, log)
}

func (r *Rollback) check(who string, primary bool, log Log) error {
	max := r.state.CommitMax()
	if primary && log.Head < max {
		return fmt.Errorf("committed op lost: %s has log head op %d, but ops up to %d were committed", who, log.Head, max)
	}
	op := min(log.Head, max)
	sum, ok := log.Chained(op)
	if !ok {
		return nil
	}
	c, ok := r.state.At(op)
	if !ok {
		return nil // below the state checker's window: judged when it was newer
	}
	if want := c.Checksum; sum != want {
		return fmt.Errorf("committed op lost: %s holds prepare %v at op %d, but op %d was committed as %v", who, sum, op, op, want)
	}
	return nil
}

func role(primary bool) string {
	if primary {
		return "primary"
	}
	return "backup"
}

// CommitHeartbeat checks a commit message: it names the checksum of the op
// it commits, which a backup matches against its own log before executing,
// so it must be the history's.
func (r *Rollback) CommitHeartbeat(replica int, view uint32, commit uint64, ref u128.U128) error {
	c, ok := r.state.At(commit)
	if !ok || ref.IsZero() || c.Checksum == ref {
		return nil
	}
	return fmt.Errorf("replica %d (view %d) sent a commit heartbeat for op %d naming prepare %v, but op %d was committed as %v", replica, view, commit, ref, commit, c.Checksum)
}

// Dropped checks a header leaving a running replica's log (replaced by
// another header for its op, or removed). A replica may forget a header only
// if it is not committed: committed ops are in every later view's log, so no
// view change, truncation or repair has a reason to drop one, and a replica
// that does (trusting a stale header over its own canonical one, say) has to
// fetch it again at best and, at worst, reports a gap where a quorum needs it
// present. Headers committed later than the drop are not judged: a header is
// only known canonical once the history holds it.
func (r *Rollback) Dropped(replica int, op uint64, sum u128.U128) error {
	if c, ok := r.state.At(op); ok && c.Checksum == sum {
		return fmt.Errorf("replica %d dropped the header of committed op %d (%v) from its log", replica, op, sum)
	}
	return nil
}
