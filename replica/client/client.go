// Package client is the client side of the VSR session protocol: register,
// one request in flight, request numbers that increase by one, each request
// naming the previous reply as its parent, and retries that broadcast to every
// replica once the guessed primary stays silent. Like the replica it is a
// deterministic state machine with no IO of its own, so the simulator and a
// production binding drive the same code.
package client

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"

	rio "viewstamp/replica/io"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// Reply is what a completed request returns.
type Reply struct {
	Request   uint32
	Op        uint64
	Timestamp uint64
	Operation vsr.Operation
	Body      []byte
}

// Options configure a client.
type Options struct {
	ID           u128.U128
	Cluster      u128.U128
	ReplicaCount uint8
	Network      rio.Network
	Seed         uint64
	RequestTicks uint64 // before the first retry; retries back off
	SizeMax      uint64 // message size max of the cluster
	// Release is the client's release, sent in every request (and echoed
	// in every reply); zero means vsr.ReleaseProduction.
	Release   uint32
	OnReply   func(Reply)
	OnEvicted func(vsr.EvictionReason)
}

// Drops counts messages a client refused, by reason, as the replica's
// vsr.Drops does, so that a run can show corrupted traffic was seen and
// rejected.
type Drops struct {
	Decode uint64 // bad size, checksum, command or cluster
	Stale  uint64 // not for this client, or for no request in flight
	// Invalid: a reply breaking a rule TigerBeetle's client asserts or
	// validates (release, operation, op = commit, register result).
	Invalid uint64
}

// Client is one session.
type Client struct {
	// Drops is read by the harness; the client only counts.
	Drops Drops

	o       Options
	rng     *rand.Rand
	view    uint32
	session uint64
	request uint32
	parent  u128.U128
	// batchSizeLimit is the largest request body the cluster accepts, from
	// the register's reply.
	batchSizeLimit uint32

	inflight   []byte
	inflightCS u128.U128
	inflightOp vsr.Operation
	ticks      uint64
	deadline   uint64
	attempts   uint32
	evicted    bool
}

var (
	ErrBusy        = errors.New("client: a request is already in flight")
	ErrEvicted     = errors.New("client: session evicted")
	ErrTooMuchData = errors.New("client: request body over the cluster's batch_size_limit")
)

// New creates a client; its first Submit must follow registration, which
// Register starts.
func New(o Options) *Client {
	if o.RequestTicks == 0 {
		o.RequestTicks = 100
	}
	if o.Release == 0 {
		o.Release = vsr.ReleaseProduction
	}
	return &Client{o: o, rng: rand.New(rand.NewPCG(o.Seed, o.ID.Lo))}
}

func (c *Client) ID() u128.U128       { return c.o.ID }
func (c *Client) Busy() bool          { return c.inflight != nil }
func (c *Client) Registered() bool    { return c.session != 0 }
func (c *Client) Evicted() bool       { return c.evicted }
func (c *Client) NextRequest() uint32 { return c.request + 1 }
func (c *Client) Release() uint32     { return c.o.Release }

// SetRelease changes the release the client's next requests carry: a
// misbehaving client, as the simulator plays one, to see it evicted.
func (c *Client) SetRelease(release uint32) { c.o.Release = release }

// BatchSizeLimit is the largest request body the cluster accepts, known
// once registered (0 before).
func (c *Client) BatchSizeLimit() uint32 { return c.batchSizeLimit }

// Register opens the session (request 0). Its body is TigerBeetle's
// RegisterRequest with batch_size_limit 0: the primary fills it in.
func (c *Client) Register() error {
	return c.send(vsr.OperationRegister, make([]byte, vsr.RegisterRequestSize))
}

// Submit sends the next request.
func (c *Client) Submit(op vsr.Operation, body []byte) error {
	if c.session == 0 {
		return errors.New("client: not registered")
	}
	if len(body) > int(c.batchSizeLimit) {
		return ErrTooMuchData
	}
	return c.send(op, body)
}

func (c *Client) send(op vsr.Operation, body []byte) error {
	if c.evicted {
		return ErrEvicted
	}
	if c.inflight != nil {
		return ErrBusy
	}
	req := uint32(0)
	if op != vsr.OperationRegister {
		req = c.request + 1
	}
	m := &vsr.Message{Header: vsr.Header{
		Command: vsr.CommandRequest, Cluster: c.o.Cluster, View: c.view, Release: c.o.Release, Client: c.o.ID,
		Session: c.session, Request: req, Operation: op, Parent: c.parent,
	}, Body: body}
	c.inflight = m.Encode()
	c.inflightCS = m.Header.Checksum
	c.inflightOp = op
	c.attempts = 0
	c.o.Network.SendToReplica(uint8(c.view%uint32(c.o.ReplicaCount)), c.inflight)
	c.arm()
	return nil
}

func (c *Client) arm() {
	d := c.o.RequestTicks << min(c.attempts, 4)
	c.deadline = c.ticks + d + c.rng.Uint64N(d/4+1)
}

// Tick advances the retry timer.
func (c *Client) Tick() {
	c.ticks++
	if c.inflight == nil || c.ticks < c.deadline {
		return
	}
	c.attempts++
	for i := uint8(0); i < c.o.ReplicaCount; i++ {
		c.o.Network.SendToReplica(i, c.inflight)
	}
	c.arm()
}

// OnMessage handles a reply, an eviction or a pong.
func (c *Client) OnMessage(b []byte) {
	m, err := vsr.Decode(b, c.o.Cluster, c.o.SizeMax)
	if err != nil {
		c.Drops.Decode++
		return
	}
	h := &m.Header
	known := c.view
	if h.View > c.view {
		c.view = h.View
	}
	switch h.Command {
	case vsr.CommandEviction:
		// A primary of a view older than one we have heard from may be cut
		// off from the cluster and judge our session by a stale table (our
		// register may have committed in a later view): only a primary of
		// our view or a newer one speaks for the cluster.
		if h.Client != c.o.ID || c.evicted || h.View < known {
			c.Drops.Stale++
			return
		}
		c.evicted = true
		c.inflight = nil
		if c.o.OnEvicted != nil {
			c.o.OnEvicted(h.Reason)
		}
	case vsr.CommandReply:
		if c.inflight == nil || h.Client != c.o.ID || h.Ref != c.inflightCS {
			c.Drops.Stale++
			return
		}
		if !c.replyValid(m) {
			c.Drops.Invalid++
			return
		}
		if c.inflightOp == vsr.OperationRegister {
			c.session = h.Op
			c.batchSizeLimit = binary.LittleEndian.Uint32(m.Body)
		} else {
			c.request = h.Request
		}
		c.parent = h.Context
		c.inflight = nil
		if c.o.OnReply != nil {
			c.o.OnReply(Reply{Request: h.Request, Op: h.Op, Timestamp: h.Timestamp, Operation: h.Operation, Body: m.Body})
		}
	}
}

// replyValid checks a reply to the request in flight as TigerBeetle's client
// does, which aborts or ignores a reply failing them.
func (c *Client) replyValid(m *vsr.Message) bool {
	h := &m.Header
	if h.Release != c.o.Release || h.Operation != c.inflightOp || h.Op != h.Commit || h.Commit == 0 || h.Timestamp == 0 {
		return false
	}
	if h.Operation != vsr.OperationRegister {
		return h.Request != 0
	}
	if h.Request != 0 || len(m.Body) != vsr.RegisterResultSize {
		return false
	}
	limit := binary.LittleEndian.Uint32(m.Body)
	return limit > 0 && uint64(limit) <= c.o.SizeMax-vsr.HeaderSize
}
