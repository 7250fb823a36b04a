package main

import (
	"context"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"viewstamp/replica/client/tcp"
	"viewstamp/replica/ledger"
	"viewstamp/replica/u128"
)

// The partition test's shape.
const (
	// partitionWarmup of load before the cut, so the cluster has a
	// primary and a history to lose.
	partitionWarmup = 2 * time.Second
	// partitionMin is how long the cut lasts at least: past the
	// replicas' view-change timeouts, so an isolated primary is replaced.
	partitionMin = 8 * time.Second
	// partitionProgress requests must be acknowledged while the cut
	// lasts: the majority side commits on its own.
	partitionProgress = 3
	// healedProgress requests must be acknowledged after the heal.
	healedProgress = 3
	// convergeTimeout bounds the wait for the healed replica to reach the
	// others' commit.
	convergeTimeout = 60 * time.Second
	// debugLineTimeout bounds the wait for a replica's SIGUSR1 line. A
	// replica just restarted may be replaying its WAL through a cold
	// forest; under `make test` on a loaded 2-core machine 10 s was once
	// not enough (TestClusterRepairsFlippedWALSlot), alone it takes
	// milliseconds.
	debugLineTimeout = 30 * time.Second
	// debugResendInterval spaces the SIGUSR1s of one wait.
	debugResendInterval = time.Second
)

// TestClusterPartitionHeals runs three replica processes whose every
// connection (replica to replica, client to replica) goes through a
// fault-injecting proxy in the test. Under load it cuts the primary off
// from everyone: its open connections are dropped and new ones stalled
// (accepted, read and never forwarded), so it sees live sockets that carry
// nothing. The other two must elect a new primary and keep acknowledging
// transfers. Then it heals: the isolated replica must catch up to the same
// commit and checkpoint as the others, and every acknowledged transfer
// must be present exactly once (balances included).
func TestClusterPartitionHeals(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	const n = 3
	c := newStoppedTestCluster(t, ctx, n)
	defer c.stopAll()
	pn := newPartitionNet(t, c.addrs)
	defer pn.close()
	c.peerAddrs = pn.replicaAddrs
	for i := range n {
		c.start(i)
	}

	cl, err := tcp.Dial(c.cluster, pn.clientAddrs, tcp.Options{RequestTicks: 20, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cl.Close() }()
	createAccounts(t, ctx, cl)

	h := &history{byID: map[u128.U128]ledger.Transfer{}}
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	for w := range clusterWorkers {
		wg.Go(func() { runWorker(t, ctx, loadCtx, cl, w, h) })
	}
	requests := func() int {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.requests
	}
	// waitProgress waits until more requests than want were acknowledged
	// since from, for at least least and at most settleTimeout.
	waitProgress := func(from, want int, least time.Duration) bool {
		begin := time.Now()
		for time.Since(begin) < settleTimeout {
			if time.Since(begin) >= least && requests() >= from+want {
				return true
			}
			if !sleepCtx(ctx, 50*time.Millisecond) {
				return false
			}
		}
		return false
	}

	if !waitProgress(0, partitionProgress, partitionWarmup) {
		t.Fatalf("no load acknowledged before the partition (%d requests)", requests())
	}
	victim := c.primary()
	before := requests()
	t.Logf("isolating replica %d (the primary), %d requests acknowledged", victim, before)
	pn.isolate(victim, true)
	if !waitProgress(before, partitionProgress, partitionMin) {
		t.Fatalf("the majority acknowledged %d requests in %s with replica %d cut off, want %d",
			requests()-before, settleTimeout, victim, partitionProgress)
	}
	during := requests()
	t.Logf("while cut off: %d requests acknowledged by the majority (primary now %d); healing", during-before, c.primary())
	pn.isolate(victim, false)
	if !waitProgress(during, healedProgress, 0) {
		t.Fatalf("no load acknowledged after the heal (%d requests)", requests()-during)
	}
	stopLoad()
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("%d transfers acknowledged in %d requests; checking", h.count(), requests())
	verify(t, ctx, cl, h)

	// Convergence: with the load stopped, every replica reaches the same
	// commit, the isolated one included.
	commit := c.waitConverged(victim)
	t.Logf("converged: every replica at commit %d", commit)

	// A clean stop; the stop lines must name the same commit and
	// checkpoint for all three.
	stopped := regexp.MustCompile(`stopped: status \w+, view \d+, op \d+, commit (\d+), checkpoint (\d+)`)
	var finals []string
	for i := range n {
		c.terminate(i)
		b, _ := os.ReadFile(c.logs[i])
		m := stopped.FindAllStringSubmatch(string(b), -1)
		if m == nil {
			t.Fatalf("replica %d logged no stop line", i)
		}
		finals = append(finals, m[len(m)-1][1]+"/"+m[len(m)-1][2])
	}
	for i := range n {
		if finals[i] != finals[0] {
			t.Fatalf("replicas stopped at different commit/checkpoint: %v (replica %d was cut off)", finals, victim)
		}
	}
	t.Logf("stopped at commit/checkpoint %s on all %d replicas", finals[0], n)
}

var debugCommitLine = regexp.MustCompile(`debug: status=\w+ view=\d+ log_view=\d+ op=\d+ commit=(\d+)/\d+`)

// debugCommit asks replica i for its SIGUSR1 debug line and returns the
// commit it names.
func (c *testCluster) debugCommit(i int) uint64 {
	c.t.Helper()
	count := func() (int, string) {
		b, _ := os.ReadFile(c.logs[i])
		m := debugCommitLine.FindAllStringSubmatch(string(b), -1)
		if len(m) == 0 {
			return 0, ""
		}
		return len(m), m[len(m)-1][1]
	}
	seen, _ := count()
	// SIGUSR1 ends a process that has not yet installed its handler (the
	// signal's default action), so none is sent before this run's
	// "starting:" line, which the replica logs once it has. The signal is
	// then sent again every debugResendInterval, lest one coalesce with a
	// pending one; a replica whose event loop is stuck answers none.
	deadline := time.Now().Add(debugLineTimeout)
	var resend time.Time
	for time.Now().Before(deadline) {
		if !c.procs.Running(i) {
			c.t.Fatalf("replica %d is not running: it exited (see its log)", i)
		}
		if time.Now().After(resend) && c.started(i) {
			c.procs.Signal(i, syscall.SIGUSR1)
			resend = time.Now().Add(debugResendInterval)
		}
		if k, commit := count(); k > seen {
			v, _ := strconv.ParseUint(commit, 10, 64)
			return v
		}
		if !sleepCtx(c.ctx, 20*time.Millisecond) {
			break
		}
	}
	c.t.Fatalf("replica %d wrote no debug line in %s", i, debugLineTimeout)
	return 0
}

// partitionNet is the proxies between the replicas and from the client.
// The bus has only the lower index dial the higher, so the one
// connection of a pair i < j is dialed by i through replicaAddrs[i][j], a
// proxy to j's real port; a replica's entries for lower peers are never
// dialed and stay the real addresses. Each replica has one client proxy.
type partitionNet struct {
	t            *testing.T
	replicaAddrs [][]string
	clientAddrs  []string
	links        []*proxy
}

func newPartitionNet(t *testing.T, real []string) *partitionNet {
	pn := &partitionNet{t: t}
	n := len(real)
	for i := range n {
		addrs := append([]string(nil), real...)
		for j := i + 1; j < n; j++ {
			p := newProxy(t, real[j], i, j)
			pn.links = append(pn.links, p)
			addrs[j] = p.addr()
		}
		pn.replicaAddrs = append(pn.replicaAddrs, addrs)
	}
	for j := range n {
		p := newProxy(t, real[j], -1, j)
		pn.links = append(pn.links, p)
		pn.clientAddrs = append(pn.clientAddrs, p.addr())
	}
	return pn
}

// isolate cuts (or heals) every link to and from replica r.
func (pn *partitionNet) isolate(r int, cut bool) {
	for _, p := range pn.links {
		if p.from == r || p.to == r {
			p.setCut(cut)
		}
	}
}

func (pn *partitionNet) close() {
	for _, p := range pn.links {
		p.close()
	}
}

// proxy forwards TCP connections to one replica, or, while cut, drops the
// connections it forwards and stalls new ones: it accepts them and reads
// and discards what they send, so the dialer sees a connection that never
// answers (a silent partition, not a refused connect). Healing closes the
// stalled connections, so their dialers reconnect through a forwarding one.
type proxy struct {
	t        *testing.T
	from, to int // replica indexes; from is -1 for the client
	target   string
	ln       net.Listener
	mu       sync.Mutex
	cut      bool
	forwards map[net.Conn]struct{}
	stalled  map[net.Conn]struct{}
	wg       sync.WaitGroup
}

func newProxy(t *testing.T, target string, from, to int) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, from: from, to: to, target: target, ln: ln,
		forwards: map[net.Conn]struct{}{}, stalled: map[net.Conn]struct{}{}}
	p.wg.Go(p.acceptLoop)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) acceptLoop() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut := p.cut
		if cut {
			p.stalled[in] = struct{}{}
		}
		p.mu.Unlock()
		if cut {
			p.wg.Go(func() {
				_, _ = io.Copy(io.Discard, in)
				p.forget(in)
			})
			continue
		}
		p.wg.Go(func() { p.forward(in) })
	}
}

// forward pipes in to a fresh connection to the target until either side
// ends or a cut closes both.
func (p *proxy) forward(in net.Conn) {
	out, err := net.DialTimeout("tcp", p.target, proxyDialTimeout)
	if err != nil {
		_ = in.Close()
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		_ = in.Close()
		_ = out.Close()
		return
	}
	p.forwards[in], p.forwards[out] = struct{}{}, struct{}{}
	p.mu.Unlock()
	var pipes sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		_ = dst.Close()
		_ = src.Close()
	}
	pipes.Go(func() { pipe(out, in) })
	pipes.Go(func() { pipe(in, out) })
	pipes.Wait()
	p.forget(in)
	p.forget(out)
}

func (p *proxy) forget(c net.Conn) {
	p.mu.Lock()
	delete(p.forwards, c)
	delete(p.stalled, c)
	p.mu.Unlock()
	_ = c.Close()
}

func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	p.cut = cut
	var drop []net.Conn
	if cut {
		for c := range p.forwards {
			drop = append(drop, c)
		}
	} else {
		for c := range p.stalled {
			drop = append(drop, c)
		}
	}
	p.mu.Unlock()
	for _, c := range drop {
		_ = c.Close()
	}
}

func (p *proxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	var all []net.Conn
	for c := range p.forwards {
		all = append(all, c)
	}
	for c := range p.stalled {
		all = append(all, c)
	}
	p.mu.Unlock()
	for _, c := range all {
		_ = c.Close()
	}
	p.wg.Wait()
}

// proxyDialTimeout bounds the proxy's connect to a replica that is down.
const proxyDialTimeout = 2 * time.Second
