// Package aegis is TigerBeetle's checksum: the 128-bit tag of AEGIS-128L
// with a zero key and a zero nonce, the checksummed bytes as associated data
// and an empty message. TigerBeetle stores these tags on disk and on the
// wire, so every detail here (padding, the length block, the tag's byte
// order) is fixed by compatibility, not by taste.
//
// The AES round runs on AES-NI where the CPU has it and in table-driven Go
// otherwise; both give the same bits. The Go round is not constant-time:
// with a zero key there is no secret for its table lookups to leak.
package aegis

import "encoding/binary"

const (
	// BlockSize is how many associated-data bytes one state update absorbs.
	BlockSize = 32
	// TagSize is the length of a checksum in bytes.
	TagSize = 16

	// stateBlocks is the number of 16-byte AES blocks in the state.
	stateBlocks = 8
	// initRounds is how many updates the key and nonce get at init.
	initRounds = 10
	// finalRounds is how many updates the length block gets at finalize.
	finalRounds = 7
	// tagBlocks is how many state blocks are folded into the tag.
	tagBlocks = 7
)

// state is laid out exactly as the assembly expects it: S0..S7, 16 bytes
// each, each block in AES byte order.
type state [stateBlocks][16]byte

var (
	c0 = [16]byte{0x00, 0x01, 0x01, 0x02, 0x03, 0x05, 0x08, 0x0d, 0x15, 0x22, 0x37, 0x59, 0x90, 0xe9, 0x79, 0x62}
	c1 = [16]byte{0xdb, 0x3d, 0x18, 0x55, 0x6d, 0xc2, 0x2f, 0xf1, 0x20, 0x11, 0x31, 0x42, 0x73, 0xb5, 0x28, 0xdd}
)

// initial is the state after init with K = N = 0. It depends on nothing, so
// it is computed once and every checksum starts from a copy.
var initial = func() state {
	// K^N, C1, C0, C1, K^N, K^C0, K^C1, K^C0 with K = N = 0.
	s := state{{}, c1, c0, c1, {}, c0, c1, c0}
	// Update(N, K) with both zero is exactly absorbing a zero block; the
	// generic round keeps this independent of which path is selected.
	var zeros [initRounds * BlockSize]byte
	absorbGeneric(&s, zeros[:])
	return s
}()

// Sum returns the checksum of data: the tag bytes, which are also the bytes
// TigerBeetle puts on the wire (read as a little-endian u128).
func Sum(data []byte) [TagSize]byte {
	full := len(data) &^ (BlockSize - 1)
	var last *[BlockSize]byte
	if full < len(data) {
		var padded [BlockSize]byte
		copy(padded[:], data[full:])
		last = &padded
	}
	return sum(&initial, data[:full], last, uint64(len(data)))
}

// sumGeneric is the checksum of adLen bytes of associated data: full, a
// whole number of blocks, absorbed into a copy of *s, then last, the
// zero-padded partial block if there is one.
func sumGeneric(s *state, full []byte, last *[BlockSize]byte, adLen uint64) [TagSize]byte {
	st := *s
	absorbGeneric(&st, full)
	if last != nil {
		absorbGeneric(&st, last[:])
	}
	return finalizeGeneric(&st, adLen)
}

// finalizeGeneric absorbs the length block and folds the state into the
// tag. The block is the associated data's length in bits, then the message
// length, zero here; a newer AEGIS-MAC draft puts the tag length in that
// second half instead, which would change every value.
func finalizeGeneric(s *state, adLen uint64) [TagSize]byte {
	t := s[2]
	lo := binary.LittleEndian.Uint64(t[0:8]) ^ adLen*8
	binary.LittleEndian.PutUint64(t[0:8], lo)
	// Update(t, t) seven times is absorbing seven blocks of t || t.
	var ts [finalRounds * BlockSize]byte
	for i := 0; i < len(ts); i += len(t) {
		copy(ts[i:], t[:])
	}
	absorbGeneric(s, ts[:])
	var lo64, hi64 uint64
	for i := 0; i < tagBlocks; i++ {
		lo64 ^= binary.LittleEndian.Uint64(s[i][0:8])
		hi64 ^= binary.LittleEndian.Uint64(s[i][8:16])
	}
	var tag [TagSize]byte
	binary.LittleEndian.PutUint64(tag[0:8], lo64)
	binary.LittleEndian.PutUint64(tag[8:16], hi64)
	return tag
}

// Stream checksums data written in pieces of any size; Sum over the
// concatenation of the writes gives the same tag. The zero value is ready.
type Stream struct {
	s       state
	pending [BlockSize]byte
	n       int    // bytes held in pending, always < BlockSize
	total   uint64 // bytes written since Reset
	started bool   // s holds a started state; false for the zero value
}

// Reset starts a new checksum.
func (st *Stream) Reset() {
	st.s = initial
	st.n = 0
	st.total = 0
	st.started = true
}

// Write adds data.
func (st *Stream) Write(data []byte) {
	if !st.started {
		st.Reset()
	}
	st.total += uint64(len(data))
	if st.n > 0 {
		k := copy(st.pending[st.n:], data)
		st.n += k
		data = data[k:]
		if st.n < BlockSize {
			return
		}
		absorb(&st.s, st.pending[:])
		st.n = 0
	}
	full := len(data) &^ (BlockSize - 1)
	absorb(&st.s, data[:full])
	st.n = copy(st.pending[:], data[full:])
}

// Sum returns the checksum of everything written since Reset. It does not
// change the stream, so more writes may follow.
func (st *Stream) Sum() [TagSize]byte {
	if !st.started {
		st.Reset()
	}
	var last *[BlockSize]byte
	if st.n > 0 {
		var padded [BlockSize]byte
		copy(padded[:], st.pending[:st.n])
		last = &padded
	}
	return sum(&st.s, nil, last, st.total)
}
