// Package tbwire states TigerBeetle 0.17's message header, and the checks its
// replica applies to a header before it reads one (Header.invalid), as facts
// about bytes: each command's field offsets and the rules on them, written
// from TigerBeetle's source, not from this repository's encoder. It is an
// oracle: tests and the simulator hold what replica/vsr sends to it, so an
// encoder that drifts from TigerBeetle's layout, or a message TigerBeetle
// would refuse, is caught.
//
// Source: TigerBeetle's src/vsr/message_header.zig (and src/vsr.zig for the
// Command enum) of the 0.16–0.17 line, read through the stored copies named
// in Source. The layouts of every command but ping agree between them.
package tbwire

import (
	"encoding/binary"
	"fmt"
)

// Source names the copies of TigerBeetle's source these facts come from.
const Source = "tigerbeetle src/vsr/message_header.zig: stored copy id 6565114283 " +
	"(release field at 108, Command deprecated_12/21/22/23 and start_view=24, ping with route), " +
	"equal for every layout to ArcherDB-io/archerdb@0cb22d7cc60bb76840229abda802f1e85072b89a, " +
	"cross-checked with a port of the 0.17.6+ file (stored copy id 60913885495: 0.17 command " +
	"names, ping_client session at 152) and src/vsr.zig as vendored from 0.17.9 " +
	"(stored copy id 68455151594)"

// Command numbers (src/vsr.zig Command, 0.17 names; the pre-rename name
// after the slash).
const (
	Reserved   = 0
	Ping       = 1
	Pong       = 2
	PingClient = 3
	PongClient = 4
	Request    = 5
	Prepare    = 6
	PrepareOK  = 7
	Reply      = 8
	Commit     = 9
	ExitView   = 10 // start_view_change
	JoinView   = 11 // do_view_change
	GetView    = 13 // request_start_view
	GetHeaders = 14 // request_headers
	GetPrepare = 15 // request_prepare
	GetReply   = 16 // request_reply
	Headers    = 17
	Eviction   = 18
	GetBlocks  = 19 // request_blocks
	Block      = 20
	View       = 24 // start_view
	// commandCount bounds the enum: 12, 21, 22 and 23 are deprecated
	// (refused), anything from here on is no command at all.
	commandCount = 25
)

// Sizes and limits.
const (
	HeaderSize = 256
	// MessageSizeMax is the production message_size_max.
	MessageSizeMax = 1 << 20
	// BlockSizeMax is the production block_size.
	BlockSizeMax = 512 << 10
	// ReleasesMax is vsr_releases_max: a ping's body has room for this
	// many releases of 4 bytes.
	ReleasesMax = 64
	// CheckpointStateSize is vsr.CheckpointState's size, which a view's
	// body starts with.
	CheckpointStateSize = 1024
	// BlockRequestSize is vsr.BlockRequest's: get_blocks bodies are a
	// multiple of it.
	BlockRequestSize = 32
	// RegisterResultSize is vsr.RegisterResult's, a register reply's body.
	RegisterResultSize = 64
	// RegisterRequestSize is vsr.RegisterRequest's.
	RegisterRequestSize = 256
	// operationsReserved is vsr_operations_reserved: operations below it
	// are VSR's own.
	operationsReserved = 128
	blockTypeMax       = 5 // lsm/schema.zig BlockType: free_set .. value
	evictionReasonMax  = 8
)

// Operations of VSR's own (src/vsr.zig Operation).
const (
	OpReserved    = 0
	OpRoot        = 1
	OpRegister    = 2
	OpReconfigure = 3
	OpPulse       = 4
	OpUpgrade     = 5
	OpNoop        = 6
)

// Field is one field of a command's header: its name in TigerBeetle's
// struct, offset and width in bytes.
type Field struct {
	Name      string
	Off, Size int
}

// Frame fields, common to every command.
const (
	offChecksumPadding     = 16
	offChecksumBodyPadding = 48
	offNonceReserved       = 64
	offSize                = 96
	offEpoch               = 100
	offView                = 104
	offRelease             = 108
	offProtocol            = 112
	offCommand             = 114
	offReplica             = 115
	offReservedFrame       = 116
	commandArea            = 128
)

// Layouts are the command-specific fields, by command. Padding and reserved
// bytes are listed as fields too (their names say so): the whole command
// area, 128..256, is covered.
var Layouts = map[int][]Field{
	Ping: {{"checkpoint_id", 128, 16}, {"checkpoint_op", 144, 8}, {"ping_timestamp_monotonic", 152, 8},
		{"release_count", 160, 2},
		// The stored 0.16–0.17 source has route_padding (162, 6), route
		// (168, 8), reserved (176, 80); the 0.17.6+ port has reserved
		// (162, 94). Zero there satisfies both.
		{"reserved", 162, 94}},
	Pong: {{"ping_timestamp_monotonic", 128, 8}, {"pong_timestamp_wall", 136, 8}, {"reserved", 144, 112}},
	PingClient: {{"client", 128, 16}, {"ping_timestamp_monotonic", 144, 8}, {"session", 152, 8},
		{"reserved", 160, 96}},
	PongClient: {{"ping_timestamp_monotonic", 128, 8}, {"reserved", 136, 120}},
	Request: {{"parent", 128, 16}, {"parent_padding", 144, 16}, {"client", 160, 16}, {"session", 176, 8},
		{"timestamp", 184, 8}, {"request", 192, 4}, {"operation", 196, 1},
		{"previous_request_latency_padding", 197, 3}, {"previous_request_latency", 200, 4}, {"reserved", 204, 52}},
	Prepare: {{"parent", 128, 16}, {"parent_padding", 144, 16}, {"request_checksum", 160, 16},
		{"request_checksum_padding", 176, 16}, {"checkpoint_id", 192, 16}, {"client", 208, 16}, {"op", 224, 8},
		{"commit", 232, 8}, {"timestamp", 240, 8}, {"request", 248, 4}, {"operation", 252, 1}, {"reserved", 253, 3}},
	PrepareOK: {{"parent", 128, 16}, {"parent_padding", 144, 16}, {"prepare_checksum", 160, 16},
		{"prepare_checksum_padding", 176, 16}, {"checkpoint_id", 192, 16}, {"client", 208, 16}, {"op", 224, 8},
		{"commit_min", 232, 8}, {"timestamp", 240, 8}, {"request", 248, 4}, {"operation", 252, 1}, {"reserved", 253, 3}},
	Reply: {{"request_checksum", 128, 16}, {"request_checksum_padding", 144, 16}, {"context", 160, 16},
		{"context_padding", 176, 16}, {"client", 192, 16}, {"op", 208, 8}, {"commit", 216, 8}, {"timestamp", 224, 8},
		{"request", 232, 4}, {"operation", 236, 1}, {"reserved", 237, 19}},
	Commit: {{"commit_checksum", 128, 16}, {"commit_checksum_padding", 144, 16}, {"checkpoint_id", 160, 16},
		{"checkpoint_op", 176, 8}, {"commit", 184, 8}, {"timestamp_monotonic", 192, 8}, {"reserved", 200, 56}},
	ExitView: {{"reserved", 128, 128}},
	JoinView: {{"present_bitset", 128, 16}, {"nack_bitset", 144, 16}, {"op", 160, 8}, {"commit_min", 168, 8},
		{"checkpoint_op", 176, 8}, {"log_view", 184, 4}, {"reserved", 188, 68}},
	GetView:    {{"nonce", 128, 16}, {"reserved", 144, 112}},
	GetHeaders: {{"op_min", 128, 8}, {"op_max", 136, 8}, {"reserved", 144, 112}},
	GetPrepare: {{"prepare_checksum", 128, 16}, {"prepare_checksum_padding", 144, 16}, {"prepare_op", 160, 8},
		{"reserved", 168, 88}},
	GetReply: {{"reply_checksum", 128, 16}, {"reply_checksum_padding", 144, 16}, {"reply_client", 160, 16},
		{"reply_op", 176, 8}, {"reserved", 184, 72}},
	Headers:   {{"reserved", 128, 128}},
	Eviction:  {{"client", 128, 16}, {"reserved", 144, 111}, {"reason", 255, 1}},
	GetBlocks: {{"reserved", 128, 128}},
	Block: {{"metadata_bytes", 128, 96}, {"address", 224, 8}, {"snapshot", 232, 8}, {"block_type", 240, 1},
		{"reserved_block", 241, 15}},
	View: {{"nonce", 128, 16}, {"op", 144, 8}, {"commit_max", 152, 8}, {"checkpoint_op", 160, 8},
		{"reserved", 168, 88}},
}

// FieldOf returns command c's field name.
func FieldOf(c int, name string) (Field, bool) {
	for _, f := range Layouts[c] {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// header reads a header's fields by name.
type header struct {
	b []byte
	c int
}

func (h header) field(name string) []byte {
	f, ok := FieldOf(h.c, name)
	if !ok {
		panic(fmt.Sprintf("tbwire: command %d has no field %s", h.c, name))
	}
	return h.b[f.Off : f.Off+f.Size]
}

func (h header) zero(name string) bool { return zeroed(h.field(name)) }

// u reads an unsigned field of up to 8 bytes; of a u128 only the low half
// (compare with zero through zero()).
func (h header) u(name string) uint64 {
	v := h.field(name)
	switch len(v) {
	case 1:
		return uint64(v[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(v))
	case 4:
		return uint64(binary.LittleEndian.Uint32(v))
	}
	return binary.LittleEndian.Uint64(v)
}

func zeroed(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// Invalid is TigerBeetle's Header.invalid() on message b (its header and
// body, checksums already verified): "" if TigerBeetle accepts the header,
// else why it refuses it, as "command: rule". Not checked: ping's
// checkpoint_op against TigerBeetle's checkpoint interval (a configuration
// of its own), and prepare_ok of the root prepare's checksum.
func Invalid(b []byte) string {
	if len(b) < HeaderSize {
		return "frame: shorter than a header"
	}
	le := binary.LittleEndian
	size := le.Uint32(b[offSize:])
	c := int(b[offCommand])
	switch {
	case !zeroed(b[offChecksumPadding : offChecksumPadding+16]):
		return "frame: checksum_padding != 0"
	case !zeroed(b[offChecksumBodyPadding : offChecksumBodyPadding+16]):
		return "frame: checksum_body_padding != 0"
	case !zeroed(b[offNonceReserved : offNonceReserved+16]):
		return "frame: nonce_reserved != 0"
	case size < HeaderSize:
		return "frame: size < @sizeOf(Header)"
	case size > MessageSizeMax:
		return "frame: size > message_size_max"
	case le.Uint32(b[offEpoch:]) != 0:
		return "frame: epoch != 0"
	case !zeroed(b[offReservedFrame:commandArea]):
		return "frame: reserved_frame != 0"
	case c >= commandCount:
		return fmt.Sprintf("frame: command %d unknown", c)
	case c == Block && le.Uint16(b[offProtocol:]) > 0:
		return "frame: block: protocol > Version"
	case c != Block && le.Uint16(b[offProtocol:]) != 0:
		return "frame: protocol != Version"
	}
	if _, ok := Layouts[c]; !ok {
		if c == Reserved {
			return "reserved: reserved is invalid"
		}
		return fmt.Sprintf("command %d: deprecated message type", c)
	}
	f := frame{size: size, view: le.Uint32(b[offView:]), release: le.Uint32(b[offRelease:]), replica: b[offReplica]}
	h := header{b: b, c: c}
	why := commandRules[c](f, h)
	if why == "" {
		return ""
	}
	return commandNames[c] + ": " + why
}

type frame struct {
	size, view, release uint32
	replica             uint8
}

var commandNames = map[int]string{
	Ping: "ping", Pong: "pong", PingClient: "ping_client", PongClient: "pong_client", Request: "request",
	Prepare: "prepare", PrepareOK: "prepare_ok", Reply: "reply", Commit: "commit", ExitView: "exit_view",
	JoinView: "join_view", GetView: "get_view", GetHeaders: "get_headers", GetPrepare: "get_prepare",
	GetReply: "get_reply", Headers: "headers", Eviction: "eviction", GetBlocks: "get_blocks", Block: "block",
	View: "view",
}

// bodyless is the rule every command without a body starts with: its size
// is a header's (and so its body checksum the empty body's).
func bodyless(f frame) string {
	if f.size != HeaderSize {
		return "size != @sizeOf(Header)"
	}
	return ""
}

// first returns the first nonempty reason.
func first(reasons ...string) string {
	for _, r := range reasons {
		if r != "" {
			return r
		}
	}
	return ""
}

func when(bad bool, why string) string {
	if bad {
		return why
	}
	return ""
}

var commandRules = map[int]func(frame, header) string{
	Ping: func(f frame, h header) string {
		n := h.u("release_count")
		return first(
			when(f.size != HeaderSize+4*ReleasesMax, "size != @sizeOf(Header) + @sizeOf(vsr.Release) * constants.vsr_releases_max"),
			when(f.release == 0, "release == 0"),
			when(h.u("ping_timestamp_monotonic") == 0, "ping_timestamp_monotonic != expected"),
			when(n == 0, "release_count == 0"),
			when(n > ReleasesMax, "release_count > vsr_releases_max"),
			when(!h.zero("reserved"), "reserved != 0"))
	},
	Pong: func(f frame, h header) string {
		return first(bodyless(f),
			when(f.release == 0, "release == 0"),
			when(h.u("ping_timestamp_monotonic") == 0, "ping_timestamp_monotonic == 0"),
			when(h.u("pong_timestamp_wall") == 0, "pong_timestamp_wall == 0"),
			when(!h.zero("reserved"), "reserved != 0"))
	},
	PingClient: func(f frame, h header) string {
		return first(bodyless(f),
			when(f.release == 0, "release == 0"),
			when(f.replica != 0, "replica != 0"),
			when(f.view != 0, "view != 0"),
			when(h.zero("client"), "client == 0"),
			when(!h.zero("reserved"), "reserved != 0"))
	},
	PongClient: func(f frame, h header) string {
		return first(bodyless(f),
			when(f.release == 0, "release == 0"),
			when(!h.zero("reserved"), "reserved != 0"))
	},
	Request: requestRules,
	Prepare: prepareRules,
	PrepareOK: func(f frame, h header) string {
		if why := first(bodyless(f),
			when(f.release != 0, "release != 0"),
			when(!h.zero("prepare_checksum_padding"), "prepare_checksum_padding != 0")); why != "" {
			return why
		}
		op := h.u("operation")
		client0 := h.zero("client")
		var why string
		switch op {
		case OpReserved:
			why = "operation == .reserved"
		case OpRoot:
			why = first(
				when(!h.zero("parent"), "root: parent != 0"),
				when(!client0, "root: client != 0"),
				when(h.u("request") != 0, "root: request != 0"),
				when(h.u("op") != 0, "root: op != 0"),
				when(h.u("timestamp") != 0, "root: timestamp != 0"))
		default:
			own := op == OpPulse || op == OpUpgrade
			noRequest := op == OpRegister || op == OpUpgrade || client0
			why = first(
				when(own && !client0, "client != 0"),
				when(!own && client0, "client == 0"),
				when(h.u("op") == 0, "op == 0"),
				when(h.u("timestamp") == 0, "timestamp == 0"),
				when(noRequest && h.u("request") != 0, "request != 0"),
				when(!noRequest && h.u("request") == 0, "request == 0"))
		}
		return first(why, when(!h.zero("reserved"), "reserved != 0"))
	},
	Reply: func(f frame, h header) string {
		var why string
		if h.u("operation") == OpRegister {
			why = first(
				when(f.size != HeaderSize+RegisterResultSize, "register: size != @sizeOf(Header) + @sizeOf(vsr.RegisterResult)"),
				when(h.u("commit") == 0, "commit == 0"),
				when(h.u("request") != 0, "request != 0"))
		} else {
			why = first(
				when(h.u("commit") == 0, "commit == 0"),
				when(h.u("request") == 0, "request == 0"))
		}
		return first(
			when(f.release == 0, "release == 0"),
			when(h.zero("client"), "client == 0"),
			when(!h.zero("request_checksum_padding"), "request_checksum_padding != 0"),
			when(!h.zero("context_padding"), "context_padding != 0"),
			when(h.u("op") != h.u("commit"), "op != commit"),
			when(h.u("timestamp") == 0, "timestamp == 0"),
			why,
			when(!h.zero("reserved"), "reserved != 0"))
	},
	Commit: func(f frame, h header) string {
		return first(bodyless(f),
			when(f.release != 0, "release != 0"),
			when(h.u("commit") < h.u("checkpoint_op"), "commit < checkpoint_op"),
			when(h.u("timestamp_monotonic") == 0, "timestamp_monotonic == 0"),
			when(!h.zero("reserved"), "reserved != 0"))
	},
	ExitView: func(f frame, h header) string {
		return first(bodyless(f),
			when(f.release != 0, "release != 0"),
			when(!h.zero("reserved"), "reserved != 0"))
	},
	JoinView: func(f frame, h header) string {
		return first(
			when((f.size-HeaderSize)%HeaderSize != 0, "size multiple invalid"),
			when(f.release != 0, "release != 0"),
			when(h.u("op") < h.u("commit_min"), "op < commit_min"),
			when(h.u("commit_min") < h.u("checkpoint_op"), "commit_min < checkpoint_op"),
			when(!h.zero("reserved"), "reserved != 0"))
	},
	View: func(f frame, h header) string {
		body := f.size - HeaderSize
		if body < CheckpointStateSize {
			return "checkpointstate missing"
		}
		return first(
			when((body-CheckpointStateSize)%HeaderSize != 0, "headers size multiple invalid"),
			when(f.release != 0, "release != 0"),
			when(h.u("op") < h.u("commit_max"), "op < commit_max"),
			when(h.u("commit_max") < h.u("checkpoint_op"), "commit_max < checkpoint_op"),
			when(!h.zero("reserved"), "reserved != 0"))
	},
	GetView: func(f frame, h header) string {
		return first(bodyless(f),
			when(f.release != 0, "release != 0"),
			when(h.zero("nonce"), "nonce == 0"),
			when(!h.zero("reserved"), "reserved != 0"))
	},
	GetHeaders: func(f frame, h header) string {
		return first(bodyless(f),
			when(f.view != 0, "view == 0"), // sic: TigerBeetle's message for view != 0
			when(f.release != 0, "release != 0"),
			when(h.u("op_min") > h.u("op_max"), "op_min > op_max"),
			when(!h.zero("reserved"), "reserved != 0"))
	},
	GetPrepare: func(f frame, h header) string {
		return first(bodyless(f),
			when(f.view != 0 && !h.zero("prepare_checksum"), "view != 0 and checksum != 0"),
			when(f.release != 0, "release != 0"),
			when(!h.zero("prepare_checksum_padding"), "prepare_checksum_padding != 0"),
			when(!h.zero("reserved"), "reserved != 0"))
	},
	GetReply: func(f frame, h header) string {
		return first(bodyless(f),
			when(f.release != 0, "release != 0"),
			when(!h.zero("reply_checksum_padding"), "reply_checksum_padding != 0"),
			when(f.view != 0, "view == 0"), // sic
			when(h.zero("reply_client"), "reply_client == 0"),
			when(!h.zero("reserved"), "reserved != 0"))
	},
	Headers: func(f frame, h header) string { return records(f, h, HeaderSize) },
	Eviction: func(f frame, h header) string {
		r := h.u("reason")
		return first(bodyless(f),
			when(f.release == 0, "release == 0"),
			when(h.zero("client"), "client == 0"),
			when(!h.zero("reserved"), "reserved != 0"),
			when(r > evictionReasonMax, "reason invalid"),
			when(r == 0, "reason == reserved"))
	},
	GetBlocks: func(f frame, h header) string {
		return first(when(f.view != 0, "view != 0"), records(f, h, BlockRequestSize))
	},
	Block: func(f frame, h header) string {
		t := h.u("block_type")
		return first(
			when(f.size > BlockSizeMax, "size > block_size"),
			when(f.size == HeaderSize, "size = @sizeOf(Header)"),
			when(f.view != 0, "view != 0"),
			when(f.release == 0, "release == 0"),
			when(f.replica != 0, "replica != 0"),
			when(h.u("address") == 0, "address == 0"),
			when(t > blockTypeMax, "block_type invalid"),
			when(t == 0, "block_type == .reserved"))
	},
}

// records is the rule of a command whose body is a list of records of n
// bytes, at least one.
func records(f frame, h header, n uint32) string {
	return first(
		when(f.size == HeaderSize, "size == @sizeOf(Header)"),
		when((f.size-HeaderSize)%n != 0, "size multiple invalid"),
		when(f.release != 0, "release != 0"),
		when(!h.zero("reserved"), "reserved != 0"))
}

func requestRules(f frame, h header) string {
	if why := first(
		when(f.release == 0, "release == 0"),
		when(!h.zero("parent_padding"), "parent_padding != 0"),
		when(h.u("timestamp") != 0, "timestamp != 0")); why != "" {
		return why
	}
	noParent := first(
		when(!h.zero("client"), "client != 0"),
		when(!h.zero("parent"), "parent != 0"),
		when(h.u("session") != 0, "session != 0"),
		when(h.u("request") != 0, "request != 0"))
	var why string
	switch op := h.u("operation"); op {
	case OpReserved:
		why = "operation == .reserved"
	case OpRoot:
		why = "operation == .root"
	case OpRegister:
		why = first(
			when(f.replica != 0, "register: replica != 0"),
			when(h.zero("client"), "register: client == 0"),
			when(!h.zero("parent"), "register: parent != 0"),
			when(h.u("session") != 0, "register: session != 0"),
			when(h.u("request") != 0, "register: request != 0"),
			when(f.size != HeaderSize && f.size != HeaderSize+RegisterRequestSize,
				"register: size != @sizeOf(Header) [+ @sizeOf(vsr.RegisterRequest)]"))
	case OpPulse:
		why = first(noParent, when(f.size != HeaderSize, "size != @sizeOf(Header)"))
		if why != "" {
			why = "pulse: " + why
		}
	case OpUpgrade:
		if why = noParent; why != "" {
			why = "upgrade: " + why
		}
	default:
		why = first(
			when(op == OpNoop && f.size != HeaderSize, "size != @sizeOf(Header)"),
			when(op < operationsReserved && op != OpNoop && op != OpReconfigure, "operation is reserved"),
			when(f.replica != 0, "replica != 0"),
			when(h.zero("client"), "client == 0"),
			when(h.u("session") == 0, "session == 0"),
			when(h.u("request") == 0, "request == 0"))
	}
	return first(why,
		when(!h.zero("previous_request_latency_padding"), "padding != 0"),
		when(!h.zero("reserved"), "reserved != 0"))
}

func prepareRules(f frame, h header) string {
	if why := first(
		when(!h.zero("parent_padding"), "parent_padding != 0"),
		when(!h.zero("request_checksum_padding"), "request_checksum_padding != 0")); why != "" {
		return why
	}
	op := h.u("operation")
	var why string
	switch op {
	case OpReserved, OpRoot:
		name := map[uint64]string{OpReserved: "reserved", OpRoot: "root"}[op]
		why = first(bodyless(f),
			when(f.view != 0, "view != 0"),
			when(f.release != 0, "release != 0"),
			when(f.replica != 0, "replica != 0"),
			when(!h.zero("parent"), "parent != 0"),
			when(!h.zero("client"), "client != 0"),
			when(!h.zero("request_checksum"), "request_checksum != 0"),
			when(!h.zero("checkpoint_id"), "checkpoint_id != 0"),
			when(op == OpRoot && h.u("op") != 0, "op != 0"),
			when(h.u("commit") != 0, "commit != 0"),
			when(h.u("timestamp") != 0, "timestamp != 0"),
			when(h.u("request") != 0, "request != 0"))
		if why != "" {
			why = name + ": " + why
		}
	default:
		own := op == OpPulse || op == OpUpgrade
		noRequest := op == OpRegister || own
		why = first(
			when(f.release == 0, "release == 0"),
			when(own && !h.zero("client"), "client != 0"),
			when(!own && h.zero("client"), "client == 0"),
			when(h.u("op") == 0, "op == 0"),
			when(h.u("op") <= h.u("commit"), "op <= commit"),
			when(h.u("timestamp") == 0, "timestamp == 0"),
			when(noRequest && h.u("request") != 0, "request != 0"),
			when(!noRequest && h.u("request") == 0, "request == 0"))
	}
	return first(why, when(!h.zero("reserved"), "reserved != 0"))
}
