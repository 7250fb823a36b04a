package tcp

import (
	"fmt"
	"time"

	"viewstamp/replica/client"
	"viewstamp/replica/ledger"
	"viewstamp/replica/multibatch"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// driver is the one goroutine that owns the session's state machine.
type driver struct {
	c        *Client
	sm       *client.Client
	ping     []byte
	pending  []*call // waiting for the session, oldest first
	inflight []*call // in the request now in flight
	dead     error
	lastPing time.Time
}

func newDriver(c *Client, replicaCount uint8) *driver {
	d := &driver{c: c}
	d.sm = client.New(client.Options{
		ID: c.opts.ID, Cluster: c.cluster, ReplicaCount: replicaCount, Network: network{c},
		Seed: randomSeed(), RequestTicks: c.opts.RequestTicks, SizeMax: c.opts.MessageSizeMax,
		OnReply: d.onReply, OnEvicted: d.onEvicted,
	})
	ping := vsr.Message{Header: vsr.Header{Command: vsr.CommandPingClient, Cluster: c.cluster, Client: c.opts.ID}}
	d.ping = ping.Encode()
	for _, cn := range c.conns {
		cn.ping = d.ping
	}
	return d
}

// network hands the state machine's sends to the connections.
type network struct{ c *Client }

func (n network) SendToReplica(replica uint8, msg []byte) {
	if int(replica) < len(n.c.conns) {
		n.c.conns[replica].enqueue(msg)
	}
}

func (network) SendToClient(u128.U128, []byte) {}

func (d *driver) run() {
	ticker := time.NewTicker(Tick)
	defer ticker.Stop()
	if err := d.sm.Register(); err != nil {
		d.die(err)
	}
	d.lastPing = time.Now()
	for {
		select {
		case <-d.c.quit:
			d.fail(d.c.closedErr())
			return
		case k := <-d.c.submits:
			d.enqueue(k)
		case f := <-d.c.inbox:
			d.sm.OnMessage(f)
		case now := <-ticker.C:
			d.sm.Tick()
			if now.Sub(d.lastPing) >= pingInterval {
				d.lastPing = now
				for _, cn := range d.c.conns {
					cn.enqueue(d.ping)
				}
			}
		}
		d.next()
	}
}

func (d *driver) enqueue(k *call) {
	if d.dead != nil {
		k.done <- result{err: d.dead}
		return
	}
	d.pending = append(d.pending, k)
}

// next starts the next request once the session is free: the oldest
// waiting call, with the calls after it that can share its request.
func (d *driver) next() {
	if d.dead != nil || !d.sm.Registered() || d.sm.Busy() {
		return
	}
	// A call abandoned before it was sent is never sent.
	for len(d.pending) > 0 && d.pending[0].abandoned.Load() {
		d.pending[0] = nil
		d.pending = d.pending[1:]
	}
	if len(d.pending) == 0 {
		return
	}
	first := d.pending[0]
	batch := []*call{first}
	events := first.events
	if batchable(first) {
		for _, k := range d.pending[1:] {
			if k.op != first.op || !batchable(k) || events+k.events > d.c.batchMax || !d.fits(first.op, events+k.events, len(batch)+1) {
				break
			}
			if k.abandoned.Load() {
				continue
			}
			batch = append(batch, k)
			events += k.events
		}
	}
	d.pending = d.pending[countTaken(d.pending, batch):]
	// TigerBeetle 0.17's multi-batch body: each call is its own batch, and
	// the reply answers batch by batch.
	enc := multibatch.NewEncoder(make([]byte, 0, events*eventSize(first.op)), ledger.EventSizeOf(uint8(first.op)))
	for _, k := range batch {
		enc.Add(k.body)
	}
	body := enc.Finish()
	if err := d.sm.Submit(first.op, body); err != nil {
		for _, k := range batch {
			k.done <- result{err: fmt.Errorf("tcp client: %w", err)}
		}
		return
	}
	d.inflight = batch
}

// fits reports whether a request of events in batches, and its reply of
// as many results (lookups answer at most one object per id), fit in a
// message: each batch's count costs trailer room.
func (d *driver) fits(op vsr.Operation, events, batches int) bool {
	bodyMax := int(d.c.opts.MessageSizeMax) - vsr.HeaderSize
	return multibatch.Size(ledger.EventSizeOf(uint8(op)), events, batches) <= bodyMax &&
		multibatch.Size(ledger.ResultSizeOf(uint8(op)), events, batches) <= bodyMax
}

// countTaken is how many pending calls, from the head, the batch took or
// skipped as abandoned: the batch is a prefix of pending minus abandoned
// calls, ending at its last member.
func countTaken(pending, batch []*call) int {
	last := batch[len(batch)-1]
	for i, k := range pending {
		if k == last {
			return i + 1
		}
	}
	panic("tcp client: batch not in the pending queue")
}

// batchable reports whether a call may share a request with others. The
// ledger judges a batch as a whole in two ways a merge would change: a
// linked chain open at a call's last event would run into the next call's
// events, and imported events must agree with the batch's first. Such
// calls go alone.
func batchable(k *call) bool {
	switch uint8(k.op) {
	case ledger.OpLookupAccounts, ledger.OpLookupTransfers:
		return true
	case ledger.OpCreateAccounts, ledger.OpCreateTransfers:
		// The flags sit at byte 118 in accounts and transfers alike, and
		// linked is bit 0 in both.
		const flagsOffset = 118
		linked, imported := ledger.TransferLinked, importedFlag(k.op)
		n := len(k.body) / ledger.TransferSize
		if n == 0 {
			return false
		}
		last := k.body[(n-1)*ledger.TransferSize:]
		if flags(last[flagsOffset:])&linked != 0 {
			return false
		}
		for i := range n {
			if flags(k.body[i*ledger.TransferSize+flagsOffset:])&imported != 0 {
				return false
			}
		}
		return true
	}
	return false
}

func importedFlag(op vsr.Operation) uint16 {
	if uint8(op) == ledger.OpCreateAccounts {
		return ledger.AccountImported
	}
	return ledger.TransferImported
}

func flags(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }

func eventSize(op vsr.Operation) int {
	switch uint8(op) {
	case ledger.OpCreateAccounts, ledger.OpCreateTransfers:
		return ledger.TransferSize
	}
	return ledger.IDSize
}

func (d *driver) onReply(r client.Reply) {
	batch := d.inflight
	d.inflight = nil
	if len(batch) == 0 {
		return // the register's reply
	}
	parts, err := splitBatches(batch, r.Body)
	if err == nil {
		switch uint8(batch[0].op) {
		case ledger.OpCreateAccounts, ledger.OpCreateTransfers:
			err = checkResults(batch, parts)
		case ledger.OpLookupAccounts, ledger.OpLookupTransfers:
			err = checkLookups(batch, parts)
		}
	}
	for i, k := range batch {
		if err != nil {
			k.done <- result{err: err}
			continue
		}
		k.done <- result{body: parts[i]}
	}
}

// splitBatches gives each call its batch of the reply: a multi-batch body
// with exactly one batch per call, in order.
func splitBatches(batch []*call, body []byte) ([][]byte, error) {
	op := batch[0].op
	b, err := multibatch.Decode(body, ledger.ResultSizeOf(uint8(op)))
	if err != nil {
		return nil, fmt.Errorf("tcp client: %s reply: %w", opName(op), err)
	}
	if b.Count() != len(batch) {
		return nil, fmt.Errorf("tcp client: %s reply of %d batches for %d", opName(op), b.Count(), len(batch))
	}
	parts := make([][]byte, len(batch))
	_ = b.Batches(func(i int, p []byte) error {
		parts[i] = p
		return nil
	})
	return parts, nil
}

// checkResults requires one result per event.
func checkResults(batch []*call, parts [][]byte) error {
	for i, k := range batch {
		if len(parts[i]) != k.events*ledger.ResultSize {
			return fmt.Errorf("tcp client: %s reply batch of %d bytes for %d events", opName(k.op), len(parts[i]), k.events)
		}
	}
	return nil
}

// checkLookups requires each batch to hold only objects its call named, in
// its order: the reply omits the missing ids.
func checkLookups(batch []*call, parts [][]byte) error {
	const objectSize = ledger.AccountSize // accounts and transfers alike, id first
	for i, k := range batch {
		p, at := parts[i], 0
		for e := 0; e < k.events && at < len(p); e++ {
			if u128.Get(k.body[e*ledger.IDSize:]) == u128.Get(p[at:]) {
				at += objectSize
			}
		}
		if at != len(p) {
			return fmt.Errorf("tcp client: %s reply holds objects no request named", opName(k.op))
		}
	}
	return nil
}

func (d *driver) onEvicted(reason vsr.EvictionReason) {
	err := &EvictedError{Reason: reason}
	d.c.logf("tcp client %s: %v", d.c.opts.ID, err)
	d.die(err)
}

// die ends the session for good: every call waiting, and every later one,
// fails with err.
func (d *driver) die(err error) {
	d.dead = err
	d.c.mu.Lock()
	d.c.dead = err
	d.c.mu.Unlock()
	d.fail(err)
}

func (d *driver) fail(err error) {
	for _, k := range d.inflight {
		k.done <- result{err: err}
	}
	for _, k := range d.pending {
		k.done <- result{err: err}
	}
	d.inflight, d.pending = nil, nil
	// Calls still in the submit queue when the client closes.
	for {
		select {
		case k := <-d.c.submits:
			k.done <- result{err: err}
		default:
			return
		}
	}
}
