package vsr

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"viewstamp/replica/checksum"
	rio "viewstamp/replica/io"
	"viewstamp/replica/storage/snapshot"
	"viewstamp/replica/tbwire"
	"viewstamp/replica/u128"
)

// The scenario world: replicas, their disks and clients, wired to a network
// the script drives. Everything a replica does shows up in the output as it
// happens: messages it sends, status changes, commits, its log lines.

// scenarioTickNs is the length of one tick on the replicas' clocks.
const scenarioTickNs = 10_000_000

// scenarioStepsMax bounds stabilize: a protocol that never goes quiet
// without ticks is a bug worth a failure, not a hang.
const scenarioStepsMax = 10_000

type node struct {
	client bool
	i      int
}

func (n node) String() string {
	if n.client {
		return fmt.Sprintf("c%d", n.i+1)
	}
	return fmt.Sprint(n.i)
}

type inflight struct {
	from, to node
	b        []byte
	m        *Message // as sent, before any corruption
	corrupt  string   // the part corrupted in flight, if any
}

type scenario struct {
	t   *testing.T
	pos string
	cfg Config

	replicas []*Replica
	disks    []*memStorage
	up       []bool
	boots    []uint64 // starts of each replica so far
	ticks    []uint64
	group    []int // partition group of each replica; all zero when healed

	clients []*scenClient
	net     []*inflight

	// labels names prepares by op@view, keyed by checksum, for messages
	// that refer to a prepare by checksum only.
	labels map[u128.U128]string

	out    bytes.Buffer
	indent int
}

func (s *scenario) emitf(format string, a ...any) {
	s.out.WriteString(strings.Repeat("  ", s.indent))
	fmt.Fprintf(&s.out, format, a...)
	s.out.WriteByte('\n')
}

func (s *scenario) flush() string {
	o := s.out.String()
	s.out.Reset()
	return o
}

// nested runs f with its output indented under the line just emitted.
func (s *scenario) nested(f func()) {
	s.indent++
	defer func() { s.indent-- }()
	f()
}

// ---- Replicas ----

type scenTime struct {
	s *scenario
	i int
}

func (t scenTime) Monotonic() uint64 { return t.s.ticks[t.i] * scenarioTickNs }
func (t scenTime) Realtime() int64   { return int64(t.s.ticks[t.i] * scenarioTickNs) }

type scenNet struct {
	s    *scenario
	from int
}

func (n scenNet) SendToReplica(to uint8, b []byte) {
	n.s.send(node{i: n.from}, node{i: int(to)}, b)
}

func (n scenNet) SendToClient(id u128.U128, b []byte) {
	if id.Hi != 0 || id.Lo == 0 || id.Lo > uint64(len(n.s.clients)) {
		return
	}
	n.s.send(node{i: n.from}, node{client: true, i: int(id.Lo) - 1}, b)
}

type scenObserver struct{ s *scenario }

func (o scenObserver) Committed(replica uint8, h *Header, body, _ []byte, _ u128.U128) {
	o.s.emitf("r%d: commit op=%d %s", replica, h.Op, o.s.describeOp(h, body))
}

func (o scenObserver) StatusChanged(replica uint8, status Status, view uint32) {
	o.s.emitf("r%d: %v view=%d", replica, status, view)
}

func (o scenObserver) Opened(replica uint8, op uint64, _ u128.U128, synced bool) {
	switch {
	case synced:
		o.s.emitf("r%d: synced to checkpoint op=%d", replica, op)
	case op > 0:
		o.s.emitf("r%d: opened checkpoint op=%d", replica, op)
	}
}

func (o scenObserver) Checkpointed(replica uint8, op uint64, _ u128.U128) {
	o.s.emitf("r%d: checkpoint op=%d durable", replica, op)
}

func (scenObserver) OwnJoinView(uint8, []byte) {}

func (o scenObserver) HeaderDropped(replica uint8, op uint64, sum u128.U128, _ uint32) {
	o.s.emitf("r%d: header of op %d leaves the log: %s", replica, op, o.s.relabel(sum.String()))
}

func (o scenObserver) Logf(replica uint8, format string, args ...any) {
	o.s.emitf("r%d: %s", replica, o.s.relabel(fmt.Sprintf(format, args...)))
}

// relabel replaces the 32-digit hex of known checksums and client ids in a
// log line by their scenario names.
func (s *scenario) relabel(line string) string {
	words := strings.Fields(line)
	for i, w := range words {
		core := strings.Trim(w, ",:()")
		if len(core) != 32 {
			continue
		}
		var v u128.U128
		if _, err := fmt.Sscanf(core, "%016x%016x", &v.Hi, &v.Lo); err != nil {
			continue
		}
		if name := s.nameOf(v); name != "" {
			words[i] = strings.Replace(w, core, name, 1)
		}
	}
	return strings.Join(words, " ")
}

func (s *scenario) nameOf(v u128.U128) string {
	if l, ok := s.labels[v]; ok {
		return l
	}
	if v.Hi == 0 && v.Lo >= 1 && v.Lo <= uint64(len(s.clients)) {
		return fmt.Sprintf("c%d", v.Lo)
	}
	return ""
}

func (s *scenario) startReplica(i int) {
	// Each boot draws its own seed, as a real process does, so that its
	// nonce is its own; the first boot's is the replica's index + 1.
	seed := uint64(i) + 1 + s.boots[i]<<32
	s.boots[i]++
	r, err := New(Options{
		Config: s.cfg, Cluster: testCluster, Replica: uint8(i), Time: scenTime{s, i},
		Network: scenNet{s, i}, Storage: s.disks[i], SM: &scenSM{}, Seed: seed,
		Observer: scenObserver{s},
		// Scenarios script the protocol, not the clocks: each replica's
		// wall clock counts its own ticks, taken as agreed.
		AgreedTime: true,
	})
	if err != nil {
		s.fatalf("replica %d: %v", i, err)
	}
	s.replicas[i] = r
	s.up[i] = true
	r.Open()
	// Recovery reads are not interesting one by one: complete them (and the
	// superblock repairs they may start) until the replica has opened.
	for r.Status() == StatusRecovering && len(s.disks[i].pending) > 0 {
		s.completeOne(i, -1)
	}
	if r.Status() == StatusRecovering {
		s.fatalf("replica %d did not finish recovery", i)
	}
}

// ---- Network ----

func (s *scenario) send(from, to node, b []byte) {
	m, err := Decode(b, testCluster, s.cfg.MessageSizeMax)
	if err != nil {
		s.fatalf("%v sent an undecodable message: %v", from, err)
	}
	if why := tbwire.Invalid(b); !from.client && why != "" && !WireDeviation(b, why) {
		s.fatalf("%v sent %v, which TigerBeetle refuses: %s", from, m.Header.Command, why)
	}
	switch m.Header.Command {
	case CommandPing, CommandPong, CommandPingClient, CommandPongClient:
		// Clock and liveness probing only; no rule here depends on them.
		return
	case CommandPrepare:
		s.label(&m.Header)
	}
	p := &inflight{from: from, to: to, b: b, m: m}
	if !from.client && !to.client && s.group[from.i] != s.group[to.i] {
		s.emitf("%s (lost: partition)", s.describe(p))
		return
	}
	s.emitf("%s", s.describe(p))
	s.net = append(s.net, p)
}

func (s *scenario) label(h *Header) {
	if h.Command == CommandPrepare {
		s.labels[h.Checksum] = fmt.Sprintf("%d@v%d", h.Op, h.View)
	}
}

// deliver hands p to its receiver, printing what it does in response.
func (s *scenario) deliver(p *inflight) {
	if !p.to.client && !s.up[p.to.i] {
		s.emitf("%s (lost: replica %d is down)", s.describe(p), p.to.i)
		return
	}
	s.emitf("%s", s.describe(p))
	s.nested(func() {
		if p.to.client {
			m, err := Decode(p.b, testCluster, s.cfg.MessageSizeMax)
			if err != nil {
				s.emitf("%v: refused as malformed", p.to)
				return
			}
			s.clients[p.to.i].onMessage(m)
			return
		}
		r := s.replicas[p.to.i]
		before := r.Drops
		r.OnMessage(p.b)
		// A refusal leaves no other trace; say so.
		if r.Drops.Stale > before.Stale {
			s.emitf("r%d: refused as stale", p.to.i)
		}
		if r.Drops.Decode > before.Decode {
			s.emitf("r%d: refused as malformed", p.to.i)
		}
	})
}

// ---- Disks ----

// completeOne completes the first pending IO of replica i (in zone, or any
// if zone is negative), printing it unless it is a read.
func (s *scenario) completeOne(i int, zone int) bool {
	d := s.disks[i]
	for k, o := range d.pending {
		if zone >= 0 && int(o.zone) != zone {
			continue
		}
		d.pending = append(d.pending[:k:k], d.pending[k+1:]...)
		if o.write {
			copy(d.zones[o.zone][o.off:], o.buf)
			s.emitf("r%d: wrote %s", i, s.describeIO(o))
		} else {
			copy(o.buf, d.zones[o.zone][o.off:])
		}
		s.nested(o.done)
		return true
	}
	return false
}

func (s *scenario) describeIO(o memIO) string {
	switch o.zone {
	case rio.ZoneSuperblock:
		st, ok := decodeSuperblock(o.buf, s.cfg, testCluster)
		if !ok {
			return "superblock (undecodable)"
		}
		return fmt.Sprintf("superblock copy %d: view=%d log_view=%d commit_max=%d", o.off/s.cfg.Layout().SuperblockCopySize, st.View, st.LogView, st.CommitMax)
	case rio.ZoneWALPrepares:
		var h Header
		if DecodeHeader(o.buf, &h) != nil {
			return fmt.Sprintf("wal_prepares slot %d (undecodable)", o.off/s.cfg.MessageSizeMax)
		}
		return fmt.Sprintf("wal_prepares %d@v%d", h.Op, h.View)
	case rio.ZoneWALHeaders:
		return fmt.Sprintf("wal_headers sector %d", o.off/s.cfg.SectorSize)
	}
	return o.zone.String()
}

// ---- State machine ----

// scenOperation is the scenario state machine's one operation.
const scenOperation = OperationStateMachineMin

// scenSM keeps a hash chain over committed bodies and replies with the body:
// commits print as the text the client sent.
type scenSM struct {
	snapshot.Hash // the state, with its checkpoints
	InMemory
}

func (m *scenSM) Check(op Operation, _ []byte) EvictionReason {
	if op != scenOperation {
		return EvictionInvalidRequestOperation
	}
	return 0
}
func (m *scenSM) EventCount(Operation, []byte) uint64 { return 0 }
func (m *scenSM) Pulse(uint64) (Operation, bool)      { return 0, false }
func (m *scenSM) Commit(client u128.U128, op, timestamp uint64, _ Operation, body []byte) []byte {
	var b [HeaderSize]byte
	m.State.Put(b[0:])
	client.Put(b[16:])
	b[32] = byte(op)
	m.State = checksum.Sum(append(b[:33], body...))
	return append([]byte(nil), body...)
}
func (m *scenSM) Checksum() u128.U128 { return m.State }

// ---- Clients ----

// scenClient is the client side of a session, reduced to what scenarios
// steer by hand: one request at a time, each naming the last reply as its
// parent, re-sent only when the script says so.
type scenClient struct {
	s        *scenario
	index    int
	view     uint32
	session  uint64
	request  uint32 // last request answered
	parent   u128.U128
	inflight []byte
	pending  *Header
	evicted  bool
}

func (c *scenClient) id() u128.U128 { return u128.U128{Lo: uint64(c.index) + 1} }

// submit sends a new request: register, or the next request number (or
// number, if positive: a client misbehaving).
func (c *scenClient) submit(op Operation, body []byte, to int, number uint32) {
	req := uint32(0)
	if op != OperationRegister {
		req = c.request + 1
	}
	if number > 0 {
		req = number
	}
	if op == OperationRegister && body == nil {
		body = make([]byte, RegisterRequestSize)
	}
	m := &Message{Header: Header{
		Command: CommandRequest, Cluster: testCluster, View: c.view, Client: c.id(), Release: ReleaseProduction,
		Session: c.session, Request: req, Operation: op, Parent: c.parent,
	}, Body: body}
	c.inflight = m.Encode()
	c.pending = &m.Header
	c.sendTo(to)
}

// sendTo sends the request in flight to replica to, or to every replica if
// to is negative.
func (c *scenClient) sendTo(to int) {
	from := node{client: true, i: c.index}
	if to >= 0 {
		c.s.send(from, node{i: to}, c.inflight)
		return
	}
	for i := range c.s.replicas {
		c.s.send(from, node{i: i}, c.inflight)
	}
}

func (c *scenClient) onMessage(m *Message) {
	h := &m.Header
	name := fmt.Sprintf("c%d", c.index+1)
	switch h.Command {
	case CommandEviction:
		if h.View < c.view {
			c.s.emitf("%s: ignores an eviction from older view %d", name, h.View)
			return
		}
		c.evicted, c.inflight, c.pending = true, nil, nil
		c.s.emitf("%s: evicted (%v)", name, h.Reason)
	case CommandReply:
		c.view = max(c.view, h.View)
		if c.pending == nil || h.Ref != c.pending.Checksum {
			c.s.emitf("%s: ignores a reply to no request in flight", name)
			return
		}
		if c.pending.Operation == OperationRegister {
			c.session = h.Op
			c.s.emitf("%s: registered, session=%d", name, c.session)
		} else {
			c.request = h.Request
			c.s.emitf("%s: request %d done at op %d: %q", name, h.Request, h.Op, m.Body)
		}
		c.parent = h.Context
		c.inflight, c.pending = nil, nil
	}
}

// ---- Descriptions ----

func (s *scenario) describeOp(h *Header, body []byte) string {
	switch h.Operation {
	case OperationRoot:
		return "root"
	case OperationRegister:
		return fmt.Sprintf("register %s", s.nameOf(h.Client))
	case scenOperation:
		if body == nil {
			// Only the header is at hand.
			return fmt.Sprintf("%s req=%d", s.nameOf(h.Client), h.Request)
		}
		return fmt.Sprintf("%s req=%d %q", s.nameOf(h.Client), h.Request, body)
	}
	return fmt.Sprintf("operation %d", h.Operation)
}

func (s *scenario) describe(p *inflight) string {
	if p.corrupt != "" {
		return s.describeSent(p) + " (" + p.corrupt + " corrupted)"
	}
	return s.describeSent(p)
}

func (s *scenario) describeSent(p *inflight) string {
	h := &p.m.Header
	head := fmt.Sprintf("%v->%v %v", p.from, p.to, h.Command)
	switch h.Command {
	case CommandRequest:
		if h.Operation == OperationRegister {
			return fmt.Sprintf("%s %s register", head, s.nameOf(h.Client))
		}
		return fmt.Sprintf("%s %s req=%d %q", head, s.nameOf(h.Client), h.Request, p.m.Body)
	case CommandPrepare:
		return fmt.Sprintf("%s v%d op=%d commit=%d (%s)", head, h.View, h.Op, h.Commit, s.describeOp(h, p.m.Body))
	case CommandPrepareOK:
		return fmt.Sprintf("%s v%d op=%d", head, h.View, h.Op)
	case CommandReply:
		return fmt.Sprintf("%s v%d op=%d req=%d", head, h.View, h.Op, h.Request)
	case CommandCommit:
		return fmt.Sprintf("%s v%d commit=%d", head, h.View, h.Commit)
	case CommandExitView:
		return fmt.Sprintf("%s v%d", head, h.View)
	case CommandJoinView:
		return fmt.Sprintf("%s v%d log_view=%d op=%d commit_min=%d checkpoint=%d: %s", head, h.View, h.LogView, h.Op, h.CommitMin,
			h.CheckpointOp, s.describeJoin(p.m))
	case CommandView:
		// The body opens with the primary's checkpoint state.
		return fmt.Sprintf("%s v%d op=%d commit=%d checkpoint=%d: %s", head, h.View, h.Op, h.Commit, h.CheckpointOp,
			s.describeHeaders(p.m.Body[viewCheckpointSize:]))
	case CommandGetView:
		return fmt.Sprintf("%s v%d", head, h.View)
	case CommandGetHeaders:
		return fmt.Sprintf("%s v%d ops=%d..%d", head, h.View, h.CommitMin, h.Op)
	case CommandHeaders:
		return fmt.Sprintf("%s v%d: %s", head, h.View, s.describeHeaders(p.m.Body))
	case CommandGetPrepare:
		l := s.labels[h.Ref]
		if l == "" {
			l = "unknown checksum"
		}
		return fmt.Sprintf("%s v%d op=%d (%s)", head, h.View, h.Op, l)
	case CommandEviction:
		return fmt.Sprintf("%s v%d %s %v", head, h.View, s.nameOf(h.Client), h.Reason)
	}
	return head
}

func (s *scenario) describeHeaders(body []byte) string {
	var parts []string
	for i := 0; i+HeaderSize <= len(body); i += HeaderSize {
		var h Header
		if DecodeHeader(body[i:], &h) != nil {
			parts = append(parts, "?")
			continue
		}
		s.label(&h)
		parts = append(parts, fmt.Sprintf("%d@v%d", h.Op, h.View))
	}
	return strings.Join(parts, " ")
}

// describeJoin lists a join_view's suffix, op descending: each op's header
// (or "-" if unknown) and its bits, present (its prepare is durable at the
// sender) and nack (the sender promises it never acknowledged it).
func (s *scenario) describeJoin(m *Message) string {
	h := &m.Header
	var parts []string
	for i := 0; (i+1)*HeaderSize <= len(m.Body); i++ {
		b := m.Body[i*HeaderSize:]
		item := fmt.Sprintf("%d:-", h.Op-uint64(i))
		var hh Header
		if b[114] != byte(CommandReserved) && DecodeHeader(b, &hh) == nil {
			s.label(&hh)
			item = fmt.Sprintf("%d@v%d", hh.Op, hh.View)
		}
		if h.Present&(1<<i) != 0 {
			item += "+present"
		}
		if h.Nack&(1<<i) != 0 {
			item += "+nack"
		}
		parts = append(parts, item)
	}
	return strings.Join(parts, " ")
}
