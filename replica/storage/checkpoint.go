package storage

import (
	"encoding/binary"
	"errors"

	"viewstamp/replica/checksum"
	"viewstamp/replica/storage/block"
	"viewstamp/replica/u128"
)

// CheckpointStateSize is the fixed encoding of a CheckpointState. The fields
// take 344 bytes; the rest is zero, room for fields to come without moving
// the superblock's layout.
const CheckpointStateSize = 512

// TrailerRef names a checkpoint trailer: a chain of blocks read backwards
// from Last, each naming its predecessor, holding Size bytes in BlockCount
// blocks whose concatenation has checksum Checksum. The zero TrailerRef is an
// absent trailer (checkpoint 0).
type TrailerRef struct {
	Last       block.Ref
	Size       uint64
	BlockCount uint64
	Checksum   u128.U128
}

// IsZero reports an absent trailer.
func (t TrailerRef) IsZero() bool { return t == TrailerRef{} }

// ManifestRef names the manifest log: its oldest and newest blocks and how
// many blocks lie between them, both included.
type ManifestRef struct {
	Oldest     block.Ref
	Newest     block.Ref
	BlockCount uint64
}

// CheckpointState is what the superblock records about a checkpoint: enough
// to open the grid, the forest and the client sessions as they were when op
// Op committed. Every replica at a checkpoint must hold the same state, so
// its checksum (CheckpointID) names the checkpoint across the cluster.
type CheckpointState struct {
	// Header of the prepare whose commit is the checkpoint.
	HeaderChecksum u128.U128
	Op             uint64

	FreeSetAcquired TrailerRef
	FreeSetReleased TrailerRef
	ClientSessions  TrailerRef
	Manifest        ManifestRef

	// ParentID and GrandparentID chain checkpoints, so a replica syncing to
	// a newer one can tell it descends from its own.
	ParentID      u128.U128
	GrandparentID u128.U128

	// StorageSize is how much of the data file this checkpoint needs (the
	// layout's prefix up to the highest acquired block).
	StorageSize uint64

	// Snapshot is the state machine's state written whole, for a state
	// machine kept in memory rather than in the forest (zero otherwise).
	Snapshot TrailerRef
}

const (
	cpHeaderChecksum = 0
	cpOp             = 16
	cpAcquired       = 24
	cpReleased       = cpAcquired + trailerRefSize
	cpSessions       = cpReleased + trailerRefSize
	cpManifest       = cpSessions + trailerRefSize
	cpParent         = cpManifest + manifestRefSize
	cpGrandparent    = cpParent + 16
	cpStorageSize    = cpGrandparent + 16
	cpSnapshot       = cpStorageSize + 8
	cpEnd            = cpSnapshot + trailerRefSize

	refSize         = 24
	trailerRefSize  = refSize + 8 + 8 + 16
	manifestRefSize = 2*refSize + 8
)

// The fields must fit the fixed size; this fails to compile otherwise.
var _ [CheckpointStateSize - cpEnd]struct{}

func putRef(b []byte, r block.Ref) {
	binary.LittleEndian.PutUint64(b[0:], r.Address)
	r.Checksum.Put(b[8:])
}

func getRef(b []byte) block.Ref {
	return block.Ref{Address: binary.LittleEndian.Uint64(b[0:]), Checksum: u128.Get(b[8:])}
}

func putTrailer(b []byte, t TrailerRef) {
	putRef(b, t.Last)
	binary.LittleEndian.PutUint64(b[refSize:], t.Size)
	binary.LittleEndian.PutUint64(b[refSize+8:], t.BlockCount)
	t.Checksum.Put(b[refSize+16:])
}

func getTrailer(b []byte) TrailerRef {
	return TrailerRef{
		Last:       getRef(b),
		Size:       binary.LittleEndian.Uint64(b[refSize:]),
		BlockCount: binary.LittleEndian.Uint64(b[refSize+8:]),
		Checksum:   u128.Get(b[refSize+16:]),
	}
}

// Encode writes the state into b[:CheckpointStateSize], zeroing the unused tail.
func (s *CheckpointState) Encode(b []byte) {
	b = b[:CheckpointStateSize]
	clear(b)
	s.HeaderChecksum.Put(b[cpHeaderChecksum:])
	binary.LittleEndian.PutUint64(b[cpOp:], s.Op)
	putTrailer(b[cpAcquired:], s.FreeSetAcquired)
	putTrailer(b[cpReleased:], s.FreeSetReleased)
	putTrailer(b[cpSessions:], s.ClientSessions)
	putRef(b[cpManifest:], s.Manifest.Oldest)
	putRef(b[cpManifest+refSize:], s.Manifest.Newest)
	binary.LittleEndian.PutUint64(b[cpManifest+2*refSize:], s.Manifest.BlockCount)
	s.ParentID.Put(b[cpParent:])
	s.GrandparentID.Put(b[cpGrandparent:])
	binary.LittleEndian.PutUint64(b[cpStorageSize:], s.StorageSize)
	putTrailer(b[cpSnapshot:], s.Snapshot)
}

// ErrCheckpointState reports an encoding that no CheckpointState produces.
var ErrCheckpointState = errors.New("storage: invalid checkpoint state encoding")

// DecodeCheckpointState reads what Encode wrote. It refuses a non-zero tail
// (written by a newer format, or corrupt) and references that cannot be
// true: a trailer with blocks but no last address, or the reverse.
func DecodeCheckpointState(b []byte) (CheckpointState, error) {
	var s CheckpointState
	if len(b) < CheckpointStateSize {
		return s, ErrCheckpointState
	}
	for _, v := range b[cpEnd:CheckpointStateSize] {
		if v != 0 {
			return s, ErrCheckpointState
		}
	}
	s.HeaderChecksum = u128.Get(b[cpHeaderChecksum:])
	s.Op = binary.LittleEndian.Uint64(b[cpOp:])
	s.FreeSetAcquired = getTrailer(b[cpAcquired:])
	s.FreeSetReleased = getTrailer(b[cpReleased:])
	s.ClientSessions = getTrailer(b[cpSessions:])
	s.Manifest.Oldest = getRef(b[cpManifest:])
	s.Manifest.Newest = getRef(b[cpManifest+refSize:])
	s.Manifest.BlockCount = binary.LittleEndian.Uint64(b[cpManifest+2*refSize:])
	s.ParentID = u128.Get(b[cpParent:])
	s.GrandparentID = u128.Get(b[cpGrandparent:])
	s.StorageSize = binary.LittleEndian.Uint64(b[cpStorageSize:])
	s.Snapshot = getTrailer(b[cpSnapshot:])
	for _, t := range []TrailerRef{s.FreeSetAcquired, s.FreeSetReleased, s.ClientSessions, s.Snapshot} {
		if (t.Last.Address == 0) != (t.BlockCount == 0) || (t.BlockCount == 0 && (t.Size != 0 || !t.Checksum.IsZero())) {
			return CheckpointState{}, ErrCheckpointState
		}
	}
	m := s.Manifest
	if (m.Oldest.Address == 0) != (m.BlockCount == 0) || (m.Newest.Address == 0) != (m.BlockCount == 0) {
		return CheckpointState{}, ErrCheckpointState
	}
	return s, nil
}

// CheckpointID is the checkpoint's name across the cluster: the checksum of
// its encoding. Replicas at the same op with different ids have diverged.
func (s *CheckpointState) CheckpointID() u128.U128 {
	var b [CheckpointStateSize]byte
	s.Encode(b[:])
	return checksum.Sum(b[:])
}
