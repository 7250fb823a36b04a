package sim

import (
	"fmt"

	rio "viewstamp/replica/io"
	"viewstamp/replica/ledger"
	"viewstamp/replica/tbwire"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
	"viewstamp/reports"
	"viewstamp/sim/check"
)

// checkers wires the invariant checkers of sim/check (beyond the state,
// reply and auditor checkers the cluster always ran) to the cluster's hooks.
// They only read: no randomness, no trace events, no call that changes a
// replica, so a passing run is the same run with or without them.
type checkers struct {
	once     *check.Once
	sessions *check.Sessions
	views    *check.Views
	rollback *check.Rollback
	// checkpoints holds every replica's checkpoints to the same id.
	checkpoints *check.Checkpoints
	// durability reads the disks: prepare_ok and commit claim what is on them.
	durability *check.Durability
	// journal reads the WAL at each checkpoint: both copies of a settled,
	// committed slot hold its header.
	journal *check.Journal
	// checkpointDurable reads the superblocks: a commit at DurableAt(c)
	// finds c on a replication quorum's disks.
	checkpointDurable *check.CheckpointDurable
	// opened is, per replica, the checkpoint it last finished opening; a
	// synced checkpoint's open ends once every block it references was
	// fetched and landed, and from then on the file holds it whole.
	opened []uint64
	// reopening marks, per replica, a process whose WAL open has not yet
	// chosen its status: the first status it takes says whether it trusts
	// its head (Nacks.Reopened).
	reopening []bool
	// validator judges the request behind an invalid_request_* eviction with
	// the state machine's own Check; Check reads only the configuration.
	validator *ledger.Machine
	// running is the replica process last polled per index: a new one means
	// a restart, after which commit_min may start again from zero.
	running []*vsr.Replica
	// inbound is the message being delivered to a client, so that an
	// eviction the client accepts can be traced to its sender.
	inbound []byte
	// judgedSent holds the evictions judged when sent (by checksum), so
	// that their arrival is not judged again against a later history.
	judgedSent map[u128.U128]bool
	// probe is the reused body of a get_headers answer a replica is asked
	// for without a message (checkServable).
	probe []byte
	// lastSent is the checksum of the last replica message checked: a
	// broadcast hands the same bytes to every peer.
	lastSent u128.U128
	// nacks holds every replica's join_view nacks to its prepare_oks.
	nacks *check.Nacks
	// scrub judges the grid scrubber against the disks' damage; it looks
	// only at scrubBlocks, per replica the blocks its checkpoint
	// referenced when it became current. scrubDamaged is a poll's scratch.
	scrub        *check.ScrubFound
	scrubBlocks  [][]uint64
	scrubDamaged []uint64
	// scrubTrees are, per replica, its checkpoint's tour tree, to tell
	// damage the tour cannot reach (scrubTree).
	scrubTrees []scrubTree
}

func newCheckers(c *Cluster) *checkers {
	r := len(c.replicas)
	return &checkers{
		once:        check.NewOnce(),
		sessions:    check.NewSessions(int(c.vcfg.ClientsMax), c.vcfg.ReleaseClientMin, c.vcfg.Release),
		views:       check.NewViews(r),
		rollback:    check.NewRollback(c.state, r),
		checkpoints: check.NewCheckpoints(),
		durability: check.NewDurability(c.cluster, c.vcfg, func(replica int, zone rio.Zone, offset uint64, buf []byte) {
			c.disks[replica].Peek(zone, offset, buf)
		}),
		journal: check.NewJournal(c.cluster, c.vcfg, func(replica int, zone rio.Zone, offset uint64, buf []byte) {
			c.disks[replica].PeekIntact(zone, offset, buf)
		}),
		checkpointDurable: check.NewCheckpointDurable(c.vcfg.Schedule(), r, int(vsr.QuorumsFor(c.vcfg.ReplicaCount).Replication),
			func(i int) (uint64, bool, bool) {
				op, synced, ok := vsr.DiskCheckpoint(c.vcfg, c.cluster, uint8(i), func(offset uint64, buf []byte) {
					c.disks[i].Peek(rio.ZoneSuperblock, offset, buf)
				})
				return op, synced && c.checks.opened[i] != op, ok
			}),
		opened:      make([]uint64, r),
		reopening:   make([]bool, r),
		validator:   ledger.NewMachine(int(c.vcfg.MessageSizeMax), ledger.Bugs{}),
		running:     make([]*vsr.Replica, r),
		judgedSent:  map[u128.U128]bool{},
		nacks:       check.NewNacks(c.state),
		scrub:       check.NewScrubFound(r),
		scrubBlocks: make([][]uint64, r),
		scrubTrees:  make([]scrubTree, r),
	}
}

// failCheck fails the run as a correctness violation, at the tick it is seen.
func (c *Cluster) failCheck(checker string, err error) {
	c.fail(reports.Correctness, fmt.Errorf("%s at tick %d: %w", checker, c.sched.Tick(), err))
}

// checkCommitted sees each op once, as it enters the committed history.
func (c *Cluster) checkCommitted(h *vsr.Header) {
	k := c.checks
	if err := k.once.Commit(h.Op, h.Client, h.Request, k.sessions.Live(h.Client)); err != nil {
		c.failCheck("exactly once", err)
	}
	if err := k.sessions.Commit(h.Op, h.Client, h.Operation, h.Release); err != nil {
		c.failCheck("sessions", err)
	}
	if err := k.durability.Committed(h.Op, h.Checksum); err != nil {
		c.failCheck("durability", err)
	}
	if err := k.checkpointDurable.Committed(h.Op); err != nil {
		c.failCheck("checkpoint durability", err)
	}
	if err := k.nacks.Committed(h.Op, h.Checksum); err != nil {
		c.failCheck("nacks", err)
	}
	c.checkTimestamp(h)
}

// checkStatus judges the log of a replica entering normal status.
func (c *Cluster) checkStatus(replica uint8, status vsr.Status, view uint32) {
	r := c.replicas[replica]
	if k := c.checks; r != nil && k.reopening[replica] && status != vsr.StatusRecovering {
		k.reopening[replica] = false
		if err := k.nacks.Reopened(int(replica), r.Op(), r.CommitMin(), r.LogView(), status == vsr.StatusRecoveringHead); err != nil {
			c.failCheck("nacks", err)
		}
	}
	if status != vsr.StatusNormal || r == nil {
		return
	}
	log := check.Log{Head: r.Op(), Chained: r.ChainedChecksum}
	if err := c.checks.rollback.Normal(int(replica), view, r.Primary(), log); err != nil {
		c.failCheck("no rollback", err)
	}
}

// checkSent reads the header of what a replica sends to another.
func (c *Cluster) checkSent(from int, b []byte) {
	if len(b) < vsr.HeaderSize {
		return
	}
	if why := tbwire.Invalid(b); why != "" && !vsr.WireDeviation(b, why) {
		c.failCheck("tigerbeetle wire", fmt.Errorf("replica %d sent a header TigerBeetle refuses: %s", from, why))
	}
	cmd := vsr.Command(b[114])
	switch cmd {
	case vsr.CommandPrepareOK, vsr.CommandCommit, vsr.CommandJoinView, vsr.CommandView:
	case vsr.CommandHeaders:
		c.checkServed(from, b)
		return
	default:
		return
	}
	k := c.checks
	if sum := u128.Get(b); sum == k.lastSent {
		return
	}
	var h vsr.Header
	if vsr.DecodeHeader(b, &h) != nil {
		return
	}
	k.lastSent = h.Checksum
	var durable, durableLog uint32
	if r := c.replicas[from]; r != nil {
		durable, durableLog = r.DurableView()
	}
	if cmd == vsr.CommandJoinView {
		c.checkJoinView(from, &h, b)
	}
	if err := k.views.Sent(from, &h, durable, durableLog); err != nil {
		c.failCheck("views", err)
	}
	if cmd == vsr.CommandPrepareOK {
		if err := k.durability.Acked(from, h.Op, h.Ref); err != nil {
			c.failCheck("durability", err)
		}
		k.nacks.Acked(from, h.Op, h.Ref, h.View)
	}
	if cmd == vsr.CommandCommit {
		if err := k.rollback.CommitHeartbeat(from, h.View, h.Commit, h.Ref); err != nil {
			c.failCheck("commit heartbeat", err)
		}
	}
}

// judgedAtSend are the eviction reasons that speak of the session table:
// they are judged when a replica sends them, against the history as it is
// then. Judged on arrival instead, an eviction that was right when sent (the
// client's session had been evicted) but that the network delays past the
// client's new register would look wrong.
func judgedAtSend(reason vsr.EvictionReason) bool {
	return reason == vsr.EvictionNoSession || reason == vsr.EvictionSessionTooLow
}

// checkEvictionSent judges an eviction a replica sends to sc, if the sender
// speaks for the cluster: a primary of the newest view that has started. A
// primary of an older view, cut off, judges by a stale table, and clients
// ignore evictions from views older than their own; its evictions are judged
// only if a client accepts one.
func (c *Cluster) checkEvictionSent(from int, sc *simClient, b []byte) {
	if len(b) < vsr.HeaderSize || vsr.Command(b[114]) != vsr.CommandEviction {
		return
	}
	var h vsr.Header
	if vsr.DecodeHeader(b, &h) != nil || !judgedAtSend(h.Reason) || h.View < c.checks.rollback.NewestView() {
		return
	}
	c.checks.judgedSent[h.Checksum] = true
	c.judgeEviction(sc, h.Reason, &h)
}

// checkEviction judges an eviction sc has just accepted, unless it was
// judged when sent.
func (c *Cluster) checkEviction(sc *simClient, reason vsr.EvictionReason) {
	var h vsr.Header
	if vsr.DecodeHeader(c.checks.inbound, &h) != nil || h.Command != vsr.CommandEviction {
		h = vsr.Header{Replica: 0xff}
	} else if c.checks.judgedSent[h.Checksum] {
		return
	}
	c.judgeEviction(sc, reason, &h)
}

func (c *Cluster) judgeEviction(sc *simClient, reason vsr.EvictionReason, h *vsr.Header) {
	k := c.checks
	id := sc.c.ID()
	e := check.Eviction{Client: id, Reason: reason, Replica: h.Replica, View: h.View, Session: c.replies.Session(id), Operation: vsr.OperationRegister,
		Release: sc.c.Release(), SessionRelease: sc.release}
	if sc.c.Registered() {
		e.Request, e.Operation = sc.c.NextRequest(), vsr.Operation(sc.operation)
		e.Invalid = k.validator.Check(e.Operation, sc.body)
		if e.Invalid == 0 && uint64(vsr.HeaderSize+len(sc.body)) > c.vcfg.MessageSizeMax {
			e.Invalid = vsr.EvictionInvalidRequestBodySize
		}
	}
	if err := k.sessions.Eviction(e); err != nil {
		if int(e.Replica) < len(c.replicas) && c.replicas[e.Replica] != nil {
			r := c.replicas[e.Replica]
			err = fmt.Errorf("%w (the sender now: %v, view %d, commit_min %d, commit_max %d, op %d)", err, r.Status(), r.View(), r.CommitMin(), r.CommitMax(), r.Op())
		}
		if newest := k.rollback.NewestView(); e.View < newest {
			err = fmt.Errorf("%w; view %d had started before it (TigerBeetle's client ignores evictions from views older than its own)", err, newest)
		}
		c.failCheck(fmt.Sprintf("sessions (client %d)", sc.index), err)
	} else if why := k.sessions.EvictedBy(id); why != "" {
		c.log("client %d %s", sc.index, why)
	}
}

// checkTick polls what no event announces: durable views and commit
// numbers of every running replica, once per tick, after its IO completed.
func (c *Cluster) checkTick() {
	k := c.checks
	for i, r := range c.replicas {
		if r == nil {
			continue
		}
		if r != k.running[i] {
			k.running[i] = r
			k.rollback.Restarted(i)
			k.scrub.Restarted(i)
		}
		if c.sfaults.on {
			c.checkScrub(i, r)
		}
		if r.Status() == vsr.StatusRecovering {
			continue
		}
		view, logView := r.DurableView()
		if err := k.views.Durable(i, view, logView); err != nil {
			c.failCheck("views", err)
		}
		if err := k.rollback.Progress(i, r.CommitMin(), r.CommitMax()); err != nil {
			c.failCheck("no rollback", err)
		}
		c.checkServable(i, r)
	}
}

// checkSettled runs when every running replica is normal in view with all it
// knows committed executed, yet the history reaches further: the primary
// must still hold the rest, or it is lost for good.
func (c *Cluster) checkSettled(view uint32, commit uint64) {
	for i, r := range c.replicas {
		if r == nil || !r.Primary() {
			continue
		}
		log := check.Log{Head: r.Op(), Chained: r.ChainedChecksum}
		if err := c.checks.rollback.Converged(i, view, commit, log); err != nil {
			c.failCheck("no rollback", err)
		}
	}
}

// checkServed judges a headers message as it is sent: rare (repair only),
// so decoding its body costs little.
func (c *Cluster) checkServed(from int, b []byte) {
	if len(b) < vsr.HeaderSize {
		return
	}
	c.checkServedBody(from, b[vsr.HeaderSize:])
}

// checkServable asks a replica what it would serve from the part of its log
// it cannot vouch for: ops above commit_min below its verified suffix. A
// correct replica serves none of them, so the answer is almost always empty
// and costs nothing; asking every tick holds the serving rule to account in
// states no get_headers happens to reach (a leftover header sits right below
// the verified suffix only briefly, while repair walks down past it).
func (c *Cluster) checkServable(i int, r *vsr.Replica) {
	lo := r.CommitMin() + 1
	v := r.VerifiedFrom()
	if v <= lo {
		return
	}
	k := c.checks
	k.probe = r.Served(k.probe[:0], lo, v-1)
	if len(k.probe) > 0 {
		c.checkServedBody(i, k.probe)
	}
}

func (c *Cluster) checkServedBody(from int, body []byte) {
	r := c.replicas[from]
	if r == nil {
		return
	}
	headers := make([]vsr.Header, 0, len(body)/vsr.HeaderSize)
	for off := 0; off+vsr.HeaderSize <= len(body); off += vsr.HeaderSize {
		var h vsr.Header
		if vsr.DecodeHeader(body[off:], &h) != nil {
			return
		}
		headers = append(headers, h)
	}
	if err := check.Served(from, headers, r.CommitMin(), r.ChainedChecksum, c.state); err != nil {
		c.failCheck("repair", err)
	}
}

// checkJoinView judges the log suffix a join_view reports.
func (c *Cluster) checkJoinView(from int, h *vsr.Header, b []byte) {
	body := b[vsr.HeaderSize:]
	n := len(body) / vsr.HeaderSize
	headers, blank := make([]vsr.Header, n), make([]bool, n)
	for i := range n {
		e := body[i*vsr.HeaderSize:]
		if vsr.Command(e[114]) == vsr.CommandReserved {
			blank[i] = true
			continue
		}
		if vsr.DecodeHeader(e, &headers[i]) != nil {
			return
		}
	}
	if err := check.JoinView(from, h.View, headers, blank); err != nil {
		c.failCheck("join_view", err)
	}
	var owed uint64
	if r := c.replicas[from]; r != nil {
		if head, ok := r.ReformatOwed(); ok {
			owed = head
		}
	}
	// What the sender knows committed, as the new primary reads it (a
	// join_view names no commit_max): its commit_min, or the commit its
	// head prepare carries.
	committed := h.CommitMin
	if n > 0 && !blank[0] && headers[0].Op == h.Op {
		committed = max(committed, headers[0].Commit)
	}
	if err := c.checks.nacks.JoinView(from, h.View, h.LogView, h.Op, committed, owed, headers, blank, h.Nack); err != nil {
		c.failCheck("nacks", err)
	}
}

// walGuard is the replica's storage as the WAL checker sees it: every
// prepare written must be for an op after the replica's durable checkpoint
// (ops at or below it are never needed again) and at most PrepareMax of it
// (the slot it overwrites must hold an op that checkpoint covers). It reads
// the durable superblock at the moment of the write; it only forwards IO,
// so a run is the same run with it.
type walGuard struct {
	c     *Cluster
	index int
	disk  rio.Storage
}

func (g walGuard) Read(zone rio.Zone, offset uint64, buf []byte, done func()) {
	g.disk.Read(zone, offset, buf, done)
}

func (g walGuard) Write(zone rio.Zone, offset uint64, buf []byte, done func()) {
	if zone == rio.ZoneWALPrepares {
		g.c.checkWALWrite(g.index, buf)
	}
	g.disk.Write(zone, offset, buf, done)
}

func (c *Cluster) checkWALWrite(i int, buf []byte) {
	r := c.replicas[i]
	var h vsr.Header
	if r == nil || vsr.DecodeHeader(buf, &h) != nil {
		return
	}
	cp := r.DurableCheckpoint()
	if err := check.WALWrite(i, h.Op, cp, c.vcfg.Schedule().PrepareMax(cp)); err != nil {
		c.failCheck("wal", err)
	}
}
