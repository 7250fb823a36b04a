package vsr

import (
	"slices"
	"viewstamp/replica/storage"

	"viewstamp/replica/u128"
)

// A view change in three messages:
//   exit_view(v): "I have given up on view v". A view-change quorum of these
//     moves a replica to view v+1 — never one replica alone, so a replica cut
//     off from a healthy primary cannot drag the cluster along.
//   join_view(v): sent to the primary of v once v is durable: the suffix of
//     the sender's log with, per op, whether its prepare is durable (present)
//     and whether the sender can promise it never acknowledged it (nack).
//   view(v): the new primary's canonical suffix; backups install it.

func (r *Replica) sendExitView(view uint32) {
	if r.solo() || r.status == StatusRecoveringHead || r.sb.durable.View < view {
		// A vote only for a view made durable: a view-change quorum that
		// left a view then all hold it across crashes, which a reformatted
		// replica's choice of view counts on (recovery.go).
		return
	}
	r.broadcast(&Message{Header: Header{Command: CommandExitView, View: view}})
	r.recordExit(view, r.index)
}

func (r *Replica) onExitView(m *Message) {
	if m.Header.View < r.view {
		r.Drops.Stale++
		return
	}
	if m.Header.View > r.view && !r.solo() {
		// The sender reached a view beyond ours, which took a view-change
		// quorum leaving ours: follow it rather than strand it there.
		r.jumpView(m.Header.View)
	}
	r.recordExit(m.Header.View, m.Header.Replica)
}

// recordExit notes that from has left every view up to view. Leaving view v
// implies leaving all views before it, so a replica still in view 0 counts a
// peer that has since given up on view 3 as having left view 0 too.
//
// A vote counts only while fresh: heard within ExitVoteTicks. Voters re-send
// theirs while they hold them (a backup each failure-detector period, a
// replica in a view change each ViewChangeSendTicks), so a vote that stops
// arriving was withdrawn, and misses hours apart do not add up to a quorum
// that deposes a healthy primary. Expiry only ever removes votes, and a vote
// only ever moves a replica to a view above its own, so neither can move a
// view backwards.
func (r *Replica) recordExit(view uint32, from uint8) {
	switch {
	case r.exited[from] > view+1:
		// An older vote than one already held: the newer one stands, and
		// its freshness is its own.
		return
	case r.exited[from] == view+1:
		r.exitedAt[from] = r.ticks
	default:
		r.exited[from] = view + 1
		r.exitedAt[from] = r.ticks
	}
	// The quorum-th highest fresh exit: a view-change quorum has left it.
	var views [ReplicasMax]uint32
	for i := uint8(0); i < r.cfg.ReplicaCount; i++ {
		if r.voteFresh(i) {
			views[i] = r.exited[i]
		}
	}
	slices.Sort(views[:r.cfg.ReplicaCount])
	e := views[r.cfg.ReplicaCount-r.q.ViewChange]
	if e > 0 && e-1 >= r.view {
		r.transitionToViewChange(e)
	}
}

func (r *Replica) voteFresh(i uint8) bool {
	return r.exited[i] > 0 && r.ticks-r.exitedAt[i] <= r.cfg.ExitVoteTicks
}

// clearExitVotes drops every vote to leave the current view, this replica's
// own included: the primary of this view has just shown it leads. Votes for
// older views stay; they are below our view and move nothing.
func (r *Replica) clearExitVotes() {
	for i := range r.exited {
		if r.exited[i] == r.view+1 {
			r.exited[i] = r.view
		}
	}
}

func (r *Replica) transitionToViewChange(view uint32) {
	if view <= r.view && r.status == StatusViewChange {
		return
	}
	r.logf("view change to %d (from view %d, %v)", view, r.view, r.status)
	r.view = view
	r.setStatus(StatusViewChange)
	r.pipeline = nil
	r.requestQueue = nil
	r.abdicating = false
	r.dvcs = [ReplicasMax]*Message{}
	r.dvcSent, r.logInstall = false, false
	r.heartbeat = 0
	r.tNormal.stop()
	r.tPrepare.stop()
	r.tCommit.stop()
	// Every view change since the last commit makes the next one wait
	// longer: when disks are slower than the timeouts, a view cannot
	// finish before the next one starts, and backing off only within one
	// view never gives it the time.
	r.failedViews++
	r.tViewChange.startAfter(r.failedViews-1, r.rng)
	r.tViewChangeSend.start(r.rng)
	r.stageSuperblock()
}

func (r *Replica) stageSuperblock() {
	cp := r.checkpoint
	switch {
	case r.syncing():
		cp = r.sync.target
	case r.ckpt.started && r.ckpt.pending == 0:
		// The next checkpoint's data is durable: it rides on this write.
		cp = r.ckpt.state
	}
	// A synced checkpoint is marked until a checkpoint of our own replaces
	// it: by then every block it references is here.
	switch {
	case r.syncing():
		r.syncOp = cp.Op
	case cp.Op != r.syncOp:
		r.syncOp = 0
	}
	commitMax := max(r.commitMax, cp.Op)
	r.reformatPaid(commitMax)
	r.sb.stage(VSRState{Replica: r.index, View: r.view, LogView: r.logView, CommitMax: commitMax,
		ViewHeaders: r.viewHeaders, Checkpoint: cp, SyncOp: r.syncOp,
		Reformatted: r.reformat.on, ReformatHead: r.reformat.head})
}

func (r *Replica) onSuperblockDurable() {
	d := &r.sb.durable
	switch {
	case r.retargeting && d.Checkpoint.Op == r.sync.target.Op:
		r.retargetDurable()
	case r.status == StatusRecovering:
	case r.syncing() && !r.sync.opening && d.Checkpoint.Op == r.sync.target.Op:
		r.syncDurable()
	case r.ckpt.started && d.Checkpoint.Op == r.ckpt.op:
		r.checkpointDurable()
	}
	if r.status != StatusRecovering {
		r.repairRingDurable()
	}
	if d.View != r.view || r.status == StatusRecovering {
		return
	}
	switch r.status {
	case StatusViewChange:
		if r.logInstall {
			r.tryStartView()
		} else if !r.dvcSent {
			r.sendJoinView()
		}
	case StatusNormal:
		if !r.isPrimary() && d.LogView == r.view {
			for op := r.commitMax + 1; op <= r.op; op++ {
				r.sendPrepareOK(op)
			}
			r.commitJournal()
		}
	}
}

func (r *Replica) resendViewChange() {
	if r.exited[r.index] == r.view+1 && r.voteFresh(r.index) {
		// Our own vote to leave this view too, kept fresh at peers; it
		// implies having left the one before.
		r.sendExitView(r.view)
	} else if r.view > 0 && r.sb.durable.View >= r.view-1 {
		r.broadcast(&Message{Header: Header{Command: CommandExitView, View: r.view - 1}})
	}
	if r.sb.durable.View == r.view && !r.isPrimary() {
		r.dvcSent = false
		r.sendJoinView()
		r.sendGetView()
	}
	if r.isPrimary() && r.logInstall {
		r.repair()
	}
}

// sendJoinView describes our log suffix to the new primary. Only what is
// durable counts: the view is durable before we get here, and present bits
// name prepares on disk, never ones merely in memory.
func (r *Replica) sendJoinView() {
	if r.sb.durable.View != r.view || r.syncing() || r.status == StatusRecoveringHead {
		// A replica syncing to a checkpoint neither votes for a new view's
		// log nor leads one: its log and state are not yet its own.
		return
	}
	// A replica that state-synced past its log's head reports its head at
	// commit_min (TigerBeetle refuses op < commit_min): the ops between are
	// committed and it holds no header of theirs, so they go as blanks it
	// neither holds nor refuses.
	head := max(r.op, r.commitMin)
	n := min(head, r.cfg.PipelineMax) + 1
	body := make([]byte, n*HeaderSize)
	var present, nack uint64
	var above *Header // the header reported one op up; nil after a gap
	for i := uint64(0); i < n; i++ {
		op := head - i
		if op > r.op {
			continue
		}
		h, ok := r.journal.header(op)
		if ok && above != nil && above.Parent != h.Checksum {
			// A leftover of another view beside this log's headers (a view
			// change we led installed the canonical headers it knew and
			// then moved on): the new primary would take it as part of our
			// log view's. Reported as unknown: neither held nor refused, as
			// its prepare may be one we acknowledged.
			above = nil
			continue
		}
		above = nil
		if ok {
			EncodeHeader(h, body[i*HeaderSize:])
			above = h
			if r.journal.present(op) {
				present |= 1 << i
				continue
			}
		}
		// An op known committed is never nacked: the join_view names no
		// commit_max, so the new primary may not know it committed, and the
		// replication quorum that committed it may count this replica's
		// own acknowledgement, made by a data file since lost to a reformat
		// whose mark was cleared once commit_max passed it (seed 8802251
		// --clock-faults --storage-faults: op 97 nacked after a restart).
		if op > r.commitMax && !r.journal.faulty(op) && !r.reformatMayHaveAcked(op) {
			nack |= 1 << i
		}
	}
	m := &Message{Header: Header{
		Command: CommandJoinView, LogView: r.sb.durable.LogView, Op: head, CommitMin: r.commitMin,
		CheckpointOp: r.checkpoint.Op, Present: present, Nack: nack,
	}, Body: body}
	r.dvcSent = true
	if r.isPrimary() {
		b := r.seal(m)
		r.obs.OwnJoinView(r.index, b)
		dm, err := Decode(b, r.cluster, r.cfg.MessageSizeMax)
		if err != nil {
			panic(err)
		}
		r.dvcs[r.index] = dm
		r.checkJoinQuorum()
		return
	}
	r.send(r.primaryIndex(r.view), m)
}

func (r *Replica) onJoinView(m *Message) {
	h := &m.Header
	if h.View < r.view || r.syncing() {
		r.Drops.Stale++
		return
	}
	if r.primaryIndex(h.View) != r.index {
		r.Drops.Stale++
		return
	}
	if _, ok := parseJoinView(m, r.cfg.PipelineMax); !ok {
		r.Drops.Decode++
		return
	}
	if h.View > r.view {
		r.transitionToViewChange(h.View)
	}
	if r.status != StatusViewChange || r.logInstall {
		return
	}
	r.dvcs[h.Replica] = m
	r.checkJoinQuorum()
}

// joinView is a parsed join_view: headers[i] is op Op-i, or blank.
type joinView struct {
	logView          uint32
	op               uint64
	commit           uint64 // known committed by its sender
	headers          []Header
	blank            []bool
	present, nackSet uint64
}

func parseJoinView(m *Message, pipelineMax uint64) (joinView, bool) {
	h := &m.Header
	n := uint64(len(m.Body) / HeaderSize)
	if uint64(len(m.Body))%HeaderSize != 0 || n == 0 || n > pipelineMax+1 || n > h.Op+1 {
		return joinView{}, false
	}
	j := joinView{logView: h.LogView, op: h.Op, commit: h.CommitMin, present: h.Present, nackSet: h.Nack,
		headers: make([]Header, n), blank: make([]bool, n)}
	for i := uint64(0); i < n; i++ {
		b := m.Body[i*HeaderSize : (i+1)*HeaderSize]
		if b[114] == byte(CommandReserved) {
			j.blank[i] = true
			continue
		}
		if DecodeHeader(b, &j.headers[i]) != nil || j.headers[i].Command != CommandPrepare || j.headers[i].Op != h.Op-i {
			return joinView{}, false
		}
	}
	// A join_view names no commit_max (TigerBeetle's has none): what its
	// sender knows committed is its commit_min, and the commit number its
	// head prepare carries, the primary's commit_max when it prepared it.
	if !j.blank[0] {
		j.commit = max(j.commit, j.headers[0].Commit)
	}
	return j, true
}

// nacks reports whether this join_view promises its sender never acknowledged
// the canonical header want (nil: unknown) at op.
func (j *joinView) nacks(op uint64, want *Header) bool {
	if op > j.op {
		// Beyond its head: it never held a prepare there that it acknowledged,
		// since acknowledged prepares are durable and recovered into the log.
		return true
	}
	i := j.op - op
	if i >= uint64(len(j.headers)) {
		return false
	}
	bit := uint64(1) << i
	switch {
	case j.blank[i]:
		return j.nackSet&bit != 0
	case want != nil && j.headers[i].Checksum == want.Checksum:
		return j.nackSet&bit != 0
	case want != nil:
		// It holds something else there, durably or not, and the slot is
		// readable: it cannot hold `want`.
		return (j.present|j.nackSet)&bit != 0
	}
	return false
}

func (r *Replica) checkJoinQuorum() {
	if r.dvcs[r.index] == nil || r.logInstall {
		return
	}
	var js []joinView
	for i := range r.dvcs {
		if r.dvcs[i] == nil {
			continue
		}
		j, _ := parseJoinView(r.dvcs[i], r.cfg.PipelineMax)
		js = append(js, j)
	}
	if uint8(len(js)) < r.q.ViewChange {
		return
	}
	var logView uint32
	commitMax := r.commitMax
	for _, j := range js {
		logView = max(logView, j.logView)
		commitMax = max(commitMax, j.commit)
	}
	var opHead uint64
	for _, j := range js {
		if j.logView == logView {
			opHead = max(opHead, j.op)
		}
	}
	// When opHead was prepared the pipeline was not full, so everything at
	// least PipelineMax below it had committed.
	if opHead > r.cfg.PipelineMax {
		commitMax = max(commitMax, opHead-r.cfg.PipelineMax)
	}
	commitMax = min(commitMax, opHead)
	canonical := func(op uint64) *Header {
		for k := range js {
			j := &js[k]
			if j.logView != logView || op > j.op || j.op-op >= uint64(len(j.headers)) || j.blank[j.op-op] {
				continue
			}
			return &j.headers[j.op-op]
		}
		return nil
	}
	// Truncate from the lowest op that a nack quorum proves uncommitted:
	// ops commit in order, so nothing after it committed either.
	head := opHead
	for op := commitMax + 1; op <= opHead; op++ {
		want := canonical(op)
		nacks := uint8(0)
		for k := range js {
			if js[k].nacks(op, want) {
				nacks++
			}
		}
		if nacks >= r.q.Nack {
			head = op - 1
			break
		}
	}
	if head > commitMax && canonical(head) == nil {
		// The new head must be known to anchor the log: wait for more
		// join_views, or for the view change to time out.
		r.logf("view %d: head op %d has no known header", r.view, head)
		return
	}
	if head > r.prepareMax() {
		// Our WAL cannot hold this log: its slots still belong to ops our
		// checkpoint does not cover. A replica that wrote the head could;
		// let the view change move on to the next primary.
		r.logf("view %d: head op %d is past our prepare_max %d: not leading this view", r.view, head, r.prepareMax())
		return
	}
	r.logf("view %d: canonical log view %d head %d (of %d) commit_max %d from %d join_views", r.view, logView, head, opHead, commitMax, len(js))
	for op := max(r.op, opHead); op > head; op-- {
		r.journal.removeHeader(op)
	}
	low := uint64(0)
	if head > r.cfg.PipelineMax {
		low = head - r.cfg.PipelineMax
	}
	for op := head; op >= low && op > 0; op-- {
		if h := canonical(op); h != nil {
			r.journal.setHeader(h)
		}
	}
	r.op = head
	r.commitMax = max(r.commitMax, commitMax)
	r.logInstall = true
	r.repair()
	r.tryStartView()
}

// tryStartView starts the view once the primary holds the whole canonical
// suffix durably: every header of the last PipelineMax+1 ops, hash-chained,
// and the prepares of every op that may be uncommitted.
func (r *Replica) tryStartView() {
	if r.status != StatusViewChange || !r.logInstall {
		return
	}
	low := uint64(0)
	if r.op > r.cfg.PipelineMax {
		low = r.op - r.cfg.PipelineMax
	}
	if r.verifiedFrom() > low {
		return
	}
	for op := r.commitMax + 1; op <= r.op; op++ {
		if !r.journal.present(op) || r.journal.prepare(op) == nil {
			return
		}
	}
	if r.logView != r.view {
		r.logView = r.view
		r.viewHeaders = r.viewHeaders[:0]
		for op := r.op; ; op-- {
			h, _ := r.journal.header(op)
			r.viewHeaders = append(r.viewHeaders, *h)
			if op == low {
				break
			}
		}
		r.stageSuperblock()
		return
	}
	if r.sb.durable.LogView != r.view || r.sb.durable.View != r.view {
		return
	}
	r.startView()
}

func (r *Replica) startView() {
	r.logInstall = false
	r.setStatus(StatusNormal)
	r.tViewChange.stop()
	r.tViewChangeSend.stop()
	r.tCommit.start(r.rng)
	r.lastProgress = r.ticks
	// Votes to leave this view cast while its view change dragged on are
	// not votes against the primary it now has.
	r.clearExitVotes()
	r.pipeline = r.pipeline[:0]
	for op := r.commitMax + 1; op <= r.op; op++ {
		// The log is durable, but the primary's own acknowledgement obeys
		// AckMax like every other: an op past it counts the primary only
		// once its next checkpoint is durable (checkpointDurable), or a
		// quorum could commit past the trigger with too few replicas
		// holding the checkpoint (seeds/checkpoint-new-primary-self-ack.json).
		var oks uint64
		if op <= r.ackMax() {
			oks = 1 << r.index
		}
		r.pipeline = append(r.pipeline, pipelineEntry{prepare: r.journal.prepare(op), oks: oks})
	}
	if len(r.pipeline) > 0 {
		r.tPrepare.start(r.rng)
	}
	r.logf("started view %d as primary: op %d commit_max %d", r.view, r.op, r.commitMax)
	r.broadcast(r.viewMessage(u128.Zero))
	r.commitPipeline()
}

// viewCheckpointSize is the room a `view` gives the checkpoint state before
// its headers: TigerBeetle's CheckpointState, whose size its validation
// requires of the body. Ours fills the first storage.CheckpointStateSize
// bytes and leaves the rest zero.
const viewCheckpointSize = 1024

// viewMessage is the `view` this primary sends: its durable checkpoint's
// state (what a replica too far behind syncs to), then the log suffix.
func (r *Replica) viewMessage(nonce u128.U128) *Message {
	body := make([]byte, viewCheckpointSize, viewCheckpointSize+len(r.viewHeaders)*HeaderSize)
	r.checkpoint.Encode(body)
	var b [HeaderSize]byte
	for i := range r.viewHeaders {
		EncodeHeader(&r.viewHeaders[i], b[:])
		body = append(body, b[:]...)
	}
	// A view names no commit past its head (TigerBeetle refuses op <
	// commit_max): its receiver learns later commits from commit messages.
	op := r.viewHeaders[0].Op
	return &Message{Header: Header{Command: CommandView, Op: op, Commit: min(r.commitMax, op), Context: nonce,
		CheckpointOp: r.checkpoint.Op}, Body: body}
}

// onGetView answers with this replica's `view`. A backup answers too, in
// normal status or in a view change: only the primary's view installs a log
// (every receiver drops a backup's but for what it names besides), while a
// replica whose checkpoint open stalls (noteOpenStalled) needs only a newer
// checkpoint, and any peer's is committed state, and a reformatted one only
// views (learnView). Waiting for the primary's deadlocked a cluster whose
// view change needed the stalled replica's vote (seed 12 --clock-faults),
// and waiting for a backup in normal status deadlocked one whose other
// replicas were all in that view change (seeds 1239 and 1939
// --clock-faults). The primary of a view being changed to has no log to
// send until it installs one.
func (r *Replica) onGetView(m *Message) {
	answers := r.status == StatusNormal || (r.status == StatusViewChange && !r.isPrimary())
	if !answers || m.Header.View > r.view {
		r.Drops.Stale++
		return
	}
	// The answer is the log's current suffix, as TigerBeetle's primary
	// answers: what settles a replica in recovering_head must name every op
	// this primary prepared so far, which includes any it acknowledged
	// before its crash; and the view's first suffix may lie below the
	// commit and checkpoint the answer names, which TigerBeetle's
	// validation refuses (op < commit_max).
	v := r.headViewMessage(m.Header.Context)
	if !viewSendable(&v.Header) {
		// Our log does not reach our checkpoint: we are syncing to a
		// checkpoint past our head (seed 8802357: op 51, checkpoint 59),
		// or our head's header is missing and the view's first suffix,
		// all we could send, lies below a checkpoint made since. Either
		// way we cannot vouch for a suffix above it; a peer can.
		r.Drops.Stale++
		return
	}
	r.send(m.Header.Replica, v)
}

// viewSendable reports whether a `view` header keeps checkpoint_op <=
// commit_max <= op, as TigerBeetle's receiver requires (it refuses the
// message otherwise, and asserts both once accepted): its suffix must name
// the commit, and the commit must reach the checkpoint it carries, or a
// receiver adopting that checkpoint would hold a log below it.
func viewSendable(h *Header) bool {
	return h.CheckpointOp <= h.Commit && h.Commit <= h.Op
}

// headViewMessage is viewMessage with the current log suffix, up to
// PipelineMax+1 headers from the head. A backup's (only its checkpoint is
// read: onGetView) ends at its log's first gap.
func (r *Replica) headViewMessage(nonce u128.U128) *Message {
	m := r.viewMessage(nonce)
	body := m.Body[:viewCheckpointSize]
	var b [HeaderSize]byte
	for op := r.op; ; op-- {
		h, ok := r.journal.header(op)
		if !ok && (r.isPrimary() || op == r.op) {
			// A primary holds every header of its log; without one, the
			// view's first suffix is all it can vouch for.
			return m
		}
		if !ok {
			break
		}
		EncodeHeader(h, b[:])
		body = append(body, b[:]...)
		if op == 0 || r.op-op >= r.cfg.PipelineMax {
			break
		}
	}
	m.Body = body
	m.Header.Op = r.op
	m.Header.Commit = min(r.commitMax, r.op)
	return m
}

// viewCheckpoint decodes the checkpoint state a `view` opens with.
func (r *Replica) viewCheckpoint(m *Message) (storage.CheckpointState, bool) {
	if len(m.Body) < viewCheckpointSize {
		r.Drops.Decode++
		return storage.CheckpointState{}, false
	}
	cs, err := storage.DecodeCheckpointState(m.Body[:storage.CheckpointStateSize])
	if err != nil || cs.Op != m.Header.CheckpointOp {
		r.Drops.Decode++
		return storage.CheckpointState{}, false
	}
	return cs, true
}

func (r *Replica) onView(m *Message) {
	h := &m.Header
	if h.Replica == r.index {
		r.Drops.Stale++
		return
	}
	if r.status == StatusRecoveringHead && !r.settlesHead(m) {
		r.Drops.Stale++
		return
	}
	if r.opening && r.openStalled >= syncStuckRepairs {
		// Any newer checkpoint a peer names will do, syncable or not:
		// this open cannot finish, and a retarget is its one way out
		// (onGetView).
		if cs, ok := r.viewCheckpoint(m); ok && cs.Op > r.checkpoint.Op {
			r.retarget(cs)
		}
	}
	if r.onViewWhileStalled(m) {
		return
	}
	if h.View < r.view || h.Replica != r.primaryIndex(h.View) {
		r.Drops.Stale++
		return
	}
	cs, ok := r.viewCheckpoint(m)
	if !ok {
		return
	}
	if h.View == r.view && r.status == StatusNormal && r.logView == r.view {
		if r.wantSync(cs.Op) && r.syncableOrNoted(cs, h.Commit) {
			r.startSync(cs)
		}
		return
	}
	if h.Op > r.prepareMax() {
		// The view's log reaches past what our WAL may hold: its slots
		// still belong to ops our checkpoint does not cover. Sync to the
		// primary's checkpoint first; the view is installed afterwards.
		// That checkpoint may even be behind our commit_min (we executed
		// past it but could not yet checkpoint ourselves): the ops after it
		// are executed again, from the WAL, once the view is installed.
		// Never from its only holder: a new primary may be the one replica
		// that wrote its checkpoint, and a fault there then takes the only
		// copy of a block (seed 9500463: the primary reformatted, its
		// checkpoint's block 364 intact nowhere). See viewSyncHoldersMin.
		if cs.Op > r.checkpointOp() && !r.syncing() && !r.ckpt.started && r.committing == nil &&
			(r.peersHolding(cs) >= viewSyncHoldersMin || r.syncableOrNoted(cs, h.Commit)) {
			r.startSync(cs)
		}
		r.Drops.Stale++
		return
	}
	suffix := m.Body[viewCheckpointSize:]
	n := len(suffix) / HeaderSize
	if len(suffix)%HeaderSize != 0 || n == 0 {
		r.Drops.Decode++
		return
	}
	headers := make([]Header, n)
	for i := 0; i < n; i++ {
		if DecodeHeader(suffix[i*HeaderSize:], &headers[i]) != nil || headers[i].Command != CommandPrepare ||
			headers[i].Op != h.Op-uint64(i) || (i > 0 && headers[i-1].Parent != headers[i].Checksum) {
			r.Drops.Decode++
			return
		}
	}
	if r.status == StatusRecoveringHead {
		r.logf("recovering_head: settled by view %d (op %d)", h.View, h.Op)
		r.settledReformat(h.Op)
	}
	r.logf("install view %d: op %d commit_max %d (had op %d, log view %d)", h.View, h.Op, h.Commit, r.op, r.logView)
	r.installing = h.View
	for op := r.op; op > h.Op; op-- {
		r.journal.removeHeader(op)
	}
	for i := range headers {
		r.journal.setHeader(&headers[i])
	}
	r.installing = 0
	r.op = h.Op
	r.view = h.View
	r.logView = h.View
	r.viewHeaders = headers
	r.commitMax = max(r.commitMax, h.Commit)
	r.setStatus(StatusNormal)
	r.pipeline, r.requestQueue = nil, nil
	r.dvcs = [ReplicasMax]*Message{}
	r.logInstall, r.dvcSent, r.abdicating = false, false, false
	r.heartbeat = 0
	// The view message is word from the primary of this view: votes to
	// leave it, cast while its view change dragged on, are stale.
	r.clearExitVotes()
	r.tViewChange.stop()
	r.tViewChangeSend.stop()
	r.tNormal.startAfter(r.failedViews, r.rng)
	r.stageSuperblock()
	r.ringRepairView = h.View
	r.repairRingDurable()
	r.repair()
}

// repairRingDurable rewrites the header-ring entries open found damaged
// (journal.repairRing) once the superblock names the log view installed
// since: not before. Until then a restart reopens the older log view, whose
// head may be below an op one of those slots held and this replica
// acknowledged; the damage is what makes that open uncertain of its head,
// and a faulty marker written for the newer log would read as hiding
// nothing (seed 8820056 --storage-faults --storage-faults-crash-head: a
// replica settled in recovering_head marked the slot of its lost op 23,
// crashed before its superblock named the view, and reopened certain at
// head 22). Markers are for ops up to the durable view headers' head, which
// every later open finds at least.
func (r *Replica) repairRingDurable() {
	d := &r.sb.durable
	if r.ringRepairView == 0 || d.LogView < r.ringRepairView || len(d.ViewHeaders) == 0 {
		return
	}
	r.ringRepairView = 0
	r.journal.repairRing(r.cluster, min(r.op, d.ViewHeaders[0].Op))
}
