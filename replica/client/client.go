// Package client is the client side of the VSR session protocol: register,
// one request in flight, request numbers that increase by one, each request
// naming the previous reply as its parent, and retries that broadcast to every
// replica once the guessed primary stays silent. Like the replica it is a
// deterministic state machine with no IO of its own, so the simulator and a
// production binding drive the same code.
package client

import (
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
	OnReply      func(Reply)
	OnEvicted    func(vsr.EvictionReason)
}

// Drops counts messages a client refused, by reason, as the replica's
// vsr.Drops does, so that a run can show corrupted traffic was seen and
// rejected.
type Drops struct {
	Decode uint64 // bad size, checksum, command or cluster
	Stale  uint64 // not for this client, or for no request in flight
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

	inflight   []byte
	inflightCS u128.U128
	inflightOp vsr.Operation
	ticks      uint64
	deadline   uint64
	attempts   uint32
	evicted    bool
}

var (
	ErrBusy    = errors.New("client: a request is already in flight")
	ErrEvicted = errors.New("client: session evicted")
)

// New creates a client; its first Submit must follow registration, which
// Register starts.
func New(o Options) *Client {
	if o.RequestTicks == 0 {
		o.RequestTicks = 100
	}
	return &Client{o: o, rng: rand.New(rand.NewPCG(o.Seed, o.ID.Lo))}
}

func (c *Client) ID() u128.U128       { return c.o.ID }
func (c *Client) Busy() bool          { return c.inflight != nil }
func (c *Client) Registered() bool    { return c.session != 0 }
func (c *Client) Evicted() bool       { return c.evicted }
func (c *Client) NextRequest() uint32 { return c.request + 1 }

// Register opens the session (request 0).
func (c *Client) Register() error {
	return c.send(vsr.OperationRegister, nil)
}

// Submit sends the next request.
func (c *Client) Submit(op vsr.Operation, body []byte) error {
	if c.session == 0 {
		return errors.New("client: not registered")
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
		Command: vsr.CommandRequest, Cluster: c.o.Cluster, View: c.view, Client: c.o.ID,
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
		if c.inflightOp == vsr.OperationRegister {
			c.session = h.Op
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
