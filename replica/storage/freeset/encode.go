package freeset

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// The encoding of a bitset is run-length: the block count as a u64, the
// number of set bits as a u64, then uvarint run lengths alternating clear and
// set, starting with a (possibly empty) clear run; no other run is empty and
// the runs add up to the block count. The form is canonical, so equal bitsets
// encode to equal bytes on every replica. (TigerBeetle uses EWAH, which
// compresses words rather than bits; runs are simpler and, for a grid that is
// mostly acquired from the front, about as small.)
const encodingHeaderSize = 16

// ErrEncoding reports bytes no Encode produced.
var ErrEncoding = errors.New("freeset: invalid encoding")

// EncodeAcquired encodes which blocks are acquired, for the checkpoint. It
// needs the current checkpoint durable (so nothing is released prior to its
// durability) and no reservation active.
func (f *FreeSet) EncodeAcquired() []byte {
	f.mustBeAtRest()
	return encode(f.acquired, f.blocks, f.acquiredCount)
}

// EncodeReleased encodes which acquired blocks are released, for the
// checkpoint, under the same conditions as EncodeAcquired.
func (f *FreeSet) EncodeReleased() []byte {
	f.mustBeAtRest()
	return encode(f.released, f.blocks, f.releasedCount)
}

func (f *FreeSet) mustBeAtRest() {
	if !f.durable || f.priorCount != 0 {
		panic("freeset: encoding while the current checkpoint is not durable")
	}
	if f.reservations > 0 {
		panic("freeset: encoding during a reservation")
	}
}

func encode(bitset []uint64, blocks, set uint64) []byte {
	out := make([]byte, encodingHeaderSize, encodingHeaderSize+64)
	binary.LittleEndian.PutUint64(out[0:], blocks)
	binary.LittleEndian.PutUint64(out[8:], set)
	value := false // the run being measured is of clear bits first
	var run uint64
	for i := uint64(0); i < blocks; {
		word := bitset[i/wordBits] >> (i % wordBits)
		if !value {
			word = ^word
		}
		// The run continues while bits equal value; count them a word at
		// a time.
		avail := min(wordBits-i%wordBits, blocks-i)
		same := uint64(bits.TrailingZeros64(^word))
		if same >= avail {
			run += avail
			i += avail
			continue
		}
		run += same
		i += same
		out = binary.AppendUvarint(out, run)
		value = !value
		run = 0
	}
	return binary.AppendUvarint(out, run)
}

func decode(b []byte, blocks uint64, bitset []uint64) (uint64, error) {
	if len(b) < encodingHeaderSize || binary.LittleEndian.Uint64(b[0:]) != blocks {
		return 0, fmt.Errorf("%w: header for another grid", ErrEncoding)
	}
	want := binary.LittleEndian.Uint64(b[8:])
	b = b[encodingHeaderSize:]
	var at, set uint64
	value := false
	for first := true; len(b) > 0; first = false {
		run, n := binary.Uvarint(b)
		if n <= 0 || (run == 0 && !first) || run > blocks-at {
			return 0, fmt.Errorf("%w: bad run at block %d", ErrEncoding, at)
		}
		b = b[n:]
		if value {
			for i := at; i < at+run; i++ {
				bitset[i/wordBits] |= 1 << (i % wordBits)
			}
			set += run
		}
		at += run
		value = !value
	}
	if at != blocks || set != want {
		return 0, fmt.Errorf("%w: runs cover %d of %d blocks, %d set of %d", ErrEncoding, at, blocks, set, want)
	}
	return set, nil
}

// Decode rebuilds the free set a checkpoint recorded. The checkpoint just
// opened is not known to be durable: replaying up to its durability commit
// frees what it released, as it did on the replica that wrote it.
func Decode(blocks uint64, acquired, released []byte) (*FreeSet, error) {
	f := New(blocks)
	clear(f.acquired)
	for i := blocks; i < uint64(len(f.acquired))*wordBits; i++ {
		f.acquired[i/wordBits] |= 1 << (i % wordBits)
	}
	var err error
	if f.acquiredCount, err = decode(acquired, blocks, f.acquired); err != nil {
		return nil, err
	}
	if f.releasedCount, err = decode(released, blocks, f.released); err != nil {
		return nil, err
	}
	for w := range f.released {
		if f.released[w]&^f.acquired[w] != 0 {
			return nil, fmt.Errorf("%w: a released block is not acquired", ErrEncoding)
		}
	}
	for s := uint64(0); s < uint64(len(f.acquired))/shardWords; s++ {
		f.updateShard(s)
	}
	f.durable = false
	return f, nil
}
