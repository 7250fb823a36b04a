package vsr

import (
	"encoding/binary"

	"viewstamp/replica/checksum"
	rio "viewstamp/replica/io"
	"viewstamp/replica/u128"
)

// SuperblockCopies is how many copies of the superblock the data file holds.
// A write replaces all of them; open takes the valid copy with the highest
// sequence, since any copy that checks out was fully written.
const SuperblockCopies = 4

// VSRState is what must survive a crash for the protocol to stay safe: the
// view this replica has promised, the view whose log it holds, and that log's
// suffix (so that a restart cannot resurrect a truncated tail of the WAL).
type VSRState struct {
	Sequence    uint64
	Parent      u128.U128 // checksum of the previous version
	Replica     uint8
	View        uint32
	LogView     uint32
	CommitMax   uint64
	ViewHeaders []Header // the log suffix installed at LogView, op descending
}

const superblockFixed = 128

func (s *VSRState) encode(cfg Config, cluster u128.U128, copyIndex uint8) []byte {
	b := make([]byte, cfg.SectorSize)
	le := binary.LittleEndian
	b[16] = copyIndex
	le.PutUint64(b[24:], s.Sequence)
	s.Parent.Put(b[32:])
	cluster.Put(b[48:])
	b[64] = s.Replica
	b[65] = cfg.ReplicaCount
	le.PutUint32(b[68:], s.View)
	le.PutUint32(b[72:], s.LogView)
	le.PutUint64(b[80:], s.CommitMax)
	le.PutUint32(b[88:], uint32(len(s.ViewHeaders)))
	for i := range s.ViewHeaders {
		EncodeHeader(&s.ViewHeaders[i], b[superblockFixed+i*HeaderSize:])
	}
	// The copy index is excluded from the checksum so all copies of one
	// version share a checksum, which the next version names as its parent.
	sum := s.checksum(b)
	sum.Put(b[0:])
	return b
}

func (s *VSRState) checksum(b []byte) u128.U128 {
	saved := b[16]
	b[16] = 0
	sum := checksum.Sum(b[16:])
	b[16] = saved
	return sum
}

func decodeSuperblock(b []byte, cfg Config, cluster u128.U128) (VSRState, bool) {
	var s VSRState
	if s.checksum(b) != u128.Get(b[0:]) {
		return s, false
	}
	le := binary.LittleEndian
	if u128.Get(b[48:]) != cluster || b[65] != cfg.ReplicaCount {
		return s, false
	}
	s.Sequence = le.Uint64(b[24:])
	s.Parent = u128.Get(b[32:])
	s.Replica = b[64]
	s.View = le.Uint32(b[68:])
	s.LogView = le.Uint32(b[72:])
	s.CommitMax = le.Uint64(b[80:])
	n := int(le.Uint32(b[88:]))
	if superblockFixed+n*HeaderSize > len(b) {
		return s, false
	}
	for i := 0; i < n; i++ {
		var h Header
		if err := DecodeHeader(b[superblockFixed+i*HeaderSize:], &h); err != nil {
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
	copies  int
	staged  *VSRState
	done    func()
}

func (sb *superblock) stage(s VSRState) {
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
	sb.copies = 0
	sb.writeCopy()
}

// Copies are written one after another, never together, so that a crash
// tears at most one of them and a whole copy of some version always survives.
func (sb *superblock) writeCopy() {
	c := uint8(sb.copies)
	sb.storage.Write(rio.ZoneSuperblock, uint64(c)*sb.cfg.SectorSize, sb.flight.encode(sb.cfg, sb.cluster, c), sb.copyWritten)
}

func (sb *superblock) copyWritten() {
	sb.copies++
	if sb.copies < SuperblockCopies {
		sb.writeCopy()
		return
	}
	sb.writing = false
	sb.durable = sb.flight
	if sb.staged != nil {
		sb.writeStaged()
	}
	sb.done()
}
