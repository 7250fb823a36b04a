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
//
// Silence is a nack too: the new primary counts an op above a join_view's
// head as nacked, since its sender would hold any prepare it acknowledged
// there. So an acknowledged op above the head is judged as a nack, unless
// the replica's log dropped that header while running for a newer view's
// log than the one it acknowledged it in (Dropped: a view install, or a
// view change it led, truncated it, which no committed op ever is) or the
// acknowledgement was made by a data file since wiped (its successor never
// held it; the reformat's settled head covers those).
//
// A drop for the log of a view not newer than the acknowledgement proves
// nothing: within one view the primary's log only grows, so such a log is
// a stale copy (a `view` message sent before the prepare, delayed or
// replayed). Installing it forgets an acknowledged prepare, and that is a
// violation once the cluster commits the prepare, whatever the replica
// does next: until it repairs the op, any view change it joins may lose it.
type Nacks struct {
	state *State
	// acked holds, per op, the prepares each replica acknowledged there,
	// for ops from low on.
	acked map[uint64][]nackAck
	// pending holds, per op not yet committed, nacks of acknowledged
	// prepares, judged when the op commits.
	pending map[uint64][]nackAck
	low     uint64
	// ackedMax is the highest op acknowledged.
	ackedMax uint64
	// file counts, per replica, the data files wiped under it: an
	// acknowledgement is the current file's if made since the last wipe.
	file []int
}

type nackAck struct {
	replica  int
	checksum u128.U128
	file     int // for an acknowledgement: the replica's file count then
	// For an acknowledgement: the prepare_ok's view. For a nack: the
	// join_view's view, and what it said of the slot.
	view uint32
	said string
	// staleDrop, for an acknowledgement, is 1 + the view whose log dropped
	// the prepare without being newer than the acknowledgement (0: none).
	staleDrop uint32
}

func NewNacks(state *State) *Nacks {
	return &Nacks{state: state, acked: map[uint64][]nackAck{}, pending: map[uint64][]nackAck{}}
}

// Wiped notes that replica's data file is being replaced (a reformat).
func (n *Nacks) Wiped(replica int) {
	n.grow(replica)
	n.file[replica]++
}

func (n *Nacks) grow(replica int) {
	for len(n.file) <= replica {
		n.file = append(n.file, 0)
	}
}

// Dropped notes that replica's running log let go of the header checksum at
// op, replaced or truncated for the log of view. Its acknowledgements of
// that prepare in older views are forgotten: a newer view's log that does
// not hold the prepare proves it uncommitted. One made in view or later is
// kept, marked, and judged when the op commits (Committed).
func (n *Nacks) Dropped(replica int, op uint64, checksum u128.U128, view uint32) {
	as := n.acked[op]
	kept := as[:0]
	for _, a := range as {
		if a.replica == replica && a.checksum == checksum && a.view < view {
			continue
		}
		if a.replica == replica && a.checksum == checksum && a.staleDrop == 0 {
			a.staleDrop = view + 1
		}
		kept = append(kept, a)
	}
	clear(as[len(kept):])
	if len(kept) == 0 {
		delete(n.acked, op)
		return
	}
	n.acked[op] = kept
}

// Acked notes a prepare_ok replica sent in view for op, naming prepare
// checksum.
func (n *Nacks) Acked(replica int, op uint64, checksum u128.U128, view uint32) {
	if op < n.low {
		return
	}
	n.grow(replica)
	n.ackedMax = max(n.ackedMax, op)
	file := n.file[replica]
	for i, a := range n.acked[op] {
		if a.replica == replica && a.checksum == checksum {
			n.acked[op][i].file = file
			n.acked[op][i].view = max(a.view, view)
			return
		}
	}
	n.acked[op] = append(n.acked[op], nackAck{replica: replica, checksum: checksum, file: file, view: view})
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
	return n.silent(replica, view, logView, head, commit)
}

// Reopened judges the status a restarted replica's WAL open chose, with its
// log's head op, what it knows committed (its checkpoint, at open) and its
// durable log view: one that did not wait in recovering_head must hold
// every prepare its data file acknowledged above both, but for those a
// newer view's log dropped: reported dropped, or acknowledged in a view
// before its log view, whose log, installed whole, ends below them (seed
// 8870577 --storage-faults: a replica whose lost op 36 of view 36 was
// never in its journal again installed view 41's log, head 35, so had no
// header to report dropped). A
// committed op is never nacked, and a checkpoint past the head (a sync)
// holds what the WAL no longer does (seed 9600006 at 20,000 requests). A
// prepare_ok is sent only once both WAL copies of the op are durable, so an
// acknowledged op above the head means the open lost it to storage faults
// and trusted a head it could not vouch for: its votes could now nack that
// op, by omission, in any view change it joins.
func (n *Nacks) Reopened(replica int, head, commit uint64, logView uint32, recoveringHead bool) error {
	if recoveringHead {
		return nil
	}
	n.grow(replica)
	for op := max(head, commit) + 1; op <= n.ackedMax; op++ {
		for _, a := range n.acked[op] {
			if a.replica == replica && a.file == n.file[replica] && a.staleDrop == 0 && a.view >= logView {
				return fmt.Errorf("replica %d reopened at head op %d and took part in consensus, but its data file had sent prepare_ok for op %d (checksum %v, view %d): its open lost an acknowledged op and did not wait in recovering_head",
					replica, head, op, a.checksum, a.view)
			}
		}
	}
	return nil
}

// silent judges replica's acknowledgements above the head of its join_view
// as nacks: the new primary counts every op there as nacked by it.
func (n *Nacks) silent(replica int, view, logView uint32, head, commit uint64) error {
	n.grow(replica)
	for op := max(head, commit) + 1; op <= n.ackedMax; op++ {
		for _, a := range n.acked[op] {
			if a.replica != replica || a.file != n.file[replica] {
				continue
			}
			said := fmt.Sprintf("above its head, so nacked by omission; log_view %d, head %d, committed %d", logView, head, commit)
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
	for _, a := range n.acked[op] {
		if err == nil && a.staleDrop != 0 && a.checksum == checksum {
			err = fmt.Errorf("replica %d dropped op %d (checksum %v) from its log for view %d's, not newer than view %d in which it had sent prepare_ok for that prepare, which the cluster committed: it installed a stale log",
				a.replica, op, checksum, a.staleDrop-1, a.view)
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
