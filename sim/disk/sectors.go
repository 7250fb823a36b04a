package disk

import (
	"bytes"
	"fmt"

	"viewstamp/replica/io"
)

// Sectors holds the durable contents of a set of disks, sector by sector,
// sharing one copy of each sector among the disks that hold the same bytes
// at the same place. Replicas at the same checkpoint hold byte-identical
// grids, and their WALs hold the same prepares in the same slots, so a
// cluster of n replicas costs about one disk's worth of memory instead of n.
//
// Each disk maps every sector of every zone to a slot: 0 is the zero sector
// (never written, or written with zeros), costing nothing; any other slot is
// one sector of memory with a reference count. A write compares its sector
// with the other disks' sectors at the same zone and offset and shares the
// first identical one; failing that it overwrites its own slot if no other
// disk shares it, or else takes a fresh slot (copy on write). Which slot
// holds what never changes what a read returns, and nothing iterates a map,
// so sharing cannot change a run.
//
// Slot memory lives outside the Go heap where the platform allows (see
// slabs): the garbage collector then neither counts it in its heap goal,
// which would double a run's peak memory for the disks' sake, nor scans it.
type Sectors struct {
	size  uint64
	mem   *slabs
	refs  []uint32 // by slot; refs[0] unused (the zero sector)
	free  []uint32 // slots with no reference, reused last freed first
	disks []*sectorTables
	zero  []byte
}

// sectorTables is one disk's map from its zones' sectors to slots. A table
// only grows up to the highest sector written, so a large, mostly empty zone
// costs almost nothing.
type sectorTables [io.ZoneCount][]uint32

// slabSectors is how many sectors one slab allocation holds: large enough
// that allocations are rare, small enough that the last slab wastes little.
const slabSectors = 1024

// NewSectors returns an empty store of sectors of sectorSize bytes, for the
// disks of one cluster (NewShared). Its memory is released once it and
// every disk using it are unreachable.
func NewSectors(sectorSize uint64) *Sectors {
	if sectorSize == 0 {
		panic("disk: sector size must be non-zero")
	}
	s := &Sectors{size: sectorSize, refs: []uint32{0}, zero: make([]byte, sectorSize)}
	s.mem = newSlabs(s, sectorSize*slabSectors)
	return s
}

// Stored is how many distinct non-zero sectors the store holds: its memory
// is that many sectors.
func (s *Sectors) Stored() int { return len(s.refs) - 1 - len(s.free) }

// attach adds a disk and returns its index.
func (s *Sectors) attach() int {
	s.disks = append(s.disks, &sectorTables{})
	return len(s.disks) - 1
}

// slot returns the memory of slot id.
func (s *Sectors) slot(id uint32) []byte {
	i := uint64(id)
	base := (i % slabSectors) * s.size
	return s.mem.list[i/slabSectors][base : base+s.size : base+s.size]
}

// read copies bytes [within, within+len(buf)) of disk's sector k of zone z
// into buf.
func (s *Sectors) read(disk int, z io.Zone, k, within uint64, buf []byte) {
	t := s.disks[disk][z]
	if k >= uint64(len(t)) || t[k] == 0 {
		clear(buf)
		return
	}
	copy(buf, s.slot(t[k])[within:])
}

// write makes data (one whole sector) disk's sector k of zone z.
func (s *Sectors) write(disk int, z io.Zone, k uint64, data []byte) {
	t := &s.disks[disk][z]
	zero := bytes.Equal(data, s.zero)
	if k >= uint64(len(*t)) {
		if zero {
			return // still the zero sector
		}
		*t = append(*t, make([]uint32, k+1-uint64(len(*t)))...)
	}
	old := (*t)[k]
	if old != 0 && bytes.Equal(s.slot(old), data) {
		return // rewritten as it was
	}
	id := uint32(0)
	if !zero {
		id = s.peer(disk, z, k, data)
		switch {
		case id != 0:
			s.refs[id]++
		case old != 0 && s.refs[old] == 1:
			copy(s.slot(old), data) // ours alone: overwrite in place
			return
		default:
			id = s.alloc()
			copy(s.slot(id), data)
		}
	}
	(*t)[k] = id
	s.unref(old)
}

// peer finds a slot another disk holds at the same place with data's bytes.
func (s *Sectors) peer(disk int, z io.Zone, k uint64, data []byte) uint32 {
	for i, other := range s.disks {
		if i == disk || k >= uint64(len(other[z])) {
			continue
		}
		if id := other[z][k]; id != 0 && bytes.Equal(s.slot(id), data) {
			return id
		}
	}
	return 0
}

func (s *Sectors) alloc() uint32 {
	if n := len(s.free); n > 0 {
		id := s.free[n-1]
		s.free = s.free[:n-1]
		s.refs[id] = 1
		return id
	}
	id := uint64(len(s.refs))
	if id > 1<<32-1 {
		panic(fmt.Sprintf("disk: more than %d distinct sectors", uint64(1<<32-1)))
	}
	if id/slabSectors >= uint64(len(s.mem.list)) {
		s.mem.grow()
	}
	s.refs = append(s.refs, 1)
	return uint32(id)
}

func (s *Sectors) unref(id uint32) {
	if id == 0 {
		return
	}
	s.refs[id]--
	if s.refs[id] == 0 {
		s.free = append(s.free, id)
	}
}
