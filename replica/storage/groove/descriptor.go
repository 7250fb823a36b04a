package groove

import (
	"encoding/binary"
	"errors"
	"fmt"

	"viewstamp/replica/storage/lsm"
	"viewstamp/replica/u128"
)

// Key widths. Fields of up to 64 bits are widened to a u64 so that every
// index key is one of two shapes; a u128 field keeps its 16 bytes.
const (
	timestampSize = 8
	idSize        = 16
	// WidthU64 is the key width of u16, u32 and u64 fields.
	WidthU64 = 8
	// WidthU128 is the key width of u128 fields.
	WidthU128 = 16
	// CacheWays is the associativity of the object cache: a lookup compares
	// at most this many tags, and eviction picks within one set.
	CacheWays = 16
	// PrefetchIOMax bounds the lookups one prefetch keeps in flight, so a
	// batch of thousands of misses does not flood the grid's IO queue.
	PrefetchIOMax = 64
	// QueryChunkMax bounds the values one index scan of a query fetches at a
	// time: an intersection seeks far more often than it reads on, and a
	// seek discards the rest of a chunk.
	QueryChunkMax = 1024
)

// Field is one indexed field: its index tree's key is Value(object),
// widened to Width bytes big-endian, followed by the object's timestamp.
// Value returns zero for an object the index should not hold (an optional
// field left zero), so Value can also compute a derived field.
type Field struct {
	Name  string
	Tree  uint16
	Width int // WidthU64 or WidthU128
	Value func(object []byte) u128.U128
	// Mutable fields may change in Update (a pending transfer's status);
	// their index tree gets a remove and a put per update, so it is sized
	// for twice the puts. Update refuses to change any other field.
	Mutable bool
}

// U128Field indexes the little-endian u128 at offset.
func U128Field(name string, tree uint16, offset int) Field {
	return Field{Name: name, Tree: tree, Width: WidthU128, Value: func(o []byte) u128.U128 { return u128.Get(o[offset:]) }}
}

// U64Field indexes the little-endian u64 at offset.
func U64Field(name string, tree uint16, offset int) Field {
	return Field{Name: name, Tree: tree, Width: WidthU64, Value: func(o []byte) u128.U128 {
		return u128.From64(binary.LittleEndian.Uint64(o[offset:]))
	}}
}

// U32Field indexes the little-endian u32 at offset.
func U32Field(name string, tree uint16, offset int) Field {
	return Field{Name: name, Tree: tree, Width: WidthU64, Value: func(o []byte) u128.U128 {
		return u128.From64(uint64(binary.LittleEndian.Uint32(o[offset:])))
	}}
}

// U16Field indexes the little-endian u16 at offset.
func U16Field(name string, tree uint16, offset int) Field {
	return Field{Name: name, Tree: tree, Width: WidthU64, Value: func(o []byte) u128.U128 {
		return u128.From64(uint64(binary.LittleEndian.Uint16(o[offset:])))
	}}
}

// Descriptor is what a groove knows of its object type: the size, where
// the id and timestamp sit in the object's own (little-endian, wire) layout,
// and the indexed fields. The groove never decodes anything else.
type Descriptor struct {
	Name            string
	ObjectSize      int
	ObjectTree      uint16
	IDTree          uint16 // 0: the objects have no id (looked up by timestamp only)
	IDOffset        int    // little-endian u128
	TimestampOffset int    // little-endian u64
	Fields          []Field
}

// Config is a groove's descriptor and its bounds.
type Config struct {
	Descriptor
	// PutsPerOpMax is the most distinct objects one op may insert or update
	// (an account is updated by many transfers of a batch): with the
	// forest's CompactionOps it sizes the object tree's tables and those of
	// mutable fields' indexes (a remove and a put per update).
	PutsPerOpMax int
	// InsertsPerOpMax is the most objects (and orphaned ids) one op may
	// insert, which sizes the id tree's and the other indexes' tables; 0
	// means PutsPerOpMax.
	InsertsPerOpMax int
	// CacheObjects is the object cache's capacity, a multiple of CacheWays
	// (0: no cache). Objects live there across batches; it is the only
	// memory that grows with the working set, and it is bounded.
	CacheObjects int
	// StashMax is the most objects one batch may hold in its stash:
	// everything it prefetched, including ids found absent, plus what it
	// inserts.
	StashMax int
}

var errConfig = errors.New("groove: invalid config")

func (c *Config) validate() error {
	d := &c.Descriptor
	switch {
	case d.ObjectSize < timestampSize || d.ObjectSize+timestampSize > lsm.ValueSizeMax:
		return fmt.Errorf("%w: %s: object size %d", errConfig, d.Name, d.ObjectSize)
	case d.TimestampOffset < 0 || d.TimestampOffset+timestampSize > d.ObjectSize:
		return fmt.Errorf("%w: %s: timestamp offset %d", errConfig, d.Name, d.TimestampOffset)
	case d.IDTree != 0 && (d.IDOffset < 0 || d.IDOffset+idSize > d.ObjectSize):
		return fmt.Errorf("%w: %s: id offset %d", errConfig, d.Name, d.IDOffset)
	case d.ObjectTree == 0:
		return fmt.Errorf("%w: %s: object tree id 0", errConfig, d.Name)
	case c.PutsPerOpMax < 1 || c.StashMax < 1 || c.InsertsPerOpMax < 0 || c.InsertsPerOpMax > c.PutsPerOpMax:
		return fmt.Errorf("%w: %s: puts per op %d, inserts per op %d, stash %d", errConfig, d.Name, c.PutsPerOpMax, c.InsertsPerOpMax, c.StashMax)
	case c.CacheObjects < 0 || c.CacheObjects%CacheWays != 0:
		return fmt.Errorf("%w: %s: cache of %d objects is not a multiple of %d", errConfig, d.Name, c.CacheObjects, CacheWays)
	}
	for _, f := range d.Fields {
		if (f.Width != WidthU64 && f.Width != WidthU128) || f.Value == nil || f.Tree == 0 {
			return fmt.Errorf("%w: %s: field %s", errConfig, d.Name, f.Name)
		}
	}
	return nil
}

// trees returns the lsm configs of the groove's trees: objects, the id
// tree, then one per field, each sized for the distinct keys a bar may put.
func (c *Config) trees(compactionOps int) []lsm.TreeConfig {
	d := &c.Descriptor
	perBar := c.PutsPerOpMax * compactionOps
	insertsPerBar := perBar
	if c.InsertsPerOpMax > 0 {
		insertsPerBar = c.InsertsPerOpMax * compactionOps
	}
	out := []lsm.TreeConfig{{
		ID: d.ObjectTree, Name: d.Name, KeySize: timestampSize,
		ValueSize: timestampSize + d.ObjectSize, TableValueCountMax: perBar,
	}}
	if d.IDTree != 0 {
		out = append(out, lsm.TreeConfig{
			ID: d.IDTree, Name: d.Name + ".id", KeySize: idSize,
			ValueSize: idSize + timestampSize, TableValueCountMax: insertsPerBar,
		})
	}
	for _, f := range d.Fields {
		n := insertsPerBar
		if f.Mutable {
			n = 2 * perBar
		}
		out = append(out, lsm.TreeConfig{
			ID: f.Tree, Name: d.Name + "." + f.Name, KeySize: f.Width + timestampSize,
			ValueSize: f.Width + timestampSize, TableValueCountMax: n,
			ScanOnly: true, // queries scan an index; nothing gets a key
		})
	}
	return out
}

func (d *Descriptor) timestamp(object []byte) uint64 {
	return binary.LittleEndian.Uint64(object[d.TimestampOffset:])
}

func (d *Descriptor) id(object []byte) u128.U128 { return u128.Get(object[d.IDOffset:]) }

// putTimestamp writes ts big-endian: keys compare as unsigned bytes.
func putTimestamp(b []byte, ts uint64) { binary.BigEndian.PutUint64(b, ts) }

func putID(b []byte, id u128.U128) {
	binary.BigEndian.PutUint64(b, id.Hi)
	binary.BigEndian.PutUint64(b[8:], id.Lo)
}

// putFieldKey writes value ++ ts, the key (and value) of an index tree.
func putFieldKey(b []byte, width int, value u128.U128, ts uint64) {
	if width == WidthU128 {
		putID(b, value)
	} else {
		if value.Hi != 0 {
			panic("groove: a u64-wide field's value exceeds 64 bits")
		}
		binary.BigEndian.PutUint64(b, value.Lo)
	}
	putTimestamp(b[width:], ts)
}
