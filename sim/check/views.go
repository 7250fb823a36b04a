package check

import (
	"fmt"

	"viewstamp/replica/vsr"
)

// Views is the view checker. A replica's durable view is a promise (it joined
// that view and will not act in an older one) and its durable log_view names
// the newest log it holds; both must only grow, across crashes too, because a
// restart that forgets a promise lets an old primary gather a quorum again.
// The maxima are kept per replica index, so they outlive the process.
type Views struct {
	view, logView []uint32
}

func NewViews(replicas int) *Views {
	return &Views{view: make([]uint32, replicas), logView: make([]uint32, replicas)}
}

// Durable checks a replica's durable (superblock) view and log_view, observed
// while it is not recovering.
func (v *Views) Durable(replica int, view, logView uint32) error {
	if view == v.view[replica] && logView == v.logView[replica] {
		return nil // the common case, polled every tick: kept inlinable
	}
	return v.durableChanged(replica, view, logView)
}

func (v *Views) durableChanged(replica int, view, logView uint32) error {
	if view < v.view[replica] {
		return fmt.Errorf("replica %d: durable view went back from %d to %d", replica, v.view[replica], view)
	}
	if logView < v.logView[replica] {
		return fmt.Errorf("replica %d: durable log_view went back from %d to %d", replica, v.logView[replica], logView)
	}
	if logView > view {
		return fmt.Errorf("replica %d: durable log_view %d is ahead of its durable view %d", replica, logView, view)
	}
	v.view[replica], v.logView[replica] = view, logView
	return nil
}

// Joined is the highest view replica has ever made durable.
func (v *Views) Joined(replica int) uint32 { return v.view[replica] }

// Sent checks a message a replica sends: prepare_ok and commit speak for a
// view, and must never speak for one older than the sender has joined.
// durable is the sender's durable view right now, which may be ahead of the
// last one Durable saw.
func (v *Views) Sent(replica int, h *vsr.Header, durable uint32) error {
	if h.Command != vsr.CommandPrepareOK && h.Command != vsr.CommandCommit {
		return nil
	}
	joined := max(v.view[replica], durable)
	if h.View >= joined {
		return nil
	}
	what := fmt.Sprintf("prepare_ok for op %d", h.Op)
	if h.Command == vsr.CommandCommit {
		what = fmt.Sprintf("commit %d", h.Commit)
	}
	return fmt.Errorf("replica %d sent %s in view %d after joining view %d", replica, what, h.View, joined)
}
