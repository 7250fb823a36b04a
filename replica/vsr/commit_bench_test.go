package vsr_test

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"

	"viewstamp/replica/echo"
	rio "viewstamp/replica/io"
	"viewstamp/replica/ledger"
	"viewstamp/replica/multibatch"
	"viewstamp/replica/storage/lsm"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// BenchmarkCommit drives a 3-replica cluster in one goroutine through the
// entry points the simulator and the production loop use (OnMessage, Tick,
// storage completions) with clients that resubmit as soon as they are
// answered, and reports heap allocations per committed op of the replicas
// (harness allocations are not counted: see world). The op is what b.N
// counts; -benchmem's allocs/op is the same figure with the harness's own
// page allocations included.
func BenchmarkCommit(b *testing.B) {
	b.Run("echo", func(b *testing.B) { benchCommit(b, echoMachine, benchEchoBody, 0) })
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("ledger/batch=%d", batch), func(b *testing.B) { benchCommit(b, ledgerMachine, benchLedgerBody, batch) })
	}
}

const (
	benchReplicas = 3
	benchClients  = 4
	// benchAccounts are created before the clock starts; transfers move
	// between them at random.
	benchAccounts = 1024
	// benchWarmupOps commit before the clock starts: past the first
	// checkpoints and WAL wraps (256 slots), so the figure is steady state.
	benchWarmupOps = 600
	// benchStallSteps without a commit fail the run: with no faults the
	// cluster commits every few steps.
	benchStallSteps = 10000
	// benchGridBlocks caps the grid, so its page table stays small: 2 GiB
	// of 64 KiB blocks, touched sparsely.
	benchGridBlocks = 1 << 15
	// benchPageSize is the unit the in-memory data file is allocated in.
	benchPageSize = 4096
	// benchBodyMax is a request body's room in a client's buffers.
	benchBodyMax  = 1024*ledger.TransferSize + ledger.TransferSize // and a trailer
	benchEchoSize = 64
)

// benchConfig is the production replica's (cmd/replica's sizes) with the
// grid capped.
func benchConfig() vsr.Config {
	c := vsr.ProductionConfig(benchReplicas)
	c.BlockSize = 64 << 10
	c.JournalSlotCount = 256
	c.GridBlockCount = benchGridBlocks
	return c
}

var benchCluster = u128.U128{Lo: 0xBE4C}

func echoMachine(vsr.Config) vsr.StateMachine { return &echo.Machine{} }

func ledgerMachine(cfg vsr.Config) vsr.StateMachine {
	shape := lsm.ProductionForest
	shape.CompactionOps = int(cfg.CompactionOps)
	return ledger.NewForestMachine(int(cfg.MessageSizeMax), ledger.Bugs{},
		ledger.ForestConfig{Shape: shape, AccountCacheObjects: 128 << 10})
}

// A body maker fills a client's next request body and names its operation.
type bodyMaker func(c *benchClient, batch int, body []byte) (vsr.Operation, int)

func benchEchoBody(c *benchClient, _ int, body []byte) (vsr.Operation, int) {
	binary.LittleEndian.PutUint64(body, c.seq)
	c.seq++
	return echo.Operation, benchEchoSize
}

func benchLedgerBody(c *benchClient, batch int, body []byte) (vsr.Operation, int) {
	for i := range batch {
		c.seq++
		dr := c.rng.next() % benchAccounts
		cr := (dr + 1 + c.rng.next()%(benchAccounts-1)) % benchAccounts
		t := ledger.Transfer{ID: u128.U128{Lo: c.seq, Hi: c.id.Lo}, DebitAccountID: benchAccountID(dr), CreditAccountID: benchAccountID(cr),
			Amount: u128.From64(1 + c.rng.next()%100), Ledger: 1, Code: 1}
		t.Encode(body[i*ledger.TransferSize:])
	}
	return vsr.Operation(ledger.OpCreateTransfers), oneBatch(body, batch, ledger.TransferSize)
}

// oneBatch writes the multi-batch trailer of a single batch of n elements
// already in body and returns the body's length: in place, so the clients
// allocate nothing.
func oneBatch(body []byte, n, size int) int {
	t := body[n*size : n*size+multibatch.TrailerSize(size, 1)]
	for i := range t {
		t[i] = 0xFF
	}
	binary.LittleEndian.PutUint16(t[len(t)-4:], uint16(n))
	binary.LittleEndian.PutUint16(t[len(t)-2:], 1)
	return n*size + len(t)
}

func benchAccountID(i uint64) u128.U128 { return u128.U128{Lo: i + 1, Hi: 0xACC} }

func benchCommit(b *testing.B, newSM func(vsr.Config) vsr.StateMachine, makeBody bodyMaker, batch int) {
	w := newSteadyWorld(b, newSM, makeBody, batch)
	b.ReportAllocs()
	b.ResetTimer()
	allocs, bytes := w.measure(b, uint64(b.N), makeBody, batch)
	b.StopTimer()
	b.ReportMetric(allocs, "replica-allocs/commit")
	b.ReportMetric(bytes, "replica-B/commit")
	if batch > 0 {
		b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "transfers/s")
	}
}

// commitAllocsMax bounds the echo cluster's allocations per committed op
// (all three replicas): the bytes of each message sent (prepare, two
// prepare_oks, the replies of the primary and of one backup: the network
// owns them), the journal's copies of the prepare at each replica, the
// primary's prepare, echo's reply bodies.
const commitAllocsMax = 14

// TestCommitPathAllocations holds the steady-state commit path to its
// allocations: a closure or a list made per op shows up here.
func TestCommitPathAllocations(t *testing.T) {
	const ops = 300
	w := newSteadyWorld(t, echoMachine, benchEchoBody, 0)
	allocs, _ := w.measure(t, ops, benchEchoBody, 0)
	t.Logf("%.2f allocations per committed op (3 replicas)", allocs)
	if allocs > commitAllocsMax {
		t.Fatalf("%.2f allocations per committed op, want at most %d", allocs, commitAllocsMax)
	}
}

// newSteadyWorld is a world past its warm-up, every client's request in
// flight.
func newSteadyWorld(tb testing.TB, newSM func(vsr.Config) vsr.StateMachine, makeBody bodyMaker, batch int) *world {
	w := newWorld(tb, newSM)
	if batch > 0 {
		w.createAccounts(tb)
	}
	for _, c := range w.clients {
		c.submit(w, makeBody, batch)
	}
	w.runUntil(tb, w.commit()+benchWarmupOps, makeBody, batch)
	return w
}

// measure commits ops more and returns the replicas' heap allocations and
// bytes per committed op, the harness's pages left out.
func (w *world) measure(tb testing.TB, ops uint64, makeBody bodyMaker, batch int) (allocs, bytes float64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	pages, start := w.pages(), w.commit()
	w.runUntil(tb, start+ops, makeBody, batch)
	runtime.ReadMemStats(&after)
	n := float64(w.commit() - start)
	harness := w.pages() - pages
	return (float64(after.Mallocs-before.Mallocs) - float64(harness)) / n,
		float64(after.TotalAlloc-before.TotalAlloc-harness*benchPageSize) / n
}

// world is the cluster, its clients and the harness: an in-memory data file
// per replica, a FIFO network, a tick per step. The harness allocates only
// data file pages (counted, and subtracted from the figure) and, before
// the clock starts, its queues' capacity: it copies nothing a replica
// sends (bytes a replica sends are immutable and may be shared).
type world struct {
	cfg      vsr.Config
	replicas []*vsr.Replica
	disks    []*pagedStorage
	clients  []*benchClient
	queue    []packet
	spare    []packet
	ticks    uint64
}

type packet struct {
	to int // a replica index, or benchReplicas + a client index
	b  []byte
}

func newWorld(b testing.TB, newSM func(vsr.Config) vsr.StateMachine) *world {
	w := &world{cfg: benchConfig()}
	for i := range benchReplicas {
		st := newPagedStorage(w.cfg)
		vsr.Format(w.cfg, benchCluster, uint8(i), st, func() {})
		st.drain()
		r, err := vsr.New(vsr.Options{Config: w.cfg, Cluster: benchCluster, Replica: uint8(i), Time: (*benchTime)(&w.ticks),
			AgreedTime: true, Network: benchNet{w, i}, Storage: st, SM: newSM(w.cfg), Seed: uint64(i) + 1})
		if err != nil {
			b.Fatal(err)
		}
		w.replicas = append(w.replicas, r)
		w.disks = append(w.disks, st)
		r.Open()
	}
	// The replicas start, elect a primary and settle before any client
	// speaks.
	for steps := 0; !w.settled(); steps++ {
		w.step(b, nil, 0)
		if steps == benchStallSteps {
			w.fail(b, "the cluster did not settle")
		}
	}
	for i := range benchClients {
		c := &benchClient{id: u128.U128{Lo: uint64(i) + 1, Hi: 0xC11E47}, rng: benchRNG(i + 1)}
		// A request's bytes may be kept by the primary until it is
		// prepared (queued behind a full pipeline): a ring longer than
		// the pipeline and the queue together is never overwritten early.
		for range int(w.cfg.PipelineMax) + w.cfg.RequestQueueMax + 2 {
			c.ring = append(c.ring, make([]byte, vsr.HeaderSize+benchBodyMax))
		}
		w.clients = append(w.clients, c)
		c.send(w, vsr.OperationRegister, 0)
	}
	for steps := 0; !w.registered(); steps++ {
		w.step(b, nil, 0)
		if steps == benchStallSteps {
			w.fail(b, "the clients did not register")
		}
	}
	return w
}

// settled: every replica normal in one view.
func (w *world) settled() bool {
	for _, r := range w.replicas {
		if r.Status() != vsr.StatusNormal || r.View() != w.replicas[0].View() {
			return false
		}
	}
	return true
}

func (w *world) fail(b testing.TB, what string) {
	for _, r := range w.replicas {
		b.Log(r.Debug())
	}
	b.Fatal(what)
}

func (w *world) primary() int { return int(w.replicas[0].View()) % benchReplicas }

func (w *world) registered() bool {
	for _, c := range w.clients {
		if c.session == 0 {
			return false
		}
	}
	return true
}

// createAccounts creates the ledger's accounts through client 0.
func (w *world) createAccounts(b testing.TB) {
	c := w.clients[0]
	body := c.ring[c.next%len(c.ring)][vsr.HeaderSize:]
	for i := range uint64(benchAccounts) {
		a := ledger.Account{ID: benchAccountID(i), Ledger: 1, Code: 1}
		a.Encode(body[i*ledger.AccountSize:])
	}
	c.send(w, vsr.Operation(ledger.OpCreateAccounts), oneBatch(body, benchAccounts, ledger.AccountSize))
	for c.inflight {
		w.step(b, nil, 0)
	}
	if s := ledger.DecodeResult(c.reply).Status; s != ledger.StatusCreated {
		b.Fatalf("create_accounts: %s", ledger.AccountStatusName(s))
	}
}

// commit is the lowest commit of the replicas: an op counts once every
// replica executed it.
func (w *world) commit() uint64 {
	lowest := w.replicas[0].CommitMin()
	for _, r := range w.replicas[1:] {
		lowest = min(lowest, r.CommitMin())
	}
	return lowest
}

func (w *world) pages() uint64 {
	var n uint64
	for _, d := range w.disks {
		n += d.allocated
	}
	return n
}

func (w *world) runUntil(b testing.TB, commit uint64, makeBody bodyMaker, batch int) {
	last, stalled := w.commit(), 0
	for w.commit() < commit {
		w.step(b, makeBody, batch)
		if now := w.commit(); now != last {
			last, stalled = now, 0
		} else if stalled++; stalled > benchStallSteps {
			w.fail(b, fmt.Sprintf("no commit in %d steps at commit %d", benchStallSteps, last))
		}
	}
}

// step delivers what is in flight, completes the IO issued, and ticks
// every replica once. A client answered submits its next request (if
// makeBody is set).
func (w *world) step(b testing.TB, makeBody bodyMaker, batch int) {
	q := w.queue
	w.queue = w.spare[:0]
	for _, p := range q {
		if p.to < benchReplicas {
			w.replicas[p.to].OnMessage(p.b)
			continue
		}
		c := w.clients[p.to-benchReplicas]
		if c.onMessage(b, p.b) && makeBody != nil {
			c.submit(w, makeBody, batch)
		}
	}
	clear(q)
	w.spare = q[:0]
	for _, d := range w.disks {
		d.drain()
	}
	w.ticks++
	for _, r := range w.replicas {
		r.Tick()
	}
}

type benchNet struct {
	w    *world
	from int
}

func (n benchNet) SendToReplica(to uint8, b []byte) {
	n.w.queue = append(n.w.queue, packet{int(to), b})
}

func (n benchNet) SendToClient(id u128.U128, b []byte) {
	if id.Hi == 0xC11E47 && id.Lo >= 1 && id.Lo <= benchClients {
		n.w.queue = append(n.w.queue, packet{benchReplicas + int(id.Lo) - 1, b})
	}
}

// benchTime is 10 ms a tick, the production tick.
type benchTime uint64

const benchTickNs = 10_000_000

func (t *benchTime) Monotonic() uint64 { return uint64(*t) * benchTickNs }
func (t *benchTime) Realtime() int64   { return int64(*t)*benchTickNs + 1_700_000_000_000_000_000 }

// benchClient is the client side of a session that allocates nothing: its
// requests are encoded into a ring of buffers made up front, its replies
// decoded into one message.
type benchClient struct {
	id       u128.U128
	rng      benchRNG
	session  uint64
	request  uint32
	parent   u128.U128
	sent     u128.U128 // the checksum of the request in flight
	inflight bool
	ring     [][]byte
	next     int
	rx       vsr.Message
	reply    []byte
	seq      uint64
}

func (c *benchClient) submit(w *world, makeBody bodyMaker, batch int) {
	body := c.ring[c.next%len(c.ring)][vsr.HeaderSize:]
	op, n := makeBody(c, batch, body)
	c.send(w, op, n)
}

// send sends the request whose body lies in the next ring buffer.
func (c *benchClient) send(w *world, op vsr.Operation, n int) {
	buf := c.ring[c.next%len(c.ring)][:vsr.HeaderSize+n]
	c.next++
	req := uint32(0)
	if op != vsr.OperationRegister {
		req = c.request + 1
	} else {
		// A RegisterRequest of zeros: the client asks for no batch size.
		n = vsr.RegisterRequestSize
		buf = c.ring[(c.next-1)%len(c.ring)][:vsr.HeaderSize+n]
		clear(buf[vsr.HeaderSize:])
	}
	h := vsr.Header{Command: vsr.CommandRequest, Cluster: benchCluster, Client: c.id, Session: c.session,
		Request: req, Operation: op, Parent: c.parent, Release: vsr.ReleaseProduction}
	h.Seal(buf[vsr.HeaderSize:])
	vsr.EncodeHeader(&h, buf)
	c.sent, c.inflight = h.Checksum, true
	w.queue = append(w.queue, packet{w.primary(), buf})
}

// onMessage takes a reply to the request in flight and reports whether it
// was one.
func (c *benchClient) onMessage(b testing.TB, msg []byte) bool {
	if err := vsr.DecodeInto(&c.rx, msg, benchCluster, uint64(len(msg))); err != nil {
		b.Fatalf("client %s: %v", c.id, err)
	}
	h := &c.rx.Header
	if h.Command == vsr.CommandEviction {
		b.Fatalf("client %s evicted: %v", c.id, h.Reason)
	}
	if h.Command != vsr.CommandReply || !c.inflight || h.Ref != c.sent {
		return false
	}
	if c.session == 0 {
		c.session = h.Op
	} else {
		c.request = h.Request
	}
	c.parent, c.inflight, c.reply = h.Context, false, c.rx.Body
	return true
}

// benchRNG is a xorshift: the harness's randomness, allocation-free and
// deterministic.
type benchRNG uint64

func (r *benchRNG) next() uint64 {
	x := uint64(*r)
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	*r = benchRNG(x)
	return x
}

// pagedStorage is a data file in memory, in pages allocated on first write
// (the grid is far larger than what a run touches). Completions run in
// order when the world drains them, never inside Read or Write.
type pagedStorage struct {
	zones     [rio.ZoneCount][][]byte
	pending   []func()
	spare     []func()
	allocated uint64 // pages, for the figure to leave out
}

func newPagedStorage(cfg vsr.Config) *pagedStorage {
	s := &pagedStorage{}
	for z, size := range cfg.Layout().ZoneSizes() {
		s.zones[z] = make([][]byte, (size+benchPageSize-1)/benchPageSize)
	}
	return s
}

func (s *pagedStorage) Read(z rio.Zone, off uint64, buf []byte, done func()) {
	for n := 0; n < len(buf); {
		page, at := (off+uint64(n))/benchPageSize, (off+uint64(n))%benchPageSize
		chunk := min(len(buf)-n, int(benchPageSize-at))
		if p := s.zones[z][page]; p != nil {
			copy(buf[n:n+chunk], p[at:])
		} else {
			clear(buf[n : n+chunk])
		}
		n += chunk
	}
	s.pending = append(s.pending, done)
}

func (s *pagedStorage) Write(z rio.Zone, off uint64, buf []byte, done func()) {
	for n := 0; n < len(buf); {
		page, at := (off+uint64(n))/benchPageSize, (off+uint64(n))%benchPageSize
		chunk := min(len(buf)-n, int(benchPageSize-at))
		p := s.zones[z][page]
		if p == nil {
			p = make([]byte, benchPageSize)
			s.zones[z][page] = p
			s.allocated++
		}
		copy(p[at:], buf[n:n+chunk])
		n += chunk
	}
	s.pending = append(s.pending, done)
}

// drain runs the completions pending, and those they issue.
func (s *pagedStorage) drain() {
	for len(s.pending) > 0 {
		run := s.pending
		s.pending = s.spare[:0]
		for _, done := range run {
			done()
		}
		clear(run)
		s.spare = run[:0]
	}
}
