// Package sim runs a whole cluster — replicas, clients, network and disks —
// in one goroutine on simulated time, injects the faults a seed draws, and
// checks every invariant as it goes. Run(seed) is a pure function of the seed
// and the options: same seed, same trace hash.
package sim

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	"github.com/zeebo/xxh3"

	"viewstamp/faults"
	"viewstamp/replica/checksum"
	"viewstamp/replica/client"
	rio "viewstamp/replica/io"
	"viewstamp/replica/ledger"
	"viewstamp/replica/storage/block"
	"viewstamp/replica/storage/lsm"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
	"viewstamp/reports"
	"viewstamp/sim/check"
	"viewstamp/sim/disk"
	"viewstamp/sim/packet"
	"viewstamp/sim/sched"
	"viewstamp/workload"
)

// Config bounds a run. Zero values take defaults.
type Config struct {
	Lite                bool   // no liveness phase
	TicksMax            uint64 // safety phase, at most
	TicksMaxRequests    uint64 // safety phase ends after this long without a reply
	TicksMaxConvergence uint64 // liveness phase budget
	Log                 func(tick uint64, format string, args ...any)
	// Progress, if set, is called every ProgressTicks ticks.
	Progress func(tick uint64, completed, requestsMax int)
	// SafetyEnd, if set, is called once the safety phase ends, with the
	// cluster still alive: a heap profile taken there shows what a run holds.
	SafetyEnd     func()
	ProgressTicks uint64
	// Mutate, if set, may alter the vsr.Config before replicas are built: a
	// hook for tests that plant protocol bugs.
	Mutate func(*vsr.Config)
	// LedgerBugs plants ledger defects in every replica, for tests that
	// prove the auditor catches them.
	LedgerBugs ledger.Bugs
	// Recorder, if set, receives the run's timeline; network counters are
	// sampled every SampleTicks (default 100).
	Recorder    Recorder
	SampleTicks uint64
	// ClockFaults gives every replica its own faulty clock (sim/clock), drawn
	// from the seed on a stream of its own; off, all read one perfect clock.
	ClockFaults bool
	// StorageFaults makes every disk hostile (sim/disk's Faults, placed by
	// its Atlas), drawn from the seed on a stream of its own; off, disks
	// only lose or tear writes in flight at a crash. StorageFaultsOff names
	// classes to keep off (faults.StorageClasses; "grid" keeps the grid
	// zone whole).
	StorageFaults    bool
	StorageFaultsOff []string
}

// DefaultTicksMax is the safety phase's tick limit when Config leaves it
// zero: defaultTicksMax for the requests a seed draws, which every seed
// replays with (the limit shapes the clock faults drawn, so it must not move
// under them); beyond that range, ticksPerClientRequest for each request a
// client makes, so a run asked for many more requests has the time to make
// them. A client has one request in flight: the requests share the
// clients, and the slowest seeds measured (one client, one replica
// crashing and restarting: seed 9600002 took 3,337 ticks a request over
// 5,000 requests) stay well inside.
func DefaultTicksMax(opts faults.Options) uint64 {
	if opts.RequestsMax <= faults.RequestsDrawnMax {
		return defaultTicksMax
	}
	return max(defaultTicksMax, uint64(opts.RequestsMax)*ticksPerClientRequest/uint64(max(opts.ClientCount, 1)))
}

const (
	defaultTicksMax = 400_000
	// ticksPerClientRequest is DefaultTicksMax's budget for one request
	// of one client, beyond the drawn requests: twice the slowest seed
	// measured and more.
	ticksPerClientRequest = 8_000
	// defaultTicksMaxRequests is the safety phase's patience without a
	// reply. Measured with unlimited patience over seeds 3000000..3000199:
	// the longest stretch between replies that later ended was under
	// 70,000 ticks for every seed of one or three to six replicas, slow
	// disks (write latency means up to 1 s) included, but one storm seed;
	// the longer gaps are two-replica seeds partitioned most of the time,
	// which the run record names as the cause. Waiting longer only costs
	// swarm time on those.
	defaultTicksMaxRequests    = 100_000
	defaultTicksMaxConvergence = 30_000
)

type simClient struct {
	c         *client.Client
	index     int
	completed int
	evicted   bool
	// The request in flight, which the generator hears about with its reply.
	operation uint8
	body      []byte
	// badRequest, if nonzero, is the request number from which the client
	// sends badRelease instead of its own: a client the cluster must evict.
	badRequest uint32
	badRelease uint32
	release    uint32 // the release it registered with
}

// Cluster is one simulated run.
type Cluster struct {
	opts  faults.Options
	cfg   Config
	vcfg  vsr.Config
	rng   *rand.Rand
	sched sched.Scheduler
	net   *packet.Network

	cluster u128.U128
	disks   []*disk.Disk
	sectors *disk.Sectors // every disk's contents
	// stateSyncs counts replicas that adopted a peer's newer checkpoint.
	stateSyncs uint64
	// gridBlocksMax is the most blocks a replica held at a checkpoint.
	gridBlocksMax uint64
	storedBuf     []byte // the storage checker's read buffer
	// ledgers are the replicas' state machines, for the block leak checker.
	ledgers []*ledger.ForestMachine
	leakBuf []byte
	// The leak checker's lists, reused from one checkpoint to the next:
	// each is as long as the forest.
	leakHeld, leakReached []uint64
	leakRefs              []lsm.BlockRef
	gridLeakChecks        uint64 // checkpoints the block leak checker judged
	gridLeakSkips         uint64 // and those it could not read in full
	replicas              []*vsr.Replica
	down                  []bool
	paused                []bool
	changed               []uint64 // tick of a replica's last process change
	restarts              []uint64

	// scrubbed sums the scrubbers' counters of replicas since crashed.
	scrubbed reports.Scrub
	// mended sums the repair and grid read counters of replicas since
	// crashed.
	mended mended

	clients  []*simClient
	clientBy map[u128.U128]int

	state   *check.State
	replies *check.Replies
	checks  *checkers
	gen     *workload.Generator
	auditor *workload.Auditor

	trace    uint64
	traceBuf [64]byte
	failure  error
	result   reports.Result
	liveness bool
	// core and corePerm are the liveness phase's core and the order its
	// replicas were drawn in, which growCore follows.
	core        []bool
	corePerm    []int
	livenessAt  uint64
	lastReplyAt uint64

	requestsSent int
	safetyEnd    string // what ended the safety phase (reports.SafetyEnd...)
	completed    uint64
	crashes      uint64
	pauses       uint64
	evictions    map[string]uint64 // by reason
	viewChanges  uint64
	viewMax      uint32

	// What the faults did, for the run record.
	rejected        uint64 // messages receivers dropped as undecodable, crashed replicas' included
	completedSafety uint64
	replyGapMax     uint64 // safety phase: longest stretch without a reply, in ticks
	safetyEnded     bool
	noProgress      string // why the safety phase completed nothing, if it did not
	// livenessExcused is why a liveness phase that did not converge is no
	// failure (coreMissingBlocks).
	livenessExcused string
	progress        progress

	tl timeline

	clocks clocks

	sfaults storageFaults

	reformat        reformatting
	recoveringHeads uint64 // replicas that entered recovering_head
	disksHealed     uint64 // restarts whose disk was healed first
}

// New builds the cluster for opts: formats every data file and opens every
// replica.
func New(opts faults.Options, cfg Config) (*Cluster, error) {
	if cfg.TicksMax == 0 {
		cfg.TicksMax = DefaultTicksMax(opts)
	}
	if cfg.TicksMaxRequests == 0 {
		cfg.TicksMaxRequests = defaultTicksMaxRequests
	}
	if cfg.TicksMaxConvergence == 0 {
		cfg.TicksMaxConvergence = defaultTicksMaxConvergence
	}
	c := &Cluster{opts: opts, cfg: cfg, clientBy: map[u128.U128]int{}, evictions: map[string]uint64{}}
	c.rng = rand.New(rand.NewPCG(opts.Seed, 0xC1A55))
	c.cluster = u128.U128{Lo: c.rng.Uint64(), Hi: c.rng.Uint64()}
	r := opts.ReplicaCount
	c.vcfg = vsr.SimConfig(uint8(r))
	if cfg.Mutate != nil {
		cfg.Mutate(&c.vcfg)
	}
	if err := c.vcfg.Validate(); err != nil {
		return nil, err
	}
	nodes := r + opts.ClientCount
	c.net = packet.New(opts.Network, rand.New(rand.NewPCG(c.rng.Uint64(), 1)), &c.sched, nodes, r, c.deliver)
	c.disks = make([]*disk.Disk, r)
	c.replicas = make([]*vsr.Replica, r)
	c.ledgers = make([]*ledger.ForestMachine, r)
	c.down = make([]bool, r)
	c.paused = make([]bool, r)
	c.changed = make([]uint64, r)
	c.restarts = make([]uint64, r)
	zones := c.vcfg.Layout().ZoneSizes()
	// One store for every disk: replicas' grids and WALs hold mostly the
	// same sectors in the same places, kept once.
	sectors := disk.NewSectors(c.vcfg.SectorSize)
	c.sectors = sectors
	root := vsr.RootHeader(c.cluster)
	c.state = check.NewState(r, root.Checksum)
	c.state.Keep(stateKeepJournals * c.vcfg.JournalSlotCount)
	c.replies = check.NewReplies(c.state)
	c.checks = newCheckers(c)
	genSeed := c.rng.Uint64()
	c.gen = workload.New(rand.New(rand.NewPCG(genSeed, 3)), workload.Options{BatchSeed: genSeed})
	c.auditor = workload.NewAuditor(c.batchMax())
	c.newClocks()
	for i := 0; i < r; i++ {
		c.disks[i] = disk.NewShared(sectors, opts.StorageFor(i), rand.New(rand.NewPCG(c.rng.Uint64(), 2)), &c.sched, zones)
		formatted := false
		vsr.Format(c.vcfg, c.cluster, uint8(i), c.disks[i], func() { formatted = true })
		for !formatted && c.sched.Pending() > 0 {
			c.sched.RunUntil(c.sched.Now() + sched.TickNs)
		}
	}
	if err := c.newStorageFaults(); err != nil {
		return nil, err
	}
	for i := 0; i < r; i++ {
		if err := c.startReplica(i); err != nil {
			return nil, err
		}
	}
	for i := 0; i < opts.ClientCount; i++ {
		id := u128.U128{Lo: uint64(i + 1), Hi: c.rng.Uint64()}
		sc := &simClient{index: i}
		sc.c = client.New(client.Options{
			ID: id, Cluster: c.cluster, ReplicaCount: uint8(r), Network: clientNet{c, r + i},
			Seed: c.rng.Uint64(), SizeMax: c.vcfg.MessageSizeMax, RequestTicks: 200,
			OnReply: func(rep client.Reply) { c.onReply(sc, rep) },
			OnEvicted: func(why vsr.EvictionReason) {
				sc.evicted = true
				c.evictions[why.String()]++
				c.record(evEvicted, uint64(i), 0, 0)
				c.checkEviction(sc, why)
			},
		})
		sc.release = sc.c.Release()
		c.clientBy[id] = r + i
		c.clients = append(c.clients, sc)
	}
	c.planBadRelease()
	return c, nil
}

// Releases a misbehaving client switches to: below the cluster's minimum,
// above its own release, and within both but not its session's.
var badReleases = [...]uint32{
	0<<16 | 16<<8 | 3,
	0<<16 | 17<<8 | 10,
	0<<16 | 17<<8 | 8,
}

// badReleaseSeeds: one seed in this many has a client that, from some
// request on, sends a release the cluster does not serve it.
const badReleaseSeeds = 8

// planBadRelease picks, on some seeds, the client that will misbehave, the
// request it starts at and the release it sends. The choice has its own
// stream, so every other seed runs as it did without it.
func (c *Cluster) planBadRelease() {
	rng := rand.New(rand.NewPCG(c.opts.Seed, 0xBAD7E1EA5E))
	if len(c.clients) < 2 || rng.IntN(badReleaseSeeds) != 0 {
		return
	}
	sc := c.clients[rng.IntN(len(c.clients))]
	sc.badRequest = uint32(1 + rng.IntN(20))
	sc.badRelease = badReleases[rng.IntN(len(badReleases))]
}

// newLedger is a replica's ledger: in the LSM forest on its grid, with the
// simulator's forest shape, its bar the storage config's.
func (c *Cluster) newLedger() *ledger.ForestMachine {
	shape := lsm.SimulatorForest
	shape.CompactionOps = int(c.vcfg.CompactionOps)
	return ledger.NewForestMachine(int(c.vcfg.MessageSizeMax), c.cfg.LedgerBugs,
		ledger.ForestConfig{Shape: shape, AccountCacheObjects: simAccountCache})
}

// simAccountCache is the accounts a replica's forest keeps cached: a few
// batches' worth, so that hot accounts hit and others are read from the grid.
const simAccountCache = 256

func (c *Cluster) startReplica(i int) error {
	c.ledgers[i] = c.newLedger()
	rep, err := vsr.New(vsr.Options{
		Config: c.vcfg, Cluster: c.cluster, Replica: uint8(i), Time: c.timeFor(i),
		Network: replicaNet{c, i}, Storage: walGuard{c, i, c.disks[i]}, SM: c.ledgers[i],
		Seed: c.rng.Uint64(), Observer: observer{c},
	})
	if err != nil {
		return err
	}
	c.replicas[i] = rep
	c.state.Restarted(i)
	c.checks.durability.Opened(i)
	c.checks.reopening[i] = true
	rep.Open()
	return nil
}

// Network, time and observer adapters.

type simTime struct {
	s     *sched.Scheduler
	epoch int64
}

func (t simTime) Monotonic() uint64 { return t.s.Now() }
func (t simTime) Realtime() int64   { return int64(t.s.Now()) + t.epoch }

type replicaNet struct {
	c    *Cluster
	from int
}

func (n replicaNet) SendToReplica(to uint8, b []byte) {
	if n.c.sendingWhilePaused(n.from) {
		return
	}
	n.c.checkSent(n.from, b)
	n.c.net.Submit(n.from, int(to), b)
}

func (n replicaNet) SendToClient(id u128.U128, b []byte) {
	if n.c.sendingWhilePaused(n.from) {
		return
	}
	if to, ok := n.c.clientBy[id]; ok {
		n.c.checkEvictionSent(n.from, n.c.clients[to-len(n.c.replicas)], b)
		n.c.net.Submit(n.from, to, b)
	}
}

// sendingWhilePaused fails the run if a paused replica sends: it gets no
// ticks, messages or IO completions, so nothing may wake it, and a send
// would mean the harness let something through.
func (c *Cluster) sendingWhilePaused(replica int) bool {
	if !c.paused[replica] {
		return false
	}
	c.fail(reports.Crash, fmt.Errorf("replica %d sent a message while paused", replica))
	return true
}

type clientNet struct {
	c    *Cluster
	from int
}

func (n clientNet) SendToReplica(to uint8, b []byte) { n.c.net.Submit(n.from, int(to), b) }
func (n clientNet) SendToClient(u128.U128, []byte)   {}

type observer struct{ c *Cluster }

func (o observer) Committed(replica uint8, h *vsr.Header, body, reply []byte, state u128.U128) {
	c := o.c
	c.record(evCommit, uint64(replica), h.Op, h.Checksum.Lo)
	if c.cfg.Log != nil {
		c.log("replica %d: commit op %d %v view %d", replica, h.Op, h.Checksum, h.View)
	}
	first := h.Op > c.state.CommitMax()
	if err := c.state.Commit(int(replica), h, reply, state); err != nil {
		c.fail(reports.Correctness, err)
		return
	}
	if first {
		c.checkCommitted(h)
	}
	// The auditor sees each op once, the first time any replica commits
	// it; the state checker holds every other replica to the same reply.
	if first && h.Operation >= vsr.OperationStateMachineMin {
		if err := c.auditor.Commit(h.Op, h.Timestamp, uint8(h.Operation), body, reply); err != nil {
			c.fail(reports.Correctness, fmt.Errorf("auditor: %w", err))
		}
	}
}

// stateKeepJournals is the state checker's margin behind the replicas'
// newest checkpoints, in journals: a replica names ops from its checkpoint
// on and in its journal, a journal behind its head at most, so this leaves
// room for many checkpoints of staleness (check.State.Keep).
const stateKeepJournals = 16

// batchMax is the most events one request of the simulated cluster holds.
func (c *Cluster) batchMax() int {
	return ledger.BatchMaxFor(int(c.vcfg.MessageSizeMax), vsr.HeaderSize)
}

func (o observer) StatusChanged(replica uint8, status vsr.Status, view uint32) {
	c := o.c
	c.record(evStatus, uint64(replica), uint64(status), uint64(view))
	if status == vsr.StatusViewChange {
		c.viewChanges++
	}
	if status == vsr.StatusRecoveringHead {
		c.recoveringHeads++
	}
	c.viewMax = max(c.viewMax, view)
	c.checkStatus(replica, status, view)
}

func (o observer) Opened(replica uint8, op uint64, state u128.U128, synced bool) {
	if synced {
		// A replica that syncs may go back to a checkpoint below what it
		// had executed, and executes those ops again: as after a restart.
		o.c.stateSyncs++
		o.c.checks.rollback.Restarted(int(replica))
	}
	if err := o.c.state.Opened(int(replica), op, state); err != nil {
		o.c.fail(reports.Correctness, err)
	}
	o.c.checks.opened[replica] = op
	o.c.scrubCheckpoint(int(replica))
}

func (o observer) Checkpointed(replica uint8, op uint64, id u128.U128) {
	o.c.state.Checkpointed(int(replica), op)
	r := o.c.replicas[replica]
	o.c.gridBlocksMax = max(o.c.gridBlocksMax, r.GridBlocksAcquired())
	if err := o.c.checks.checkpoints.Checkpointed(int(replica), op, o.c.stored(int(replica), id)); err != nil {
		o.c.failCheck("storage", err)
	}
	o.c.checkGridLeaks(int(replica))
	o.c.scrubCheckpoint(int(replica))
	o.c.checkJournal(int(replica))
}

// checkJournal holds replica i's settled WAL slots of committed ops to
// their headers on disk (check.Journal).
func (c *Cluster) checkJournal(i int) {
	r := c.replicas[i]
	var err error
	r.SettledSlots(func(slot uint64, h *vsr.Header) {
		if err == nil {
			err = c.checks.journal.Slot(i, r.CommitMin(), slot, h)
		}
	})
	if err != nil {
		c.failCheck("journal", err)
	}
}

// stored reads what replica i's disk holds of the checkpoint it has just
// made durable: each referenced grid block as far as its header says it was
// written (whole sectors: the padding is written too), and each session's
// reply body in the client replies zone. Damage a crash tear left is read
// past (Disk.PeekIntact): a torn repair of a block with a latent error
// leaves that error durable, damage the replica finds and mends like any
// other fault.
func (c *Cluster) stored(i int, id u128.U128) check.Stored {
	r, d, l := c.replicas[i], c.disks[i], c.vcfg.Layout()
	st := check.Stored{ID: id, Blocks: c.checks.checkpoints.BlocksBuffer()}
	buf := c.storedBuf[:0]
	if uint64(cap(buf)) < l.BlockSize {
		buf = make([]byte, l.BlockSize)
	}
	buf = buf[:l.BlockSize]
	c.storedBuf = buf
	var grid checksum.Stream
	var addr [8]byte
	r.CheckpointBlocks(func(address uint64) {
		blk := buf[:block.HeaderSize]
		d.PeekIntact(rio.ZoneGrid, l.BlockOffset(address), blk)
		// A block never written here (a hole) has a size of garbage:
		// clamped, its bytes still differ from the peers'.
		size := min(max(uint64(block.DecodeHeader(blk).Size), block.HeaderSize), l.BlockSize)
		blk = buf[:l.SectorCeil(size)]
		d.PeekIntact(rio.ZoneGrid, l.BlockOffset(address), blk)
		binary.LittleEndian.PutUint64(addr[:], address)
		grid.Write(addr[:])
		grid.Write(blk)
		st.Blocks = append(st.Blocks, check.Digest{Address: address, Digest: checksum.Sum(blk)})
	})
	st.Grid = grid.Sum()
	r.CheckpointReplies(func(slot int, size uint64, missing bool) {
		body := buf[:l.SectorCeil(size)]
		d.PeekIntact(rio.ZoneClientReplies, l.ClientReplyOffset(uint64(slot)), body)
		st.Slots = append(st.Slots, check.Digest{Address: uint64(slot), Digest: checksum.Sum(body[:size]), Missing: missing})
	})
	return st
}

func (o observer) HeaderDropped(replica uint8, op uint64, sum u128.U128, view uint32) {
	if err := o.c.checks.rollback.Dropped(int(replica), op, sum); err != nil {
		o.c.failCheck("no rollback", err)
	}
	o.c.checks.nacks.Dropped(int(replica), op, sum, view)
}

// OwnJoinView judges the join_view a new primary counts for itself, as
// every other is judged when sent.
func (o observer) OwnJoinView(replica uint8, b []byte) {
	var h vsr.Header
	if vsr.DecodeHeader(b, &h) == nil {
		o.c.checkJoinView(int(replica), &h, b)
	}
}

func (o observer) Logf(replica uint8, format string, args ...any) {
	if o.c.cfg.Log != nil {
		o.c.cfg.Log(o.c.sched.Tick(), fmt.Sprintf("replica %d: ", replica)+format, args...)
	}
}

// Trace events feed the running hash; a replay that diverges anywhere
// changes it.
const (
	evDeliver uint8 = iota + 1
	evCommit
	evStatus
	evCrash
	evRestart
	evPause
	evUnpause
	evReply
	evEvicted
	evRequest
	evReformat
)

func (c *Cluster) record(kind uint8, a, b, d uint64) {
	buf := c.traceBuf[:33]
	buf[0] = kind
	binary.LittleEndian.PutUint64(buf[1:], c.sched.Now())
	binary.LittleEndian.PutUint64(buf[9:], a)
	binary.LittleEndian.PutUint64(buf[17:], b)
	binary.LittleEndian.PutUint64(buf[25:], d)
	c.trace = xxh3.HashSeed(buf, c.trace)
	c.tap(kind, a, b, d)
}

func (c *Cluster) fail(result reports.Result, err error) {
	if c.failure == nil {
		c.failure, c.result = err, result
	}
}

// deliver hands a packet to its receiver. A packet the network corrupted
// must be rejected by checksum (counted in the receiver's Drops.Decode):
// accepting one is a correctness failure, since the receiver then acts on
// bytes nobody sent.
func (c *Cluster) deliver(from, to int, data []byte, corrupted bool) {
	var sum uint64
	if len(data) >= 8 {
		sum = binary.LittleEndian.Uint64(data)
	}
	c.record(evDeliver, uint64(from), uint64(to), sum)
	if to < len(c.replicas) {
		if !c.down[to] && !c.paused[to] {
			r := c.replicas[to]
			before := r.Drops.Decode
			r.OnMessage(data)
			c.rejected += r.Drops.Decode - before
			if corrupted && r.Drops.Decode == before {
				c.fail(reports.Correctness, fmt.Errorf("replica %d accepted a corrupted message from node %d (%d bytes)", to, from, len(data)))
			}
		}
		return
	}
	cl := c.clients[to-len(c.replicas)].c
	before := cl.Drops.Decode
	c.checks.inbound = data
	cl.OnMessage(data)
	c.rejected += cl.Drops.Decode - before
	if corrupted && cl.Drops.Decode == before {
		c.fail(reports.Correctness, fmt.Errorf("client %d accepted a corrupted message from node %d (%d bytes)", to-len(c.replicas), from, len(data)))
	}
}

func (c *Cluster) onReply(sc *simClient, rep client.Reply) {
	c.record(evReply, uint64(sc.index), rep.Op, uint64(rep.Request))
	if !c.liveness {
		c.replyGapMax = max(c.replyGapMax, c.sched.Tick()-c.lastReplyAt)
	}
	c.lastReplyAt = c.sched.Tick()
	if err := c.replies.Reply(sc.c.ID(), rep.Request, rep.Op, rep.Operation, rep.Body); err != nil {
		c.fail(reports.Correctness, err)
		return
	}
	if rep.Operation != vsr.OperationRegister {
		sc.completed++
		c.completed++
		c.gen.OnReply(sc.index, sc.operation, sc.body, rep.Body)
	}
}
