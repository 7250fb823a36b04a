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
	ping := vsr.Message{Header: vsr.Header{Command: vsr.CommandPingClient, Cluster: c.cluster, Client: c.opts.ID, Release: d.sm.Release()}}
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
// waiting call, with the calls of its operation after it, each call its own
// batch of a multi-batch body, while the request and its worst-case reply
// fit a message - TigerBeetle's clients pack so. Each batch executes alone
// (a linked chain or an imported flag of one call never reaches another's)
// and is answered by its own result batch.
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
	op := uint8(first.op)
	batch := []*call{first}
	events, results := first.events, first.results
	for _, k := range d.pending[1:] {
		if k.op != first.op || !ledger.RequestFits(op, events+k.events, results+k.results, len(batch)+1, d.c.batchMax) {
			break
		}
		if k.abandoned.Load() {
			continue
		}
		batch = append(batch, k)
		events += k.events
		results += k.results
	}
	d.pending = d.pending[countTaken(d.pending, batch):]
	size := ledger.EventSizeOf(op)
	enc := multibatch.NewEncoder(make([]byte, 0, multibatch.Size(size, events, len(batch))), size)
	for _, k := range batch {
		enc.Add(k.body)
	}
	if err := d.sm.Submit(first.op, enc.Finish()); err != nil {
		for _, k := range batch {
			k.done <- result{err: fmt.Errorf("tcp client: %w", err)}
		}
		return
	}
	d.inflight = batch
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

func (d *driver) onReply(r client.Reply) {
	batch := d.inflight
	d.inflight = nil
	if len(batch) == 0 {
		return // the register's reply
	}
	parts, err := splitReply(batch, r.Body)
	for i, k := range batch {
		if err != nil {
			k.done <- result{err: err}
			continue
		}
		k.done <- result{body: parts[i]}
	}
}

// splitReply gives each call of the request its result batch, refusing a
// reply a TigerBeetle client would abort on: malformed, with a batch count
// other than the request's, or a batch holding more results than its call
// may have.
func splitReply(batch []*call, body []byte) ([][]byte, error) {
	op := uint8(batch[0].op)
	rep, err := multibatch.Decode(body, ledger.ResultSizeOf(op))
	if err != nil {
		return nil, fmt.Errorf("tcp client: %s reply: %w", opName(batch[0].op), err)
	}
	if rep.Count() != len(batch) {
		return nil, fmt.Errorf("tcp client: %s reply of %d batches to a request of %d", opName(batch[0].op), rep.Count(), len(batch))
	}
	parts := make([][]byte, len(batch))
	err = rep.Batches(func(i int, results []byte) error {
		if n := rep.Len(i); n > batch[i].results {
			return fmt.Errorf("tcp client: %s reply batch %d holds %d results, more than the %d its call may have", opName(batch[0].op), i, n, batch[i].results)
		}
		parts[i] = results
		return nil
	})
	if err != nil {
		return nil, err
	}
	return parts, nil
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
