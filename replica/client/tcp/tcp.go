// Package tcp is the production transport of replica/client: it drives the
// client's deterministic session state machine over TCP connections to
// every replica of a cluster, for programs that use a cluster for real (the
// CLI's repl and benchmark, tests on real processes).
//
// One goroutine, the driver, owns the state machine: it ticks it every
// 10 ms, feeds it the frames the connections read, and hands it the next
// request. The session allows one request in flight, so concurrent Submit
// calls queue at the driver; when the session is free, queued calls of the
// same operation go out as one request, each call a batch of TigerBeetle
// 0.17's multi-batch body, and each caller gets its own result batch back,
// as TigerBeetle's clients pack.
//
// Each replica has one connection goroutine that dials with jittered
// backoff, sends a ping_client first (so the replica learns the client's id
// and answers with its view), then reads frames until the connection ends;
// a writer goroutine drains the connection's bounded send queue. Messages
// to a replica with no connection, or a full queue, are dropped: the state
// machine retransmits a request until its reply arrives.
//
// This package is exempt from detlint (tools/detlint's -exempt list): it is
// the client's IO binding, as replica/io/os is the replica's, and the
// state machine it drives stays deterministic and goroutine-free.
package tcp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"viewstamp/replica/ledger"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// Limits and defaults.
const (
	// Tick is the state machine's tick, the replica's.
	Tick = 10 * time.Millisecond
	// DefaultRequestTicks is the first retransmission timeout (300 ms);
	// the state machine backs off to 16 times that. TigerBeetle's first is
	// 600 ms; half of it shortens a failover on loopback without flooding
	// a slow cluster, since retries back off.
	DefaultRequestTicks = 30
	// DefaultMessageSizeMax is the production cluster's message size.
	DefaultMessageSizeMax = 1 << 20
	// pingInterval re-sends ping_client to every replica: the replica's
	// bus closes a client connection silent for 60 s, and the pong tells
	// the client the current view (so its requests find the primary).
	pingInterval = 10 * time.Second
	// sendQueueMax messages wait per connection: a request, its retries
	// and a ping. TigerBeetle's client queue holds 2.
	sendQueueMax = 4
	// submitQueueMax calls may wait for the driver before Submit blocks.
	submitQueueMax = 1024
	// inboxMax frames read from the connections wait for the driver.
	inboxMax = 64
	// dialTimeout bounds one connect attempt to a silent host.
	dialTimeout = 2 * time.Second
	// writeTimeout drops a connection whose replica does not drain it.
	writeTimeout = 10 * time.Second
	// backoffMin and backoffMax bound the reconnect delay.
	backoffMin = 10 * time.Millisecond
	backoffMax = time.Second
)

// Errors. A request that failed with ErrClosed, ErrEvicted or a context
// error may or may not have been executed by the cluster: creating the
// same objects again (same ids) is safe, the ledger answers "exists".
var (
	ErrClosed      = errors.New("tcp client: closed")
	ErrEvicted     = errors.New("tcp client: session evicted by the cluster")
	ErrInvalidBody = errors.New("tcp client: invalid request body")
)

// EvictedError says why the cluster ended the session; it wraps
// ErrEvicted. An evicted client is finished: Dial a new one.
type EvictedError struct{ Reason vsr.EvictionReason }

func (e *EvictedError) Error() string {
	switch e.Reason {
	case vsr.EvictionNoSession:
		return "tcp client: evicted (no_session): the cluster has forgotten this session, most likely because more than clients_max other clients registered since; dial again"
	case vsr.EvictionSessionTooLow:
		return "tcp client: evicted (session_too_low): the cluster holds a newer session for this client id"
	}
	return fmt.Sprintf("tcp client: evicted (%s)", e.Reason)
}

func (e *EvictedError) Unwrap() error { return ErrEvicted }

// Options configure a client; the zero value is the production default.
type Options struct {
	// MessageSizeMax is the cluster's (DefaultMessageSizeMax if zero).
	MessageSizeMax uint64
	// RequestTicks is the first retransmission timeout in ticks
	// (DefaultRequestTicks if zero).
	RequestTicks uint64
	// Timeout bounds each Submit whose context has no deadline; zero waits
	// as long as the context does.
	Timeout time.Duration
	// ID is the client's id; zero picks a random one (the normal case: an
	// id must never be reused by another session).
	ID u128.U128
	// Logf, if set, gets one line per connection change.
	Logf func(format string, args ...any)
}

// Client is a session with one cluster. Its methods are safe for
// concurrent use.
type Client struct {
	cluster  u128.U128
	opts     Options
	batchMax int
	conns    []*conn

	submits chan *call
	inbox   chan []byte
	quit    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup

	// Set by the driver once the session ends for good.
	mu   sync.Mutex
	dead error
}

// call is one Submit: one batch of the request it goes out in.
type call struct {
	op        vsr.Operation
	body      []byte
	events    int // elements of body
	results   int // the most its result batch may hold
	done      chan result
	abandoned atomic.Bool
}

type result struct {
	body []byte
	err  error
}

// Dial starts a session with the cluster at addresses (replica order, as
// the replicas' --addresses). It returns at once: connections and the
// registration proceed in the background, and the first Submit waits for
// them.
func Dial(cluster u128.U128, addresses []string, opts Options) (*Client, error) {
	if len(addresses) < 1 || len(addresses) > vsr.ReplicasMax {
		return nil, fmt.Errorf("tcp client: %d addresses, want 1 to %d", len(addresses), vsr.ReplicasMax)
	}
	if opts.MessageSizeMax == 0 {
		opts.MessageSizeMax = DefaultMessageSizeMax
	}
	if opts.MessageSizeMax <= vsr.HeaderSize {
		return nil, fmt.Errorf("tcp client: message size max %d leaves no body", opts.MessageSizeMax)
	}
	if opts.RequestTicks == 0 {
		opts.RequestTicks = DefaultRequestTicks
	}
	if opts.ID.IsZero() {
		opts.ID = randomU128()
	}
	c := &Client{
		cluster: cluster, opts: opts,
		batchMax: ledger.BatchMaxFor(int(opts.MessageSizeMax), vsr.HeaderSize),
		submits:  make(chan *call, submitQueueMax),
		inbox:    make(chan []byte, inboxMax),
		quit:     make(chan struct{}),
	}
	for i, a := range addresses {
		c.conns = append(c.conns, &conn{c: c, replica: uint8(i), address: a, queue: make(chan []byte, sendQueueMax)})
	}
	d := newDriver(c, uint8(len(addresses)))
	c.spawn(d.run)
	for _, cn := range c.conns {
		c.spawn(cn.run)
	}
	return c, nil
}

// ID is the client's id.
func (c *Client) ID() u128.U128 { return c.opts.ID }

// Submit sends one batch of events (ids for lookups; one filter for
// scans) and returns its results back to back. Calls from several
// goroutines share requests, each its own batch. The body is not retained
// after Submit returns. An error from ctx means the request may still
// execute.
func (c *Client) Submit(ctx context.Context, op vsr.Operation, body []byte) ([]byte, error) {
	events, err := c.check(op, body)
	if err != nil {
		return nil, err
	}
	if err := c.deadErr(); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok && c.opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.Timeout)
		defer cancel()
	}
	k := &call{op: op, body: append([]byte(nil), body...), events: events,
		results: ledger.BatchResultMax(uint8(op), body, c.batchMax), done: make(chan result, 1)}
	select {
	case c.submits <- k:
	case <-ctx.Done():
		return nil, fmt.Errorf("tcp client: %s not sent: %w", opName(op), ctx.Err())
	case <-c.quit:
		return nil, c.closedErr()
	}
	select {
	case r := <-k.done:
		return r.body, r.err
	case <-ctx.Done():
		k.abandoned.Store(true)
		return nil, fmt.Errorf("tcp client: %s: no reply yet (it may still execute): %w", opName(op), ctx.Err())
	case <-c.quit:
		// The driver fails what it holds before it exits; a call that
		// reached the queue after that is failed here.
		c.wg.Wait()
		select {
		case r := <-k.done:
			return r.body, r.err
		default:
			return nil, c.closedErr()
		}
	}
}

// Close ends the session's connections and fails calls still waiting with
// ErrClosed. It returns once every goroutine has stopped.
func (c *Client) Close() error {
	c.once.Do(func() { close(c.quit) })
	c.wg.Wait()
	return nil
}

func (c *Client) spawn(fn func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
}

func (c *Client) deadErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dead
}

func (c *Client) closedErr() error {
	if err := c.deadErr(); err != nil {
		return err
	}
	return ErrClosed
}

// check refuses, before anything is sent, a batch the cluster would answer
// by evicting the session: the session is shared by every caller, so one
// bad body must not end it for all. It returns the batch's element count.
func (c *Client) check(op vsr.Operation, body []byte) (int, error) {
	size := ledger.EventSizeOf(uint8(op))
	if size == 0 {
		return 0, fmt.Errorf("%w: operation %d is not a ledger operation a client may send", ErrInvalidBody, uint8(op))
	}
	if len(body)%size != 0 {
		return 0, fmt.Errorf("%w: %s body of %d bytes is not a whole number of %d-byte events", ErrInvalidBody, opName(op), len(body), size)
	}
	n := len(body) / size
	switch uint8(op) {
	case ledger.OpGetAccountTransfers, ledger.OpGetAccountBalances, ledger.OpQueryAccounts, ledger.OpQueryTransfers:
		if n != 1 {
			return 0, fmt.Errorf("%w: %s takes one %d-byte filter, got %d bytes", ErrInvalidBody, opName(op), size, len(body))
		}
	}
	if !ledger.RequestFits(uint8(op), n, ledger.BatchResultMax(uint8(op), body, c.batchMax), 1, c.batchMax) {
		return 0, fmt.Errorf("%w: %s of %d events exceeds the batch max %d", ErrInvalidBody, opName(op), n, c.batchMax)
	}
	return n, nil
}

func opName(op vsr.Operation) string { return ledger.OperationName(uint8(op)) }

func (c *Client) logf(format string, args ...any) {
	if c.opts.Logf != nil {
		c.opts.Logf(format, args...)
	}
}

func randomU128() u128.U128 {
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := u128.U128{Lo: binary.LittleEndian.Uint64(b[:]), Hi: binary.LittleEndian.Uint64(b[8:])}
	if id.IsZero() {
		id.Lo = 1
	}
	return id
}

func randomSeed() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// sleep waits d or until quit; false if quit.
func sleep(quit <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-quit:
		return false
	}
}

// dial connects to address, giving up when quit closes.
func dial(quit <-chan struct{}, address string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-quit:
			cancel()
		case <-stop:
		}
	}()
	var d net.Dialer
	return d.DialContext(ctx, "tcp", address)
}
