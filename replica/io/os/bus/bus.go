// Package bus is the production message bus: TCP connections between the
// replicas of a cluster and from their clients, implementing replica/io's
// Network for one replica.
//
// Topology. There is exactly one connection per pair of replicas: the lower
// index dials the higher, so no tie-break between two simultaneous dials is
// ever needed, and the higher index only accepts. A dialer first writes a
// handshake ping (a sealed ping header naming its replica index and cluster),
// which the acceptor consumes to learn who dialed; the replica never sees it
// (it pings its peers on its own schedule). A newer connection from the same
// peer replaces the older one, which covers a peer that restarted while we
// still held its half-open connection. Clients dial every replica and are
// accepted on the same port; the first request or ping_client on a connection
// names its client id, and SendToClient routes to the latest connection that
// named it.
//
// Framing is the header's size field: 256 bytes of header, verified (checksum,
// command, size against Config.MessageSizeMax, cluster) before a byte of body
// is read, then the body, verified by the replica's own decoder. A bad frame
// closes its connection and is counted in Stats.
//
// Concurrency. Each connection has a reader and a writer goroutine; each
// higher peer has a dialer goroutine that reconnects with jittered exponential
// backoff. Sends never block: they go to a bounded queue per connection and
// are dropped (and counted) when it is full or there is no connection - VSR
// retransmits what it needs. Received messages reach the replica only through
// Config.Post, so OnMessage runs on the event loop, never on a bus goroutine.
// Close stops every goroutine and returns after the last has exited.
package bus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"viewstamp/replica/io"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// Limits. Each is a trade between memory a hostile or slow party can pin and
// the burst a healthy cluster needs.
const (
	// sendQueuePeerMax messages wait per replica connection. Within one
	// tick a primary may send a peer a full pipeline of prepares (8 in
	// production) plus commits and pings, and a repairing replica a batch
	// of get_prepare answers; 64 leaves room for several such bursts while
	// the writer drains, so only a stalled connection drops.
	sendQueuePeerMax = 64
	// sendQueueClientMax messages wait per client connection. A client has
	// one request in flight, so it is owed a reply, a pong_client and maybe
	// an eviction at once; the rest is retransmission, which TigerBeetle
	// also drops (its client queue holds 2).
	sendQueueClientMax = 8
	// writeBatchMax queued messages go out in one writev, to amortise the
	// syscall over the small prepare_ok/commit messages; far below IOV_MAX.
	writeBatchMax = 64
	// readBufferSize is the reader's buffer: many headers-only messages are
	// read per syscall, while a body larger than it is read straight into
	// its own buffer.
	readBufferSize = 64 << 10
	// postedBytesMax bounds the received bytes handed to Post but not yet
	// consumed by the replica. Past it readers stop reading, so TCP pushes
	// back on senders instead of the loop's queue growing without bound.
	// 64 MiB is 64 production messages of the largest size.
	postedBytesMax = 64 << 20
	// connectionsMax bounds accepted connections (identified or not), so a
	// flood of connects cannot exhaust memory or descriptors: every one
	// costs a read buffer and a queue. 64 clients (ClientsMax) times the
	// reconnects of evicted or restarted clients stay far below it.
	connectionsMax = 1024

	// identifyTimeout closes an accepted connection that has not sent its
	// first message by then. A TigerBeetle client sends its register
	// within about a second and pings every 30 s, so twice that.
	identifyTimeout = 60 * time.Second
	// writeTimeout closes a connection whose peer has not drained a batch in
	// that long: a stuck peer should not hold the queue (and its messages)
	// forever, and the dialer then reconnects. A 64-message batch of 1 MiB
	// messages needs well under a second on any link a replica runs on.
	writeTimeout = 10 * time.Second
	// dialTimeout bounds one connect attempt to a host that does not
	// answer (no RST), so the dialer goes back to backoff and Close is not
	// held up by a kernel SYN retry schedule.
	dialTimeout = 2 * time.Second
	// reconnectBackoffMin/Max are the dialer's exponential backoff bounds.
	// The minimum keeps a restarted peer's reconnection in the tens of
	// milliseconds (a 10 ms tick matters to view-change timeouts); the
	// maximum, a tenth of the replica's view-change timeout of 5 s, keeps a
	// long-dead peer from being hammered yet found promptly when it returns.
	reconnectBackoffMin = 10 * time.Millisecond
	reconnectBackoffMax = 500 * time.Millisecond
	// acceptErrorDelay pauses the accept loop after an error such as
	// EMFILE, which would otherwise repeat at once and spin a core.
	acceptErrorDelay = 10 * time.Millisecond
	// messageSizeMaxLimit bounds Config.MessageSizeMax: the bus allocates
	// each frame whole, and no configuration needs more than TigerBeetle's
	// 1 MiB by three orders of magnitude.
	messageSizeMaxLimit = 1 << 30
	// keepAlive* are TigerBeetle's TCP keepalive settings: a silently
	// vanished peer is detected in about 17 s.
	keepAliveIdle     = 5 * time.Second
	keepAliveInterval = 4 * time.Second
	keepAliveCount    = 3
)

var keepAlive = net.KeepAliveConfig{Enable: true, Idle: keepAliveIdle, Interval: keepAliveInterval, Count: keepAliveCount}

// Config describes one replica's bus.
type Config struct {
	Cluster u128.U128
	// Replica is this replica's index into Addresses.
	Replica uint8
	// Addresses of every replica, "host:port", index i being replica i.
	Addresses []string
	// MessageSizeMax is the largest frame accepted, header included: the
	// replica's vsr.Config.MessageSizeMax.
	MessageSizeMax uint64
	// Post runs fn on the event loop. It must not block for long: readers
	// call it, and Close waits for readers.
	Post func(fn func())
	// OnMessage receives each verified message, on the event loop, in a
	// buffer of its own that the bus never touches again.
	OnMessage func(b []byte)
	// Listener, if set, is used instead of listening on
	// Addresses[Replica] (tests bind ephemeral ports first); the bus
	// closes it.
	Listener net.Listener
	// Logf, if set, gets one line per connection state change.
	Logf func(format string, args ...any)
}

// Stats counts what the bus did. Every drop and every bad frame lands in
// exactly one counter.
type Stats struct {
	Sent     uint64 // messages written to a socket
	Received uint64 // messages handed to Post

	DropNoConnection  uint64 // SendToReplica with no connection to that replica (or to itself)
	DropUnknownClient uint64 // SendToClient for a client with no connection
	DropQueueFull     uint64 // the connection's send queue was full: the newest is dropped

	// Bad frames; each also closed its connection.
	BadChecksum  uint64 // header checksum
	BadCommand   uint64 // unknown command byte
	BadSize      uint64 // size field below a header or above MessageSizeMax
	BadCluster   uint64 // another cluster's message
	BadBody      uint64 // body checksum
	BadIdentity  uint64 // first message neither a peer's handshake nor a client's, or a client changed id
	ReadErrors   uint64 // connections ended by EOF, reset or timeout while reading
	WriteErrors  uint64 // connections ended by a failed or timed-out write
	Rejected     uint64 // accepted connections refused past connectionsMax
	Dials        uint64 // connect attempts to higher peers
	DialFailures uint64 // failed connect attempts
	PeerConnects uint64 // peer connections established (dialed or accepted)
	Clients      uint64 // client connections identified
}

type stats struct {
	sent, received                                atomic.Uint64
	dropNoConnection, dropUnknownClient, dropFull atomic.Uint64
	badChecksum, badCommand, badSize, badCluster  atomic.Uint64
	badBody, badIdentity, readErrors, writeErrors atomic.Uint64
	rejected, dials, dialFailures, peerConnects   atomic.Uint64
	clients                                       atomic.Uint64
}

// Bus is one replica's Network over TCP.
type Bus struct {
	cfg       Config
	listener  net.Listener
	handshake []byte
	budget    budget

	ctx    context.Context // cancelled by Close: stops dials and backoff sleeps
	cancel context.CancelFunc
	wg     sync.WaitGroup
	live   atomic.Int64 // goroutines running, for tests to assert on

	mu      sync.Mutex
	started bool
	closed  bool
	peers   [vsr.ReplicasMax]*conn
	clients map[u128.U128]*conn
	conns   map[*conn]struct{} // every open connection, for Close and connectionsMax
	stats   stats
}

var _ io.Network = (*Bus)(nil)

// New validates cfg and binds the listening socket (so a taken port fails
// here), but starts nothing: call Start once the replica that OnMessage
// feeds exists.
func New(cfg Config) (*Bus, error) {
	switch {
	case len(cfg.Addresses) < 1 || len(cfg.Addresses) > vsr.ReplicasMax:
		return nil, fmt.Errorf("bus: %d addresses, want 1 to %d", len(cfg.Addresses), vsr.ReplicasMax)
	case int(cfg.Replica) >= len(cfg.Addresses):
		return nil, fmt.Errorf("bus: replica %d outside %d addresses", cfg.Replica, len(cfg.Addresses))
	case cfg.MessageSizeMax < vsr.HeaderSize || cfg.MessageSizeMax > messageSizeMaxLimit:
		return nil, fmt.Errorf("bus: message size max %d outside [%d, %d]", cfg.MessageSizeMax, vsr.HeaderSize, messageSizeMaxLimit)
	case cfg.Post == nil || cfg.OnMessage == nil:
		return nil, errors.New("bus: Post and OnMessage are required")
	}
	ln := cfg.Listener
	if ln == nil {
		lc := net.ListenConfig{KeepAliveConfig: keepAlive}
		var err error
		if ln, err = lc.Listen(context.Background(), "tcp", cfg.Addresses[cfg.Replica]); err != nil {
			return nil, fmt.Errorf("bus: listen: %w", err)
		}
	}
	h := vsr.Header{Command: vsr.CommandPing, Cluster: cfg.Cluster, Replica: cfg.Replica}
	h.Seal(nil)
	hs := make([]byte, vsr.HeaderSize)
	vsr.EncodeHeader(&h, hs)
	b := &Bus{cfg: cfg, listener: ln, handshake: hs, clients: map[u128.U128]*conn{}, conns: map[*conn]struct{}{}}
	b.budget.init(postedBytesMax)
	b.ctx, b.cancel = context.WithCancel(context.Background())
	return b, nil
}

// Addr is the address the bus listens on (useful with an ephemeral port).
func (b *Bus) Addr() net.Addr { return b.listener.Addr() }

// Start accepts connections and dials every higher replica.
func (b *Bus) Start() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started || b.closed {
		return
	}
	b.started = true
	b.spawn(b.acceptLoop)
	for p := int(b.cfg.Replica) + 1; p < len(b.cfg.Addresses); p++ {
		peer := uint8(p)
		b.spawn(func() { b.dialLoop(peer) })
	}
}

// Close stops the bus and returns once every goroutine it started has
// exited. Messages already handed to Post are not recalled.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		b.wg.Wait()
		return nil
	}
	b.closed = true
	conns := make([]*conn, 0, len(b.conns))
	for c := range b.conns {
		conns = append(conns, c)
	}
	b.mu.Unlock()
	b.cancel()
	err := b.listener.Close()
	for _, c := range conns {
		c.close()
	}
	b.budget.shut()
	b.wg.Wait()
	return err
}

// SendToReplica queues msg for a peer; it never blocks.
func (b *Bus) SendToReplica(replica uint8, msg []byte) {
	b.mu.Lock()
	var c *conn
	if int(replica) < len(b.peers) {
		c = b.peers[replica]
	}
	b.mu.Unlock()
	if c == nil {
		b.stats.dropNoConnection.Add(1)
		return
	}
	c.enqueue(msg)
}

// SendToClient queues msg on the latest connection of client; it never
// blocks.
func (b *Bus) SendToClient(client u128.U128, msg []byte) {
	b.mu.Lock()
	c := b.clients[client]
	b.mu.Unlock()
	if c == nil {
		b.stats.dropUnknownClient.Add(1)
		return
	}
	c.enqueue(msg)
}

// Connected reports whether a connection to replica is up, for logs and
// tests.
func (b *Bus) Connected(replica uint8) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return int(replica) < len(b.peers) && b.peers[replica] != nil
}

// Stats returns a snapshot of the counters.
func (b *Bus) Stats() Stats {
	s := &b.stats
	return Stats{
		Sent: s.sent.Load(), Received: s.received.Load(),
		DropNoConnection: s.dropNoConnection.Load(), DropUnknownClient: s.dropUnknownClient.Load(),
		DropQueueFull: s.dropFull.Load(),
		BadChecksum:   s.badChecksum.Load(), BadCommand: s.badCommand.Load(), BadSize: s.badSize.Load(),
		BadCluster: s.badCluster.Load(), BadBody: s.badBody.Load(), BadIdentity: s.badIdentity.Load(),
		ReadErrors: s.readErrors.Load(), WriteErrors: s.writeErrors.Load(), Rejected: s.rejected.Load(),
		Dials: s.dials.Load(), DialFailures: s.dialFailures.Load(), PeerConnects: s.peerConnects.Load(),
		Clients: s.clients.Load(),
	}
}

func (b *Bus) logf(format string, args ...any) {
	if b.cfg.Logf != nil {
		b.cfg.Logf("bus replica=%d: "+format, append([]any{b.cfg.Replica}, args...)...)
	}
}

// spawn runs fn on a goroutine that Close waits for. Callers hold b.mu or
// run on a goroutine Close already waits for, so Wait never races an Add
// from zero.
func (b *Bus) spawn(fn func()) {
	b.wg.Add(1)
	b.live.Add(1)
	go func() {
		defer b.wg.Done()
		defer b.live.Add(-1)
		fn()
	}()
}

func (b *Bus) acceptLoop() {
	for {
		nc, err := b.listener.Accept()
		if err != nil {
			if b.ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// EMFILE and the like: back off rather than spin, as
			// net/http does.
			if !sleep(b.ctx, acceptErrorDelay) {
				return
			}
			continue
		}
		c := newConn(b, nc, kindUnknown)
		if !b.register(c, true) {
			continue
		}
		_ = nc.SetReadDeadline(time.Now().Add(identifyTimeout))
		b.spawn(c.readLoop)
	}
}

// register adds c to the open connections, or closes it if the bus is
// closed or (accepted) past connectionsMax.
func (b *Bus) register(c *conn, accepted bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || (accepted && len(b.conns) >= connectionsMax) {
		if !b.closed {
			b.stats.rejected.Add(1)
		}
		c.closeSocket()
		return false
	}
	b.conns[c] = struct{}{}
	return true
}

// identifyPeer makes c the connection of peer, replacing an older one, and
// starts its writer. False if the bus is closing.
func (b *Bus) identifyPeer(c *conn, peer uint8) bool {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return false
	}
	old := b.peers[peer]
	c.kind, c.peer = kindPeer, peer
	c.queue = make(chan []byte, sendQueuePeerMax)
	b.peers[peer] = c
	b.spawn(c.writeLoop)
	b.mu.Unlock()
	b.stats.peerConnects.Add(1)
	if old != nil {
		old.close()
	}
	b.logf("peer %d connected from %s", peer, c.nc.RemoteAddr())
	return true
}

// identifyClient makes c the latest connection of client.
func (b *Bus) identifyClient(c *conn, client u128.U128) bool {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return false
	}
	c.kind, c.client = kindClient, client
	c.queue = make(chan []byte, sendQueueClientMax)
	b.clients[client] = c
	b.spawn(c.writeLoop)
	b.mu.Unlock()
	b.stats.clients.Add(1)
	return true
}

// unregister forgets a closed connection, leaving a newer connection of
// the same peer or client in place.
func (b *Bus) unregister(c *conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.conns, c)
	switch c.kind {
	case kindPeer:
		if b.peers[c.peer] == c {
			b.peers[c.peer] = nil
		}
	case kindClient:
		if b.clients[c.client] == c {
			delete(b.clients, c.client)
		}
	}
}

// dialLoop keeps one connection to a higher peer: dial, handshake, wait
// for the connection to end, back off, repeat until Close.
func (b *Bus) dialLoop(peer uint8) {
	bo := newBackoff(b.cfg.Replica, peer)
	dialer := net.Dialer{Timeout: dialTimeout, KeepAliveConfig: keepAlive}
	for b.ctx.Err() == nil {
		b.stats.dials.Add(1)
		nc, err := dialer.DialContext(b.ctx, "tcp", b.cfg.Addresses[peer])
		if err != nil {
			b.stats.dialFailures.Add(1)
			if !sleep(b.ctx, bo.next()) {
				return
			}
			continue
		}
		c := newConn(b, nc, kindPeer)
		c.peer = peer
		c.queue = make(chan []byte, sendQueuePeerMax)
		if !b.register(c, false) {
			return
		}
		// The handshake goes out before the connection is published for
		// sends, so it is the first frame the peer reads.
		_ = nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := nc.Write(b.handshake); err != nil {
			b.stats.writeErrors.Add(1)
			c.close()
			if !sleep(b.ctx, bo.next()) {
				return
			}
			continue
		}
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			c.close()
			return
		}
		b.peers[peer] = c
		b.spawn(c.readLoop)
		b.spawn(c.writeLoop)
		b.mu.Unlock()
		b.stats.peerConnects.Add(1)
		b.logf("connected to peer %d at %s", peer, b.cfg.Addresses[peer])
		<-c.closed
		b.logf("peer %d disconnected", peer)
		// A connection that carried traffic was healthy: start the
		// backoff afresh. One that died silent (the peer accepts and
		// drops us) keeps growing it.
		if c.heard.Load() {
			bo.reset()
		}
		if !sleep(b.ctx, bo.next()) {
			return
		}
	}
}

// sleep waits d or until ctx ends; false if ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
