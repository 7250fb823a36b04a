package vsr

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"viewstamp/replica/checksum"
	"viewstamp/replica/storage"
	"viewstamp/replica/tbwire"
	"viewstamp/replica/u128"
)

// These tests drive a replica in a unit harness and hold every message it
// sends a client to the rules TigerBeetle's 0.17.9 client applies (the wire
// facts, section 7): a rule it asserts aborts the client process, a header
// it refuses makes it retry forever. The rules are checked on the raw bytes
// at TigerBeetle's offsets, not through this package's layouts, so a layout
// that drifts from TigerBeetle's fails here.

// The client's limits.
const (
	tbMessageSizeMax = 1 << 20
	tbBodySizeMax    = tbMessageSizeMax - HeaderSize
	tbReplicasMax    = 6
	tbCommandMax     = 24
)

// tbEmptyBodyChecksum is the checksum of no bytes, as on the wire.
const tbEmptyBodyChecksum = "83cc600dc4e3e7e62d4055826174f149"

var le = binary.LittleEndian

// tbFrame checks what the client checks of any message before its command:
// the checksums, the size, the command, the cluster, and the frame's
// reserved bytes, protocol and epoch.
func tbFrame(b []byte, cluster u128.U128) []string {
	var bad []string
	if len(b) < HeaderSize {
		return []string{"shorter than a header"}
	}
	if checksum.Sum(b[16:HeaderSize]) != u128.Get(b[0:]) {
		bad = append(bad, "header checksum")
	}
	size := le.Uint32(b[96:])
	if size < HeaderSize || size > tbMessageSizeMax || int(size) != len(b) {
		bad = append(bad, fmt.Sprintf("size %d", size))
	} else if checksum.Sum(b[HeaderSize:size]) != u128.Get(b[32:]) {
		bad = append(bad, "body checksum")
	}
	if b[114] == 0 || b[114] > tbCommandMax {
		bad = append(bad, fmt.Sprintf("command %d kills the client", b[114]))
	}
	if u128.Get(b[80:]) != cluster {
		bad = append(bad, "cluster")
	}
	bad = append(bad, tbZero(b, "checksum_padding", 16, 32)...)
	bad = append(bad, tbZero(b, "checksum_body_padding", 48, 64)...)
	bad = append(bad, tbZero(b, "nonce_reserved", 64, 80)...)
	bad = append(bad, tbZero(b, "epoch", 100, 104)...)
	bad = append(bad, tbZero(b, "protocol", 112, 114)...)
	bad = append(bad, tbZero(b, "reserved_frame", 116, 128)...)
	return bad
}

func tbZero(b []byte, name string, from, to int) []string {
	for i := from; i < to; i++ {
		if b[i] != 0 {
			return []string{fmt.Sprintf("%s (byte %d) is %#x", name, i, b[i])}
		}
	}
	return nil
}

// tbReply checks a reply against the request in flight, req.
func tbReply(b []byte, req *Header) []string {
	bad := tbFrame(b, req.Cluster)
	if len(bad) > 0 {
		return bad
	}
	if b[114] != byte(CommandReply) {
		return []string{fmt.Sprintf("command %d, not a reply", b[114])}
	}
	if r := le.Uint32(b[108:]); r != req.Release {
		bad = append(bad, fmt.Sprintf("release %s, the request's %s (abort)", ReleaseString(r), ReleaseString(req.Release)))
	}
	if u128.Get(b[128:]) != req.Checksum {
		bad = append(bad, "request_checksum is not the request's (abort)")
	}
	if Operation(b[236]) != req.Operation {
		bad = append(bad, fmt.Sprintf("operation %d, the request's %d (abort)", b[236], req.Operation))
	}
	if u128.Get(b[192:]) != req.Client {
		bad = append(bad, "client is not the request's (ignored)")
	}
	op, commit, ts := le.Uint64(b[208:]), le.Uint64(b[216:]), le.Uint64(b[224:])
	if op != commit || commit == 0 {
		bad = append(bad, fmt.Sprintf("op %d commit %d: op must equal a nonzero commit (ignored)", op, commit))
	}
	if ts == 0 {
		bad = append(bad, "timestamp 0 (ignored)")
	}
	if r := le.Uint32(b[232:]); r != req.Request {
		bad = append(bad, fmt.Sprintf("request %d answers %d (abort if greater)", r, req.Request))
	}
	if req.Operation == OperationRegister {
		if len(b) != HeaderSize+RegisterResultSize {
			bad = append(bad, fmt.Sprintf("register reply of %d bytes, not 320 (ignored)", len(b)))
		} else if limit := le.Uint32(b[HeaderSize:]); limit == 0 || limit > tbBodySizeMax {
			bad = append(bad, fmt.Sprintf("batch_size_limit %d outside (0, %d] (abort)", limit, tbBodySizeMax))
		} else {
			bad = append(bad, tbZero(b, "RegisterResult.reserved", HeaderSize+4, HeaderSize+RegisterResultSize)...)
		}
	} else if le.Uint32(b[232:]) == 0 {
		bad = append(bad, "request 0 on a non-register reply (ignored)")
	}
	bad = append(bad, tbZero(b, "request_checksum_padding", 144, 160)...)
	bad = append(bad, tbZero(b, "context_padding", 176, 192)...)
	bad = append(bad, tbZero(b, "reply reserved", 237, 256)...)
	return bad
}

// tbPong checks a pong_client answering a ping stamped ts.
func tbPong(b []byte, cluster u128.U128, ts uint64) []string {
	bad := tbFrame(b, cluster)
	if len(bad) > 0 {
		return bad
	}
	if b[114] != byte(CommandPongClient) {
		return []string{fmt.Sprintf("command %d, not a pong_client", b[114])}
	}
	if b[115] >= tbReplicasMax {
		bad = append(bad, fmt.Sprintf("replica %d indexes past the client's %d (abort)", b[115], tbReplicasMax))
	}
	if le.Uint32(b[108:]) == 0 {
		bad = append(bad, "release 0")
	}
	if len(b) != HeaderSize || hex.EncodeToString(b[32:48]) != tbEmptyBodyChecksum {
		bad = append(bad, "a pong has no body")
	}
	if got := le.Uint64(b[128:]); got != ts {
		bad = append(bad, fmt.Sprintf("ping_timestamp_monotonic %d, the ping's %d", got, ts))
	}
	return append(bad, tbZero(b, "pong reserved", 136, 256)...)
}

// tbEviction checks an eviction of client for reason.
func tbEviction(b []byte, cluster, client u128.U128, reason EvictionReason) []string {
	bad := tbFrame(b, cluster)
	if len(bad) > 0 {
		return bad
	}
	if b[114] != byte(CommandEviction) {
		return []string{fmt.Sprintf("command %d, not an eviction", b[114])}
	}
	if u128.Get(b[128:]) != client {
		bad = append(bad, "client is not the evicted one (ignored)")
	}
	if EvictionReason(b[255]) != reason {
		bad = append(bad, fmt.Sprintf("reason byte 255 is %d, want %d (%v)", b[255], reason, reason))
	}
	if le.Uint32(b[108:]) == 0 {
		bad = append(bad, "release 0")
	}
	if len(b) != HeaderSize || hex.EncodeToString(b[32:48]) != tbEmptyBodyChecksum {
		bad = append(bad, "an eviction has no body")
	}
	return append(bad, tbZero(b, "eviction reserved", 144, 255)...)
}

// clientNet keeps what a replica sends clients.
type clientNet struct{ sent [][]byte }

func (n *clientNet) SendToReplica(uint8, []byte) {}
func (n *clientNet) SendToClient(_ u128.U128, b []byte) {
	n.sent = append(n.sent, b)
}

// wireHarness is a solo replica and the clients' side of its network.
type wireHarness struct {
	t   *testing.T
	r   *Replica
	st  *memStorage
	net *clientNet
}

func newWireHarness(t *testing.T, adjust func(*Config)) *wireHarness {
	t.Helper()
	cfg := SimConfig(1)
	if adjust != nil {
		adjust(&cfg)
	}
	st := newMemStorage(cfg)
	Format(cfg, testCluster, 0, st, func() {})
	st.flush()
	h := &wireHarness{t: t, st: st, net: &clientNet{}}
	r, err := New(Options{Config: cfg, Cluster: testCluster, Replica: 0, Time: memTime{}, AgreedTime: true,
		Network: h.net, Storage: st, SM: nopSM{}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	r.Open()
	st.flush()
	r.Tick()
	if r.Status() != StatusNormal || !r.Primary() {
		t.Fatalf("solo replica not a normal primary: %s", r.Debug())
	}
	h.r = r
	return h
}

// send delivers b, completes the IO it starts, and returns what the replica
// sent clients meanwhile.
func (h *wireHarness) send(b []byte) [][]byte {
	h.net.sent = nil
	h.r.OnMessage(b)
	h.st.flush()
	return h.net.sent
}

// one is send, expecting exactly one message back.
func (h *wireHarness) one(b []byte) []byte {
	h.t.Helper()
	out := h.send(b)
	if len(out) != 1 {
		h.t.Fatalf("the replica sent %d messages, want 1 (%s)", len(out), h.r.Debug())
	}
	return out[0]
}

func expectNone(t *testing.T, rule string, bad []string) {
	t.Helper()
	if len(bad) > 0 {
		t.Fatalf("%s breaks the 0.17.9 client's rules:\n  %s", rule, strings.Join(bad, "\n  "))
	}
}

// tbClient is a client as the 0.17.9 one behaves: its release, one request
// at a time, the session from the register's commit, each request's parent
// the previous reply's context.
type tbClient struct {
	id      u128.U128
	release uint32
	session uint64
	request uint32
	parent  u128.U128
}

func (c *tbClient) register() *Message {
	m := &Message{Header: Header{Command: CommandRequest, Cluster: testCluster, Release: c.release,
		Client: c.id, Operation: OperationRegister}, Body: make([]byte, RegisterRequestSize)}
	m.Encode()
	return m
}

func (c *tbClient) next(op Operation, body []byte) *Message {
	m := &Message{Header: Header{Command: CommandRequest, Cluster: testCluster, Release: c.release,
		Client: c.id, Parent: c.parent, Session: c.session, Request: c.request + 1, Operation: op}, Body: body}
	m.Encode()
	return m
}

// accept takes the reply b to req, as the client does after its checks.
func (c *tbClient) accept(req *Message, b []byte) {
	if req.Header.Operation == OperationRegister {
		c.session = le.Uint64(b[216:])
	} else {
		c.request = req.Header.Request
	}
	c.parent = u128.Get(b[160:])
}

const opCreate = Operation(146)

func TestWireRegisterAndRequestReplies(t *testing.T) {
	h := newWireHarness(t, nil)
	c := &tbClient{id: u128.U128{Lo: 0xc1, Hi: 0x1}, release: ReleaseProduction}
	reg := c.register()
	rep := h.one(reg.Bytes())
	expectNone(t, "the register reply", tbReply(rep, &reg.Header))
	if got, want := le.Uint32(rep[HeaderSize:]), h.r.cfg.BatchSizeLimit(); got != want {
		t.Fatalf("batch_size_limit %d, want request_size_limit - 256 = %d", got, want)
	}
	if s := le.Uint64(rep[216:]); s != h.r.CommitMax() {
		t.Fatalf("session %d is not the register's op %d", s, h.r.CommitMax())
	}
	// The client retransmits the same bytes: the stored reply comes back,
	// still echoing the release and the checksum.
	again := h.one(reg.Bytes())
	expectNone(t, "the resent register reply", tbReply(again, &reg.Header))
	if !bytes.Equal(again, rep) {
		t.Fatal("the resent register reply differs from the first")
	}
	c.accept(reg, rep)
	for i := 0; i < 3; i++ {
		req := c.next(opCreate, nil)
		rep := h.one(req.Bytes())
		expectNone(t, fmt.Sprintf("reply %d", req.Header.Request), tbReply(rep, &req.Header))
		if u128.Get(rep[160:]).IsZero() {
			t.Fatal("a reply without a context")
		}
		c.accept(req, rep)
	}
}

// A reply echoes the release of its request, not the replica's: a 0.17.8
// client of a 0.17.9 replica gets 0.17.8 back, from the prepare, and again
// from the session when the reply is resent.
func TestWireReplyEchoesRequestRelease(t *testing.T) {
	h := newWireHarness(t, nil)
	c := &tbClient{id: u128.U128{Lo: 0xc2}, release: 0<<16 | 17<<8 | 8}
	reg := c.register()
	rep := h.one(reg.Bytes())
	expectNone(t, "the register reply to 0.17.8", tbReply(rep, &reg.Header))
	c.accept(reg, rep)
	req := c.next(opCreate, nil)
	expectNone(t, "a reply to 0.17.8", tbReply(h.one(req.Bytes()), &req.Header))
	expectNone(t, "a resent reply to 0.17.8", tbReply(h.one(req.Bytes()), &req.Header))
}

// The reply context is TigerBeetle's: the checksum of the reply's header
// with context zero (in its canonical form, replica and view zero), and the
// next request chains to it.
func TestWireReplyContext(t *testing.T) {
	h := newWireHarness(t, nil)
	c := &tbClient{id: u128.U128{Lo: 0xc3}, release: ReleaseProduction}
	reg := c.register()
	rep := h.one(reg.Bytes())
	hdr := bytes.Clone(rep[:HeaderSize])
	clear(hdr[160:176])
	hdr[115] = 0
	clear(hdr[104:108])
	if got, want := u128.Get(rep[160:]), checksum.Sum(hdr[16:]); got != want {
		t.Fatalf("context %v, want the checksum of the header with context 0: %v", got, want)
	}
	c.accept(reg, rep)
	// A request naming another parent is not the session's next.
	bad := c.next(opCreate, nil)
	bad.Header.Parent = u128.U128{Lo: 1}
	bad.Encode()
	if out := h.send(bad.Bytes()); len(out) != 0 {
		t.Fatalf("a request off the hash chain was answered (%d messages)", len(out))
	}
	req := c.next(opCreate, nil)
	expectNone(t, "the chained request's reply", tbReply(h.one(req.Bytes()), &req.Header))
}

// The register of the real 0.17.9 client, captured on the wire (facts §3),
// decodes, passes validation and is answered by the rules.
func TestWireCapturedRegister(t *testing.T) {
	captured := "3e06b9151a49af41c326ca8126df77fc00000000000000000000000000000000" +
		"651b82f3ddd4fcbf2deb8496e8ff613c00000000000000000000000000000000" +
		"0000000000000000000000000000000000000000000000000000000000000000" +
		"0002000000000000000000000911000000000500000000000000000000000000" +
		"0000000000000000000000000000000000000000000000000000000000000000" +
		"c343eab4466f1b434fbe3e95c7b4249c00000000000000000000000000000000" +
		"0000000002000000000000000000000000000000000000000000000000000000" +
		"0000000000000000000000000000000000000000000000000000000000000000"
	hdr, err := hex.DecodeString(captured)
	if err != nil {
		t.Fatal(err)
	}
	wire := append(hdr, make([]byte, RegisterRequestSize)...)
	m, err := Decode(wire, u128.Zero, tbMessageSizeMax)
	if err != nil {
		t.Fatalf("the captured register does not decode: %v", err)
	}
	if why := m.Header.requestInvalid(); why != "" {
		t.Fatalf("the captured register is invalid: %s", why)
	}
	if m.Header.Release != ReleaseProduction || m.Header.Operation != OperationRegister || m.Header.Size != 512 {
		t.Fatalf("decoded %+v", m.Header)
	}
	// Answered by a replica of cluster 0.
	cfg := SimConfig(1)
	st := newMemStorage(cfg)
	Format(cfg, u128.Zero, 0, st, func() {})
	st.flush()
	net := &clientNet{}
	r, err := New(Options{Config: cfg, Cluster: u128.Zero, Time: memTime{}, AgreedTime: true, Network: net, Storage: st, SM: nopSM{}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	r.Open()
	st.flush()
	r.Tick()
	r.OnMessage(wire)
	st.flush()
	if len(net.sent) != 1 {
		t.Fatalf("%d answers to the captured register", len(net.sent))
	}
	expectNone(t, "the reply to the captured register", tbReply(net.sent[0], &m.Header))
}

// A client of a release the replica does not serve is evicted with the
// reason at byte 255, on a request and on a ping.
func TestWireReleaseEvictions(t *testing.T) {
	for _, tc := range []struct {
		release uint32
		reason  EvictionReason
	}{
		{0<<16 | 16<<8 | 3, EvictionReleaseTooLow},
		{0<<16 | 15<<8 | 3, EvictionReleaseTooLow},
		{0<<16 | 17<<8 | 10, EvictionReleaseTooHigh},
		{65535 << 16, EvictionReleaseTooHigh},
	} {
		h := newWireHarness(t, nil)
		c := &tbClient{id: u128.U128{Lo: 0xe1}, release: tc.release}
		expectNone(t, fmt.Sprintf("the eviction of a %s register", ReleaseString(tc.release)),
			tbEviction(h.one(c.register().Bytes()), testCluster, c.id, tc.reason))
		ping := &Message{Header: Header{Command: CommandPingClient, Cluster: testCluster, Release: tc.release, Client: c.id, Timestamp: 5}}
		expectNone(t, fmt.Sprintf("the eviction of a %s ping", ReleaseString(tc.release)),
			tbEviction(h.one(ping.Encode()), testCluster, c.id, tc.reason))
	}
	// The edges are served.
	for _, release := range []uint32{ReleaseClientMinProduction, ReleaseProduction} {
		h := newWireHarness(t, nil)
		c := &tbClient{id: u128.U128{Lo: 0xe2}, release: release}
		reg := c.register()
		expectNone(t, "a register at the edge "+ReleaseString(release), tbReply(h.one(reg.Bytes()), &reg.Header))
	}
}

// TigerBeetle's other evictions, each judged by its byte: a register
// without a body (a client older than 0.16), a register with a
// batch_size_limit of its own, a request of another release than its
// session's, a request too large, an operation the state machine lacks, a
// request from no session, a session older than the table's.
func TestWireEvictionReasons(t *testing.T) {
	release8 := uint32(0<<16 | 17<<8 | 8)
	t.Run("register without body", func(t *testing.T) {
		h := newWireHarness(t, nil)
		c := &tbClient{id: u128.U128{Lo: 0xe3}, release: ReleaseProduction}
		m := c.register()
		m.Body = nil
		expectNone(t, "the eviction", tbEviction(h.one(m.Encode()), testCluster, c.id, EvictionInvalidRequestBodySize))
	})
	t.Run("register with a limit", func(t *testing.T) {
		h := newWireHarness(t, nil)
		c := &tbClient{id: u128.U128{Lo: 0xe4}, release: ReleaseProduction}
		m := c.register()
		m.Body = make([]byte, RegisterRequestSize)
		m.Body[0] = 1
		expectNone(t, "the eviction", tbEviction(h.one(m.Encode()), testCluster, c.id, EvictionInvalidRequestBody))
	})
	t.Run("session release mismatch", func(t *testing.T) {
		h := newWireHarness(t, nil)
		c := &tbClient{id: u128.U128{Lo: 0xe5}, release: release8}
		reg := c.register()
		c.accept(reg, h.one(reg.Bytes()))
		c.release = ReleaseProduction
		expectNone(t, "the eviction", tbEviction(h.one(c.next(opCreate, nil).Bytes()), testCluster, c.id, EvictionSessionReleaseMismatch))
	})
	t.Run("request over the limit", func(t *testing.T) {
		h := newWireHarness(t, func(c *Config) { c.RequestSizeLimit = 1024 })
		c := &tbClient{id: u128.U128{Lo: 0xe6}, release: ReleaseProduction}
		reg := c.register()
		rep := h.one(reg.Bytes())
		if got := le.Uint32(rep[HeaderSize:]); got != 1024-HeaderSize {
			t.Fatalf("batch_size_limit %d under a request size limit of 1024", got)
		}
		c.accept(reg, rep)
		expectNone(t, "the eviction", tbEviction(h.one(c.next(opCreate, make([]byte, 1024-HeaderSize+1)).Bytes()), testCluster, c.id, EvictionInvalidRequestBodySize))
	})
	t.Run("no session", func(t *testing.T) {
		h := newWireHarness(t, nil)
		c := &tbClient{id: u128.U128{Lo: 0xe7}, release: ReleaseProduction, session: 1}
		expectNone(t, "the eviction", tbEviction(h.one(c.next(opCreate, nil).Bytes()), testCluster, c.id, EvictionNoSession))
	})
	t.Run("noop operation", func(t *testing.T) {
		h := newWireHarness(t, nil)
		c := &tbClient{id: u128.U128{Lo: 0xe8}, release: ReleaseProduction}
		reg := c.register()
		c.accept(reg, h.one(reg.Bytes()))
		expectNone(t, "the eviction", tbEviction(h.one(c.next(OperationNoop, nil).Bytes()), testCluster, c.id, EvictionInvalidRequestOperation))
	})
}

// The oldest session goes when a register finds the table full; its client
// learns it on its next request, and on a ping naming its session. The
// session numbers are the registers' ops.
func TestWireOldestSessionEvicted(t *testing.T) {
	h := newWireHarness(t, nil)
	max := int(h.r.cfg.ClientsMax)
	clients := make([]*tbClient, max+1)
	for i := range clients {
		c := &tbClient{id: u128.U128{Lo: uint64(0x100 + i)}, release: ReleaseProduction}
		reg := c.register()
		rep := h.one(reg.Bytes())
		expectNone(t, "a register reply", tbReply(rep, &reg.Header))
		c.accept(reg, rep)
		if c.session != h.r.CommitMax() {
			t.Fatalf("client %d: session %d, its register committed at op %d", i, c.session, h.r.CommitMax())
		}
		clients[i] = c
	}
	first := clients[0]
	ping := &Message{Header: Header{Command: CommandPingClient, Cluster: testCluster, Release: ReleaseProduction,
		Client: first.id, Timestamp: 9, Session: first.session}}
	expectNone(t, "the eviction on a ping", tbEviction(h.one(ping.Encode()), testCluster, first.id, EvictionNoSession))
	expectNone(t, "the eviction on a request", tbEviction(h.one(first.next(opCreate, nil).Bytes()), testCluster, first.id, EvictionNoSession))
	// Everyone else is served on.
	for _, c := range clients[1:] {
		req := c.next(opCreate, nil)
		expectNone(t, "a reply after the table filled", tbReply(h.one(req.Bytes()), &req.Header))
	}
	if ProductionConfig(1).ClientsMax != 64 {
		t.Fatalf("production clients_max %d, TigerBeetle's is 64", ProductionConfig(1).ClientsMax)
	}
}

// A ping_client is answered with a pong whatever the client's session: the
// replica's index (below 6), its release, the ping's timestamp.
func TestWirePong(t *testing.T) {
	h := newWireHarness(t, nil)
	id := u128.U128{Lo: 0xb1}
	ping := &Message{Header: Header{Command: CommandPingClient, Cluster: testCluster, Release: ReleaseProduction, Client: id, Timestamp: 123456789}}
	expectNone(t, "the pong", tbPong(h.one(ping.Encode()), testCluster, 123456789))
	// A ping without a release is no TigerBeetle client's: dropped, counted.
	bad := &Message{Header: Header{Command: CommandPingClient, Cluster: testCluster, Client: id, Timestamp: 1}}
	before := h.r.Drops.Invalid
	if out := h.send(bad.Encode()); len(out) != 0 || h.r.Drops.Invalid != before+1 {
		t.Fatalf("a ping with release 0: %d answers, %d invalid drops", len(out), h.r.Drops.Invalid-before)
	}
}

// A request whose header TigerBeetle's Request.invalid_header refuses is
// dropped and counted, never answered; so is one with a nonzero reserved
// byte under a valid checksum.
func TestWireInvalidRequestsDropped(t *testing.T) {
	h := newWireHarness(t, nil)
	c := &tbClient{id: u128.U128{Lo: 0xd1}, release: ReleaseProduction}
	reg := c.register()
	c.accept(reg, h.one(reg.Bytes()))
	cases := map[string]func(m *Message){
		"release 0":          func(m *Message) { m.Header.Release = 0 },
		"timestamp":          func(m *Message) { m.Header.Timestamp = 1 },
		"client 0":           func(m *Message) { m.Header.Client = u128.Zero },
		"session 0":          func(m *Message) { m.Header.Session = 0 },
		"request 0":          func(m *Message) { m.Header.Request = 0 },
		"operation reserved": func(m *Message) { m.Header.Operation = 5 },
		"register with parent": func(m *Message) {
			m.Header.Operation, m.Header.Session, m.Header.Request = OperationRegister, 0, 0
			m.Body = make([]byte, RegisterRequestSize)
		},
	}
	for name, mutate := range cases {
		m := c.next(opCreate, nil)
		mutate(m)
		m.Encode()
		before := h.r.Drops.Invalid
		if out := h.send(m.Bytes()); len(out) != 0 || h.r.Drops.Invalid != before+1 {
			t.Fatalf("%s: %d answers, %d invalid drops", name, len(out), h.r.Drops.Invalid-before)
		}
	}
	for _, at := range []int{20, 50, 70, 101, 113, 120, 150, 197, 210, 255} {
		m := c.next(opCreate, nil)
		b := bytes.Clone(m.Bytes())
		b[at] = 1
		checksum.Sum(b[16:HeaderSize]).Put(b[0:])
		before := h.r.Drops.Decode
		if out := h.send(b); len(out) != 0 || h.r.Drops.Decode != before+1 {
			t.Fatalf("reserved byte %d set: %d answers, %d decode drops", at, len(out), h.r.Drops.Decode-before)
		}
	}
	// previous_request_latency (bytes 200..204) is the client's to fill.
	m := c.next(opCreate, nil)
	b := bytes.Clone(m.Bytes())
	le.PutUint32(b[200:], 1234)
	checksum.Sum(b[16:HeaderSize]).Put(b[0:])
	req, err := Decode(b, testCluster, tbMessageSizeMax)
	if err != nil {
		t.Fatalf("a request with previous_request_latency: %v", err)
	}
	expectNone(t, "the reply to a request with a latency", tbReply(h.one(b), &req.Header))
}

func TestDevelopmentBatchSizeLimit(t *testing.T) {
	cfg := ProductionConfig(1)
	if got := cfg.BatchSizeLimit(); got != tbBodySizeMax {
		t.Fatalf("production batch_size_limit %d, want %d", got, tbBodySizeMax)
	}
	cfg.RequestSizeLimit = RequestSizeLimitDevelopment
	if got := cfg.BatchSizeLimit(); got != 32512 {
		t.Fatalf("--development batch_size_limit %d, want 32,512", got)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

// The register reply's batch_size_limit at the bounds the client accepts:
// a 1 MiB request size limit gives the most it takes, 1,048,320, and
// TigerBeetle's --development limit 32,512.
func TestWireRegisterLimitAtProductionSizes(t *testing.T) {
	for _, limit := range []uint64{1 << 20, RequestSizeLimitDevelopment} {
		h := newWireHarness(t, func(c *Config) { c.MessageSizeMax, c.RequestSizeLimit = 1<<20, limit })
		c := &tbClient{id: u128.U128{Lo: 0xf1}, release: ReleaseProduction}
		reg := c.register()
		rep := h.one(reg.Bytes())
		expectNone(t, fmt.Sprintf("the register reply under a %d-byte limit", limit), tbReply(rep, &reg.Header))
		if got := le.Uint32(rep[HeaderSize:]); uint64(got) != limit-HeaderSize {
			t.Fatalf("batch_size_limit %d, want %d", got, limit-HeaderSize)
		}
	}
}

// The replica replays only stored replies: a client's retransmission of an
// older request than its session's last gets nothing (TigerBeetle's client
// aborts on a reply to a request newer than the one in flight, and ignores
// older ones).
func TestWireOlderRequestNotAnswered(t *testing.T) {
	h := newWireHarness(t, nil)
	c := &tbClient{id: u128.U128{Lo: 0xf2}, release: ReleaseProduction}
	reg := c.register()
	c.accept(reg, h.one(reg.Bytes()))
	first := c.next(opCreate, nil)
	c.accept(first, h.one(first.Bytes()))
	second := c.next(opCreate, nil)
	c.accept(second, h.one(second.Bytes()))
	if out := h.send(first.Bytes()); len(out) != 0 {
		t.Fatalf("request 1, older than the session's 2, was answered %d times", len(out))
	}
	if out := h.send(reg.Bytes()); len(out) != 0 {
		t.Fatalf("the register, older than the session's request 2, was answered %d times", len(out))
	}
}

// tbFieldOf names, per command, the TigerBeetle field (package tbwire's
// Layouts, written from TigerBeetle's message_header.zig: tbwire.Source)
// each field of ours is.
var tbFieldOf = map[Command]map[field]string{
	CommandPing: {fCheckpointID: "checkpoint_id", fCheckpointOp: "checkpoint_op",
		fTimestamp: "ping_timestamp_monotonic", fReleaseCount: "release_count"},
	CommandPong:       {fTimestamp: "ping_timestamp_monotonic", fTimestamp2: "pong_timestamp_wall"},
	CommandPingClient: {fClient: "client", fTimestamp: "ping_timestamp_monotonic", fSession: "session"},
	CommandPongClient: {fTimestamp: "ping_timestamp_monotonic"},
	CommandRequest: {fParent: "parent", fClient: "client", fSession: "session", fTimestamp: "timestamp",
		fRequest: "request", fOperation: "operation"},
	CommandPrepare: {fParent: "parent", fRef: "request_checksum", fCheckpointID: "checkpoint_id", fClient: "client",
		fOp: "op", fCommit: "commit", fTimestamp: "timestamp", fRequest: "request", fOperation: "operation"},
	CommandPrepareOK: {fParent: "parent", fRef: "prepare_checksum", fCheckpointID: "checkpoint_id", fClient: "client",
		fOp: "op", fCommit: "commit_min", fTimestamp: "timestamp", fRequest: "request", fOperation: "operation"},
	CommandReply: {fRef: "request_checksum", fContext: "context", fClient: "client", fOp: "op", fCommit: "commit",
		fTimestamp: "timestamp", fRequest: "request", fOperation: "operation"},
	CommandCommit: {fRef: "commit_checksum", fCheckpointID: "checkpoint_id", fCheckpointOp: "checkpoint_op",
		fCommit: "commit", fTimestamp: "timestamp_monotonic"},
	CommandExitView: {},
	CommandJoinView: {fPresent: "present_bitset", fNack: "nack_bitset", fOp: "op", fCommitMin: "commit_min",
		fCheckpointOp: "checkpoint_op", fLogView: "log_view"},
	CommandView:       {fContext: "nonce", fOp: "op", fCommit: "commit_max", fCheckpointOp: "checkpoint_op"},
	CommandGetView:    {fContext: "nonce"},
	CommandGetHeaders: {fCommitMin: "op_min", fOp: "op_max"},
	CommandGetPrepare: {fRef: "prepare_checksum", fOp: "prepare_op"},
	CommandGetReply:   {fRef: "reply_checksum", fClient: "reply_client", fOp: "reply_op"},
	CommandHeaders:    {},
	CommandEviction:   {fClient: "client", fReason: "reason"},
	CommandGetBlocks:  {},
}

// tbLeftZero are TigerBeetle fields, not padding or reserved, that no field
// of ours fills.
var tbLeftZero = map[Command][]string{
	// Informational: the client's measure of its last request, which
	// TigerBeetle's replica only logs.
	CommandRequest: {"previous_request_latency"},
}

// bitsets are our fields narrower than TigerBeetle's: a u64 bitset in the
// low half of its u128 (the pipeline is far shorter than 64 ops).
var bitsets = map[field]bool{fPresent: true, fNack: true}

// Every command's number, and every field's offset and width, is
// TigerBeetle's; every TigerBeetle field is one of ours or listed as left
// zero.
func TestWireLayoutsAreTigerBeetles(t *testing.T) {
	numbers := map[Command]int{
		CommandPing: tbwire.Ping, CommandPong: tbwire.Pong, CommandPingClient: tbwire.PingClient,
		CommandPongClient: tbwire.PongClient, CommandRequest: tbwire.Request, CommandPrepare: tbwire.Prepare,
		CommandPrepareOK: tbwire.PrepareOK, CommandReply: tbwire.Reply, CommandCommit: tbwire.Commit,
		CommandExitView: tbwire.ExitView, CommandJoinView: tbwire.JoinView, CommandGetView: tbwire.GetView,
		CommandGetHeaders: tbwire.GetHeaders, CommandGetPrepare: tbwire.GetPrepare, CommandGetReply: tbwire.GetReply,
		CommandHeaders: tbwire.Headers, CommandEviction: tbwire.Eviction, CommandGetBlocks: tbwire.GetBlocks,
		CommandBlock: tbwire.Block, CommandView: tbwire.View,
	}
	for c := Command(0); c < commandUpperBound; c++ {
		if n, ok := numbers[c]; ok != c.Valid() || (ok && int(c) != n) {
			t.Errorf("command %v (%d): TigerBeetle's number %d (known: %v)", c, c, n, ok)
		}
	}
	for c, names := range tbFieldOf {
		covered := map[string]bool{}
		for _, name := range tbLeftZero[c] {
			covered[name] = true
		}
		for _, p := range layouts[c] {
			name, ok := names[p.f]
			if !ok {
				t.Errorf("%v: field %d at %d has no TigerBeetle counterpart", c, p.f, p.off)
				continue
			}
			tb, ok := tbwire.FieldOf(int(c), name)
			if !ok {
				t.Fatalf("%v: TigerBeetle has no field %s", c, name)
			}
			covered[name] = true
			width := int(fieldWidth[p.f])
			if int(p.off) != tb.Off || (width != tb.Size && !(bitsets[p.f] && tb.Size == 16 && width == 8)) {
				t.Errorf("%v: %s at %d (%d bytes), TigerBeetle's at %d (%d bytes)", c, name, p.off, width, tb.Off, tb.Size)
			}
			// The encoder writes the field where the layout says, and
			// nowhere else.
			h := Header{Command: c}
			h.get(bytes.Repeat([]byte{0xa5}, 16), p.f)
			var b [HeaderSize]byte
			h.encodeFields(b[:])
			for i := commandArea; i < HeaderSize; i++ {
				in := i >= tb.Off && i < tb.Off+width
				if (b[i] != 0) != in {
					t.Errorf("%v: setting %s wrote byte %d = %#x", c, name, i, b[i])
				}
			}
		}
		for _, f := range tbwire.Layouts[int(c)] {
			if !covered[f.Name] && !strings.Contains(f.Name, "reserved") && !strings.HasSuffix(f.Name, "_padding") {
				t.Errorf("%v: TigerBeetle's %s (at %d) is neither ours nor listed as left zero", c, f.Name, f.Off)
			}
		}
	}
}

// resealed is b with byte i set to x and the header checksum redone.
func resealed(b []byte, i int, x byte) []byte {
	c := append([]byte(nil), b...)
	c[i] = x
	checksum.Sum(c[16:HeaderSize]).Put(c[0:])
	return c
}

// Every byte TigerBeetle reserves in a command's header (its reserved and
// padding fields, and the frame's) is refused nonzero by DecodeHeader, as
// TigerBeetle refuses it (where its invalid() checks it at all).
func TestWireReservedBytesRefused(t *testing.T) {
	frame := []tbwire.Field{{Name: "checksum_padding", Off: 16, Size: 16}, {Name: "checksum_body_padding", Off: 48, Size: 16},
		{Name: "nonce_reserved", Off: 64, Size: 16}, {Name: "epoch", Off: 100, Size: 4}, {Name: "protocol", Off: 112, Size: 2},
		{Name: "reserved_frame", Off: 116, Size: 12}}
	for c := range tbFieldOf {
		m := &Message{Header: Header{Cluster: testCluster, Command: c}}
		b := m.Encode()
		fields := append(append([]tbwire.Field(nil), frame...), tbwire.Layouts[int(c)]...)
		for _, f := range fields {
			if !strings.Contains(f.Name, "reserved") && !strings.HasSuffix(f.Name, "_padding") &&
				f.Name != "epoch" && f.Name != "protocol" {
				continue
			}
			for i := f.Off; i < f.Off+f.Size; i++ {
				var h Header
				if err := DecodeHeader(resealed(b, i, 1), &h); err != ErrReserved {
					t.Errorf("%v: %s byte %d nonzero: %v, want %v", c, f.Name, i, err, ErrReserved)
				}
			}
		}
		// The high half of TigerBeetle's u128 bitsets is ours to refuse.
		if c == CommandJoinView {
			for _, i := range []int{136, 152} {
				var h Header
				if err := DecodeHeader(resealed(b, i, 1), &h); err != ErrReserved {
					t.Errorf("join_view: bitset high byte %d nonzero: %v", i, err)
				}
			}
		}
	}
}

// TigerBeetle's invalid() rules, met by messages as this package encodes
// them and broken by one field each: the oracle (package tbwire) and the
// encoder agree on where every rule's fields lie.
func TestWireInvalidRules(t *testing.T) {
	nonce := u128.U128{Lo: 9}
	pingBody := make([]byte, pingBodySize)
	cases := []struct {
		name string
		h    Header
		body []byte
		want string
	}{
		{"ping", Header{Command: CommandPing, Release: 1, Timestamp: 1, ReleaseCount: 1}, pingBody, ""},
		{"ping without its release list", Header{Command: CommandPing, Release: 1, Timestamp: 1, ReleaseCount: 1}, nil,
			"ping: size != @sizeOf(Header) + @sizeOf(vsr.Release) * constants.vsr_releases_max"},
		{"ping without releases", Header{Command: CommandPing, Release: 1, Timestamp: 1}, pingBody, "ping: release_count == 0"},
		{"ping of no time", Header{Command: CommandPing, Release: 1, ReleaseCount: 1}, pingBody,
			"ping: ping_timestamp_monotonic != expected"},
		{"pong", Header{Command: CommandPong, Release: 1, Timestamp: 1, Timestamp2: 1}, nil, ""},
		{"pong of no wall time", Header{Command: CommandPong, Release: 1, Timestamp: 1}, nil, "pong: pong_timestamp_wall == 0"},
		{"prepare", Header{Command: CommandPrepare, Release: 1, Client: nonce, Op: 2, Commit: 1, Timestamp: 1, Request: 1,
			Operation: OperationStateMachineMin}, nil, ""},
		{"prepare of an op not past its commit", Header{Command: CommandPrepare, Release: 1, Client: nonce, Op: 2, Commit: 2,
			Timestamp: 1, Request: 1, Operation: OperationStateMachineMin}, nil, "prepare: op <= commit"},
		{"prepare of no release", Header{Command: CommandPrepare, Client: nonce, Op: 2, Commit: 1, Timestamp: 1, Request: 1,
			Operation: OperationStateMachineMin}, nil, "prepare: release == 0"},
		{"register prepare with a request number", Header{Command: CommandPrepare, Release: 1, Client: nonce, Op: 2,
			Commit: 1, Timestamp: 1, Request: 1, Operation: OperationRegister}, nil, "prepare: request != 0"},
		{"prepare_ok", Header{Command: CommandPrepareOK, Client: nonce, Op: 2, Timestamp: 1, Request: 1,
			Operation: OperationStateMachineMin}, nil, ""},
		{"prepare_ok with a release", Header{Command: CommandPrepareOK, Release: 1, Client: nonce, Op: 2, Timestamp: 1,
			Request: 1, Operation: OperationStateMachineMin}, nil, "prepare_ok: release != 0"},
		{"prepare_ok of no operation", Header{Command: CommandPrepareOK, Client: nonce, Op: 2, Timestamp: 1, Request: 1},
			nil, "prepare_ok: operation == .reserved"},
		{"commit", Header{Command: CommandCommit, Commit: 5, CheckpointOp: 5, Timestamp: 1}, nil, ""},
		{"commit below its checkpoint", Header{Command: CommandCommit, Commit: 4, CheckpointOp: 5, Timestamp: 1}, nil,
			"commit: commit < checkpoint_op"},
		{"commit of no time", Header{Command: CommandCommit, Commit: 5}, nil, "commit: timestamp_monotonic == 0"},
		{"exit_view", Header{Command: CommandExitView, View: 3}, nil, ""},
		{"exit_view with a release", Header{Command: CommandExitView, Release: 1}, nil, "exit_view: release != 0"},
		{"join_view", Header{Command: CommandJoinView, Op: 5, CommitMin: 4, CheckpointOp: 4}, make([]byte, HeaderSize), ""},
		{"join_view below its commit", Header{Command: CommandJoinView, Op: 3, CommitMin: 4}, make([]byte, HeaderSize),
			"join_view: op < commit_min"},
		{"join_view behind its checkpoint", Header{Command: CommandJoinView, Op: 5, CommitMin: 4, CheckpointOp: 5},
			make([]byte, HeaderSize), "join_view: commit_min < checkpoint_op"},
		{"view", Header{Command: CommandView, Op: 5, Commit: 4, CheckpointOp: 4}, make([]byte, viewCheckpointSize+HeaderSize), ""},
		{"view with a commit past its head", Header{Command: CommandView, Op: 3, Commit: 4},
			make([]byte, viewCheckpointSize+HeaderSize), "view: op < commit_max"},
		{"view with our checkpoint state's size", Header{Command: CommandView, Op: 5, Commit: 4},
			make([]byte, storage.CheckpointStateSize+HeaderSize), "view: checkpointstate missing"},
		{"get_view", Header{Command: CommandGetView, Context: nonce}, nil, ""},
		{"get_view of no nonce", Header{Command: CommandGetView}, nil, "get_view: nonce == 0"},
		{"get_headers", Header{Command: CommandGetHeaders, CommitMin: 1, Op: 2}, nil, ""},
		{"get_headers in a view", Header{Command: CommandGetHeaders, View: 1, CommitMin: 1, Op: 2}, nil, "get_headers: view == 0"},
		{"get_headers of no range", Header{Command: CommandGetHeaders, CommitMin: 3, Op: 2}, nil, "get_headers: op_min > op_max"},
		{"get_prepare", Header{Command: CommandGetPrepare, Ref: nonce, Op: 2}, nil, ""},
		{"get_prepare by checksum in a view", Header{Command: CommandGetPrepare, View: 1, Ref: nonce, Op: 2}, nil,
			"get_prepare: view != 0 and checksum != 0"},
		{"get_reply", Header{Command: CommandGetReply, Ref: nonce, Client: nonce, Op: 2}, nil, ""},
		{"get_reply for no client", Header{Command: CommandGetReply, Ref: nonce, Op: 2}, nil, "get_reply: reply_client == 0"},
		{"headers", Header{Command: CommandHeaders}, make([]byte, HeaderSize), ""},
		{"headers of none", Header{Command: CommandHeaders}, nil, "headers: size == @sizeOf(Header)"},
		{"get_blocks", Header{Command: CommandGetBlocks}, make([]byte, blockRefSize), ""},
		{"get_blocks of a short reference", Header{Command: CommandGetBlocks}, make([]byte, blockRefSize-8),
			"get_blocks: size multiple invalid"},
		{"get_blocks with a release", Header{Command: CommandGetBlocks, Release: 1}, make([]byte, blockRefSize),
			"get_blocks: release != 0"},
	}
	for _, tc := range cases {
		tc.h.Cluster = testCluster
		m := &Message{Header: tc.h, Body: tc.body}
		if got := tbwire.Invalid(m.Encode()); got != tc.want {
			t.Errorf("%s: TigerBeetle says %q, want %q", tc.name, got, tc.want)
		}
	}
}
