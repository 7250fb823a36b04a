package vsr

import (
	"encoding/binary"
	"errors"
	"fmt"

	"viewstamp/replica/checksum"
	"viewstamp/replica/u128"
)

// HeaderSize is the fixed size of every message header, as in TigerBeetle.
const HeaderSize = 256

// Command is the message kind. Codes are TigerBeetle's (after its 2026 renames).
type Command uint8

const (
	CommandReserved   Command = 0
	CommandPing       Command = 1
	CommandPong       Command = 2
	CommandPingClient Command = 3
	CommandPongClient Command = 4
	CommandRequest    Command = 5
	CommandPrepare    Command = 6
	CommandPrepareOK  Command = 7
	CommandReply      Command = 8
	CommandCommit     Command = 9
	CommandExitView   Command = 10
	CommandJoinView   Command = 11
	CommandGetView    Command = 13
	CommandGetHeaders Command = 14
	CommandGetPrepare Command = 15
	CommandGetReply   Command = 16
	CommandHeaders    Command = 17
	CommandEviction   Command = 18
	CommandGetBlocks  Command = 19
	CommandBlock      Command = 20
	CommandView       Command = 24
	commandUpperBound         = 25
)

var commandNames = [commandUpperBound]string{
	CommandReserved: "reserved", CommandPing: "ping", CommandPong: "pong",
	CommandPingClient: "ping_client", CommandPongClient: "pong_client", CommandRequest: "request",
	CommandPrepare: "prepare", CommandPrepareOK: "prepare_ok", CommandReply: "reply",
	CommandCommit: "commit", CommandExitView: "exit_view", CommandJoinView: "join_view",
	CommandGetView: "get_view", CommandGetHeaders: "get_headers", CommandGetPrepare: "get_prepare",
	CommandHeaders: "headers", CommandEviction: "eviction", CommandView: "view",
	CommandGetReply: "get_reply", CommandGetBlocks: "get_blocks", CommandBlock: "block",
}

func (c Command) String() string {
	if c < commandUpperBound && commandNames[c] != "" {
		return commandNames[c]
	}
	return fmt.Sprintf("command(%d)", uint8(c))
}

// Valid reports whether c is a command this replica understands.
func (c Command) Valid() bool {
	return c != CommandReserved && c < commandUpperBound && commandNames[c] != ""
}

// Operation is what a prepare asks the state machine to do. Values below
// OperationStateMachineMin belong to VSR itself.
type Operation uint8

const (
	OperationReserved        Operation = 0
	OperationRoot            Operation = 1
	OperationRegister        Operation = 2
	OperationNoop            Operation = 6
	OperationStateMachineMin Operation = 128
)

// A release is TigerBeetle's u32 version number, major<<16 | minor<<8 |
// patch. Requests and pings carry the client's, replies echo the request's
// (the client aborts otherwise), and everything else a replica sends carries
// its own.
const (
	// ReleaseProduction is what a replica says it is: TigerBeetle 0.17.9,
	// so that the npm tigerbeetle-node 0.17.9 client is neither too new nor
	// too old for it.
	ReleaseProduction = 0<<16 | 17<<8 | 9
	// ReleaseClientMinProduction is the oldest client release accepted,
	// TigerBeetle 0.17's release_client_min.
	ReleaseClientMinProduction = 0<<16 | 16<<8 | 4
)

// ReleaseString formats a release as major.minor.patch.
func ReleaseString(r uint32) string {
	return fmt.Sprintf("%d.%d.%d", r>>16, r>>8&0xff, r&0xff)
}

// The register operation's bodies (TigerBeetle's RegisterRequest and
// RegisterResult): the client sends batch_size_limit 0, the primary fills
// in the limit it accepts before preparing, and the reply returns it.
const (
	RegisterRequestSize = 256
	RegisterResultSize  = 64
)

// EvictionReason tells a client why its session ended.
type EvictionReason uint8

const (
	EvictionNoSession               EvictionReason = 1
	EvictionReleaseTooLow           EvictionReason = 2
	EvictionReleaseTooHigh          EvictionReason = 3
	EvictionInvalidRequestOperation EvictionReason = 4
	EvictionInvalidRequestBody      EvictionReason = 5
	EvictionInvalidRequestBodySize  EvictionReason = 6
	EvictionSessionTooLow           EvictionReason = 7
	EvictionSessionReleaseMismatch  EvictionReason = 8
)

var evictionNames = [...]string{
	EvictionNoSession:               "no_session",
	EvictionReleaseTooLow:           "client_release_too_low",
	EvictionReleaseTooHigh:          "client_release_too_high",
	EvictionInvalidRequestOperation: "invalid_request_operation",
	EvictionInvalidRequestBody:      "invalid_request_body",
	EvictionInvalidRequestBodySize:  "invalid_request_body_size",
	EvictionSessionTooLow:           "session_too_low",
	EvictionSessionReleaseMismatch:  "session_release_mismatch",
}

// String is the reason's name in TigerBeetle's protocol.
func (r EvictionReason) String() string {
	if int(r) < len(evictionNames) && evictionNames[r] != "" {
		return evictionNames[r]
	}
	return fmt.Sprintf("reason_%d", uint8(r))
}

// Header is the decoded form of the 256-byte wire header. The frame fields
// (bytes 0..127) are common to every command; the command-specific fields
// share the 128-byte area at offset 128 according to layouts below, so a field
// is only meaningful for the commands whose layout names it.
type Header struct {
	Checksum     u128.U128
	ChecksumBody u128.U128
	Cluster      u128.U128
	Size         uint32
	Epoch        uint32
	View         uint32
	Release      uint32
	Protocol     uint16
	Command      Command
	Replica      uint8

	Parent       u128.U128 // prepare, prepare_ok, request: hash chain link
	Ref          u128.U128 // prepare: request checksum; prepare_ok / get_prepare: prepare checksum; commit: commit checksum; reply: request checksum
	Context      u128.U128 // reply: the client's next parent; view, get_view: nonce
	CheckpointID u128.U128
	CheckpointOp uint64 // commit, ping, join_view, view: the sender's durable checkpoint
	Client       u128.U128
	Op           uint64 // prepare op; join_view / view: op head; get_headers: op_max
	Commit       uint64 // commit number (commit_max, or commit_min in prepare_ok)
	CommitMin    uint64 // join_view: commit_min; get_headers: op_min
	Timestamp    uint64 // prepare: the batch's timestamp; ping/pong: monotonic time
	Timestamp2   uint64 // pong: wall time
	ReleaseCount uint16 // ping: how many releases its body lists
	Session      uint64 // request
	Request      uint32
	LogView      uint32 // join_view
	Present      uint64 // join_view: bitset over the headers in the body
	Nack         uint64 // join_view
	Operation    Operation
	Reason       EvictionReason
}

type field uint8

const (
	fParent field = iota
	fRef
	fContext
	fCheckpointID
	fCheckpointOp
	fClient
	fOp
	fCommit
	fCommitMin
	fTimestamp
	fTimestamp2
	fSession
	fRequest
	fLogView
	fPresent
	fNack
	fOperation
	fReason
	fReleaseCount
)

type placement struct {
	f   field
	off uint16
}

// layouts place each command's fields in the command area at TigerBeetle's
// offsets (src/vsr/message_header.zig as of 0.17, commands under their 0.17
// names; the facts and their sources are in wire_test.go's
// tbReplicaLayouts), so every header is byte for byte TigerBeetle's:
// every field of ours has a TigerBeetle counterpart at the same offset and
// width. Every byte a layout does not place is reserved: written as zero,
// and a received header with a nonzero reserved byte is refused
// (DecodeHeader), as TigerBeetle refuses it. A u128 field of TigerBeetle's
// keeps its 16-byte padding after it; a u64 bitset of ours (join_view's
// present and nack) fills the low half of TigerBeetle's u128.
//
// TigerBeetle fields we leave zero: prepare and prepare_ok checkpoint_id
// (192; TigerBeetle's invalid() does not check it, its replica does), the
// request's previous_request_latency (200, informational: accepted with any
// value).
var layouts = [commandUpperBound][]placement{
	CommandPrepare: {{fParent, 128}, {fRef, 160}, {fCheckpointID, 192}, {fClient, 208},
		{fOp, 224}, {fCommit, 232}, {fTimestamp, 240}, {fRequest, 248}, {fOperation, 252}},
	CommandPrepareOK: {{fParent, 128}, {fRef, 160}, {fCheckpointID, 192}, {fClient, 208},
		{fOp, 224}, {fCommit, 232}, {fTimestamp, 240}, {fRequest, 248}, {fOperation, 252}},
	CommandRequest: {{fParent, 128}, {fClient, 160}, {fSession, 176}, {fTimestamp, 184},
		{fRequest, 192}, {fOperation, 196}},
	CommandReply: {{fRef, 128}, {fContext, 160}, {fClient, 192}, {fOp, 208}, {fCommit, 216},
		{fTimestamp, 224}, {fRequest, 232}, {fOperation, 236}},
	CommandCommit: {{fRef, 128}, {fCheckpointID, 160}, {fCheckpointOp, 176}, {fCommit, 184}, {fTimestamp, 192}},
	CommandJoinView: {{fPresent, 128}, {fNack, 144}, {fOp, 160}, {fCommitMin, 168},
		{fCheckpointOp, 176}, {fLogView, 184}},
	CommandView:       {{fContext, 128}, {fOp, 144}, {fCommit, 152}, {fCheckpointOp, 160}},
	CommandGetView:    {{fContext, 128}},
	CommandGetHeaders: {{fCommitMin, 128}, {fOp, 136}},
	CommandGetPrepare: {{fRef, 128}, {fOp, 160}},
	CommandPing:       {{fCheckpointID, 128}, {fCheckpointOp, 144}, {fTimestamp, 152}, {fReleaseCount, 160}},
	CommandGetReply:   {{fRef, 128}, {fClient, 160}, {fOp, 176}},
	// A block's header is its own (package storage/block): no fields here,
	// and its command area is the block's metadata, not reserved.
	CommandBlock:      {},
	CommandPong:       {{fTimestamp, 128}, {fTimestamp2, 136}},
	CommandPingClient: {{fClient, 128}, {fTimestamp, 144}, {fSession, 152}},
	CommandPongClient: {{fTimestamp, 128}},
	CommandEviction:   {{fClient, 128}, {fReason, 255}},
}

// TigerBeetle's per-command validation (invalid_header) refuses a nonzero
// release on every replica-to-replica command but ping, pong, prepare and
// block: a release names the code that made a client's request (prepare,
// reply) or a block, and a replica announces its own only in pings and
// pongs. seal writes 0 there.
var releaseZero = [commandUpperBound]bool{
	CommandPrepareOK: true, CommandCommit: true, CommandExitView: true, CommandJoinView: true,
	CommandView: true, CommandGetView: true, CommandGetHeaders: true, CommandGetPrepare: true,
	CommandGetReply: true, CommandHeaders: true, CommandGetBlocks: true,
}

// viewZero are the requests TigerBeetle refuses with a nonzero view: those
// naming what they want by op and checksum, which any replica of any view
// may serve (get_prepare only with a checksum, which ours always names).
var viewZero = [commandUpperBound]bool{
	CommandGetHeaders: true, CommandGetPrepare: true, CommandGetReply: true, CommandGetBlocks: true,
}

// PingReleasesMax is TigerBeetle's vsr_releases_max: a ping's body lists
// the releases its sender can run, ReleaseCount of them in slots of 4
// bytes, the rest zero, and is always this long.
const PingReleasesMax = 64

// pingBodySize is the fixed size of a ping's body.
const pingBodySize = PingReleasesMax * 4

// WireDeviation reports whether why, TigerBeetle's reason to refuse the
// header of message b that this replica sent (package tbwire's Invalid),
// is a deviation of ours made on purpose:
//
//   - prepare, prepare_ok "client == 0": an op of the state machine's own (a
//     pulse: no client, no request) carries the state machine's operation;
//     TigerBeetle's carries VSR's pulse operation (4), which its state
//     machine maps to its own at commit.
//   - block "release == 0", "block_type invalid": a grid block is written
//     by package block as it lies on disk, with no release and, for a state
//     machine held in memory, a snapshot type TigerBeetle's grid lacks.
func WireDeviation(b []byte, why string) bool {
	switch why {
	case "prepare: client == 0", "prepare_ok: client == 0":
		return len(b) >= HeaderSize && binary.LittleEndian.Uint32(b[248:]) == 0
	case "block: release == 0":
		return true
	case "block: block_type invalid":
		return len(b) >= HeaderSize && b[240] == blockTypeSnapshot
	}
	return false
}

// blockTypeSnapshot is package block's TypeSnapshot, which package vsr
// does not import for its number alone.
const blockTypeSnapshot = 6

// ignored are command-area bytes a sender may fill that we do not read:
// the request's previous_request_latency, which TigerBeetle's client sets
// and its replica only logs.
var ignored = [commandUpperBound][][2]uint16{
	CommandRequest: {{200, 204}},
}

// fieldWidth is each field's size on the wire.
var fieldWidth = [...]uint16{fParent: 16, fRef: 16, fContext: 16, fCheckpointID: 16, fCheckpointOp: 8,
	fClient: 16, fOp: 8, fCommit: 8, fCommitMin: 8, fTimestamp: 8, fTimestamp2: 8, fSession: 8,
	fRequest: 4, fLogView: 4, fPresent: 8, fNack: 8, fOperation: 1, fReason: 1, fReleaseCount: 2}

// reserved marks, per command, the bytes of the command area that must be
// zero: those no layout places and no sender may fill.
var reserved = func() (r [commandUpperBound][HeaderSize - commandArea]bool) {
	for c := range r {
		if Command(c) == CommandBlock {
			continue
		}
		for i := range r[c] {
			r[c][i] = true
		}
		for _, p := range layouts[c] {
			for i := p.off; i < p.off+fieldWidth[p.f]; i++ {
				r[c][i-commandArea] = false
			}
		}
		for _, g := range ignored[c] {
			for i := g[0]; i < g[1]; i++ {
				r[c][i-commandArea] = false
			}
		}
	}
	return r
}()

// commandArea is where the command-specific fields begin.
const commandArea = 128

// Frame bytes that are padding or reserved in every command: the checksums'
// padding, the AEAD nonce, and reserved_frame.
var frameReserved = [][2]int{{16, 32}, {48, 80}, {116, 128}}

// reservedClear reports whether b's reserved bytes, of the frame and of its
// command's area, are zero, and its protocol and epoch are TigerBeetle's
// (both 0): TigerBeetle refuses a header otherwise, and so do we.
func reservedClear(b []byte, c Command) bool {
	for _, g := range frameReserved {
		for _, x := range b[g[0]:g[1]] {
			if x != 0 {
				return false
			}
		}
	}
	le := binary.LittleEndian
	if le.Uint32(b[100:]) != 0 || le.Uint16(b[112:]) != 0 {
		return false
	}
	for i, must := range reserved[c] {
		if must && b[commandArea+i] != 0 {
			return false
		}
	}
	return true
}

func (h *Header) put(b []byte, f field) {
	le := binary.LittleEndian
	switch f {
	case fParent:
		h.Parent.Put(b)
	case fRef:
		h.Ref.Put(b)
	case fContext:
		h.Context.Put(b)
	case fCheckpointID:
		h.CheckpointID.Put(b)
	case fCheckpointOp:
		le.PutUint64(b, h.CheckpointOp)
	case fClient:
		h.Client.Put(b)
	case fOp:
		le.PutUint64(b, h.Op)
	case fCommit:
		le.PutUint64(b, h.Commit)
	case fCommitMin:
		le.PutUint64(b, h.CommitMin)
	case fTimestamp:
		le.PutUint64(b, h.Timestamp)
	case fTimestamp2:
		le.PutUint64(b, h.Timestamp2)
	case fSession:
		le.PutUint64(b, h.Session)
	case fRequest:
		le.PutUint32(b, h.Request)
	case fLogView:
		le.PutUint32(b, h.LogView)
	case fPresent:
		le.PutUint64(b, h.Present)
	case fNack:
		le.PutUint64(b, h.Nack)
	case fOperation:
		b[0] = byte(h.Operation)
	case fReason:
		b[0] = byte(h.Reason)
	case fReleaseCount:
		le.PutUint16(b, h.ReleaseCount)
	}
}

func (h *Header) get(b []byte, f field) {
	le := binary.LittleEndian
	switch f {
	case fParent:
		h.Parent = u128.Get(b)
	case fRef:
		h.Ref = u128.Get(b)
	case fContext:
		h.Context = u128.Get(b)
	case fCheckpointID:
		h.CheckpointID = u128.Get(b)
	case fCheckpointOp:
		h.CheckpointOp = le.Uint64(b)
	case fClient:
		h.Client = u128.Get(b)
	case fOp:
		h.Op = le.Uint64(b)
	case fCommit:
		h.Commit = le.Uint64(b)
	case fCommitMin:
		h.CommitMin = le.Uint64(b)
	case fTimestamp:
		h.Timestamp = le.Uint64(b)
	case fTimestamp2:
		h.Timestamp2 = le.Uint64(b)
	case fSession:
		h.Session = le.Uint64(b)
	case fRequest:
		h.Request = le.Uint32(b)
	case fLogView:
		h.LogView = le.Uint32(b)
	case fPresent:
		h.Present = le.Uint64(b)
	case fNack:
		h.Nack = le.Uint64(b)
	case fOperation:
		h.Operation = Operation(b[0])
	case fReason:
		h.Reason = EvictionReason(b[0])
	case fReleaseCount:
		h.ReleaseCount = le.Uint16(b)
	}
}

// encodeFields writes everything but the two checksums into b[0:256].
func (h *Header) encodeFields(b []byte) {
	clear(b[:HeaderSize])
	le := binary.LittleEndian
	h.Cluster.Put(b[80:])
	le.PutUint32(b[96:], h.Size)
	le.PutUint32(b[100:], h.Epoch)
	le.PutUint32(b[104:], h.View)
	le.PutUint32(b[108:], h.Release)
	le.PutUint16(b[112:], h.Protocol)
	b[114] = byte(h.Command)
	b[115] = h.Replica
	if h.Command < commandUpperBound {
		for _, p := range layouts[h.Command] {
			h.put(b[p.off:], p.f)
		}
	}
}

// EncodeHeader writes h into b[0:256] as is, checksums included.
func EncodeHeader(h *Header, b []byte) {
	h.encodeFields(b)
	h.Checksum.Put(b[0:])
	h.ChecksumBody.Put(b[32:])
}

// Seal sets the size and both checksums of h for the given body. The body
// checksum comes first because the header checksum covers it.
func (h *Header) Seal(body []byte) {
	h.Size = uint32(HeaderSize + len(body))
	h.ChecksumBody = checksum.Sum(body)
	h.sealHeader()
}

// sealHeader sets the header checksum after a change of fields other than
// the body's size and checksum.
func (h *Header) sealHeader() {
	var b [HeaderSize]byte
	h.encodeFields(b[:])
	h.ChecksumBody.Put(b[32:])
	h.Checksum = checksum.Sum(b[16:])
}

// Decode errors. Each is counted by the receiver and the message dropped.
var (
	ErrSize         = errors.New("bad size")
	ErrChecksum     = errors.New("bad header checksum")
	ErrChecksumBody = errors.New("bad body checksum")
	ErrCommand      = errors.New("unknown command")
	ErrCluster      = errors.New("wrong cluster")
	ErrReserved     = errors.New("nonzero reserved bytes, protocol or epoch")
)

// DecodeHeader parses and verifies a header (but not the body) from b.
func DecodeHeader(b []byte, h *Header) error {
	if len(b) < HeaderSize {
		return ErrSize
	}
	if checksum.Sum(b[16:HeaderSize]) != u128.Get(b[0:]) {
		return ErrChecksum
	}
	le := binary.LittleEndian
	*h = Header{
		Checksum:     u128.Get(b[0:]),
		ChecksumBody: u128.Get(b[32:]),
		Cluster:      u128.Get(b[80:]),
		Size:         le.Uint32(b[96:]),
		Epoch:        le.Uint32(b[100:]),
		View:         le.Uint32(b[104:]),
		Release:      le.Uint32(b[108:]),
		Protocol:     le.Uint16(b[112:]),
		Command:      Command(b[114]),
		Replica:      b[115],
	}
	if !h.Command.Valid() {
		return ErrCommand
	}
	if !reservedClear(b, h.Command) {
		return ErrReserved
	}
	for _, p := range layouts[h.Command] {
		h.get(b[p.off:], p.f)
	}
	return nil
}

// Message is a decoded message. Body is read-only: it aliases the received
// buffer or the message's own wire bytes.
//
// wire is the sealed wire form, set by Decode (the received buffer already
// is the wire form) and by Encode. It is immutable once set: it is handed to
// the network, which owns sent bytes, or was delivered by it, possibly to
// several receivers at once. A message is changed only by building a new
// wire, never by writing into this one, so a copy of a Message (which shares
// wire and Body) stays valid for as long as it is kept.
type Message struct {
	Header Header
	Body   []byte
	wire   []byte
	// borrowed marks the replica's receive message, overwritten by the next
	// message received: whoever keeps it must keep retain()'s result.
	borrowed bool
}

// Encode seals the header for the body and returns the wire bytes, which
// become the message's own: Body aliases them afterwards.
func (m *Message) Encode() []byte {
	m.Header.Seal(m.Body)
	m.encodeWire()
	return m.wire
}

func (m *Message) encodeWire() {
	out := make([]byte, HeaderSize+len(m.Body))
	EncodeHeader(&m.Header, out)
	copy(out[HeaderSize:], m.Body)
	m.wire, m.Body = out, out[HeaderSize:]
}

// Bytes returns the wire form of an already sealed message: its wire bytes
// when they are still the encoding of Header, else a new encoding (kept for
// the next call). The result is shared and must not be modified.
func (m *Message) Bytes() []byte {
	if !m.sealedWire() {
		m.encodeWire()
	}
	return m.wire
}

// sealedWire reports whether wire holds this header and body: same size and
// same header checksum, which covers the body's checksum.
func (m *Message) sealedWire() bool {
	return len(m.wire) >= HeaderSize && len(m.wire) == HeaderSize+len(m.Body) &&
		u128.Get(m.wire) == m.Header.Checksum
}

// Decode verifies and parses a whole message for the given cluster. It never
// panics on hostile input: every failure is an error for the caller to count.
func Decode(b []byte, cluster u128.U128, sizeMax uint64) (*Message, error) {
	m := &Message{}
	if err := DecodeInto(m, b, cluster, sizeMax); err != nil {
		return nil, err
	}
	return m, nil
}

// DecodeInto is Decode into a message the caller provides, so that a
// receiver can reuse one message for everything it does not keep. m aliases
// b afterwards (Body and wire), and on error its contents are unspecified.
func DecodeInto(m *Message, b []byte, cluster u128.U128, sizeMax uint64) error {
	if len(b) < HeaderSize || uint64(len(b)) > sizeMax {
		return ErrSize
	}
	if err := DecodeHeader(b, &m.Header); err != nil {
		return err
	}
	if int(m.Header.Size) != len(b) {
		return ErrSize
	}
	if m.Header.Cluster != cluster {
		return ErrCluster
	}
	m.Body, m.wire = b[HeaderSize:], b
	if checksum.Sum(m.Body) != m.Header.ChecksumBody {
		return ErrChecksumBody
	}
	return nil
}

// retain returns m, or a copy of it if m is borrowed, for a caller that keeps
// it. The copy shares the immutable wire and body.
func (m *Message) retain() *Message {
	if !m.borrowed {
		return m
	}
	c := *m
	c.borrowed = false
	return &c
}

// RootHeader is op 0 of every log: identical on all replicas of a cluster, so
// op 1 of every view chains to the same parent.
func RootHeader(cluster u128.U128) Header {
	h := Header{Cluster: cluster, Command: CommandPrepare, Operation: OperationRoot}
	h.Seal(nil)
	return h
}

// requestInvalid is TigerBeetle's Request.invalid_header: the checks a
// request's header must pass before anything reads it, "" if it does. A
// request failing them is dropped, not answered: its sender is no client
// TigerBeetle's protocol knows.
func (h *Header) requestInvalid() string {
	switch {
	case h.Release == 0:
		return "release == 0"
	case h.Replica != 0:
		return "replica != 0"
	case h.Client.IsZero():
		return "client == 0"
	case h.Timestamp != 0:
		return "timestamp != 0"
	}
	switch h.Operation {
	case OperationReserved:
		return "operation == reserved"
	case OperationRoot:
		return "operation == root"
	case OperationRegister:
		switch {
		case !h.Parent.IsZero():
			return "register: parent != 0"
		case h.Session != 0:
			return "register: session != 0"
		case h.Request != 0:
			return "register: request != 0"
		case h.Size != HeaderSize && h.Size != HeaderSize+RegisterRequestSize:
			// An empty body passes here: it is a client too old, evicted
			// for it once the release allows it this far.
			return "register: size is neither 256 nor 512"
		}
	default:
		switch {
		case h.Operation < OperationStateMachineMin && h.Operation != OperationNoop:
			return "operation is reserved"
		case h.Session == 0:
			return "session == 0"
		case h.Request == 0:
			return "request == 0"
		}
	}
	return ""
}

// pingClientInvalid is TigerBeetle's PingClient.invalid_header.
func (h *Header) pingClientInvalid() string {
	switch {
	case h.Size != HeaderSize:
		return "size != 256"
	case h.Release == 0:
		return "release == 0"
	case h.Replica != 0:
		return "replica != 0"
	case h.View != 0:
		return "view != 0"
	case h.Client.IsZero():
		return "client == 0"
	}
	return ""
}
