// Package block is the on-disk format of a grid block: a 256-byte header laid
// out like a message header (command block), then the body, then zero padding
// to the end of the last sector. A block is only ever trusted through a Ref
// held by its parent, so a block that is intact but not the one wanted (a
// misdirected write, or an older version at the same address) is told apart
// from corruption.
package block

import (
	"encoding/binary"
	"fmt"

	"viewstamp/replica/checksum"
	"viewstamp/replica/u128"
)

// HeaderSize is the size of a block header (and of every message header).
const HeaderSize = 256

// MetadataSize is the header area a block's owner may fill: the LSM puts
// counts and tree ids there, trailers their back link.
const MetadataSize = 96

// Command is the message command a block header carries, the wire code of
// `block` messages, so a block is sent to a peer as it lies on disk.
const Command = 20

// Header field offsets. Unlisted bytes are zero.
const (
	offChecksum     = 0   // u128 over bytes 16..256
	offBodyChecksum = 32  // u128 over the body
	offCluster      = 80  // u128
	offSize         = 96  // u32, header + body
	offCommand      = 114 // u8
	offMetadata     = 128 // [MetadataSize]
	offAddress      = 224 // u64
	offType         = 240 // u8
)

// Type says what a block holds. TypeReserved is never written, so a zeroed
// sector can never pass for a block.
type Type uint8

const (
	TypeReserved       Type = 0
	TypeFreeSet        Type = 1
	TypeClientSessions Type = 2
	TypeManifest       Type = 3
	TypeIndex          Type = 4
	TypeValue          Type = 5
	// TypeSnapshot holds a state machine's whole state (a checkpoint
	// trailer), for a state machine not kept in the forest.
	TypeSnapshot Type = 6
)

// typeCount bounds the block types.
const typeCount = 7

var typeNames = [typeCount]string{"reserved", "free_set", "client_sessions", "manifest", "index", "value", "snapshot"}

func (t Type) String() string {
	if t < typeCount {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Valid reports whether t may be written.
func (t Type) Valid() bool { return t != TypeReserved && t < typeCount }

// Ref is how a parent names a block: where it is and what it must be.
type Ref struct {
	Address  uint64
	Checksum u128.U128
}

// Header is a block header, decoded.
type Header struct {
	Checksum     u128.U128
	BodyChecksum u128.U128
	Cluster      u128.U128
	Size         uint32 // header + body
	Address      uint64
	Type         Type
	Metadata     [MetadataSize]byte
}

// Seal writes a block for address into dst: header, body, then zeros to the
// end of dst. dst must hold the header and body; callers size it to whole
// sectors. It returns the block's checksum, which is what its parent keeps.
func Seal(dst []byte, cluster u128.U128, address uint64, t Type, metadata, body []byte) u128.U128 {
	size := HeaderSize + len(body)
	switch {
	case address == 0:
		panic("block: address 0 is the null reference")
	case !t.Valid():
		panic(fmt.Sprintf("block: cannot write %v", t))
	case len(metadata) > MetadataSize:
		panic(fmt.Sprintf("block: metadata of %d bytes exceeds %d", len(metadata), MetadataSize))
	case len(dst) < size:
		panic(fmt.Sprintf("block: buffer of %d bytes for a block of %d", len(dst), size))
	}
	clear(dst[:HeaderSize])
	copy(dst[HeaderSize:], body)
	clear(dst[size:])
	le := binary.LittleEndian
	cluster.Put(dst[offCluster:])
	le.PutUint32(dst[offSize:], uint32(size))
	dst[offCommand] = Command
	copy(dst[offMetadata:], metadata)
	le.PutUint64(dst[offAddress:], address)
	dst[offType] = byte(t)
	// The body is summed first: its checksum is part of the header's.
	checksum.Sum(dst[HeaderSize:size]).Put(dst[offBodyChecksum:])
	sum := checksum.Sum(dst[offChecksum+16 : HeaderSize])
	sum.Put(dst[offChecksum:])
	return sum
}

// DecodeHeader reads the header fields of blk without verifying anything.
func DecodeHeader(blk []byte) Header {
	le := binary.LittleEndian
	h := Header{
		Checksum:     u128.Get(blk[offChecksum:]),
		BodyChecksum: u128.Get(blk[offBodyChecksum:]),
		Cluster:      u128.Get(blk[offCluster:]),
		Size:         le.Uint32(blk[offSize:]),
		Address:      le.Uint64(blk[offAddress:]),
		Type:         Type(blk[offType]),
	}
	copy(h.Metadata[:], blk[offMetadata:offMetadata+MetadataSize])
	return h
}

// Body is the body of a block Verify accepted.
func Body(blk []byte) []byte {
	return blk[HeaderSize:binary.LittleEndian.Uint32(blk[offSize:])]
}

// Metadata is the metadata area of a block Verify accepted.
func Metadata(blk []byte) []byte { return blk[offMetadata : offMetadata+MetadataSize] }

// Result is what Verify found.
type Result uint8

const (
	// Valid: the block the reference names, intact.
	Valid Result = iota
	// BadHeaderChecksum: the header is corrupt, or the sectors were never
	// written as a block.
	BadHeaderChecksum
	// InvalidHeader: the header checks out but is not a block this replica
	// could have written (another command or cluster, a reserved type, an
	// impossible size, non-zero reserved bytes).
	InvalidHeader
	// Misdirected: a valid block, but of another address: a write that
	// landed in the wrong place, or a read served from one.
	Misdirected
	// Stale: a valid block at the right address but another version, as
	// when the newer write was lost.
	Stale
	// BadBodyChecksum: the right header over a corrupt body.
	BadBodyChecksum
	// BadPadding: the right block, but the zeros after its body are not.
	// The block is not served: its bytes on disk are not what was written.
	BadPadding
	ResultCount
)

var resultNames = [ResultCount]string{"valid", "bad_header_checksum", "invalid_header", "misdirected", "stale", "bad_body_checksum", "bad_padding"}

func (r Result) String() string {
	if r < ResultCount {
		return resultNames[r]
	}
	return fmt.Sprintf("result(%d)", uint8(r))
}

// Verify checks that blk (at least one header long; usually a whole block
// read from disk) is the block want names, for a cluster whose sectors are
// sectorSize bytes. The checks run from the cheapest evidence to the most
// specific, so each Result names the first thing wrong.
func Verify(blk []byte, sectorSize uint64, cluster u128.U128, want Ref) Result {
	if len(blk) < HeaderSize || checksum.Sum(blk[offChecksum+16:HeaderSize]) != u128.Get(blk[offChecksum:]) {
		return BadHeaderChecksum
	}
	h := DecodeHeader(blk)
	padded := (uint64(h.Size) + sectorSize - 1) / sectorSize * sectorSize
	if blk[offCommand] != Command || h.Cluster != cluster || !h.Type.Valid() || h.Address == 0 ||
		h.Size < HeaderSize || padded > uint64(len(blk)) || !reservedZero(blk) {
		return InvalidHeader
	}
	if h.Address != want.Address {
		return Misdirected
	}
	if h.Checksum != want.Checksum {
		return Stale
	}
	if checksum.Sum(blk[HeaderSize:h.Size]) != h.BodyChecksum {
		return BadBodyChecksum
	}
	for _, b := range blk[h.Size:padded] {
		if b != 0 {
			return BadPadding
		}
	}
	return Valid
}

// reservedZero checks the header bytes no field uses.
func reservedZero(blk []byte) bool {
	zero := func(from, to int) bool {
		for _, b := range blk[from:to] {
			if b != 0 {
				return false
			}
		}
		return true
	}
	return zero(16, offBodyChecksum) && zero(offBodyChecksum+16, offCluster) &&
		zero(offSize+4, offCommand) && zero(offCommand+1, offMetadata) &&
		zero(offAddress+8, offType) && zero(offType+1, HeaderSize)
}

// PutLink writes a trailer block's back link into its metadata: the previous
// block of the chain, or the zero Ref for the first.
func PutLink(metadata []byte, previous Ref) {
	binary.LittleEndian.PutUint64(metadata[0:], previous.Address)
	previous.Checksum.Put(metadata[8:])
}

// LinkSize is the metadata a trailer's back link takes.
const LinkSize = 24

// Link reads a trailer block's back link.
func Link(metadata []byte) Ref {
	return Ref{Address: binary.LittleEndian.Uint64(metadata[0:]), Checksum: u128.Get(metadata[8:])}
}
