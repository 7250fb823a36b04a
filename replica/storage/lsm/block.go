package lsm

import (
	"encoding/binary"

	"viewstamp/replica/u128"
)

// Value block body:
//
//	0  u32 value_count
//	4  u16 value_size
//	6  u16 tree_id
//	8  u32 value_count_max   (fixes where the tombstone bitmap starts)
//	12 u32 reserved (zero)
//	16 values[value_count_max] of value_size bytes, sorted by key
//	   tombstone bitmap, one bit per value slot
//
// Index block body:
//
//	0  u32 value_block_count
//	4  u16 key_size
//	6  u16 tree_id
//	8  u32 value_count (the table's)
//	12 u32 reserved (zero)
//	16 per value block: checksum u128, address u64, key_min, key_max
//
// Both carry their own sizes and tree id so a scrubber or a peer repairing a
// block can decode it without the tree's config. Unused bytes stay zero so
// replicas that made the same table wrote the same bytes.
const (
	valueBlockHeaderSize = 16
	indexBlockHeaderSize = 16
	indexEntryFixedSize  = 16 + 8 // checksum + address
)

func valueBlockCapacity(bodyMax, valueSize int) int {
	// Each value costs value_size bytes plus one bitmap bit.
	return (bodyMax - valueBlockHeaderSize) * 8 / (valueSize*8 + 1)
}

func indexEntrySize(keySize int) int { return indexEntryFixedSize + 2*keySize }

func indexBlockCapacity(bodyMax, keySize int) int {
	return (bodyMax - indexBlockHeaderSize) / indexEntrySize(keySize)
}

// valueBlock reads a value block body in place.
type valueBlock struct {
	body      []byte
	count     int
	valueSize int
	keySize   int
	bitmap    int
}

func decodeValueBlock(body []byte, keySize int) (valueBlock, bool) {
	if len(body) < valueBlockHeaderSize {
		return valueBlock{}, false
	}
	b := valueBlock{
		body:      body,
		count:     int(binary.LittleEndian.Uint32(body[0:])),
		valueSize: int(binary.LittleEndian.Uint16(body[4:])),
		keySize:   keySize,
	}
	countMax := int(binary.LittleEndian.Uint32(body[8:]))
	b.bitmap = valueBlockHeaderSize + countMax*b.valueSize
	if b.valueSize < keySize || b.count > countMax || b.bitmap+(countMax+7)/8 > len(body) {
		return valueBlock{}, false
	}
	return b, true
}

func (b valueBlock) value(i int) []byte {
	off := valueBlockHeaderSize + i*b.valueSize
	return b.body[off : off+b.valueSize]
}

func (b valueBlock) tombstone(i int) bool { return b.body[b.bitmap+i/8]&(1<<(i%8)) != 0 }

// search returns the first index whose key is >= key.
func (b valueBlock) search(key []byte) int {
	lo, hi := 0, b.count
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if compareKeys(b.value(mid)[:b.keySize], key) < 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// valueBlockWriter fills one fresh, zeroed body.
type valueBlockWriter struct {
	body     []byte
	count    int
	countMax int
	size     int
}

func newValueBlockWriter(bodyMax, valueSize, countMax int, treeID uint16) valueBlockWriter {
	w := valueBlockWriter{body: make([]byte, bodyMax), countMax: countMax, size: valueSize}
	binary.LittleEndian.PutUint16(w.body[4:], uint16(valueSize))
	binary.LittleEndian.PutUint16(w.body[6:], treeID)
	binary.LittleEndian.PutUint32(w.body[8:], uint32(countMax))
	return w
}

func (w *valueBlockWriter) add(value []byte, tombstone bool) {
	off := valueBlockHeaderSize + w.count*w.size
	copy(w.body[off:off+w.size], value)
	if tombstone {
		bm := valueBlockHeaderSize + w.countMax*w.size
		w.body[bm+w.count/8] |= 1 << (w.count % 8)
	}
	w.count++
	binary.LittleEndian.PutUint32(w.body[0:], uint32(w.count))
}

func (w *valueBlockWriter) full() bool { return w.count == w.countMax }

func (w *valueBlockWriter) value(i int) []byte {
	off := valueBlockHeaderSize + i*w.size
	return w.body[off : off+w.size]
}

// indexBlock reads an index block body in place.
type indexBlock struct {
	body       []byte
	count      int
	keySize    int
	valueCount int
	entry      int
}

func decodeIndexBlock(body []byte, keySize int) (indexBlock, bool) {
	if len(body) < indexBlockHeaderSize {
		return indexBlock{}, false
	}
	b := indexBlock{
		body:       body,
		count:      int(binary.LittleEndian.Uint32(body[0:])),
		keySize:    int(binary.LittleEndian.Uint16(body[4:])),
		valueCount: int(binary.LittleEndian.Uint32(body[8:])),
	}
	b.entry = indexEntrySize(b.keySize)
	if b.keySize != keySize || indexBlockHeaderSize+b.count*b.entry > len(body) {
		return indexBlock{}, false
	}
	return b, true
}

func (b indexBlock) off(i int) int { return indexBlockHeaderSize + i*b.entry }

func (b indexBlock) ref(i int) BlockRef {
	o := b.off(i)
	return BlockRef{Checksum: u128.Get(b.body[o:]), Address: binary.LittleEndian.Uint64(b.body[o+16:])}
}

func (b indexBlock) keyMin(i int) []byte {
	o := b.off(i) + indexEntryFixedSize
	return b.body[o : o+b.keySize]
}

func (b indexBlock) keyMax(i int) []byte {
	o := b.off(i) + indexEntryFixedSize + b.keySize
	return b.body[o : o+b.keySize]
}

// search returns the first value block whose key_max is >= key.
func (b indexBlock) search(key []byte) int {
	lo, hi := 0, b.count
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if compareKeys(b.keyMax(mid), key) < 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// indexBlockWriter fills one fresh, zeroed index body.
type indexBlockWriter struct {
	body    []byte
	count   int
	keySize int
}

func newIndexBlockWriter(bodyMax, keySize int, treeID uint16) indexBlockWriter {
	w := indexBlockWriter{body: make([]byte, bodyMax), keySize: keySize}
	binary.LittleEndian.PutUint16(w.body[4:], uint16(keySize))
	binary.LittleEndian.PutUint16(w.body[6:], treeID)
	return w
}

func (w *indexBlockWriter) add(ref BlockRef, keyMin, keyMax []byte) {
	o := indexBlockHeaderSize + w.count*indexEntrySize(w.keySize)
	ref.Checksum.Put(w.body[o:])
	binary.LittleEndian.PutUint64(w.body[o+16:], ref.Address)
	copy(w.body[o+indexEntryFixedSize:], keyMin)
	copy(w.body[o+indexEntryFixedSize+w.keySize:], keyMax)
	w.count++
	binary.LittleEndian.PutUint32(w.body[0:], uint32(w.count))
}

func (w *indexBlockWriter) setValueCount(n int) { binary.LittleEndian.PutUint32(w.body[8:], uint32(n)) }
