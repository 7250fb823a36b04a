package vsr

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand/v2"

	rio "viewstamp/replica/io"
	"viewstamp/replica/storage"
	"viewstamp/replica/storage/block"
	"viewstamp/replica/storage/grid"
	"viewstamp/replica/tbprng"
	"viewstamp/replica/u128"
)

// Status is where a replica is in the protocol.
type Status uint8

const (
	StatusRecovering Status = iota // reading its data file after a start
	StatusNormal
	StatusViewChange
	// StatusRecoveringHead: the WAL may have lost an op this replica
	// acknowledged (recovery.go), or its data file was reformatted: it
	// neither votes, acknowledges, nacks nor leads until a `view` settles
	// its head, and only serves repairs meanwhile.
	StatusRecoveringHead
)

func (s Status) String() string {
	switch s {
	case StatusRecovering:
		return "recovering"
	case StatusNormal:
		return "normal"
	case StatusViewChange:
		return "view_change"
	case StatusRecoveringHead:
		return "recovering_head"
	}
	return "status(?)"
}

// Options wires a replica to the world.
type Options struct {
	Config   Config
	Cluster  u128.U128
	Replica  uint8
	Time     rio.Time
	Network  rio.Network
	Storage  rio.Storage
	SM       StateMachine
	Seed     uint64 // the replica's own PRNG stream, for timeout jitter and peer choice
	Observer Observer
	// AgreedTime says Time is already the cluster's agreed time, every
	// replica reading one clock (unit tests' fake time): the replica stamps
	// from it without synchronizing with its peers.
	AgreedTime bool
}

// Drops counts messages a replica refused, by reason, so that a run can show
// that hostile input was seen and survived.
type Drops struct {
	Decode uint64 // bad size, checksum, command, cluster or reserved bytes
	Stale  uint64 // from an older view, or otherwise no longer useful
	// Invalid: a client's request or ping whose header TigerBeetle's
	// validation refuses (requestInvalid, pingClientInvalid).
	Invalid uint64
}

// Repairs counts what a replica mended, by kind, so that a run shows which
// paths of recovery its storage faults exercised. Grid blocks the scrubber
// repaired are counted by ScrubStats, not here.
type Repairs struct {
	// WALFixed: slots opened from a sound prepare whose header-ring copy
	// was damaged, missing or older; WALFaulty: slots opened faulty (neither copy
	// usable, or the ring newer than its prepare), left to repair.
	WALFixed, WALFaulty uint64
	// Superblock: superblock copies rewritten at open (damaged, stale or
	// misdirected).
	Superblock uint64
	// Headers: headers adopted from peers along the hash chain; Prepares:
	// prepares written into a slot whose header was known but whose
	// prepare was absent, damaged or not yet durable.
	Headers, Prepares uint64
	// Blocks: grid blocks a read found damaged or absent, written from a
	// peer's copy; SyncBlocks: blocks fetched while opening or syncing to a
	// checkpoint.
	Blocks, SyncBlocks uint64
	// Replies: client reply bodies fetched from a peer.
	Replies uint64
}

type pipelineEntry struct {
	prepare *Message
	oks     uint64 // replicas whose prepare_ok (or own durable write) arrived
}

// Replica is one member of a VSR cluster: a deterministic state machine
// driven by Tick, OnMessage and storage completions. It does no IO itself.
type Replica struct {
	cfg     Config
	q       Quorums
	cluster u128.U128
	index   uint8
	time    rio.Time
	net     rio.Network
	storage rio.Storage
	sm      StateMachine
	obs     Observer
	rng     *rand.Rand

	status    Status
	view      uint32
	logView   uint32
	op        uint64 // highest op in the log
	commitMin uint64 // highest op executed here
	commitMax uint64 // highest op known committed

	journal  *journal
	sb       superblock
	sessions sessions
	grid     *grid.Grid
	// checkpoint is the durable checkpoint this replica runs from; ckpt the
	// next one, from its op to its superblock write.
	checkpoint storage.CheckpointState
	cpID       u128.U128 // checkpoint's id, sent with every heartbeat
	ckpt       checkpointing
	// syncOp is the superblock's SyncOp: the checkpoint this replica
	// synced to, until one of its own replaces it.
	syncOp uint64
	// peerHeld is the checkpoint each peer last pinged as held whole
	// (not fetchingSynced): state sync's evidence of durability when no
	// commit shows it (syncable).
	peerHeld [ReplicasMax]heldCheckpoint
	// ringRepairView is a view installed from a `view` whose header-ring
	// repair waits for the superblock to name it (repairRingDurable); 0:
	// none pending.
	ringRepairView uint32
	// checkpointSessions is the client table the last checkpoint this
	// replica wrote holds, encoded, for checkers (CheckpointReplies).
	checkpointSessions []byte
	checkpointMissing  []int // its slots whose reply body was missing
	// replySlots are the writes of each client reply slot, in flight
	// first (writeReplySlot).
	replySlots  [][]slotWrite
	replyWrites int      // slot writes queued or in flight
	replyIdle   []func() // awaitReplySlots callers
	sync        syncState
	// missingBlocks are the blocks grid reads wait for, oldest first.
	missingBlocks []block.Ref
	// expectedBlocks are the links of trailer blocks fetched: the blocks a
	// peer sends after them unasked.
	expectedBlocks []block.Ref
	// blockRound and replyRound turn get_blocks and get_reply over the
	// peers, each on its own count so that one cannot pin the other to a
	// single peer.
	blockRound uint64
	replyRound uint64
	opening    bool // a checkpoint is being opened (start or state sync)
	// openThen continues the open in progress; openGen names it, so that an
	// open abandoned for a newer checkpoint ignores its late answers;
	// openStalled counts repair rounds it has waited on missing blocks.
	openThen    func()
	openGen     uint64
	openStalled int
	retargeting bool // a newer checkpoint is being written to replace the one opening

	// Primary.
	// committing is the op between its prefetch and the end of its
	// compaction (execute), nil when no op is.
	committing *Message
	// steps are committing's state machine steps (step.go).
	steps *smSteps

	pipeline      []pipelineEntry
	requestQueue  []*Message
	lastTimestamp uint64
	abdicating    bool
	clock         replicaClock
	lastProgress  uint64 // tick of the last commit or empty pipeline

	// View change.
	exited     [ReplicasMax]uint32 // per replica: 1 + the highest view it is known to have left (0: none)
	exitedAt   [ReplicasMax]uint64 // tick that vote was last heard; it counts for ExitVoteTicks
	dvcs       [ReplicasMax]*Message
	dvcSent    bool
	logInstall bool // primary: canonical log chosen, repairing before `view`
	// installing is the view whose `view` message is being installed while
	// its log replaces ours, before r.view moves to it: what drops are for.
	installing uint32

	ticks uint64

	viewHeaders []Header // the suffix installed at logView, op descending

	// rx is decoded into for every received message, so receiving
	// allocates nothing; see OnMessage for what is kept and how.
	rx        Message
	receiving bool

	// heartbeat is the primary's clock in the newest commit heartbeat heard
	// in this view: an older one is a replay and proves nothing.
	heartbeat uint64

	// Timeouts, in ticks.
	tPing, tPrepare, tCommit, tNormal, tViewChange, tViewChangeSend, tRepair timeout
	// failedViews counts view changes since this replica last executed an
	// op; timeouts back off by it.
	failedViews uint32
	repairRound uint64 // bumped per repair round; rotates who is asked for what

	Drops   Drops
	Repairs Repairs

	scrub scrubbing // the grid scrubber (scrub.go)

	// nonce names this boot in get_view: a `view` echoing it was sent after
	// the crash, so it covers whatever this replica acknowledged before.
	nonce u128.U128
	// reformat is the protocol of a replica whose data file was lost and
	// formatted again (recovery.go).
	reformat reformatState
}

// New creates a replica. It is in StatusRecovering until Open's reads complete.
func New(o Options) (*Replica, error) {
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	if o.Replica >= o.Config.ReplicaCount {
		return nil, fmt.Errorf("replica index %d outside a cluster of %d", o.Replica, o.Config.ReplicaCount)
	}
	obs := o.Observer
	if obs == nil {
		obs = nopObserver{}
	}
	r := &Replica{
		cfg: o.Config, q: QuorumsFor(o.Config.ReplicaCount), cluster: o.Cluster, index: o.Replica,
		time: o.Time, net: o.Network, storage: o.Storage, sm: o.SM, obs: obs,
		rng: rand.New(rand.NewPCG(o.Seed, uint64(o.Replica)+0x9e3779b97f4a7c15)),
	}
	r.newClock(o.AgreedTime)
	// Its own stream: drawing it from r.rng would move every timeout.
	nr := rand.New(rand.NewPCG(o.Seed, nonceStream))
	r.nonce = u128.U128{Lo: nr.Uint64(), Hi: nr.Uint64()}
	r.journal = newJournal(r.cfg, r.storage, r.onPrepareDurable)
	r.journal.onDrop = func(op uint64, sum u128.U128) {
		if r.status != StatusRecovering {
			r.obs.HeaderDropped(r.index, op, sum, max(r.view, r.installing))
		}
	}
	r.sb = superblock{cfg: r.cfg, cluster: r.cluster, storage: r.storage, done: r.onSuperblockDurable}
	r.sessions = newSessions(int(r.cfg.ClientsMax))
	r.grid = grid.New(r.storage, r.cfg.Layout(), r.cluster)
	r.grid.SetMissing(r.onBlockMissing)
	if r.cfg.Bugs.ReplicationQuorumTooSmall && r.q.Replication > 1 {
		r.q.Replication--
	}
	c := r.cfg
	r.tPing = newTimeout(periodic, c.PingTicks)
	// Prepares are retransmitted on a schedule, not with backoff: under
	// loss, a backed-off retransmission lets the pipeline head wait 8x
	// longer for its quorum, and over 300 seeds that completed fewer
	// requests with more view changes.
	r.tPrepare = newTimeout(periodic, c.PrepareTicks)
	r.tCommit = newTimeout(periodic, c.CommitTicks)
	// Once it fires, the failure detector re-fires each period to keep this
	// replica's exit_view vote fresh (votes expire); only its first period
	// backs off with failed views.
	r.tNormal = newTimeout(periodic, c.NormalHeartbeatTicks)
	r.tViewChange = newTimeout(retry, c.ViewChangeTicks)
	r.tViewChangeSend = newTimeout(periodic, c.ViewChangeSendTicks)
	r.tRepair = newTimeout(periodic, c.RepairTicks)
	r.bindSteps()
	return r, nil
}

// Accessors for checkers and reports.
func (r *Replica) Index() uint8             { return r.index }
func (r *Replica) Status() Status           { return r.status }
func (r *Replica) View() uint32             { return r.view }
func (r *Replica) LogView() uint32          { return r.logView }
func (r *Replica) Op() uint64               { return r.op }
func (r *Replica) CommitMin() uint64        { return r.commitMin }
func (r *Replica) CommitMax() uint64        { return r.commitMax }
func (r *Replica) Primary() bool            { return r.primaryIndex(r.view) == r.index }
func (r *Replica) StateChecksum() u128.U128 { return r.sm.Checksum() }

func (r *Replica) primaryIndex(view uint32) uint8 { return uint8(view % uint32(r.cfg.ReplicaCount)) }
func (r *Replica) solo() bool                     { return r.cfg.ReplicaCount == 1 }
func (r *Replica) isPrimary() bool                { return r.primaryIndex(r.view) == r.index }

func (r *Replica) logf(format string, args ...any) { r.obs.Logf(r.index, format, args...) }

func (r *Replica) setStatus(s Status) {
	r.status = s
	r.obs.StatusChanged(r.index, s, r.view)
}

// Tick advances the replica's timeouts by one tick.
func (r *Replica) Tick() {
	r.ticks++
	r.tickClock()
	if r.status == StatusRecovering {
		// Opening a checkpoint synced to before a crash may wait for
		// blocks from peers.
		if len(r.missingBlocks) > 0 && r.ticks%r.cfg.RepairTicks == 0 {
			r.requestBlocks()
			r.noteOpenStalled()
		}
		return
	}
	r.scrubTick()
	if r.tPing.tick(r.rng) {
		r.sendPings()
	}
	if r.tRepair.tick(r.rng) {
		// Once per round, not on every answer that calls repair: blocks
		// and replies a synced checkpoint still lacks, and the count of
		// rounds without progress that makes a laggard sync.
		r.requestBlocks()
		r.noteOpenStalled()
		r.noteCommitStalled()
		if r.status == StatusNormal {
			r.noteProgress()
			r.requestReplies()
		}
		if r.status == StatusRecoveringHead {
			r.tickRecoveringHead()
		}
		r.repair()
	}
	switch r.status {
	case StatusNormal:
		if r.isPrimary() {
			r.tickPrimary()
		} else if r.tNormal.tick(r.rng) {
			// Silence from the primary: say so, and keep saying so until it
			// speaks or a view-change quorum agrees.
			r.sendExitView(r.view)
		}
	case StatusViewChange:
		if r.tViewChange.tick(r.rng) {
			r.sendExitView(r.view)
		}
		if r.tViewChangeSend.tick(r.rng) {
			r.resendViewChange()
		}
	}
}

func (r *Replica) tickPrimary() {
	r.tickPrimaryClock()
	if len(r.pipeline) == 0 && r.commitMin >= r.commitMax {
		r.lastProgress = r.ticks
	} else if !r.abdicating && r.ticks-r.lastProgress > r.cfg.AbdicateTicks && !r.solo() {
		// Backups can hear us but we cannot commit: go quiet so that they
		// time out and elect a primary that can.
		r.abdicating, r.clock.abdicated = true, false
		r.logf("abdicating in view %d: no commit for %d ticks", r.view, r.ticks-r.lastProgress)
	}
	if r.abdicating {
		// No heartbeats, so backups time out, but vote to leave the view:
		// with two replicas, or a bare quorum up, the others cannot leave
		// without us. Retransmitted prepares keep probing for the quorum:
		// a backup that already holds one does not take it for a sign of
		// life, yet acknowledges it again, and once the head commits we
		// resume (commitPipeline).
		if r.tCommit.tick(r.rng) {
			r.sendExitView(r.view)
		}
		if r.tPrepare.tick(r.rng) {
			r.resendPrepares()
		}
		return
	}
	if r.tPrepare.tick(r.rng) {
		r.resendPrepares()
	}
	if r.tCommit.tick(r.rng) {
		r.sendCommit()
	}
	r.pulse()
}

// pulse prepares the state machine's own operation when it asks for one.
// Only with everything committed executed, so the state machine answers for
// the state the pulse will run against, and one pulse at a time.
func (r *Replica) pulse() {
	if r.status != StatusNormal || r.commitMin < r.commitMax || !r.canPrepare() {
		return
	}
	for _, e := range r.pipeline {
		if e.prepare.Header.Client.IsZero() {
			return
		}
	}
	ts, ok := r.nextTimestamp()
	if !ok {
		return
	}
	op, ok := r.sm.Pulse(ts)
	if !ok || op < OperationStateMachineMin {
		return
	}
	r.prepareRequest(&Message{Header: Header{Operation: op}})
}

// OnMessage handles one received message. Bytes are read-only and may be
// shared with other receivers.
//
// The message is decoded into r.rx, which the next message overwrites, and
// is cleared on return so that a handler keeping it by mistake fails loudly.
// What handlers keep they retain: the journal retains the prepares it
// stores, and requests (which may be queued) and join_views (kept in dvcs)
// are handed over as copies of their own. The wire bytes themselves are
// never copied; they are immutable and may be kept as they are.
func (r *Replica) OnMessage(b []byte) {
	if r.receiving {
		// Re-entered from a handler: leave the outer message alone.
		r.receive(&Message{borrowed: true}, b)
		return
	}
	r.receiving = true
	r.rx.borrowed = true
	r.receive(&r.rx, b)
	r.rx = Message{}
	r.receiving = false
}

func (r *Replica) receive(m *Message, b []byte) {
	if err := DecodeInto(m, b, r.cluster, r.cfg.MessageSizeMax); err != nil {
		r.Drops.Decode++
		return
	}
	h := &m.Header
	if h.Command == CommandBlock {
		r.onBlock(b)
		return
	}
	if r.status == StatusRecovering {
		if h.Command == CommandGetBlocks && h.Replica < r.cfg.ReplicaCount {
			// A block is served only if it verifies against the checksum
			// asked for, so the grid need not be open. Replicas all
			// reopening checkpoints, each stalled on a block damaged
			// locally that the others hold, wait on one another otherwise
			// (seed 111 --clock-faults --storage-faults).
			r.onGetBlocks(m)
			return
		}
		if h.Command == CommandPing && h.Replica < r.cfg.ReplicaCount {
			// Pings are syncable's evidence, noted while opening too: the
			// open may end in a view that wants a sync.
			r.notePing(h)
			r.Drops.Stale++
			return
		}
		if h.Command == CommandView && r.opening {
			// Opening a checkpoint whose blocks no peer may hold any
			// more: a primary's newer checkpoint replaces it.
			r.onViewWhileOpening(m)
			return
		}
		r.Drops.Stale++
		return
	}
	if r.status == StatusRecoveringHead && !recoveringHeadHears(h.Command) {
		r.Drops.Stale++
		return
	}
	if h.Command != CommandRequest && h.Command != CommandPingClient && h.Replica >= r.cfg.ReplicaCount {
		r.Drops.Decode++
		return
	}
	switch h.Command {
	case CommandPing:
		r.notePing(h)
		r.send(h.Replica, &Message{Header: Header{Command: CommandPong, Timestamp: h.Timestamp, Timestamp2: uint64(r.time.Realtime())}})
	case CommandPong:
		r.onPong(h)
	case CommandPingClient:
		r.onPingClient(h)
	case CommandRequest:
		r.onRequest(m.retain())
	case CommandPrepare:
		r.onPrepare(m)
	case CommandPrepareOK:
		r.onPrepareOK(m)
	case CommandCommit:
		r.onCommit(m)
	case CommandExitView:
		r.onExitView(m)
	case CommandJoinView:
		r.onJoinView(m.retain())
	case CommandView:
		r.onView(m)
	case CommandGetView:
		r.onGetView(m)
	case CommandGetHeaders:
		r.onGetHeaders(m)
	case CommandHeaders:
		r.onHeaders(m)
	case CommandGetPrepare:
		r.onGetPrepare(m)
	case CommandGetBlocks:
		r.onGetBlocks(m)
	case CommandGetReply:
		r.onGetReply(m)
	case CommandReply:
		r.onReplyFromPeer(m)
	default:
		r.Drops.Stale++
	}
}

// seal fills in the frame fields every outgoing message shares.
func (r *Replica) seal(m *Message) []byte {
	m.Header.Cluster = r.cluster
	m.Header.Replica = r.index
	m.Header.Release = r.cfg.Release
	if releaseZero[m.Header.Command] {
		m.Header.Release = 0
	}
	switch {
	case viewZero[m.Header.Command]:
		m.Header.View = 0
	case m.Header.Command != CommandExitView:
		m.Header.View = r.view
	}
	return m.Encode()
}

func (r *Replica) send(to uint8, m *Message) {
	if to == r.index {
		return
	}
	r.net.SendToReplica(to, r.seal(m))
}

func (r *Replica) broadcast(m *Message) {
	b := r.seal(m)
	for i := uint8(0); i < r.cfg.ReplicaCount; i++ {
		if i != r.index {
			r.net.SendToReplica(i, b)
		}
	}
}

func (r *Replica) sendRaw(to uint8, b []byte) {
	if to != r.index {
		r.net.SendToReplica(to, b)
	}
}

// notePing records the checkpoint a peer's ping names as held whole.
func (r *Replica) notePing(h *Header) {
	r.peerHeld[h.Replica] = heldCheckpoint{op: h.CheckpointOp, id: h.CheckpointID}
}

func (r *Replica) sendPings() {
	// The body lists the one release this replica runs.
	body := make([]byte, pingBodySize)
	binary.LittleEndian.PutUint32(body, r.cfg.Release)
	// The checkpoint a ping names is the one this replica holds whole:
	// none (op 0) while the blocks of one it synced to are still being
	// fetched.
	var held heldCheckpoint
	if !r.fetchingSynced() {
		held = heldCheckpoint{op: r.checkpoint.Op, id: r.checkpointID()}
	}
	r.broadcast(&Message{Header: Header{Command: CommandPing, Timestamp: r.time.Monotonic(),
		CheckpointOp: held.op, CheckpointID: held.id, ReleaseCount: 1}, Body: body})
}

// fromCurrentPrimary reports whether m is from the primary of our view and
// our view, after jumping forward if the sender is ahead.
func (r *Replica) fromCurrentPrimary(m *Message) bool {
	h := &m.Header
	if h.View < r.view {
		r.Drops.Stale++
		return false
	}
	if h.View > r.view {
		r.jumpView(h.View)
		return false
	}
	return h.Replica == r.primaryIndex(h.View) && h.Replica != r.index
}

// jumpView moves to a newer view that others have already reached, then asks
// its primary for the log. The view must be durable before we say anything
// that depends on it, which transitionToViewChange arranges.
func (r *Replica) jumpView(view uint32) {
	if view <= r.view {
		return
	}
	r.transitionToViewChange(view)
	r.sendGetView()
}

// sendGetView asks the primary of our view for its `view`. Every get_view
// names this boot's nonce (TigerBeetle refuses one without a nonce): an
// answer echoing it was made after this boot, which is what a replica in
// recovering_head waits for.
func (r *Replica) sendGetView() {
	if !r.isPrimary() {
		r.send(r.primaryIndex(r.view), &Message{Header: Header{Command: CommandGetView, Context: r.nonce}})
	}
}

// ---- Normal operation: primary ----

func (r *Replica) onRequest(m *Message) {
	h := &m.Header
	if why := h.requestInvalid(); why != "" {
		r.Drops.Invalid++
		r.logf("drop request of client %v: %s", h.Client, why)
		return
	}
	if r.status != StatusNormal || h.View > r.view {
		// A client ahead of our view has heard from a newer primary.
		r.Drops.Stale++
		return
	}
	if !r.isPrimary() {
		// Clients guess the primary; help the guess along.
		r.sendRaw(r.primaryIndex(r.view), m.Bytes())
		return
	}
	if reason := r.releaseRefused(h.Release); reason != 0 {
		r.evict(h.Client, reason)
		return
	}
	if r.abdicating || r.commitMin < r.commitMax || r.logView != r.view || r.sb.durable.LogView != r.view {
		// The client table is only authoritative once everything committed
		// has been executed here.
		r.Drops.Stale++
		return
	}
	switch {
	case h.Operation == OperationRegister:
		if len(m.Body) != RegisterRequestSize {
			// A client older than 0.16 registers without a body.
			r.evict(h.Client, EvictionInvalidRequestBodySize)
			return
		}
		for _, b := range m.Body {
			if b != 0 {
				// batch_size_limit is the primary's to fill in.
				r.evict(h.Client, EvictionInvalidRequestBody)
				return
			}
		}
	case h.Operation >= OperationStateMachineMin:
		if reason := r.sm.Check(h.Operation, m.Body); reason != 0 {
			r.evict(h.Client, reason)
			return
		}
	default:
		r.evict(h.Client, EvictionInvalidRequestOperation)
		return
	}
	if uint64(h.Size) > r.cfg.RequestSizeLimit {
		r.evict(h.Client, EvictionInvalidRequestBodySize)
		return
	}
	if r.sessionPending(h.Client) {
		// Every decision below reads the client table, and an op prepared
		// or queued here but not yet executed may still change this
		// client's entry. Judging now could evict a client whose register is
		// merely ahead of us in the pipeline (a new primary inherits such ops
		// through the view change), prepare a second register, or accept a
		// request from a session a register is about to evict; the client
		// retries and is judged once they ran.
		r.Drops.Stale++
		return
	}
	if !r.admit(m) {
		return
	}
	if !r.canPrepare() {
		if len(r.requestQueue) >= r.cfg.RequestQueueMax {
			r.Drops.Stale++
			return
		}
		r.requestQueue = append(r.requestQueue, m)
		return
	}
	r.prepareRequest(m)
}

// releaseRefused is the eviction TigerBeetle sends a client of release
// (in a request or a ping) it does not serve, 0 if it serves it.
func (r *Replica) releaseRefused(release uint32) EvictionReason {
	switch {
	case release < r.cfg.ReleaseClientMin:
		return EvictionReleaseTooLow
	case release > r.cfg.Release:
		return EvictionReleaseTooHigh
	}
	return 0
}

// admit judges a valid request against its client's session, TigerBeetle's
// dedupe table (ignore_request_message_duplicate): true for a new request
// to prepare; otherwise it resends the stored reply, evicts, or drops.
func (r *Replica) admit(m *Message) bool {
	h := &m.Header
	s := r.sessions.get(h.Client)
	if h.Operation == OperationRegister {
		switch {
		case s == nil:
			return true
		case h.Release != s.reply.Header.Release:
			r.evict(h.Client, EvictionSessionReleaseMismatch)
		case s.request == 0 && !s.replyMissing:
			r.sendReply(s)
		}
		return false
	}
	switch {
	case s == nil:
		r.evict(h.Client, EvictionNoSession)
	case s.session > h.Session:
		r.evict(h.Client, EvictionSessionTooLow)
	case s.session < h.Session:
		r.Drops.Stale++
	case h.Release != s.reply.Header.Release:
		r.evict(h.Client, EvictionSessionReleaseMismatch)
	case h.Request < s.request:
		r.Drops.Stale++
	case h.Request == s.request:
		if h.Checksum == s.requestCS && !s.replyMissing {
			r.sendReply(s)
		} else {
			r.Drops.Stale++
		}
	case h.Request != s.request+1 || h.Parent != s.reply.Header.Context:
		r.Drops.Stale++
	default:
		return true
	}
	return false
}

// sendReply resends a session's stored reply, as stored: its release is
// the request's, its context the one the client chains its next request to.
func (r *Replica) sendReply(s *session) {
	r.net.SendToClient(s.client, s.reply.Bytes())
}

// onPingClient answers a client's ping with a pong, the primary first
// evicting a client TigerBeetle would: one of a release it does not serve,
// or one whose session (committed here) the client table no longer holds.
func (r *Replica) onPingClient(h *Header) {
	if why := h.pingClientInvalid(); why != "" {
		r.Drops.Invalid++
		return
	}
	if r.status == StatusNormal && r.isPrimary() {
		if reason := r.releaseRefused(h.Release); reason != 0 {
			r.evict(h.Client, reason)
			return
		}
		if h.Session != 0 && r.commitMin >= h.Session && r.sessions.get(h.Client) == nil {
			r.evict(h.Client, EvictionNoSession)
			return
		}
	}
	r.net.SendToClient(h.Client, r.seal(&Message{Header: Header{Command: CommandPongClient, Timestamp: h.Timestamp}}))
}

// sessionPending reports whether an op that could change client's entry in
// the client table is in this replica's log or request queue but not yet
// executed: the client's own register or request, or another client's
// register if the table could be full when it runs (a register changes
// another entry only by evicting the oldest). The log is read rather than
// the pipeline so that committed but unexecuted ops count too, whatever
// status they reached us in.
func (r *Replica) sessionPending(client u128.U128) bool {
	registers := 0
	pending := func(h *Header) bool {
		if h.Operation == OperationRegister {
			registers++
		}
		return h.Client == client
	}
	for op := r.commitMin + 1; op <= r.op; op++ {
		h, ok := r.journal.header(op)
		if !ok || pending(h) {
			// A gap could be anything.
			return true
		}
	}
	for _, q := range r.requestQueue {
		if pending(&q.Header) {
			return true
		}
	}
	return registers > 0 && r.sessions.len()+registers > r.sessions.max()
}

func (r *Replica) evict(client u128.U128, reason EvictionReason) {
	r.logf("evict client %v: reason %d (commit %d/%d op %d)", client, reason, r.commitMin, r.commitMax, r.op)
	r.net.SendToClient(client, r.seal(&Message{Header: Header{Command: CommandEviction, Client: client, Reason: reason}}))
}

func (r *Replica) prepareRequest(req *Message) {
	rh := &req.Header
	parent, ok := r.journal.checksum(r.op)
	if !ok {
		panic(fmt.Sprintf("replica %d: primary has no header at its head op %d", r.index, r.op))
	}
	events := uint64(0)
	body := req.Body
	switch {
	case rh.Operation >= OperationStateMachineMin:
		events = r.sm.EventCount(rh.Operation, req.Body)
	case rh.Operation == OperationRegister:
		// The primary fills in the limit the session is held to; it
		// reaches the client in the reply, from the committed prepare.
		body = make([]byte, RegisterRequestSize)
		binary.LittleEndian.PutUint32(body, r.cfg.BatchSizeLimit())
	}
	// A prepare carries its request's release, which its reply echoes; an
	// op of the replica's own (a pulse) carries the replica's.
	release := rh.Release
	if release == 0 {
		release = r.cfg.Release
	}
	// The op takes the next timestamp (never behind the clock, never
	// repeating) and its events the ones after it, so every object the
	// batch creates has a timestamp of its own.
	next, ok := r.nextTimestamp()
	if !ok {
		panic(fmt.Sprintf("replica %d: preparing op %d without a synchronized clock", r.index, r.op+1))
	}
	ts := next + events
	r.lastTimestamp = ts
	p := &Message{Header: Header{
		Command: CommandPrepare, Cluster: r.cluster, Replica: r.index, View: r.view, Release: release,
		Parent: parent, Ref: rh.Checksum, Client: rh.Client, Op: r.op + 1, Commit: r.commitMax,
		Timestamp: ts, Request: rh.Request, Operation: rh.Operation,
	}, Body: body}
	r.stamped(&p.Header)
	// Encoded once: resends, get_prepare answers and the journal write all
	// send these same immutable bytes.
	wire := p.Encode()
	r.op++
	r.journal.setHeader(&p.Header)
	r.pipeline = append(r.pipeline, pipelineEntry{prepare: p})
	if len(r.pipeline) == 1 {
		r.lastProgress = r.ticks
	}
	for i := uint8(0); i < r.cfg.ReplicaCount; i++ {
		r.sendRaw(i, wire)
	}
	r.tPrepare.start(r.rng)
	r.journal.write(p)
}

func (r *Replica) resendPrepares() {
	if len(r.pipeline) == 0 {
		r.tPrepare.stop()
		return
	}
	for _, e := range r.pipeline {
		b := e.prepare.Bytes() // the bytes sent first, not a new encoding
		for i := uint8(0); i < r.cfg.ReplicaCount; i++ {
			if e.oks&(1<<i) == 0 {
				r.sendRaw(i, b)
			}
		}
	}
}

func (r *Replica) sendCommit() {
	sum, _ := r.journal.checksum(r.commitMax)
	r.broadcast(&Message{Header: Header{Command: CommandCommit, Commit: r.commitMax, Ref: sum, Timestamp: r.time.Monotonic(),
		CheckpointOp: r.checkpoint.Op, CheckpointID: r.checkpointID()}})
}

func (r *Replica) onPrepareOK(m *Message) {
	h := &m.Header
	if r.status != StatusNormal || h.View != r.view || !r.isPrimary() {
		r.Drops.Stale++
		return
	}
	r.ackPipeline(h.Op, h.Ref, h.Replica)
}

func (r *Replica) ackPipeline(op uint64, sum u128.U128, from uint8) {
	if len(r.pipeline) == 0 {
		return
	}
	first := r.pipeline[0].prepare.Header.Op
	if op < first || op >= first+uint64(len(r.pipeline)) {
		return
	}
	e := &r.pipeline[op-first]
	if e.prepare.Header.Checksum != sum {
		return
	}
	e.oks |= 1 << from
	r.commitPipeline()
}

// commitPipeline commits, in op order, every pipeline prepare that a
// replication quorum holds durably.
func (r *Replica) commitPipeline() {
	for len(r.pipeline) > 0 && uint8(bits.OnesCount64(r.pipeline[0].oks)) >= r.q.Replication {
		op := r.pipeline[0].prepare.Header.Op
		if op != r.commitMax+1 {
			panic(fmt.Sprintf("replica %d: pipeline head op %d does not follow commit_max %d", r.index, op, r.commitMax))
		}
		r.commitMax = op
		// Moved down, not resliced: the pipeline keeps its capacity, so
		// preparing allocates no new one.
		n := copy(r.pipeline, r.pipeline[1:])
		r.pipeline[n] = pipelineEntry{}
		r.pipeline = r.pipeline[:n]
		r.lastProgress = r.ticks
		if r.abdicating {
			r.resume()
		}
	}
	r.commitJournal()
	r.prepareQueued()
	if len(r.pipeline) == 0 {
		r.tPrepare.stop()
	}
}

// canPrepare reports whether the primary may prepare another op now: the
// pipeline has room, the op's WAL slot holds nothing the durable checkpoint
// still needs, and the clock can stamp it.
func (r *Replica) canPrepare() bool {
	if uint64(len(r.pipeline)) >= r.cfg.PipelineMax || r.op >= r.prepareMax() {
		return false
	}
	_, ok := r.clockRealtime()
	return ok
}

// prepareQueued prepares queued requests for as long as it may.
func (r *Replica) prepareQueued() {
	for len(r.requestQueue) > 0 && r.canPrepare() && r.status == StatusNormal && r.isPrimary() {
		q := r.requestQueue[0]
		r.requestQueue = r.requestQueue[1:]
		r.prepareRequest(q)
	}
}

// resume ends an abdication: a replication quorum acknowledged again, so the
// primary can commit and heartbeats go out once more. Its own exit_view vote
// for this view is withdrawn here; peers let theirs expire (ExitVoteTicks) or
// drop it on the next heartbeat.
func (r *Replica) resume() {
	if r.clock.abdicated && !r.ClockSynchronized() {
		// Commits alone do not end an abdication for the clock.
		return
	}
	r.abdicating, r.clock.abdicated = false, false
	r.logf("resuming in view %d: committed op %d", r.view, r.commitMax)
	r.clearExitVotes()
	r.tCommit.start(r.rng)
	r.sendCommit()
}

// ---- Normal operation: backup ----

func (r *Replica) onPrepare(m *Message) {
	h := &m.Header
	if h.View > r.view && h.Replica == r.primaryIndex(h.View) && r.status != StatusRecovering {
		r.jumpView(h.View)
		return
	}
	fromPrimary := r.status == StatusNormal && h.View == r.view && h.Replica == r.primaryIndex(r.view) && !r.isPrimary()
	if cur, ok := r.journal.header(h.Op); ok && cur.Checksum == h.Checksum {
		// A retransmission or a repair: a prepare keeps the view it was first
		// prepared in, so it is matched by checksum against our log. It is
		// no sign of life (heardFromPrimary): a primary that only
		// retransmits, an abdicating one or a replay, is not leading.
		if fromPrimary {
			r.advanceCommit(min(h.Commit, h.Op-1), u128.Zero)
		}
		if r.journal.findPrepare(h.Op, h.Checksum) == nil || !r.journal.present(h.Op) {
			r.Repairs.Prepares++
			r.journal.write(m)
		} else {
			r.sendPrepareOK(h.Op)
		}
		r.commitJournal()
		return
	}
	if !fromPrimary || h.Op <= r.executedFloor() {
		r.Drops.Stale++
		return
	}
	if h.Op > r.prepareMax() {
		// Its slot still holds an op our durable checkpoint does not
		// cover; the primary retransmits once we have checkpointed.
		r.Drops.Stale++
		return
	}
	r.heardFromPrimary()
	if h.Op > r.op {
		// A newer prepare of this view extends the log; ops between become
		// gaps, filled by repair along the hash chain.
		for op := r.op + 1; op < h.Op; op++ {
			r.journal.removeHeader(op)
		}
		r.journal.setHeader(h)
		r.op = h.Op
	} else {
		// Prepared in our view by its primary, so canonical: whatever we held
		// at this op is a leftover of an older view.
		r.journal.setHeader(h)
	}
	r.advanceCommit(min(h.Commit, h.Op-1), u128.Zero)
	r.journal.write(m)
	if r.cfg.Bugs.AckBeforeDurable {
		r.send(r.primaryIndex(r.view), &Message{Header: Header{Command: CommandPrepareOK, Parent: h.Parent,
			Ref: h.Checksum, Client: h.Client, Op: h.Op, Timestamp: h.Timestamp, Request: h.Request, Operation: h.Operation}})
	}
}

// heardFromPrimary notes that the primary of our view is alive and leading:
// the failure detector restarts, and votes to leave this view, ours and any
// heard, are stale and dropped. Dropping votes never moves a view; a peer that
// still cannot hear the primary re-sends its vote each detector period.
func (r *Replica) heardFromPrimary() {
	r.tNormal.reset(r.rng)
	r.clearExitVotes()
}

func (r *Replica) onCommit(m *Message) {
	h := &m.Header
	if r.status == StatusViewChange && h.View > r.view {
		r.jumpView(h.View)
		return
	}
	if r.status != StatusNormal || !r.fromCurrentPrimary(m) {
		return
	}
	if h.Timestamp > r.heartbeat {
		// Only a heartbeat newer than any heard in this view proves the
		// primary is alive now; the network replays old ones.
		r.heartbeat = h.Timestamp
		r.heardFromPrimary()
	}
	r.advanceCommit(h.Commit, h.Ref)
	if r.wantSync(h.CheckpointOp) {
		// The primary's checkpoint is out of our WAL's reach: its `view`
		// carries the checkpoint state to sync to.
		r.sendGetView()
	}
}

// advanceCommit records that op commit (with checksum sum, when known) is
// committed, fetching headers if our log does not reach it yet.
func (r *Replica) advanceCommit(commit uint64, sum u128.U128) {
	if commit > r.commitMax {
		r.commitMax = commit
	}
	if !sum.IsZero() && commit > r.commitMin && commit <= r.op && !r.isPrimary() {
		r.dropUncommitted(commit, sum)
	}
	if commit > r.op && !r.isPrimary() {
		r.send(r.primaryIndex(r.view), &Message{Header: Header{Command: CommandGetHeaders, CommitMin: r.op + 1, Op: commit}})
	}
	r.commitJournal()
}

// dropUncommitted enforces the commit heartbeat's checksum: op commit is
// committed as sum, so a different header we hold there is not canonical,
// however well it chains to our head, and must never be executed. It goes,
// and so does every header above it that chains to it (no committed history
// contains them); the head then falls to the highest header left, so the
// primary's headers (asked for when the head is below commit) or repair along
// the chain bring the canonical ones. Nothing dropped can be a committed op, so
// the shorter log a later join_view reports cannot lose one.
func (r *Replica) dropUncommitted(commit uint64, sum u128.U128) {
	h, ok := r.journal.header(commit)
	if !ok || h.Checksum == sum {
		return
	}
	r.logf("op %d: held %v but %v is committed: dropping it", commit, h.Checksum, sum)
	bad := h.Checksum
	r.journal.removeHeader(commit)
	for op := commit + 1; op <= r.op; op++ {
		next, ok := r.journal.header(op)
		if !ok || next.Parent != bad {
			break
		}
		bad = next.Checksum
		r.journal.removeHeader(op)
	}
	for r.op >= commit {
		if _, ok := r.journal.header(r.op); ok {
			break
		}
		r.op--
	}
	r.repair()
}

func (r *Replica) onPrepareDurable(op uint64, sum u128.U128) {
	if r.status != StatusNormal && !(r.status == StatusViewChange && r.logInstall) {
		return
	}
	if r.status == StatusViewChange {
		r.tryStartView()
		return
	}
	if r.isPrimary() {
		if op <= r.ackMax() {
			r.ackPipeline(op, sum, r.index)
		}
	} else {
		r.sendPrepareOK(op)
	}
	// A repaired prepare may be the one execution was waiting for.
	r.commitJournal()
}

func (r *Replica) sendPrepareOK(op uint64) {
	if r.status != StatusNormal || r.isPrimary() || r.sb.durable.LogView != r.view || r.sb.durable.View != r.view {
		return
	}
	h, ok := r.journal.header(op)
	if !ok || !r.journal.present(op) || op > r.ackMax() {
		return
	}
	r.send(r.primaryIndex(r.view), &Message{Header: Header{
		Command: CommandPrepareOK, Parent: h.Parent, Ref: h.Checksum, Client: h.Client, Op: op,
		Commit: r.commitMin, Timestamp: h.Timestamp, Request: h.Request, Operation: h.Operation,
	}})
}

// ---- Executing committed ops ----

// commitJournal executes committed ops in order for as long as their headers
// are verified and their prepares are at hand.
func (r *Replica) commitJournal() {
	if r.status != StatusNormal || r.committing != nil {
		return
	}
	if r.commitMin >= r.commitMax || r.commitMin >= r.op {
		return
	}
	if r.sb.durable.LogView != r.view && !r.solo() {
		return
	}
	verified := r.verifiedFrom()
	for r.commitMin < r.commitMax && r.commitMin < r.op {
		if r.checkpointBlocksCommit() || r.syncing() {
			return
		}
		op := r.commitMin + 1
		if op < verified {
			return
		}
		p := r.journal.prepare(op)
		if p == nil {
			return
		}
		if cp := r.checkpoint; op == cp.Op+1 && cp.Op > 0 && p.Header.Parent != cp.HeaderChecksum {
			// Not the successor of our checkpoint: a leftover of another
			// view at this op. Repair fetches the canonical one.
			r.logf("op %d does not follow checkpoint %d: dropping it", op, cp.Op)
			r.journal.removeHeader(op)
			r.repair()
			return
		}
		if r.isPrimary() && !r.journal.present(op) {
			// Our own reply must not run ahead of our own durability.
			return
		}
		if !r.execute(p) {
			return // the state machine's completion resumes the loop
		}
	}
	if r.isPrimary() && r.commitMin == r.commitMax {
		if r.abdicating && len(r.pipeline) == 0 {
			// Abdicated for want of ops it could execute, which it now has.
			r.resume()
		}
		if len(r.requestQueue) > 0 {
			r.commitPipeline()
		}
	}
}

// execute commits op p in three steps: the state machine prefetches what it
// reads, the op is applied, and the state machine compacts; then the
// checkpoint schedule runs, so a checkpoint at this op holds the op's effects,
// the client table's included. Either step of the state machine may complete
// later, from storage: execute then reports false, and the completion
// finishes the op and resumes commitJournal. r.committing names the op
// meanwhile, and nothing else commits, syncs or opens a checkpoint.
//
// The op stays committed whatever happens while it waits (a view change, a
// new primary), so it is applied when its prefetch completes: only the reply
// depends on the status and view then.
func (r *Replica) execute(p *Message) bool {
	r.committing = p
	if p.Header.Operation < OperationStateMachineMin {
		return r.executePrefetched()
	}
	h := &p.Header
	r.steps.prefetch.begin()
	r.sm.Prefetch(h.Op, h.Timestamp, h.Operation, p.Body, r.steps.prefetchDone)
	return r.steps.prefetch.started() && r.executePrefetched()
}

func (r *Replica) executePrefetched() bool {
	p := r.committing
	r.apply(p)
	r.steps.compact.begin()
	r.sm.Compact(p.Header.Op, r.steps.compactDone)
	return r.steps.compact.started() && r.executeCompacted()
}

func (r *Replica) executeCompacted() bool {
	op := r.committing.Header.Op
	r.committing = nil
	r.afterExecute(op)
	return true
}

func (r *Replica) apply(p *Message) {
	h := &p.Header
	var reply []byte
	switch {
	case h.Operation == OperationRegister:
		if evicted, did := r.sessions.open(h.Client, h.Op); did {
			r.logf("op %d: session of client %v evicted by %v", h.Op, evicted, h.Client)
		}
		reply = registerResult(p.Body, r.cfg.BatchSizeLimit())
	case h.Operation >= OperationStateMachineMin:
		reply = r.sm.Commit(h.Client, h.Op, h.Timestamp, h.Operation, p.Body)
	}
	r.commitMin = h.Op
	r.failedViews = 0
	if h.Timestamp > r.lastTimestamp {
		r.lastTimestamp = h.Timestamp
	}
	r.obs.Committed(r.index, h, p.Body, reply, r.sm.Checksum())
	if h.Client.IsZero() {
		return
	}
	s := r.sessions.get(h.Client)
	if s == nil {
		// Not expected since onRequest accepts nothing behind a register
		// that could evict the session; never build a reply without one.
		return
	}
	rep := newReply(h, reply, r.index, r.view)
	s.request = h.Request
	s.requestCS = h.Ref
	s.reply = rep
	s.replyMissing = false
	s.lastOp = h.Op
	if r.status == StatusNormal && (r.isPrimary() || r.index == r.replyBackup(h.Op)) {
		r.net.SendToClient(h.Client, rep.Bytes())
	}
}

// replyBackup is the backup that replies to op's client besides the
// primary, as TigerBeetle 0.17 chooses it (replica.zig
// execute_op_reply_to_client): a PRNG seeded with the op draws an offset in
// [1, ReplicaCount-1] from the primary. A client whose primary is
// partitioned from it still hears its reply; it drops the duplicate.
func (r *Replica) replyBackup(op uint64) uint8 {
	n := r.cfg.ReplicaCount
	if n == 1 {
		return r.primaryIndex(r.view)
	}
	offset := tbprng.New(op).RangeInclusiveU8(1, n-1)
	return (r.primaryIndex(r.view) + offset) % n
}

// Debug describes the replica's internal state in one line, for humans.
func (r *Replica) Debug() string {
	return fmt.Sprintf("status=%v view=%d log_view=%d op=%d commit=%d/%d exited=%v dvcs_sent=%v log_install=%v abdicating=%v sb=%d/%d writing=%v drops=%+v",
		r.status, r.view, r.logView, r.op, r.commitMin, r.commitMax, r.exited, r.dvcSent, r.logInstall, r.abdicating,
		r.sb.durable.View, r.sb.durable.LogView, r.sb.writing, r.Drops) + r.debugNext()
}

// DebugOps describes the log headers in [lo, hi].
func (r *Replica) DebugOps(lo, hi uint64) string {
	out := ""
	for op := lo; op <= hi; op++ {
		sl := r.journal.slotFor(op)
		out += fmt.Sprintf("\n  op %d has=%v view=%d sum=%v parent=%v durable=%v", op, sl.has && sl.header.Op == op, sl.header.View, sl.header.Checksum, sl.header.Parent, sl.durable)
	}
	return out
}

func (r *Replica) debugNext() string {
	op := r.commitMin + 1
	sl := r.journal.slotFor(op)
	h, ok := r.journal.header(op)
	var sum u128.U128
	if ok {
		sum = h.Checksum
	}
	return fmt.Sprintf(" next=%d verified_from=%d has=%v hdr=%v prepare=%v durable=%v writing=%v queued=%v faulty=%v",
		op, r.verifiedFrom(), ok, sum, sl.prepare != nil, sl.durable, sl.writing, sl.queued != nil, sl.faulty)
}
