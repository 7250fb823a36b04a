package check

import (
	"fmt"

	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// NacksKeepOps is how far below the newest committed op the nack checker
// keeps acknowledgements. A join_view reports at most a pipeline below its
// sender's head and is judged only above what its sender knows committed, so an op
// this far behind the cluster is named only by a replica so stale it syncs
// instead of voting.
const NacksKeepOps = 4096

// Nacks is the nack checker. A nack in a join_view is a promise: "I never
// acknowledged this prepare" (a blank slot: no prepare at that op). The new
// primary truncates an op once a nack quorum made it, which is safe only
// because a committed op was acknowledged by a replication quorum, none of
// whom may nack it. So every replica's nacks are held against its own
// prepare_oks, across restarts and reformats alike: a reformatted replica's
// lost data file acknowledged what it acknowledged, and the new one must
// not vote as if it had not (TigerBeetle: a reformatted replica never votes
// with state it lost). A nack of a prepare the replica acknowledged is a
// violation once that prepare is the one the cluster committed at its op
// (at once, or when it commits): one it acknowledged in a view whose log
// then truncated it was proven uncommitted, and may be forgotten.
type Nacks struct {
	state *State
	// acked holds, per op, the prepares each replica acknowledged there,
	// for ops from low on.
	acked map[uint64][]nackAck
	// pending holds, per op not yet committed, nacks of acknowledged
	// prepares, judged when the op commits.
	pending map[uint64][]nackAck
	low     uint64
}

type nackAck struct {
	replica  int
	checksum u128.U128
	// For a nack: the join_view's view, and what it said of the slot.
	view uint32
	said string
}

func NewNacks(state *State) *Nacks {
	return &Nacks{state: state, acked: map[uint64][]nackAck{}, pending: map[uint64][]nackAck{}}
}

// Acked notes a prepare_ok replica sent for op, naming prepare checksum.
func (n *Nacks) Acked(replica int, op uint64, checksum u128.U128) {
	if op < n.low {
		return
	}
	for _, a := range n.acked[op] {
		if a.replica == replica && a.checksum == checksum {
			return
		}
	}
	n.acked[op] = append(n.acked[op], nackAck{replica: replica, checksum: checksum})
}

// JoinView judges the nacks of a join_view replica sent for view: its
// head op, what it knows committed (its commit_min, or the commit its head
// prepare carries: a join_view names no commit_max), its suffix (headers[i]
// is op head-i, blank where it holds none) and its nack bits. Ops at or
// below that are not judged: a new primary never truncates there. owed, if not zero, is the
// head of the view that settled the replica's reformatted data file while
// the file is still marked (vsr.Replica.ReformatOwed): the lost file may
// have acknowledged any op up to it, so a nack there is a promise the
// replica cannot make, whatever the op becomes.
func (n *Nacks) JoinView(replica int, view, logView uint32, head, commit, owed uint64, headers []vsr.Header, blank []bool, nack uint64) error {
	for i := range headers {
		op := head - uint64(i)
		if op <= commit || nack&(1<<i) == 0 {
			continue
		}
		if op <= owed {
			return fmt.Errorf("replica %d nacked op %d in its join_view for view %d (log_view %d, head %d, committed %d), but its data file was reformatted and the view that settled it reached op %d: its lost data file may have acknowledged it",
				replica, op, view, logView, head, commit, owed)
		}
		for _, a := range n.acked[op] {
			if a.replica != replica || (!blank[i] && headers[i].Checksum != a.checksum) {
				continue
			}
			said := "its header held"
			if blank[i] {
				said = "a blank slot"
			}
			said = fmt.Sprintf("%s; log_view %d, head %d, committed %d", said, logView, head, commit)
			if err := n.nacked(op, nackAck{replica: replica, view: view, checksum: a.checksum, said: said}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (n *Nacks) nacked(op uint64, a nackAck) error {
	if c, ok := n.state.At(op); ok {
		return n.judge(op, c.Checksum, a)
	}
	if op <= n.state.CommitMax() {
		return nil // below the history's window
	}
	for _, p := range n.pending[op] {
		if p == a {
			return nil
		}
	}
	n.pending[op] = append(n.pending[op], a)
	return nil
}

func (n *Nacks) judge(op uint64, committed u128.U128, a nackAck) error {
	if a.checksum != committed {
		return nil
	}
	return fmt.Errorf("replica %d nacked op %d (checksum %v) in its join_view for view %d (%s), but it had sent prepare_ok for that prepare, which the cluster committed",
		a.replica, op, a.checksum, a.view, a.said)
}

// Committed judges the nacks of op held until it committed, and forgets
// acknowledgements NacksKeepOps below it.
func (n *Nacks) Committed(op uint64, checksum u128.U128) error {
	var err error
	for _, a := range n.pending[op] {
		if err = n.judge(op, checksum, a); err != nil {
			break
		}
	}
	delete(n.pending, op)
	if op > NacksKeepOps {
		for ; n.low < op-NacksKeepOps; n.low++ {
			delete(n.acked, n.low)
			delete(n.pending, n.low)
		}
	}
	return err
}
