package disk

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"

	"viewstamp/replica/io"
)

// Sectors holds the durable contents of a set of disks, sector by sector,
// sharing one copy of each sector among the disks that hold the same bytes
// at the same place, and keeping each copy without its zero words. Replicas
// at the same checkpoint hold byte-identical grids, and their WALs hold the
// same prepares in the same slots, so a cluster of n replicas costs about
// one disk's worth of memory instead of n; and most of a simulated disk is
// zeros (a block's unused tail, a prepare's padding, fields left zero),
// which cost nothing.
//
// Each disk maps every sector of every zone to a slot: 0 is the zero sector
// (never written, or written with zeros); any other slot is one sector,
// encoded (see encode), with a reference count. A write compares its encoded
// sector with the other disks' at the same zone and offset and shares the
// first identical one; failing that it overwrites its own slot in place if
// no other disk shares it and the encoding fits, or else takes a fresh slot
// (copy on write). Which slot holds what never changes what a read returns,
// and nothing iterates a map, so sharing cannot change a run.
//
// Slot memory lives outside the Go heap where the platform allows (see
// slabs): the garbage collector then neither counts it in its heap goal,
// which would double a run's peak memory for the disks' sake, nor scans it.
// A freed slot is reused lowest index first, so a class's slots in use pack
// towards the start of its slabs, and every page of slab memory no slot in
// use touches is given back to the operating system: the store's memory
// follows what the disks hold now (the live grid, the WAL), not the most
// each size class ever held at once. Without that, as the forest's blocks
// move between size classes, freed slots of one class pile up beside new
// slabs of another (measured: mapped memory 1.7x the sectors in use at the
// end of a 5,000-request run).
type Sectors struct {
	size    uint64
	granule uint64 // slot sizes are multiples of it
	mem     *slabs
	slots   []slotInfo // by slot id; slots[0] unused (the zero sector)
	freeIDs []uint32
	classes [sizeClasses]sizeClass
	disks   []*sectorTables
	zero    []byte
	enc     []byte // scratch: the sector being written, encoded
	dec     []byte // scratch: a sector being read in part
	// bytes is what the slots in use take, bytesMax its peak; resident
	// what the pages they touch take (see pageSize), residentMax its peak.
	bytes, bytesMax, resident, residentMax uint64
}

// sizeClasses is how many slot sizes there are, granule to sector size: an
// encoded sector wastes less than a granule, a sixteenth of a sector.
const sizeClasses = 16

// classSlots is how many slots one slab of a size class holds: allocations
// are rare, and a class's last slab wastes little.
const classSlots = 256

// pageSize is the unit in which slab memory is given back once no slot in
// use touches it: the common operating system page. A slab is a whole
// number of them (classSlots slots of a sixteenth of a sector, a multiple
// of 512 bytes, times the class). Where the system's pages are larger,
// slabs keep their memory (see slabs), and ResidentBytes overstates
// nothing that matters to a run.
const pageSize = 4096

type slotInfo struct {
	refs  uint32
	n     uint32 // encoded length; the sector size means stored raw
	at    uint32 // index within its class
	class uint8
}

type sizeClass struct {
	slabs [][]byte
	used  uint32    // slots handed out so far, freed ones included
	free  freeSlots // freed slot indexes, reused lowest first
	// pages counts, per page of the class's slabs in order, the slots in
	// use that touch it; a page whose count falls to zero is given back.
	pages []uint16
}

// sectorTables is one disk's map from its zones' sectors to slots. A table
// only grows up to the highest sector written, so a large, mostly empty zone
// costs almost nothing.
type sectorTables [io.ZoneCount][]uint32

// NewSectors returns an empty store of sectors of sectorSize bytes (a
// multiple of 512), for the disks of one cluster (NewShared). Its memory is
// released once it and every disk using it are unreachable.
func NewSectors(sectorSize uint64) *Sectors {
	if sectorSize == 0 || sectorSize%512 != 0 {
		panic(fmt.Sprintf("disk: sector size %d is not a non-zero multiple of 512", sectorSize))
	}
	s := &Sectors{
		size: sectorSize, granule: sectorSize / sizeClasses, slots: []slotInfo{{}},
		zero: make([]byte, sectorSize), enc: make([]byte, sectorSize+sectorSize/64), dec: make([]byte, sectorSize),
	}
	s.mem = newSlabs(s)
	return s
}

// Stored is how many distinct non-zero sectors the store holds.
func (s *Sectors) Stored() int { return len(s.slots) - 1 - len(s.freeIDs) }

// StoredBytes is the memory those sectors take, in slots.
func (s *Sectors) StoredBytes() uint64 { return s.bytes }

// StoredBytesMax is the most StoredBytes has been.
func (s *Sectors) StoredBytesMax() uint64 { return s.bytesMax }

// ResidentBytes is the slab memory the store holds from the operating
// system: the pages its slots in use touch. ResidentBytesMax is its peak.
func (s *Sectors) ResidentBytes() uint64 { return s.resident }

// ResidentBytesMax is the most ResidentBytes has been.
func (s *Sectors) ResidentBytesMax() uint64 { return s.residentMax }

// Extent is how far into zone z any disk has written a non-zero sector,
// in sectors.
func (s *Sectors) Extent(z io.Zone) uint64 {
	var n uint64
	for _, t := range s.disks {
		n = max(n, uint64(len(t[z])))
	}
	return n
}

// attach adds a disk and returns its index.
func (s *Sectors) attach() int {
	s.disks = append(s.disks, &sectorTables{})
	return len(s.disks) - 1
}

// bytesOf returns slot id's encoded sector.
func (s *Sectors) bytesOf(id uint32) []byte {
	si := &s.slots[id]
	size := uint64(si.class+1) * s.granule
	slab, i := uint64(si.at)/classSlots, uint64(si.at)%classSlots
	base := i * size
	return s.classes[si.class].slabs[slab][base : base+uint64(si.n) : base+size]
}

// read copies bytes [within, within+len(buf)) of disk's sector k of zone z
// into buf.
func (s *Sectors) read(disk int, z io.Zone, k, within uint64, buf []byte) {
	t := s.disks[disk][z]
	if k >= uint64(len(t)) || t[k] == 0 {
		clear(buf)
		return
	}
	if within == 0 && uint64(len(buf)) == s.size {
		s.decode(buf, s.bytesOf(t[k]))
		return
	}
	s.decode(s.dec, s.bytesOf(t[k]))
	copy(buf, s.dec[within:])
}

// write makes data (one whole sector) disk's sector k of zone z.
func (s *Sectors) write(disk int, z io.Zone, k uint64, data []byte) {
	t := &s.disks[disk][z]
	enc := s.encode(data)
	if k >= uint64(len(*t)) {
		if enc == nil {
			return // still the zero sector
		}
		*t = append(*t, make([]uint32, k+1-uint64(len(*t)))...)
	}
	old := (*t)[k]
	if old != 0 && bytes.Equal(s.bytesOf(old), enc) {
		return // rewritten as it was
	}
	id := uint32(0)
	if enc != nil {
		id = s.peer(disk, z, k, enc)
		switch {
		case id != 0:
			s.slots[id].refs++
		case old != 0 && s.slots[old].refs == 1 && s.classOf(len(enc)) == s.slots[old].class:
			// Ours alone and the same size: overwrite in place.
			s.slots[old].n = uint32(len(enc))
			copy(s.bytesOf(old), enc)
			return
		default:
			id = s.alloc(len(enc))
			copy(s.bytesOf(id), enc)
		}
	}
	(*t)[k] = id
	s.unref(old)
}

// encode returns data's encoding, in scratch memory valid until the next
// call, or nil for a zero sector. The encoding is a bitmap with a bit per
// 8-byte word, set for each non-zero word, followed by those words in order;
// a sector that would not shrink is kept as it is (its length then is the
// sector size, which no encoding has, the bitmap making it longer). Equal
// sectors have equal encodings, so encodings compare as sectors do.
func (s *Sectors) encode(data []byte) []byte {
	words := len(data) / 8
	mapLen := words / 8
	clear(s.enc[:mapLen])
	n := mapLen
	for w := range words {
		v := binary.LittleEndian.Uint64(data[8*w:])
		if v == 0 {
			continue
		}
		s.enc[w/8] |= 1 << (w % 8)
		binary.LittleEndian.PutUint64(s.enc[n:], v)
		n += 8
	}
	switch {
	case n == mapLen:
		return nil
	case n >= len(data):
		return data
	}
	return s.enc[:n]
}

// decode writes the sector enc encodes into dst (a whole sector).
func (s *Sectors) decode(dst, enc []byte) {
	if uint64(len(enc)) == s.size {
		copy(dst, enc)
		return
	}
	clear(dst)
	mapLen := len(dst) / 64
	words := enc[mapLen:]
	for i := 0; i < mapLen; i += 8 {
		m := binary.LittleEndian.Uint64(enc[i:])
		for m != 0 {
			w := i*8 + bits.TrailingZeros64(m)
			copy(dst[8*w:8*w+8], words[:8])
			words = words[8:]
			m &= m - 1
		}
	}
}

// peer finds a slot another disk holds at the same place with enc's bytes.
func (s *Sectors) peer(disk int, z io.Zone, k uint64, enc []byte) uint32 {
	for i, other := range s.disks {
		if i == disk || k >= uint64(len(other[z])) {
			continue
		}
		if id := other[z][k]; id != 0 && bytes.Equal(s.bytesOf(id), enc) {
			return id
		}
	}
	return 0
}

// classOf is the size class of slots for an encoding of n bytes.
func (s *Sectors) classOf(n int) uint8 { return uint8((uint64(n)+s.granule-1)/s.granule - 1) }

// alloc takes a slot for an encoding of n bytes, with one reference.
func (s *Sectors) alloc(n int) uint32 {
	c := s.classOf(n)
	k := &s.classes[c]
	var at uint32
	if k.free.n > 0 {
		at = k.free.pop()
	} else {
		at = k.used
		k.used++
		if uint64(at)/classSlots >= uint64(len(k.slabs)) {
			n := classSlots * uint64(c+1) * s.granule
			k.slabs = append(k.slabs, s.mem.grow(n))
			k.pages = append(k.pages, make([]uint16, n/pageSize)...)
		}
	}
	s.touch(c, at, true)
	s.bytes += uint64(c+1) * s.granule
	s.bytesMax = max(s.bytesMax, s.bytes)
	info := slotInfo{refs: 1, n: uint32(n), at: at, class: c}
	if f := len(s.freeIDs); f > 0 {
		id := s.freeIDs[f-1]
		s.freeIDs = s.freeIDs[:f-1]
		s.slots[id] = info
		return id
	}
	if uint64(len(s.slots)) > 1<<32-1 {
		panic(fmt.Sprintf("disk: more than %d distinct sectors", uint64(1<<32-1)))
	}
	s.slots = append(s.slots, info)
	return uint32(len(s.slots) - 1)
}

func (s *Sectors) unref(id uint32) {
	if id == 0 {
		return
	}
	si := &s.slots[id]
	si.refs--
	if si.refs == 0 {
		k := &s.classes[si.class]
		k.free.push(si.at)
		s.touch(si.class, si.at, false)
		s.bytes -= uint64(si.class+1) * s.granule
		s.freeIDs = append(s.freeIDs, id)
	}
}

// touch counts slot at of class c in use (or no longer) on the pages it
// spans, giving back those it leaves untouched by any slot in use.
func (s *Sectors) touch(c uint8, at uint32, inUse bool) {
	k := &s.classes[c]
	size := uint64(c+1) * s.granule
	slab, i := uint64(at)/classSlots, uint64(at)%classSlots
	slabPages := classSlots * size / pageSize
	first, last := i*size/pageSize, (i*size+size-1)/pageSize
	for p := first; p <= last; p++ {
		n := &k.pages[slab*slabPages+p]
		if inUse {
			if *n == 0 {
				s.resident += pageSize
				s.residentMax = max(s.residentMax, s.resident)
			}
			*n++
			continue
		}
		*n--
		if *n == 0 {
			s.resident -= pageSize
			s.mem.give(k.slabs[slab][p*pageSize : (p+1)*pageSize])
		}
	}
}

// freeSlots is a set of free slot indexes, a bit each, that hands out
// the lowest first.
type freeSlots struct {
	bits []uint64
	n    int
	low  int // no free slot in a word below this one
}

func (f *freeSlots) push(v uint32) {
	w := int(v / 64)
	if w >= len(f.bits) {
		f.bits = append(f.bits, make([]uint64, w+1-len(f.bits))...)
	}
	f.bits[w] |= 1 << (v % 64)
	f.n++
	f.low = min(f.low, w)
}

func (f *freeSlots) pop() uint32 {
	for f.bits[f.low] == 0 {
		f.low++
	}
	b := bits.TrailingZeros64(f.bits[f.low])
	f.bits[f.low] &^= 1 << b
	f.n--
	return uint32(f.low*64 + b)
}

// wipe makes every sector of disk's zone z the zero sector.
func (s *Sectors) wipe(disk int, z io.Zone) {
	t := &s.disks[disk][z]
	for _, id := range *t {
		s.unref(id)
	}
	*t = (*t)[:0]
}
