package bus

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

const (
	// testSizeMax keeps forged oversized frames cheap to build.
	testSizeMax = 64 << 10
	// testDeadline only stops a broken test from hanging; no test asserts
	// how long anything took.
	testDeadline = 30 * time.Second
	// testResendEvery paces the retries of tests that send until a
	// connection (re)appears, standing in for the replica's own timeouts.
	testResendEvery = 5 * time.Millisecond
)

var testCluster = u128.U128{Lo: 0xc1, Hi: 0x5}

// loop is a test event loop: buses post to it, and the test goroutine runs
// what was posted, so onMessage runs on one goroutine as in production.
type loop struct {
	mu   sync.Mutex
	fns  []func()
	wake chan struct{}
}

func newLoop() *loop { return &loop{wake: make(chan struct{}, 1)} }

func (l *loop) post(fn func()) {
	l.mu.Lock()
	l.fns = append(l.fns, fn)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *loop) runPending() {
	l.mu.Lock()
	fns := l.fns
	l.fns = nil
	l.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// until runs the loop until cond holds, calling retry (if any) between
// waits; it fails the test at testDeadline.
func (l *loop) until(t testing.TB, what string, retry func(), cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(testDeadline)
	defer deadline.Stop()
	tick := time.NewTicker(testResendEvery)
	defer tick.Stop()
	for {
		l.runPending()
		if cond() {
			return
		}
		if retry != nil {
			retry()
		}
		select {
		case <-l.wake:
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// node is one bus and what its replica received.
type node struct {
	bus *Bus
	got [][]byte
}

func (n *node) receivedFrom(from uint8, op uint64) bool {
	for _, b := range n.got {
		m, err := vsr.Decode(b, testCluster, testSizeMax)
		if err == nil && m.Header.Replica == from && m.Header.Op == op {
			return true
		}
	}
	return false
}

func listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func startNode(t testing.TB, l *loop, addrs []string, i int, ln net.Listener) *node {
	t.Helper()
	n := &node{}
	b, err := New(Config{
		Cluster: testCluster, Replica: uint8(i), Addresses: addrs, MessageSizeMax: testSizeMax,
		Post: l.post, OnMessage: func(b []byte) { n.got = append(n.got, b) }, Listener: ln,
		Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	b.Start()
	n.bus = b
	return n
}

// cluster starts count buses on ephemeral loopback ports.
func cluster(t testing.TB, l *loop, count int) ([]*node, []string) {
	t.Helper()
	lns := make([]net.Listener, count)
	addrs := make([]string, count)
	for i := range lns {
		lns[i] = listen(t, "127.0.0.1:0")
		addrs[i] = lns[i].Addr().String()
	}
	nodes := make([]*node, count)
	for i := range nodes {
		nodes[i] = startNode(t, l, addrs, i, lns[i])
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			_ = n.bus.Close()
		}
	})
	return nodes, addrs
}

// prepare is a sealed message from replica from with a body naming op.
func prepare(from uint8, op uint64, bodySize int) []byte {
	body := bytes.Repeat([]byte{byte(op)}, bodySize)
	m := vsr.Message{Header: vsr.Header{Command: vsr.CommandPrepare, Cluster: testCluster, Replica: from, Op: op}, Body: body}
	return m.Encode()
}

func connectedAll(nodes []*node) bool {
	for i, n := range nodes {
		for j := range nodes {
			if i != j && !n.bus.Connected(uint8(j)) {
				return false
			}
		}
	}
	return true
}

func noBadFrames(t *testing.T, nodes []*node) {
	t.Helper()
	for i, n := range nodes {
		s := n.bus.Stats()
		if s.BadChecksum+s.BadCommand+s.BadSize+s.BadCluster+s.BadBody+s.BadIdentity != 0 {
			t.Errorf("bus %d counted bad frames between healthy buses: %+v", i, s)
		}
	}
}

func TestThreeBusesExchangeBothWays(t *testing.T) {
	l := newLoop()
	nodes, _ := cluster(t, l, 3)
	l.until(t, "every pair connected", nil, func() bool { return connectedAll(nodes) })

	const perPair = 32 // within sendQueuePeerMax, so a connected pair drops nothing
	sent := map[[2]uint8][][]byte{}
	for i := range nodes {
		for j := range nodes {
			if i == j {
				continue
			}
			for op := uint64(1); op <= perPair; op++ {
				msg := prepare(uint8(i), op, int(op)*100)
				sent[[2]uint8{uint8(i), uint8(j)}] = append(sent[[2]uint8{uint8(i), uint8(j)}], msg)
				nodes[i].bus.SendToReplica(uint8(j), msg)
			}
		}
	}
	l.until(t, "all messages delivered", nil, func() bool {
		for _, n := range nodes {
			// Sent is counted after the write returns, which may be
			// after the peer has read it.
			if len(n.got) < perPair*(len(nodes)-1) || n.bus.Stats().Sent < perPair*2 {
				return false
			}
		}
		return true
	})
	for j, n := range nodes {
		// One connection per pair keeps each sender's messages in order.
		next := map[uint8]int{}
		for _, b := range n.got {
			from := b[115]
			want := sent[[2]uint8{from, uint8(j)}][next[from]]
			if !bytes.Equal(b, want) {
				t.Fatalf("bus %d: message %d from %d differs from what was sent", j, next[from], from)
			}
			next[from]++
		}
		if s := n.bus.Stats(); s.Received != perPair*2 || s.Sent != perPair*2 {
			t.Errorf("bus %d: stats %+v, want %d sent and received", j, s, perPair*2)
		}
	}
	noBadFrames(t, nodes)
}

// exchange sends from every bus to every other until each has heard op
// from each, resending because a (re)connecting pair may drop.
func exchange(t *testing.T, l *loop, nodes []*node, op uint64) {
	t.Helper()
	l.until(t, "an exchange between every pair", func() {
		for i, n := range nodes {
			for j := range nodes {
				if i != j {
					n.bus.SendToReplica(uint8(j), prepare(uint8(i), op, 64))
				}
			}
		}
	}, func() bool {
		for j, n := range nodes {
			for i := range nodes {
				if i != j && !n.receivedFrom(uint8(i), op) {
					return false
				}
			}
		}
		return true
	})
}

func TestPeerKilledAndRestartedIsReconnected(t *testing.T) {
	l := newLoop()
	nodes, addrs := cluster(t, l, 3)
	exchange(t, l, nodes, 1)
	// The lowest (dials only), the middle (dials and is dialed) and the
	// highest (dialed only) each die and come back on their address.
	for victim := range nodes {
		if err := nodes[victim].bus.Close(); err != nil {
			t.Fatal(err)
		}
		nodes[victim] = startNode(t, l, addrs, victim, listen(t, addrs[victim]))
		exchange(t, l, nodes, uint64(2+victim))
	}
	noBadFrames(t, nodes)
	if s := nodes[0].bus.Stats(); s.PeerConnects < 4 {
		t.Errorf("bus 0 connected %d times, want its 2 first connections and 2 reconnections", s.PeerConnects)
	}
}

// single is a one-replica bus and a raw TCP connection to it.
func single(t *testing.T, l *loop) (*node, func() net.Conn) {
	t.Helper()
	nodes, addrs := cluster(t, l, 1)
	return nodes[0], func() net.Conn {
		c, err := net.Dial("tcp", addrs[0])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
}

// waitClosed reads until the bus closes c; a timeout means the bus kept
// waiting, for example for a body it should never have read.
func waitClosed(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(testDeadline))
	var buf [4096]byte
	for {
		_, err := c.Read(buf[:])
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the bus did not close the connection")
		}
		return
	}
}

func sealed(h vsr.Header, bodySize int) []byte {
	m := vsr.Message{Header: h, Body: make([]byte, bodySize)}
	return m.Encode()
}

func TestBadFramesCloseTheConnectionAndAreCounted(t *testing.T) {
	ping := vsr.Header{Command: vsr.CommandPingClient, Cluster: testCluster, Client: u128.U128{Lo: 9}}
	corruptHeader := sealed(ping, 1000)[:vsr.HeaderSize]
	corruptHeader[104] ^= 1 // the view: covered by the checksum
	corruptBody := sealed(ping, 1000)
	corruptBody[vsr.HeaderSize+7] ^= 1
	random := make([]byte, vsr.HeaderSize)
	for i := range random {
		random[i] = byte(i*131 + 7)
	}
	cases := []struct {
		name  string
		bytes []byte
		count func(Stats) uint64
	}{
		// Only the header is sent: the bus must judge it without the body.
		{"oversized size field", sealed(ping, testSizeMax)[:vsr.HeaderSize], func(s Stats) uint64 { return s.BadSize }},
		{"corrupt header checksum", corruptHeader, func(s Stats) uint64 { return s.BadChecksum }},
		{"random bytes", random, func(s Stats) uint64 { return s.BadChecksum }},
		{"deprecated command", sealed(vsr.Header{Command: 12, Cluster: testCluster}, 0), func(s Stats) uint64 { return s.BadCommand }},
		{"other cluster", sealed(vsr.Header{Command: vsr.CommandPingClient, Cluster: u128.U128{Lo: 1}, Client: u128.U128{Lo: 9}}, 10)[:vsr.HeaderSize], func(s Stats) uint64 { return s.BadCluster }},
		{"corrupt body", corruptBody, func(s Stats) uint64 { return s.BadBody }},
		{"stranger's prepare first", prepare(0, 1, 10), func(s Stats) uint64 { return s.BadIdentity }},
		{"handshake from a higher replica", sealed(vsr.Header{Command: vsr.CommandPing, Cluster: testCluster, Replica: 3}, 0), func(s Stats) uint64 { return s.BadIdentity }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop()
			n, dial := single(t, l)
			c := dial()
			if _, err := c.Write(tc.bytes); err != nil {
				t.Fatal(err)
			}
			waitClosed(t, c)
			l.until(t, "the bad frame counted", nil, func() bool { return tc.count(n.bus.Stats()) == 1 })
			l.runPending()
			if s := n.bus.Stats(); len(n.got) != 0 || s.Received != 0 {
				t.Fatalf("a bad frame reached the replica: %+v", s)
			}
		})
	}
}

func readMessage(t *testing.T, c net.Conn) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(testDeadline))
	header := make([]byte, vsr.HeaderSize)
	if _, err := readFull(c, header); err != nil {
		t.Fatal(err)
	}
	var h vsr.Header
	if err := vsr.DecodeHeader(header, &h); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, h.Size)
	copy(b, header)
	if _, err := readFull(c, b[vsr.HeaderSize:]); err != nil {
		t.Fatal(err)
	}
	return b
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := c.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func reply(client u128.U128, request uint32) []byte {
	return sealed(vsr.Header{Command: vsr.CommandReply, Cluster: testCluster, Client: client, Request: request}, 16)
}

func TestClientsAreRoutedByID(t *testing.T) {
	l := newLoop()
	n, dial := single(t, l)
	x, y := u128.U128{Lo: 0xaa, Hi: 1}, u128.U128{Lo: 0xbb, Hi: 1}

	first := dial()
	if _, err := first.Write(sealed(vsr.Header{Command: vsr.CommandPingClient, Cluster: testCluster, Client: x}, 0)); err != nil {
		t.Fatal(err)
	}
	l.until(t, "the ping_client delivered", nil, func() bool { return len(n.got) == 1 })
	r1 := reply(x, 1)
	n.bus.SendToClient(x, r1)
	if got := readMessage(t, first); !bytes.Equal(got, r1) {
		t.Fatal("the first connection did not get its reply")
	}

	// The same client reconnects (say, after a network blip) with a
	// request: replies follow it to the new connection.
	second := dial()
	if _, err := second.Write(sealed(vsr.Header{Command: vsr.CommandRequest, Cluster: testCluster, Client: x, Request: 2}, 100)); err != nil {
		t.Fatal(err)
	}
	l.until(t, "the request delivered", nil, func() bool { return len(n.got) == 2 })
	r2 := reply(x, 2)
	n.bus.SendToClient(x, r2)
	if got := readMessage(t, second); !bytes.Equal(got, r2) {
		t.Fatal("the latest connection did not get the reply")
	}

	n.bus.SendToClient(y, reply(y, 1))
	if s := n.bus.Stats(); s.DropUnknownClient != 1 || s.Clients != 2 {
		t.Fatalf("stats %+v: want one drop for the unknown client and two client connections", s)
	}

	// A connection may not speak for another client.
	if _, err := second.Write(sealed(vsr.Header{Command: vsr.CommandPingClient, Cluster: testCluster, Client: y}, 0)); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, second)
	l.until(t, "the impostor counted", nil, func() bool { return n.bus.Stats().BadIdentity == 1 })
	l.runPending()
	if len(n.got) != 2 {
		t.Fatalf("%d messages delivered, want the impostor's ping dropped", len(n.got))
	}
}

func TestSendQueueOverflowDropsNewestAndCounts(t *testing.T) {
	l := newLoop()
	n, dial := single(t, l)
	x := u128.U128{Lo: 0xcc}
	c := dial() // never read: the kernel buffers fill, then the queue
	if _, err := c.Write(sealed(vsr.Header{Command: vsr.CommandPingClient, Cluster: testCluster, Client: x}, 0)); err != nil {
		t.Fatal(err)
	}
	l.until(t, "the client identified", nil, func() bool { return len(n.got) == 1 })
	msg := sealed(vsr.Header{Command: vsr.CommandReply, Cluster: testCluster, Client: x}, testSizeMax-vsr.HeaderSize)
	// Loopback buffers hold a few MiB at most; this many 64 KiB messages
	// is far more than they and the queue can take.
	const sendsMax = 100_000
	sends := 0
	for ; sends < sendsMax && n.bus.Stats().DropQueueFull == 0; sends++ {
		n.bus.SendToClient(x, msg)
	}
	s := n.bus.Stats()
	if s.DropQueueFull == 0 {
		t.Fatalf("%d sends to a client that never reads and no drop: %+v", sends, s)
	}
	if s.Sent+sendQueueClientMax+writeBatchMax < uint64(sends)-s.DropQueueFull {
		t.Fatalf("stats %+v after %d sends: messages unaccounted for", s, sends)
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		l := newLoop()
		nodes, addrs := cluster(t, l, 3)
		exchange(t, l, nodes, 1)
		// A client that never reads (a writer blocked in write) and a
		// reader blocked on the posted-bytes budget of a loop that no
		// longer runs: Close must end both.
		bg := &nodes[2].bus.budget
		bg.mu.Lock()
		bg.max = 1
		bg.mu.Unlock()
		x := u128.U128{Lo: 0xdd}
		c, err := net.Dial("tcp", addrs[2])
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write(sealed(vsr.Header{Command: vsr.CommandPingClient, Cluster: testCluster, Client: x}, 0)); err != nil {
			t.Fatal(err)
		}
		l.until(t, "the client identified", nil, func() bool { return nodes[2].bus.Stats().Clients == 1 })
		big := sealed(vsr.Header{Command: vsr.CommandReply, Cluster: testCluster, Client: x}, testSizeMax-vsr.HeaderSize)
		for range 1000 {
			nodes[2].bus.SendToClient(x, big)
		}
		for op := uint64(10); op < 20; op++ {
			nodes[0].bus.SendToReplica(2, prepare(0, op, 1000))
		}
		waitFor(t, "a writer blocked and a reader waiting", func() bool {
			bg.mu.Lock()
			defer bg.mu.Unlock()
			return bg.waiting > 0 && nodes[2].bus.Stats().DropQueueFull > 0
		})
		// A raw connection that never identifies itself.
		idle, err := net.Dial("tcp", addrs[1])
		if err != nil {
			t.Fatal(err)
		}
		defer idle.Close()
		for i, n := range nodes {
			if err := n.bus.Close(); err != nil {
				t.Fatal(err)
			}
			if live := n.bus.live.Load(); live != 0 {
				t.Fatalf("bus %d: Close returned with %d goroutines running", i, live)
			}
		}
	}()
	// Goroutines outside the bus (the runtime's, the test's) settle on
	// their own schedule; wait for the count rather than time it.
	if !poll(func() bool { return runtime.NumGoroutine() <= before }) {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines before, %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
	}
}

// poll reports whether cond became true before testDeadline.
func poll(cond func() bool) bool {
	deadline := time.Now().Add(testDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !poll(cond) {
		t.Fatalf("gave up waiting for %s", what)
	}
}

func TestBackoffGrowsJitteredAndDiffersByReplica(t *testing.T) {
	a, b := newBackoff(0, 2), newBackoff(1, 2)
	same := true
	for i := range 12 {
		da, db := a.next(), b.next()
		ceiling := min(reconnectBackoffMax, reconnectBackoffMin<<i)
		if da < ceiling/2 || da > ceiling {
			t.Fatalf("attempt %d: delay %v outside [%v, %v]", i, da, ceiling/2, ceiling)
		}
		same = same && da == db
	}
	if same {
		t.Fatal("two replicas redialling the same peer drew the same delays: lockstep")
	}
	a.reset()
	if d := a.next(); d > reconnectBackoffMin {
		t.Fatalf("after a reset the delay is %v, want at most %v", d, reconnectBackoffMin)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	post, on := func(func()) {}, func([]byte) {}
	for name, cfg := range map[string]Config{
		"no addresses":    {MessageSizeMax: testSizeMax, Post: post, OnMessage: on},
		"replica outside": {Replica: 1, Addresses: []string{"127.0.0.1:0"}, MessageSizeMax: testSizeMax, Post: post, OnMessage: on},
		"tiny size max":   {Addresses: []string{"127.0.0.1:0"}, MessageSizeMax: 10, Post: post, OnMessage: on},
		"no post":         {Addresses: []string{"127.0.0.1:0"}, MessageSizeMax: testSizeMax, OnMessage: on},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestHostileBytesAreCountedAndTheBusLivesOn(t *testing.T) {
	l := newLoop()
	n, dial := single(t, l)
	rng := rand.New(rand.NewPCG(12, 0))
	const connections = 40
	for range connections {
		c := dial()
		junk := make([]byte, 1+rng.IntN(3*vsr.HeaderSize))
		for i := range junk {
			junk[i] = byte(rng.Uint32())
		}
		if _, err := c.Write(junk); err != nil {
			t.Fatal(err)
		}
		_ = c.Close()
	}
	// Each connection ends in exactly one counter: a bad frame, or a
	// read error for junk shorter than a header.
	l.until(t, "every hostile connection counted", nil, func() bool {
		s := n.bus.Stats()
		return s.BadChecksum+s.BadCommand+s.BadSize+s.BadCluster+s.BadBody+s.BadIdentity+s.ReadErrors == connections
	})
	x := u128.U128{Lo: 0xee}
	c := dial()
	if _, err := c.Write(sealed(vsr.Header{Command: vsr.CommandPingClient, Cluster: testCluster, Client: x}, 0)); err != nil {
		t.Fatal(err)
	}
	l.until(t, "a well-formed client after the junk", nil, func() bool { return len(n.got) == 1 })
	r := reply(x, 1)
	n.bus.SendToClient(x, r)
	if got := readMessage(t, c); !bytes.Equal(got, r) {
		t.Fatal("the client was not answered after the junk")
	}
}
