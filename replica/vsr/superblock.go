package vsr

import (
	"encoding/binary"
	"fmt"
	"slices"

	"viewstamp/replica/checksum"
	rio "viewstamp/replica/io"
	"viewstamp/replica/storage"
	"viewstamp/replica/u128"
)

// SuperblockCopies is how many copies of the superblock the data file holds.
// A write replaces all of them, one at a time; open takes a quorum of them
// (see chooseSuperblock).
const SuperblockCopies = storage.SuperblockCopies

// superblockCopiesInFlight is how many copies of one version are written at
// once: one, so a crash tears at most one copy, and with at most one copy
// damaged at rest besides, two copies of the last durable version or of the
// one being written always remain to open from (superblockOpenQuorum).
const superblockCopiesInFlight = 1

// superblockOpenQuorum is how many copies open needs to agree on a version:
// copies of it, or one copy of it and one of the parent it names. TigerBeetle
// opens 4 copies with 2, as writes in place can leave two copies bad (one
// torn, one faulty).
const superblockOpenQuorum = 2

// VSRState is what must survive a crash for the protocol to stay safe: the
// view this replica has promised, the view whose log it holds, and that log's
// suffix (so that a restart cannot resurrect a truncated tail of the WAL),
// with the checkpoint its state machine and client sessions reopen from.
type VSRState struct {
	Sequence    uint64
	Parent      u128.U128 // checksum of the previous version
	Replica     uint8
	View        uint32
	LogView     uint32
	CommitMax   uint64
	ViewHeaders []Header // the log suffix installed at LogView, op descending
	Checkpoint  storage.CheckpointState
	// SyncOp is the op of a checkpoint this replica state-synced to and
	// may not hold every block of (zero otherwise): a restart from it
	// fetches them before committing, as the sync would have.
	SyncOp uint64
	// Reformatted marks a data file formatted again after the replica's old
	// one was lost, until the protocol no longer needs to know
	// (recovery.go): ReformatHead is then 0 until a view settles the
	// replica, and afterwards that view's head.
	Reformatted  bool
	ReformatHead uint64
}

// Where the fields sit in a superblock copy (docs/data-file.md): the VSR
// fields in the first storage.SuperblockVSRFieldsSize bytes, the checkpoint
// state after them, the view headers from the next sector on.
const (
	sbChecksum     = 0
	sbCopy         = 16
	sbSequence     = 24
	sbParent       = 32
	sbCluster      = 48
	sbReplica      = 64
	sbReplicaCount = 65
	sbView         = 68
	sbLogView      = 72
	sbCommitMax    = 80
	sbViewHeaders  = 88 // count
	sbSyncOp       = 92
	sbReformatHead = 100
	sbFlags        = 108
	sbFieldsEnd    = 109
	sbCheckpoint   = storage.SuperblockVSRFieldsSize
)

// The VSR fields must fit their part of the copy; this fails to compile
// otherwise.
var _ [storage.SuperblockVSRFieldsSize - sbFieldsEnd]struct{}

// covers reports whether durable state d already says everything s would:
// the same view, log view, suffix and checkpoint, and a commit_max at least
// as high (commit_max is only a hint of what was committed, never a promise).
func (d *VSRState) covers(s *VSRState) bool {
	return d.Replica == s.Replica && d.View == s.View && d.LogView == s.LogView &&
		d.CommitMax >= s.CommitMax && slices.Equal(d.ViewHeaders, s.ViewHeaders) && d.Checkpoint == s.Checkpoint &&
		d.SyncOp == s.SyncOp && d.Reformatted == s.Reformatted && d.ReformatHead == s.ReformatHead
}

// Superblock flags (sbFlags).
const sbFlagReformatted = 1

// viewHeadersOffset is where the view headers of a copy begin.
func viewHeadersOffset(l storage.Layout) uint64 { return l.SectorCeil(storage.SuperblockFieldsSize) }

func (s *VSRState) encode(cfg Config, cluster u128.U128, copyIndex uint8) []byte {
	l := cfg.Layout()
	if uint64(len(s.ViewHeaders)) > cfg.ViewHeadersMax() {
		panic(fmt.Sprintf("superblock: %d view headers, at most %d fit", len(s.ViewHeaders), cfg.ViewHeadersMax()))
	}
	b := make([]byte, l.SuperblockCopySize)
	le := binary.LittleEndian
	b[sbCopy] = copyIndex
	le.PutUint64(b[sbSequence:], s.Sequence)
	s.Parent.Put(b[sbParent:])
	cluster.Put(b[sbCluster:])
	b[sbReplica] = s.Replica
	b[sbReplicaCount] = cfg.ReplicaCount
	le.PutUint32(b[sbView:], s.View)
	le.PutUint32(b[sbLogView:], s.LogView)
	le.PutUint64(b[sbCommitMax:], s.CommitMax)
	le.PutUint32(b[sbViewHeaders:], uint32(len(s.ViewHeaders)))
	le.PutUint64(b[sbSyncOp:], s.SyncOp)
	le.PutUint64(b[sbReformatHead:], s.ReformatHead)
	if s.Reformatted {
		b[sbFlags] |= sbFlagReformatted
	}
	s.Checkpoint.Encode(b[sbCheckpoint : sbCheckpoint+storage.CheckpointStateSize])
	off := viewHeadersOffset(l)
	for i := range s.ViewHeaders {
		EncodeHeader(&s.ViewHeaders[i], b[off+uint64(i)*HeaderSize:])
	}
	// The copy index is excluded from the checksum so all copies of one
	// version share a checksum, which the next version names as its parent.
	sum := s.checksum(b)
	sum.Put(b[sbChecksum:])
	return b
}

func (s *VSRState) checksum(b []byte) u128.U128 {
	saved := b[sbCopy]
	b[sbCopy] = 0
	sum := checksum.Sum(b[sbCopy:])
	b[sbCopy] = saved
	return sum
}

func decodeSuperblock(b []byte, cfg Config, cluster u128.U128) (VSRState, bool) {
	var s VSRState
	if s.checksum(b) != u128.Get(b[sbChecksum:]) {
		return s, false
	}
	le := binary.LittleEndian
	if u128.Get(b[sbCluster:]) != cluster || b[sbReplicaCount] != cfg.ReplicaCount {
		return s, false
	}
	s.Sequence = le.Uint64(b[sbSequence:])
	s.Parent = u128.Get(b[sbParent:])
	s.Replica = b[sbReplica]
	s.View = le.Uint32(b[sbView:])
	s.LogView = le.Uint32(b[sbLogView:])
	s.CommitMax = le.Uint64(b[sbCommitMax:])
	s.SyncOp = le.Uint64(b[sbSyncOp:])
	s.ReformatHead = le.Uint64(b[sbReformatHead:])
	s.Reformatted = b[sbFlags]&sbFlagReformatted != 0
	cp, err := storage.DecodeCheckpointState(b[sbCheckpoint : sbCheckpoint+storage.CheckpointStateSize])
	if err != nil {
		return s, false
	}
	s.Checkpoint = cp
	n := uint64(le.Uint32(b[sbViewHeaders:]))
	off := viewHeadersOffset(cfg.Layout())
	if n > cfg.ViewHeadersMax() || off+n*HeaderSize > uint64(len(b)) {
		return s, false
	}
	for i := uint64(0); i < n; i++ {
		var h Header
		if err := DecodeHeader(b[off+i*HeaderSize:], &h); err != nil {
			return s, false
		}
		s.ViewHeaders = append(s.ViewHeaders, h)
	}
	return s, true
}

// superblock serializes writes: at most one version is in flight, and only the
// newest staged state is written after it. Callers learn durability through
// the replica's onSuperblockDurable.
type superblock struct {
	cfg     Config
	cluster u128.U128
	storage rio.Storage

	durable VSRState
	writing bool
	flight  VSRState
	issued  int // copies of flight whose write has been issued
	copies  int // copies of flight written
	staged  *VSRState
	done    func()
}

func (sb *superblock) stage(s VSRState) {
	if !sb.writing && sb.durable.covers(&s) {
		// Already durable: a write would only cost the caller a wait.
		sb.done()
		return
	}
	s.ViewHeaders = append([]Header(nil), s.ViewHeaders...)
	sb.staged = &s
	if !sb.writing {
		sb.writeStaged()
	}
}

func (sb *superblock) writeStaged() {
	s := *sb.staged
	sb.staged = nil
	last := sb.durable
	s.Sequence = last.Sequence + 1
	s.Parent = last.checksum(last.encode(sb.cfg, sb.cluster, 0))
	sb.flight = s
	sb.writing = true
	sb.issued, sb.copies = 0, 0
	sb.writeHalf()
}

// Copies are written one at a time, in order, and a version is durable once
// every copy holds it. Every version starts with all copies equal (open
// completes or repairs a version before anything else, and a version is
// only begun once the last one is in every copy), so a crash tears at most
// the one copy in flight, and open finds either at least two copies of one
// version, or (a crash after the first copy of the new version, with one
// old copy damaged at rest) one copy of the new version next to one copy of
// the old one it names as parent. Either way open lands on the last durable
// version or the one being written, which nothing yet depended on.
func (sb *superblock) writeHalf() {
	for i := 0; i < superblockCopiesInFlight; i++ {
		c := uint8(sb.issued)
		sb.issued++
		sb.storage.Write(rio.ZoneSuperblock, sb.cfg.Layout().SuperblockCopyOffset(uint64(c)), sb.flight.encode(sb.cfg, sb.cluster, c), sb.copyWritten)
	}
}

func (sb *superblock) copyWritten() {
	sb.copies++
	if sb.copies < sb.issued {
		return
	}
	if sb.copies < SuperblockCopies {
		sb.writeHalf()
		return
	}
	sb.writing = false
	sb.durable = sb.flight
	if sb.staged != nil {
		sb.writeStaged()
	}
	sb.done()
}
