package lsm

import (
	"encoding/binary"
	"math"

	"viewstamp/replica/u128"
)

// SnapshotLatest is the snapshot_max of a table no compaction has removed.
const SnapshotLatest = math.MaxUint64

// TableInfo is what the manifest knows of one table: enough to find it
// (the index block's address and checksum), to skip it (its key range), and to
// say since when it is visible (snapshot_min, the op from which reads see it;
// snapshot_max, the last op that saw it), which state sync uses to fetch only
// tables newer than what a replica already holds.
type TableInfo struct {
	TreeID      uint16
	Level       uint8
	KeyMin      [KeySizeMax]byte // zero padded past the tree's key size
	KeyMax      [KeySizeMax]byte
	Index       BlockRef
	SnapshotMin uint64
	SnapshotMax uint64
	ValueCount  uint32
}

func (t *TableInfo) keyMin(keySize int) []byte { return t.KeyMin[:keySize] }
func (t *TableInfo) keyMax(keySize int) []byte { return t.KeyMax[:keySize] }

type tableKey struct {
	tree  uint16
	index BlockRef
}

func (t *TableInfo) key() tableKey { return tableKey{tree: t.TreeID, index: t.Index} }

// Manifest events.
const (
	eventInsert uint8 = 1 // a table appears at Level (or is re-logged by manifest compaction)
	eventUpdate uint8 = 2 // a table moved to Level without being rewritten
	eventRemove uint8 = 3 // a table was compacted away
)

// Manifest entry, 128 bytes like TigerBeetle's TableInfo:
//
//	0   key_min[32]
//	32  key_max[32]
//	64  index checksum u128
//	80  index address u64
//	88  snapshot_min u64
//	96  snapshot_max u64
//	104 value_count u32
//	108 tree_id u16
//	110 level u8
//	111 event u8
//	112 reserved (zero)
const manifestEntrySize = 128

func encodeManifestEntry(b []byte, t *TableInfo, event uint8) {
	copy(b[0:32], t.KeyMin[:])
	copy(b[32:64], t.KeyMax[:])
	t.Index.Checksum.Put(b[64:])
	binary.LittleEndian.PutUint64(b[80:], t.Index.Address)
	binary.LittleEndian.PutUint64(b[88:], t.SnapshotMin)
	binary.LittleEndian.PutUint64(b[96:], t.SnapshotMax)
	binary.LittleEndian.PutUint32(b[104:], t.ValueCount)
	binary.LittleEndian.PutUint16(b[108:], t.TreeID)
	b[110] = t.Level
	b[111] = event
}

func decodeManifestEntry(b []byte) (TableInfo, uint8) {
	var t TableInfo
	copy(t.KeyMin[:], b[0:32])
	copy(t.KeyMax[:], b[32:64])
	t.Index.Checksum = u128.Get(b[64:])
	t.Index.Address = binary.LittleEndian.Uint64(b[80:])
	t.SnapshotMin = binary.LittleEndian.Uint64(b[88:])
	t.SnapshotMax = binary.LittleEndian.Uint64(b[96:])
	t.ValueCount = binary.LittleEndian.Uint32(b[104:])
	t.TreeID = binary.LittleEndian.Uint16(b[108:])
	t.Level = b[110]
	return t, b[111]
}
