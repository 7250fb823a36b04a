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
	// lost is, per replica, the highest view a data file it has since lost
	// had joined: a reformatted replica must never speak in it again.
	lost []uint32
}

func NewViews(replicas int) *Views {
	return &Views{view: make([]uint32, replicas), logView: make([]uint32, replicas), lost: make([]uint32, replicas)}
}

// Reformatted notes that replica's data file was wiped and formatted again:
// its durable views start over, but every promise the old one made stands,
// so from now on it must never send a prepare_ok, commit, join_view or view
// in a view the old data file had joined (it cannot know what it said
// there).
func (v *Views) Reformatted(replica int) {
	v.lost[replica] = max(v.lost[replica], v.view[replica])
	v.view[replica], v.logView[replica] = 0, 0
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

// Sent checks a message a replica sends against the views it has promised.
// prepare_ok and commit speak for a view, and must never speak for one older
// than the sender has joined. And every message that makes a promise must
// follow the durable write of that promise, or a crash lets the replica
// forget what others already count on: join_view(v) says "I left every view
// before v" (durable view v first), while prepare_ok, commit and (from v's
// primary) view in v say "I hold v's log" (durable log_view v first). durableView and
// durableLogView are the sender's superblock right now, which may be ahead
// of the last one Durable saw.
func (v *Views) Sent(replica int, h *vsr.Header, durableView, durableLogView uint32) error {
	if lost := v.lost[replica]; lost > 0 && h.View <= lost {
		switch h.Command {
		case vsr.CommandPrepareOK, vsr.CommandCommit, vsr.CommandJoinView, vsr.CommandView:
			return fmt.Errorf("replica %d, reformatted, sent %v in view %d, which its lost data file had joined (view %d)", replica, h.Command, h.View, lost)
		}
	}
	switch h.Command {
	case vsr.CommandPrepareOK, vsr.CommandCommit:
	case vsr.CommandJoinView:
		if durableView < h.View {
			return fmt.Errorf("replica %d sent join_view for view %d before that view was durable (durable view %d)", replica, h.View, durableView)
		}
		return nil
	case vsr.CommandView:
		// Only the primary's view installs a log; a backup's answers a
		// get_view with its checkpoint and view, which promise nothing
		// (the receiver reads nothing else: onGetView).
		if durableLogView < h.View && replica == int(h.View)%len(v.view) {
			return fmt.Errorf("replica %d sent view %d (as its primary) before its log_view %d was durable (durable log_view %d)", replica, h.View, h.View, durableLogView)
		}
		return nil
	default:
		return nil
	}
	what := fmt.Sprintf("prepare_ok for op %d", h.Op)
	if h.Command == vsr.CommandCommit {
		what = fmt.Sprintf("commit %d", h.Commit)
	}
	joined := max(v.view[replica], durableView)
	if h.View < joined {
		return fmt.Errorf("replica %d sent %s in view %d after joining view %d", replica, what, h.View, joined)
	}
	if durableLogView < h.View {
		return fmt.Errorf("replica %d sent %s in view %d before its log_view %d was durable (durable log_view %d)", replica, what, h.View, h.View, durableLogView)
	}
	return nil
}

// Lost is the highest view a lost data file of replica had joined (0:
// none lost, or none joined).
func (v *Views) Lost(replica int) uint32 { return v.lost[replica] }
