package sim

import (
	"cmp"
	"fmt"
	"maps"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"viewstamp/faults"
	rio "viewstamp/replica/io"
	"viewstamp/replica/storage"
	"viewstamp/replica/storage/block"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
	"viewstamp/reports"
	"viewstamp/sim/disk"
	"viewstamp/sim/sched"
)

// Run simulates opts to a verdict. A panic anywhere in the cluster becomes a
// crash result rather than taking the caller down.
func Run(opts faults.Options, cfg Config) (rec reports.Record) {
	c, err := New(opts, cfg)
	if err != nil {
		rec = reports.Record{Seed: strconv.FormatUint(opts.Seed, 10), Result: reports.Crash, Failure: err.Error()}
		rec.ExitCode = rec.Result.ExitCode()
		return rec
	}
	defer func() {
		if p := recover(); p != nil {
			c.fail(reports.Crash, fmt.Errorf("panic at tick %d: %v\n%s", c.sched.Tick(), p, stableStack(debug.Stack())))
			rec = c.Record()
		}
	}()
	c.Run()
	c.finishTimeline()
	return c.Record()
}

// Run drives the safety phase and then, unless lite, the liveness phase.
func (c *Cluster) Run() {
	for c.failure == nil {
		tick := c.sched.Tick()
		if c.safetyDone(tick) {
			break
		}
		c.step(true)
	}
	c.endSafety()
	if c.cfg.SafetyEnd != nil {
		c.cfg.SafetyEnd()
	}
	if c.failure != nil || c.cfg.Lite {
		return
	}
	c.startLiveness()
	c.markLiveness()
	deadline := c.sched.Tick() + c.cfg.TicksMaxConvergence
	for c.failure == nil {
		c.growCore()
		if reason := c.converged(); reason == "" {
			c.livenessAt = c.sched.Tick() - c.livenessAt
			return
		} else if c.sched.Tick() >= deadline {
			excuse := ""
			if why, ok := c.coreMissingQuorum(); ok {
				excuse = why
			} else if why, ok := c.coreMissingPrepare(); ok {
				excuse = why
			} else if n := c.coreMissingBlocks(); n > 0 {
				excuse = fmt.Sprintf("%d blocks a core replica waits for are intact only outside the core", n)
			}
			if excuse != "" {
				c.livenessExcused = fmt.Sprintf("no convergence after %d ticks (%s): %s", c.cfg.TicksMaxConvergence, reason, excuse)
				c.log("liveness: excused: %s", c.livenessExcused)
				c.livenessAt = c.sched.Tick() - c.livenessAt
				return
			}
			c.fail(reports.Liveness, fmt.Errorf("no convergence after %d ticks: %s", c.cfg.TicksMaxConvergence, reason))
			return
		}
		c.step(false)
	}
}

func (c *Cluster) safetyDone(tick uint64) bool {
	if tick >= c.cfg.TicksMax {
		c.safetyEnd = reports.SafetyEndTicksMax
		return true
	}
	if tick > c.lastReplyAt+c.cfg.TicksMaxRequests {
		c.safetyEnd = reports.SafetyEndPatience
		return true
	}
	if c.requestsSent >= c.opts.RequestsMax {
		for _, sc := range c.clients {
			if sc.c.Busy() {
				return false
			}
		}
		c.safetyEnd = reports.SafetyEndRequests
		return true
	}
	return false
}

// endSafety notes what the safety phase achieved, and when it achieved
// nothing, why, before the liveness phase heals everything.
func (c *Cluster) endSafety() {
	c.safetyEnded = true
	c.completedSafety = c.completed
	if c.completedSafety == 0 {
		c.noProgress = c.noProgressCause()
	}
}

// step advances the world by one tick.
func (c *Cluster) step(faultsOn bool) {
	tick := c.sched.Tick()
	if c.cfg.Progress != nil && c.cfg.ProgressTicks > 0 && tick%c.cfg.ProgressTicks == 0 {
		c.cfg.Progress(tick, int(c.completed), c.opts.RequestsMax)
	}
	c.net.Tick()
	c.sampleTimeline(tick)
	if faultsOn {
		c.rotDisks()
		c.processFaults()
		c.observeProgress()
	}
	for i, r := range c.replicas {
		if !c.down[i] && !c.paused[i] {
			r.Tick()
		}
	}
	for _, sc := range c.clients {
		if faultsOn {
			c.workload(sc)
		}
		sc.c.Tick()
	}
	c.sched.RunUntil((tick + 1) * sched.TickNs)
	c.checkTick()
	c.observeClocks()
}

func (c *Cluster) workload(sc *simClient) {
	cl := sc.c
	if cl.Evicted() || cl.Busy() {
		return
	}
	if !cl.Registered() {
		_ = cl.Register()
		return
	}
	if c.requestsSent >= c.opts.RequestsMax || c.rng.Float64() >= c.opts.Workload.RequestProbability {
		return
	}
	if sc.badRequest != 0 && cl.NextRequest() >= sc.badRequest && cl.Release() != sc.badRelease {
		c.log("client %d sends release %s from request %d", sc.index, vsr.ReleaseString(sc.badRelease), cl.NextRequest())
		cl.SetRelease(sc.badRelease)
	}
	operation, body := c.gen.Next(sc.index, c.batchMax())
	if cl.Submit(vsr.Operation(operation), body) == nil {
		sc.operation, sc.body = operation, body
		c.requestsSent++
		c.record(evRequest, uint64(sc.index), uint64(cl.NextRequest()), uint64(len(body)))
	}
}

func (c *Cluster) downCount() int {
	n := 0
	for i := range c.replicas {
		if c.down[i] || c.paused[i] || c.reformatSettling(i) {
			n++
		}
	}
	return n
}

func (c *Cluster) processFaults() {
	p := &c.opts.Process
	tick := c.sched.Tick()
	for i := range c.replicas {
		if tick < c.changed[i]+p.StabilityTicks {
			continue
		}
		switch {
		case c.down[i]:
			if c.rng.Float64() < p.RestartProbability {
				c.restart(i)
			}
		case c.paused[i]:
			if c.rng.Float64() < p.UnpauseProbability {
				c.paused[i] = false
				c.changed[i] = tick
				c.net.SetNodeUp(i, true)
				c.disks[i].Resume()
				c.record(evUnpause, uint64(i), 0, 0)
			}
		case c.downCount() < p.MaxDown:
			crash := p.CrashProbability
			if c.disks[i].PendingWrites() > 0 {
				crash = float64(crash * 10) // rounded before the sum below: no FMA
			}
			if x := c.rng.Float64(); x < crash {
				c.crash(i)
			} else if x < crash+p.PauseProbability {
				c.paused[i] = true
				c.changed[i] = tick
				c.pauses++
				c.net.SetNodeUp(i, false)
				c.disks[i].Pause()
				c.record(evPause, uint64(i), 0, 0)
			}
		}
	}
}

func (c *Cluster) crash(i int) {
	c.crashes++
	c.paused[i] = false // a paused replica that crashes is simply down
	c.down[i] = true
	c.changed[i] = c.sched.Tick()
	c.disks[i].Crash()
	addScrub(&c.scrubbed, c.replicas[i])
	addMended(&c.mended, c.replicas[i])
	c.replicas[i] = nil
	c.net.SetNodeUp(i, false)
	c.record(evCrash, uint64(i), 0, 0)
	c.log("crash replica %d", i)
}

func (c *Cluster) restart(i int) {
	c.maybeReformat(i)
	c.healBeforeRestart(i)
	c.down[i] = false
	c.paused[i] = false
	c.changed[i] = c.sched.Tick()
	c.restarts[i]++
	c.net.SetNodeUp(i, true)
	c.record(evRestart, uint64(i), 0, 0)
	c.log("restart replica %d", i)
	if err := c.startReplica(i); err != nil {
		c.fail(reports.Crash, err)
	}
}

func (c *Cluster) log(format string, args ...any) {
	if c.cfg.Log != nil {
		c.cfg.Log(c.sched.Tick(), format, args...)
	}
}

// startLiveness heals everything for a core of replicas: at least a
// view-change quorum (all of them if the safety phase stalled), restarted and
// unpaused, on a fault-free network and fast disks. Replicas outside the core
// stay down for good, so the core must converge on its own.
func (c *Cluster) startLiveness() {
	c.liveness = true
	c.livenessAt = c.sched.Tick()
	r := len(c.replicas)
	q := int(vsr.QuorumsFor(uint8(r)).ViewChange)
	coreSize := q + c.rng.IntN(r-q+1)
	if c.sched.Tick() > c.lastReplyAt+c.cfg.TicksMaxRequests {
		coreSize = r
	}
	perm := c.rng.Perm(r)
	core := make([]bool, r)
	for _, i := range perm[:coreSize] {
		core[i] = true
	}
	// A replica settling a reformat cannot vote: the core needs a
	// view-change quorum of others (the draws above stay as they were).
	for k := coreSize; k < r; k++ {
		n := 0
		for i := range c.replicas {
			if core[i] && !c.mayBeSettlingReformat(i) {
				n++
			}
		}
		if n >= q {
			break
		}
		core[perm[k]] = true
	}
	c.log("liveness: core %v", core)
	c.core, c.corePerm = core, perm
	c.net.Heal(1_000_000)
	c.healClocks()
	fast := disk.Options{ReadLatencyMinNs: 1_000_000, WriteLatencyMinNs: 1_000_000}
	// Replicas outside the core go down first, so that a core replica's
	// restart counts only the core as its healthy peers (healBeforeRestart).
	for i := range c.replicas {
		c.disks[i].SetOptions(fast)
		if !core[i] && !c.down[i] {
			c.crash(i)
		}
	}
	for i := range c.replicas {
		switch {
		case core[i] && c.down[i]:
			c.restart(i)
		case core[i] && c.paused[i]:
			c.paused[i] = false
			c.net.SetNodeUp(i, true)
			c.disks[i].Resume()
		}
	}
	// A core replica waiting in recovering_head, or still opening (it may
	// yet wait there), restarts, so that its disk is healed should too few
	// others be healthy to settle it.
	for i := range c.replicas {
		if r := c.replicas[i]; core[i] && !c.down[i] && (r.RecoveringHead() || r.Status() == vsr.StatusRecovering) && !r.Reformatting() {
			c.crash(i)
			c.restart(i)
		}
	}
}

// growCore adds a replica to the liveness core when the core's replicas
// that may vote number fewer than a view-change quorum. A core replica can
// restart into recovering_head even on a healed disk: the header-ring entry
// it read damaged at an earlier open was written back with its sector
// before a view settled it, and no longer counts as damage a heal undoes
// (seed 7701607 --clock-faults: a 5-replica core of 3 with one such
// replica could never change view). Waiting in recovering_head is the safe
// answer to such a head, so the core must grow around it, as it does for a
// replica settling a reformat. Replicas join in the order they were drawn.
//
// It also grows the core when a core replica waits to state-sync to a
// checkpoint it has no evidence of as durable (syncable: a replication
// quorum of peers pinging it as held whole, or a commit past its
// durability point), fewer than a replication quorum of the other core
// replicas holding it: an idle cluster commits nothing more to show it,
// and the lagging replica cannot help commit until it syncs, so the
// evidence must come from holders the phase keeps down (seed 8890188
// --clock-faults --storage-faults: replica 0 at checkpoint 139 restarted
// into a core of 0, 2 and 4, while checkpoint 199 was held by 2, 3 and 4).
func (c *Cluster) growCore() {
	if !c.coreMayVote() || c.coreAwaitsSyncEvidence() {
		c.addToCore()
	}
}

// coreMayVote reports whether the core's replicas that may vote (not in
// recovering_head, not settling a reformat) make a view-change quorum.
func (c *Cluster) coreMayVote() bool {
	q := int(vsr.QuorumsFor(uint8(len(c.replicas))).ViewChange)
	voters := 0
	for i, r := range c.replicas {
		if c.core[i] && !(r != nil && !c.down[i] && (r.RecoveringHead() || r.Reformatting())) {
			voters++
		}
	}
	return voters >= q
}

// coreAwaitsSyncEvidence reports whether a core replica waits to sync to a
// checkpoint that fewer than a replication quorum of the other core
// replicas hold whole.
func (c *Cluster) coreAwaitsSyncEvidence() bool {
	q := int(vsr.QuorumsFor(uint8(len(c.replicas))).Replication)
	for i, r := range c.replicas {
		if !c.core[i] || r == nil || c.down[i] {
			continue
		}
		want := r.SyncAwaitsDurable()
		if want == 0 {
			continue
		}
		held := 0
		for j, p := range c.replicas {
			if j != i && c.core[j] && p != nil && !c.down[j] {
				if op, ok := p.HeldCheckpoint(); ok && op == want {
					held++
				}
			}
		}
		if held < q {
			return true
		}
	}
	return false
}

// addToCore adds the next replica in the order they were drawn, restarting
// it if it is down.
func (c *Cluster) addToCore() {
	for _, i := range c.corePerm {
		if !c.core[i] {
			c.core[i] = true
			c.log("liveness: replica %d joins the core (too few core replicas may vote, or hold a checkpoint one waits to sync to)", i)
			if c.down[i] {
				c.restart(i)
			}
			return
		}
	}
}

// coreMissingQuorum reports, once the liveness phase has run out of time,
// that the core cannot change view: fewer of its replicas may vote than a
// view-change quorum, the rest waiting in recovering_head (or settling a
// reformat), and no core replica is a normal primary that could settle
// them. growCore has by then added every replica it could. A replica whose
// head is uncertain must not vote, as it may have forgotten an op it
// acknowledged, and only a view started by others settles it; when the
// others are too few, nothing can (seed 1798 --clock-faults: in a
// 3-replica cluster, replicas 0 and 1 crash with a torn header-ring sector
// between the superblock naming their log view and the ring repair that
// follows it, so each reopen finds slot 7 hiding what may be an op of that
// view). The run is excused, as TigerBeetle's VOPR excuses a core whose
// replicas cannot view-change (its issue 1376: recovering_head replicas do
// not vote).
func (c *Cluster) coreMissingQuorum() (string, bool) {
	var states []coreReplica
	for i, r := range c.replicas {
		if c.core[i] && r != nil && !c.down[i] {
			states = append(states, coreReplica{index: i, recoveringHead: r.RecoveringHead(), reformatting: r.Reformatting(),
				normalPrimary: r.Status() == vsr.StatusNormal && r.Primary(),
				walDamaged:    r.RecoveringHead() && walDamaged(c.vcfg.Layout(), c.disks[i])})
		}
	}
	return cannotViewChange(int(vsr.QuorumsFor(uint8(len(c.replicas))).ViewChange), states)
}

// coreReplica is what coreMissingQuorum needs of one up core replica.
type coreReplica struct {
	index                                       int
	recoveringHead, reformatting, normalPrimary bool
	// walDamaged: the replica's WAL has a slot a read finds damaged (or a
	// faulty marker), the only thing besides a reformat that may make its
	// head uncertain.
	walDamaged bool
}

// cannotViewChange is coreMissingQuorum's decision over the up core
// replicas: the reason, and true, if those that may vote are fewer than q,
// at least one waits in recovering_head, and none is a normal primary.
// A replica in recovering_head with neither a damaged WAL nor a reformat
// to explain it has no business there, and nothing is excused.
func cannotViewChange(q int, core []coreReplica) (string, bool) {
	voters := 0
	var waiting []string
	for _, s := range core {
		if s.normalPrimary || (s.recoveringHead && !s.reformatting && !s.walDamaged) {
			return "", false
		}
		switch {
		case s.recoveringHead:
			waiting = append(waiting, fmt.Sprint(s.index))
		case !s.reformatting:
			voters++
		}
	}
	if voters >= q || len(waiting) == 0 {
		return "", false
	}
	return fmt.Sprintf("core replicas cannot change view: %d may vote of a quorum of %d, replicas %s wait in recovering_head", voters, q, strings.Join(waiting, ", ")), true
}

// coreMissingPrepare reports, once the liveness phase has run out of
// time, that a new primary of the core waits to start its view for the
// prepare of an op of the canonical log that no core replica can serve and
// too few can nack: each other copy may hide it (walCopy), or was wiped by
// a reformat. Such an op was never
// committed (the atlas keeps a committed op's copy intact on one replica
// that acknowledged it), but no replica can prove it: a damaged copy may
// hide an acknowledgement, so it is never nacked (seed 8872382
// --clock-faults --storage-faults: the primary's write of op 45 was torn
// in flight at a crash, the one backup that acknowledged it lost its copy
// to crash_head and was then reformatted, and the third replica, the only
// one to nack it, is one short of the nack quorum). The run is excused, as
// TigerBeetle's VOPR excuses an uncommitted op missing on a nack quorum.
// The judgement is by ground truth, not by what the replicas believe: a
// core replica holding the prepare intact should have served it, and a
// slot whose readable contents prove the prepare never durable there
// counts as a nack the protocol should have cast, so a replica that
// wrongly withholds a nack is not excused.
func (c *Cluster) coreMissingPrepare() (string, bool) {
	type wait struct {
		op  uint64
		sum u128.U128
	}
	var waits []wait
	for i, r := range c.replicas {
		if c.core[i] && r != nil && !c.down[i] && !r.Reformatting() {
			r.StartViewWaits(func(op uint64, sum u128.U128) { waits = append(waits, wait{op, sum}) })
		}
	}
	if len(waits) == 0 {
		return "", false
	}
	q := int(vsr.QuorumsFor(uint8(len(c.replicas))).Nack)
	for _, w := range waits {
		nackers := 0
		for j, r := range c.replicas {
			if !c.core[j] || r == nil || c.down[j] || r.Reformatting() {
				continue
			}
			if head, owed := r.ReformatOwed(); owed && w.op <= head {
				continue // its lost data file may have acknowledged it
			}
			switch walCopy(c.vcfg.Layout(), c.disks[j], w.op, w.sum) {
			case walIntact:
				c.log("liveness: op %d waited for is intact on core replica %d", w.op, j)
				return "", false
			case walCannotNack:
			default:
				nackers++
			}
		}
		if nackers >= q {
			c.log("liveness: op %d waited for: %d core replicas could nack it, a nack quorum", w.op, nackers)
			return "", false
		}
	}
	w := waits[0]
	return fmt.Sprintf("the prepare of op %d, which a new primary waits for, is intact on no core replica, and fewer than a nack quorum (%d) may nack it", w.op, q), true
}

// walDamaged reports whether any slot of the WAL on disk d reads damaged:
// a header-ring entry (zeros included) or a written prepare that does not
// read back intact (readWALHeader), or a faulty marker (damage found at an
// earlier open).
func walDamaged(l storage.Layout, d *disk.Disk) bool {
	for slot := range l.JournalSlotCount {
		ring, ok, written := readWALHeader(l, d, rio.ZoneWALHeaders, slot)
		if written && (!ok || vsr.IsFaultyMarker(&ring)) || !written && d.Differs(rio.ZoneWALHeaders, slot*vsr.HeaderSize, vsr.HeaderSize) {
			return true
		}
		if _, ok, written := readWALHeader(l, d, rio.ZoneWALPrepares, slot); written && !ok {
			return true
		}
	}
	return false
}

// readWALHeader reads the header of slot's header-ring entry or prepare on
// disk d as a read would find it: ok if it decodes and the bytes it covers
// (the entry, or the prepare's sectors) are as last written; written
// unless a read finds only zeros, as in never-written places.
func readWALHeader(l storage.Layout, d *disk.Disk, z rio.Zone, slot uint64) (h vsr.Header, ok, written bool) {
	at, span := slot*vsr.HeaderSize, func(*vsr.Header) uint64 { return vsr.HeaderSize }
	if z == rio.ZoneWALPrepares {
		at, span = l.WALPrepareOffset(slot), func(h *vsr.Header) uint64 { return l.SectorCeil(uint64(h.Size)) }
	}
	var buf [vsr.HeaderSize]byte
	d.Peek(z, at, buf[:])
	if buf == ([vsr.HeaderSize]byte{}) {
		return h, false, false
	}
	if vsr.DecodeHeader(buf[:], &h) != nil {
		return h, false, true
	}
	return h, !d.Differs(z, at, span(&h)), true
}

// walState is what a replica's WAL says of one prepare, judged from its
// disk as a read would find it (coreMissingPrepare).
type walState int

const (
	// walAbsent: the slot's readable contents prove the replica never made
	// the prepare durable, so it can nack it.
	walAbsent walState = iota
	// walCannotNack: the slot may hide the prepare, durable once and
	// unreadable now, so the replica must not nack it.
	walCannotNack
	// walIntact: a read returns the prepare: the replica can serve it.
	walIntact
)

// walCopy judges a replica's WAL slot, on disk d, for the prepare of op
// with checksum sum. The replica acknowledges a prepare only once it and its header-ring
// entry are both durable, so a readable entry naming another op (not a
// faulty marker covering op) proves the prepare never was; an entry naming
// it, a marker covering it, or an unreadable entry beside an unreadable
// prepare may hide it.
func walCopy(l storage.Layout, d *disk.Disk, op uint64, sum u128.U128) walState {
	slot := op % l.JournalSlotCount
	prep, prepOK, _ := readWALHeader(l, d, rio.ZoneWALPrepares, slot)
	if prepOK && prep.Op == op && prep.Checksum == sum {
		return walIntact
	}
	ring, ringOK, _ := readWALHeader(l, d, rio.ZoneWALHeaders, slot)
	switch {
	case ringOK && ring.Op == op && ring.Checksum == sum:
		return walCannotNack
	case ringOK && vsr.IsFaultyMarker(&ring) && ring.Op >= op:
		return walCannotNack
	case ringOK || prepOK:
		return walAbsent
	}
	return walCannotNack
}

// coreMissingBlocks counts, once the liveness phase has run out of time,
// the blocks some core replica waits for (to commit, or to open a
// checkpoint) whose only intact copies are on replicas outside the core,
// down for good: a block a lagging replica never wrote, damaged on the core
// replica that did, while the other replica that did is out (seed 8801795).
// The atlas keeps a copy intact somewhere, not within every core, so such a
// core cannot converge on its own, and the run is excused, as TigerBeetle's
// VOPR excuses a core missing blocks. Any block waited for that another
// core replica holds intact (that peer should have served it), or that no
// replica holds intact (the atlas, or the asker, is wrong), makes it 0.
func (c *Cluster) coreMissingBlocks() int {
	var waited []block.Ref
	var waiters []int
	for i, r := range c.replicas {
		if c.core[i] && r != nil && !c.down[i] && !r.Reformatting() {
			r.MissingBlocks(func(ref block.Ref) {
				waited = append(waited, ref)
				waiters = append(waiters, i)
			})
		}
	}
	for k, ref := range waited {
		outside := false
		for j, r := range c.replicas {
			switch {
			case j == waiters[k] || !c.blockIntact(j, ref):
			case !c.core[j]:
				outside = true
			case r != nil && !c.down[j] && !r.Reformatting():
				c.log("liveness: replica %d waits for block %d, intact on core replica %d", waiters[k], ref.Address, j)
				return 0
			}
		}
		if !outside {
			c.log("liveness: replica %d waits for block %d, intact on no replica", waiters[k], ref.Address)
			return 0
		}
	}
	slices.SortFunc(waited, func(a, b block.Ref) int { return cmp.Compare(a.Address, b.Address) })
	return len(slices.Compact(waited))
}

// blockIntact reports whether replica i's disk holds ref's block as last
// written and reads it back so: a peer asked for it would serve it.
func (c *Cluster) blockIntact(i int, ref block.Ref) bool {
	l, d := c.vcfg.Layout(), c.disks[i]
	h, ok := gridHeader(d, l, ref.Address)
	return ok && h.Checksum == ref.Checksum && !d.Differs(rio.ZoneGrid, l.BlockOffset(ref.Address), l.SectorCeil(uint64(h.Size)))
}

// converged returns "" once every client has its answer and every core
// replica is normal in one view with everything committed executed.
func (c *Cluster) converged() string {
	for _, sc := range c.clients {
		if sc.c.Busy() && !sc.evicted {
			return fmt.Sprintf("client %d still waits for request %d", sc.index, sc.c.NextRequest())
		}
	}
	var view uint32
	var commit uint64
	first := true
	for i, r := range c.replicas {
		if c.down[i] {
			continue
		}
		if r.Status() != vsr.StatusNormal {
			return fmt.Sprintf("replica %d is %v in view %d", i, r.Status(), r.View())
		}
		if first {
			view, commit, first = r.View(), r.CommitMin(), false
		}
		if r.View() != view || r.CommitMin() != commit || r.CommitMax() != commit {
			return fmt.Sprintf("replica %d at view %d commit %d/%d, replica 0 of the core at view %d commit %d", i, r.View(), r.CommitMin(), r.CommitMax(), view, commit)
		}
	}
	if commit != c.state.CommitMax() {
		c.checkSettled(view, commit)
		return fmt.Sprintf("core committed %d, history reaches %d", commit, c.state.CommitMax())
	}
	return ""
}

// Record summarizes the run.
func (c *Cluster) Record() reports.Record {
	st := c.net.Stats()
	rec := reports.Record{
		Seed:              strconv.FormatUint(c.opts.Seed, 10),
		Result:            reports.Pass,
		Ticks:             c.sched.Tick(),
		ReplicaCount:      c.opts.ReplicaCount,
		ClientCount:       c.opts.ClientCount,
		RequestsCompleted: c.completed,
		CommitMax:         c.state.CommitMax(),
		ViewMax:           c.viewMax,
		ViewChanges:       c.viewChanges,
		Crashes:           c.crashes,
		Pauses:            c.pauses,
		Partitions:        st.Partitions,
		Evictions:         maps.Clone(c.evictions),
		Messages:          reports.Messages{Sent: st.Sent, Delivered: st.Delivered, Dropped: st.Dropped, Duplicated: st.Duplicated},
		Options:           faults.Describe(c.opts),
		TraceHash:         fmt.Sprintf("%016x", c.trace),
		Workload:          c.auditor.Counts(),
	}
	rec.Messages.Corrupted, rec.Messages.Rejected = st.Corrupted, c.rejected
	rec.Messages.LateReplayed = st.LateReplays
	if c.liveness && c.failure == nil {
		rec.LivenessTicks = c.livenessAt
	}
	if !c.safetyEnded { // a panic in the safety phase
		c.endSafety()
	}
	rec.RequestsCompletedSafety = c.completedSafety
	rec.SafetyEnd, rec.RequestsSent = c.safetyEnd, uint64(c.requestsSent)
	rec.ReplyGapMax = c.replyGapMax
	rec.Checkpoints = c.checks.checkpoints.Count()
	rec.StateSyncs = c.stateSyncs
	rec.RecoveringHead, rec.DisksHealed = c.recoveringHeads, c.disksHealed
	rec.GridBlocksMax = c.gridBlocksMax
	rec.DiskBytesMax, rec.DiskBytesResidentMax = c.sectors.StoredBytesMax(), c.sectors.ResidentBytesMax()
	rec.GridBlocksWritten = c.sectors.Extent(rio.ZoneGrid) * c.vcfg.SectorSize / c.vcfg.BlockSize
	rec.GridLeakChecks, rec.GridLeakSkips = c.gridLeakChecks, c.gridLeakSkips
	rec.JournalWraps = c.state.CommitMax() / c.vcfg.JournalSlotCount
	rec.NoProgressCause = c.noProgress
	rec.LivenessExcused = c.livenessExcused
	for _, n := range c.restarts {
		rec.Restarts += n
	}
	if c.failure != nil {
		rec.Result = c.result
		rec.Failure = c.failure.Error()
	}
	c.latencyPercentiles(&rec)
	rec.Clock = c.clockRecord()
	rec.StorageFaults = c.storageFaultsRecord()
	if c.sfaults.on {
		maps.Copy(rec.Options, faults.DescribeStorage(c.sfaults.plan))
		maps.Copy(rec.Options, faults.DescribeReformats(c.reformat.plan))
	}
	rec.Scrub = c.scrubRecord()
	rec.Repairs, rec.GridReads = c.repairsRecord()
	rec.ExitCode = rec.Result.ExitCode()
	return rec
}
