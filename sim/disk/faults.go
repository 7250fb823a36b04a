package disk

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"

	"viewstamp/replica/io"
)

// Faults are the storage faults of a hostile disk, each a probability in
// [0, 1]; zero turns a class off and draws nothing for it. Faults land only
// where the disk's Atlas allows (SetAtlas); without an atlas none do, but
// TearWithin still applies.
type Faults struct {
	// Latent: per completed read, one sector of its range becomes faulty
	// (a latent sector error, found by this read and every later one).
	Latent float64
	// BitRot: per Rot call (the simulator calls it once a tick), one sector
	// somewhere in the written part of a zone becomes faulty at rest.
	BitRot float64
	// Write: per completed write, one sector of its range is left faulty.
	Write float64
	// MisdirectWrite: per completed write, the data lands elsewhere and the
	// target keeps its old bytes. MisdirectCrossZone is the share of those
	// that land in another zone.
	MisdirectWrite     float64
	MisdirectCrossZone float64
	// MisdirectRead: per completed read, the data comes from another offset
	// of the zone.
	MisdirectRead float64
	// Superblock: per completed write of a superblock copy, the copy is left
	// corrupt, lands on another copy's place, or is lost (the copy stays
	// stale), one of the three alike.
	Superblock float64
	// CrashHead: per crash, the WAL slot of the newest prepare the disk
	// completed is left corrupt on both copies, its prepare and its
	// header-ring entry: a power loss corrupting the sectors written last,
	// which the disk had reported durable. Where the atlas lets this replica
	// be faulty there, so peers keep the op. Every other fault keeps a slot
	// one copy short of lost (otherCopyDamaged), so without this class a
	// replica almost never opens with its newest acknowledged op unreadable,
	// the case recovering_head exists for.
	CrashHead float64
	// TearWithin: a write torn at a crash lands partly, in whole tear units
	// from its start, the rest keeping its old bytes, instead of landing
	// whole but for one sector of random bytes.
	TearWithin bool
}

// FaultStats counts the faults injected, by class.
type FaultStats struct {
	Latent, BitRot, Write, MisdirectedWrite, MisdirectedRead, Torn, Superblock, CrashHead uint64
}

// tearUnit is the granularity a write tears at: the 512-byte physical
// sector of a disk that presents 4 KiB logical sectors.
const tearUnit = 512

// walEntrySize is one header-ring entry, a vsr header (vsr.HeaderSize; the
// disk knows no protocol, TestWALEntrySize ties the two): CrashHead damages
// one entry of a ring sector, not the whole sector.
const walEntrySize = 256

// superblockFaultKinds: corrupt, misdirected onto another copy, lost.
const superblockFaultKinds = 3

type sectorKey struct {
	zone   io.Zone
	sector uint64
}

// faultState is what the faults left on this disk: sectors that read back
// corrupted, and overlays, the bytes a read sees at a sector instead of the
// durable contents (a misdirected write's lost target keeps its old bytes
// there, and its landing place shows the write). Durable contents (load,
// store, Peek) stay what the writes intended, so checkers compare replicas'
// intended state, not the faults injected.
type faultState struct {
	rng     *rand.Rand // faults' own stream: turning them on moves no other draw
	replica int
	atlas   *Atlas
	// faulty: sectors that read corrupted, with the bit flipped plus one
	// (0: a bit drawn from the sector's place and contents, flip).
	faulty  map[sectorKey]uint32
	overlay map[sectorKey][]byte
	torn    map[sectorKey]struct{} // superblock sectors torn at a crash, until rewritten
	// sbMisread: a superblock read of this process was misdirected (see
	// Atlas on the superblock's budget).
	sbMisread bool
	extent    [io.ZoneCount]uint64 // highest offset ever written, per zone
	// lastPrepare is the offset of the newest completed WAL prepare write
	// (hasLastPrepare), for CrashHead.
	lastPrepare    uint64
	hasLastPrepare bool
	stats          FaultStats
	sbCopies       uint64 // superblock copy size (the atlas's superblock chunk)
}

// SetAtlas places this disk as replica in the cluster's atlas, with the
// size of one superblock copy (sectors of a copy count as one for its
// damage budget) and the rng every fault draw comes from.
func (d *Disk) SetAtlas(replica int, a *Atlas, superblockCopySize uint64, rng *rand.Rand) {
	d.fs.replica, d.fs.atlas, d.fs.sbCopies, d.fs.rng = replica, a, superblockCopySize, rng
}

// FaultStats returns the faults injected so far.
func (d *Disk) FaultStats() FaultStats { return d.fs.stats }

func (fs *faultState) init() {
	if fs.faulty == nil {
		fs.faulty = map[sectorKey]uint32{}
		fs.overlay = map[sectorKey][]byte{}
		fs.torn = map[sectorKey]struct{}{}
	}
}

// eligible reports whether a fault may land on [offset, offset+length) of
// zone: the atlas must allow it, and in the superblock no other copy may be
// damaged (except copy `except`, being rewritten; ^0 for none).
func (d *Disk) eligible(zone io.Zone, offset, length uint64, except uint64) bool {
	fs := &d.fs
	if fs.atlas == nil || !fs.atlas.EligibleRange(fs.replica, zone, offset, length) {
		return false
	}
	if zone == io.ZoneWALHeaders || zone == io.ZoneWALPrepares {
		return !d.otherCopyDamaged(zone, offset, length)
	}
	if zone != io.ZoneSuperblock {
		return true
	}
	if fs.sbCopies == 0 {
		return false
	}
	for c := uint64(0); c*fs.sbCopies < d.zones[io.ZoneSuperblock].size; c++ {
		if c != except && d.sbDamaged(c) {
			return false
		}
	}
	return true
}

// otherCopyDamaged reports whether the other copy of the WAL slots in
// [offset, offset+length) of zone is damaged: the header-ring sector beside
// prepares, or any prepare beside a header-ring sector. A replica may lose
// one copy of a slot, never both: both lost would read as a slot never
// written, or as the op it held a wrap earlier, and hide an acknowledged op.
func (d *Disk) otherCopyDamaged(zone io.Zone, offset, length uint64) bool {
	chunk := d.fs.atlas.chunk[io.ZoneWALPrepares]
	if chunk == 0 {
		return false
	}
	for s := offset / d.sectorSize; s*d.sectorSize < offset+length; s++ {
		if zone == io.ZoneWALPrepares {
			if d.damaged(io.ZoneWALHeaders, s*d.sectorSize/chunk) {
				return true
			}
			continue
		}
		for p := s * chunk / d.sectorSize; p < (s+1)*chunk/d.sectorSize; p++ {
			if d.damaged(io.ZoneWALPrepares, p) {
				return true
			}
		}
	}
	return false
}

// damaged reports whether sector s of zone reads other than last written.
func (d *Disk) damaged(z io.Zone, s uint64) bool {
	k := sectorKey{z, s}
	if _, ok := d.fs.faulty[k]; ok {
		return true
	}
	_, ok := d.fs.overlay[k]
	return ok
}

// sbDamaged reports whether superblock copy c reads other than it was last
// written.
func (d *Disk) sbDamaged(c uint64) bool {
	fs := &d.fs
	for s := c * fs.sbCopies / d.sectorSize; s < (c+1)*fs.sbCopies/d.sectorSize; s++ {
		k := sectorKey{io.ZoneSuperblock, s}
		if _, ok := fs.faulty[k]; ok {
			return true
		}
		if _, ok := fs.overlay[k]; ok {
			return true
		}
		if _, ok := fs.torn[k]; ok {
			return true
		}
	}
	return false
}

func (d *Disk) sbCopyOf(offset uint64) uint64 {
	if d.fs.sbCopies == 0 {
		return 0
	}
	return offset / d.fs.sbCopies
}

// view reads what a read at offset of zone sees: the durable contents, then
// overlays, then the bit flips of faulty sectors.
func (d *Disk) view(z io.Zone, offset uint64, buf []byte) {
	d.load(z, offset, buf)
	fs := &d.fs
	if len(fs.faulty) == 0 && len(fs.overlay) == 0 {
		return
	}
	for i := uint64(0); i < uint64(len(buf)); i += d.sectorSize {
		k := sectorKey{z, (offset + i) / d.sectorSize}
		sec := buf[i : i+d.sectorSize]
		if ov, ok := fs.overlay[k]; ok {
			copy(sec, ov)
		}
		if bit, ok := fs.faulty[k]; ok {
			d.corrupt(k, sec, bit)
		}
	}
}

// flip corrupts one bit of a faulty sector, at a position fixed by the
// sector's place and its own first bytes, so every read of it sees the same
// corruption until it is rewritten.
func flip(k sectorKey, sec []byte) {
	h := binary.LittleEndian.Uint64(sec) ^ uint64(k.zone)<<56 ^ k.sector*0x9e3779b97f4a7c15
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 32
	bit := h % (uint64(len(sec)) * 8)
	sec[bit/8] ^= 1 << (bit % 8)
}

// corrupt is what a faulty sector reads as: sec flipped, and never the
// bytes the sector would hold intact. A crash tear can make a fault's flip
// durable (the old bytes as a read saw them); a later fault on that sector
// would flip the same bit back, and a read would see the intact bytes
// where the disk holds damage (seed 8850072 --storage-faults: a replica
// read its torn prepare as whole and acknowledged it). Real damage does not
// undo itself, so such a read sees a second bit flipped.
func (d *Disk) corrupt(k sectorKey, sec []byte, bit uint32) {
	if bit == 0 {
		flip(k, sec)
	} else {
		sec[(bit-1)/8] ^= 1 << ((bit - 1) % 8)
	}
	if intact, ok := d.unharmed[k]; ok && bytes.Equal(sec, intact) {
		sec[len(sec)-1] ^= 0x80
	}
}

// markFaulty makes one sector faulty.
func (d *Disk) markFaulty(z io.Zone, offset uint64) {
	d.fs.faulty[sectorKey{z, offset / d.sectorSize}] = 0
}

// markFaultyAt makes the sector holding offset faulty with the bit at offset
// flipped: damage to one known place of the sector (a header's checksum).
func (d *Disk) markFaultyAt(z io.Zone, offset uint64) {
	d.fs.faulty[sectorKey{z, offset / d.sectorSize}] = uint32(offset%d.sectorSize)*8 + 1
}

// crashHead applies CrashHead at a crash: both copies of the newest
// prepare's slot corrupt, their checksums flipped so the damage always
// shows (a bit drawn anywhere in the sector could fall past a small
// prepare's end).
func (d *Disk) crashHead() {
	fs := &d.fs
	f := d.opts.Faults
	if f == nil || fs.rng == nil || f.CrashHead == 0 || !fs.hasLastPrepare || fs.atlas == nil {
		return
	}
	if fs.rng.Float64() >= f.CrashHead {
		return
	}
	prepares, ring := fs.atlas.chunk[io.ZoneWALPrepares], fs.atlas.chunk[io.ZoneWALHeaders]
	if prepares == 0 || ring == 0 {
		return
	}
	perSector := ring / walEntrySize
	slotSize := prepares / perSector
	slot := fs.lastPrepare / slotSize
	at, entry := slot*slotSize, slot*walEntrySize
	if !fs.atlas.EligibleRange(fs.replica, io.ZoneWALPrepares, at, d.sectorSize) ||
		!fs.atlas.EligibleRange(fs.replica, io.ZoneWALHeaders, entry, walEntrySize) {
		return
	}
	// A misdirection on either copy would pair silent old bytes with the
	// damage (otherCopyDamaged).
	ps, rs := sectorKey{io.ZoneWALPrepares, at / d.sectorSize}, sectorKey{io.ZoneWALHeaders, entry / d.sectorSize}
	if _, ok := fs.overlay[ps]; ok {
		return
	}
	if _, ok := fs.overlay[rs]; ok {
		return
	}
	if _, ok := fs.faulty[rs]; ok {
		// One flip per sector is all the model keeps: an earlier fault
		// there stands.
		return
	}
	if _, ok := fs.faulty[ps]; ok {
		return
	}
	d.markFaultyAt(io.ZoneWALPrepares, at)
	d.markFaultyAt(io.ZoneWALHeaders, entry)
	fs.stats.CrashHead++
}

// rewritten clears what faults left on [offset, offset+length) of zone: the
// sectors were written whole.
func (d *Disk) rewritten(z io.Zone, offset, length uint64) {
	fs := &d.fs
	if len(fs.faulty) == 0 && len(fs.overlay) == 0 && len(fs.torn) == 0 && len(d.tornOld) == 0 && len(d.unharmed) == 0 {
		return
	}
	for s := offset / d.sectorSize; s < (offset+length)/d.sectorSize; s++ {
		k := sectorKey{z, s}
		delete(d.tornOld, k)
		delete(d.unharmed, k)
		delete(fs.faulty, k)
		delete(fs.overlay, k)
		delete(fs.torn, k)
	}
}

// readFaults completes read o with faults: a misdirected read, then a
// latent sector error.
func (d *Disk) readFaults(o *op) {
	f := d.opts.Faults
	n := uint64(len(o.buf))
	from := o.offset
	if f.MisdirectRead > 0 && d.fs.rng.Float64() < f.MisdirectRead {
		// Another offset of the zone, sector aligned, the whole read fitting.
		if places := (d.zones[o.zone].size - n) / d.sectorSize; places > 0 {
			at := uint64(d.fs.rng.IntN(int(places))) * d.sectorSize
			if at >= o.offset {
				at += d.sectorSize
			}
			sb := o.zone == io.ZoneSuperblock
			if at+n <= d.zones[o.zone].size && !(sb && d.fs.sbMisread) &&
				d.eligible(o.zone, o.offset, n, ^uint64(0)) && d.eligible(o.zone, at, n, ^uint64(0)) {
				from = at
				d.fs.sbMisread = d.fs.sbMisread || sb
				d.fs.stats.MisdirectedRead++
			}
		}
	}
	if f.Latent > 0 && d.fs.rng.Float64() < f.Latent {
		at := o.offset + uint64(d.fs.rng.IntN(int(n/d.sectorSize)))*d.sectorSize
		if d.written(o.zone, at) && d.eligible(o.zone, at, d.sectorSize, ^uint64(0)) {
			d.markFaulty(o.zone, at)
			d.fs.stats.Latent++
		}
	}
	d.view(o.zone, from, o.buf)
}

// written reports whether offset lies below the zone's written extent: a
// fault on a sector never written would only say what the zeros say.
func (d *Disk) written(z io.Zone, offset uint64) bool { return offset < d.fs.extent[z] }

// writeFaults completes write o with faults: a misdirected write (or for a
// superblock copy, a superblock fault), then a write fault.
func (d *Disk) writeFaults(o *op) {
	f := d.opts.Faults
	n := uint64(len(o.data))
	d.fs.extent[o.zone] = max(d.fs.extent[o.zone], o.offset+n)
	if o.zone == io.ZoneWALPrepares {
		d.fs.lastPrepare, d.fs.hasLastPrepare = o.offset, true
	}
	except := ^uint64(0)
	if o.zone == io.ZoneSuperblock {
		except = d.sbCopyOf(o.offset)
	}
	if o.zone == io.ZoneSuperblock && f.Superblock > 0 && d.fs.rng.Float64() < f.Superblock {
		kind := d.fs.rng.IntN(superblockFaultKinds)
		if d.eligible(o.zone, o.offset, n, except) {
			switch kind {
			case 0:
				d.rewritten(o.zone, o.offset, n)
				d.store(o.zone, o.offset, o.data)
				d.markFaulty(o.zone, o.offset+uint64(d.fs.rng.IntN(int(n/d.sectorSize)))*d.sectorSize)
			case 1:
				copies := d.zones[o.zone].size / d.fs.sbCopies
				to := uint64(d.fs.rng.IntN(int(copies - 1)))
				if to >= except {
					to++
				}
				d.misdirect(o, io.ZoneSuperblock, to*d.fs.sbCopies)
			default:
				d.lose(o)
			}
			d.fs.stats.Superblock++
			return
		}
	}
	// The header ring is never the source of a misdirected write: a lost
	// header write beside a lost prepare write would leave a slot reading as
	// the op it held a wrap earlier, which the replica could then deny
	// having acknowledged; every other pair of faults on a slot reads as
	// corrupt.
	if o.zone != io.ZoneWALHeaders && f.MisdirectWrite > 0 && d.fs.rng.Float64() < f.MisdirectWrite {
		zone := o.zone
		if f.MisdirectCrossZone > 0 && d.fs.rng.Float64() < f.MisdirectCrossZone {
			zone = io.Zone(d.fs.rng.IntN(int(io.ZoneCount)))
		}
		if size := d.zones[zone].size; size >= n {
			at := uint64(d.fs.rng.IntN(int((size-n)/d.sectorSize+1))) * d.sectorSize
			if (zone != o.zone || at != o.offset) && !touchesSuperblock(o.zone, zone) &&
				d.eligible(o.zone, o.offset, n, except) && d.eligible(zone, at, n, except) {
				d.misdirect(o, zone, at)
				d.fs.stats.MisdirectedWrite++
				return
			}
		}
	}
	d.rewritten(o.zone, o.offset, n)
	d.store(o.zone, o.offset, o.data)
	if f.Write > 0 && d.fs.rng.Float64() < f.Write {
		at := o.offset + uint64(d.fs.rng.IntN(int(n/d.sectorSize)))*d.sectorSize
		if d.eligible(o.zone, at, d.sectorSize, except) {
			d.markFaulty(o.zone, at)
			d.fs.stats.Write++
		}
	}
}

// touchesSuperblock reports whether a misdirected write from zone from
// landing in zone to involves the superblock. Such a write lands at any
// sector, so it could span two copies and, with the copy it missed left
// stale, damage three of the four at once: past what open's quorum survives
// beside one crash tear (seed 9900895 --storage-faults lost its quorum so).
// The superblock's own misdirect (a superblock fault) lands on a whole
// other copy instead, which the budget counts as its one fault.
func touchesSuperblock(from, to io.Zone) bool {
	return from == io.ZoneSuperblock || to == io.ZoneSuperblock
}

// lose makes write o durable (for checkers) while reads of its target keep
// seeing the old bytes.
func (d *Disk) lose(o *op) {
	n := uint64(len(o.data))
	old := make([]byte, n)
	d.view(o.zone, o.offset, old)
	d.store(o.zone, o.offset, o.data)
	for i := uint64(0); i < n; i += d.sectorSize {
		k := sectorKey{o.zone, (o.offset + i) / d.sectorSize}
		// The old bytes as read, corruption included: the sector was not
		// rewritten, so it stays faulty in the overlay and is cleared of
		// its fault bit (the overlay carries it).
		delete(d.fs.faulty, k)
		d.fs.overlay[k] = old[i : i+d.sectorSize]
		// The durable contents are now this write's: bytes an earlier
		// crash tore here are behind it (PeekIntact, Heal).
		delete(d.tornOld, k)
		delete(d.unharmed, k)
	}
}

// misdirect lands write o at offset at of zone instead of its target, which
// keeps its old bytes.
func (d *Disk) misdirect(o *op, zone io.Zone, at uint64) {
	d.lose(o)
	n := uint64(len(o.data))
	d.fs.extent[zone] = max(d.fs.extent[zone], at+n)
	for i := uint64(0); i < n; i += d.sectorSize {
		k := sectorKey{zone, (at + i) / d.sectorSize}
		delete(d.fs.faulty, k)
		delete(d.fs.torn, k)
		d.fs.overlay[k] = append([]byte(nil), o.data[i:i+d.sectorSize]...)
	}
}

// Rot lets bit rot strike: the simulator calls it once a tick. One sector
// of the written part of a zone may become faulty.
func (d *Disk) Rot() {
	f := d.opts.Faults
	if f == nil || d.fs.rng == nil || f.BitRot == 0 || d.fs.rng.Float64() >= f.BitRot {
		return
	}
	z := io.Zone(d.fs.rng.IntN(int(io.ZoneCount)))
	sectors := d.fs.extent[z] / d.sectorSize
	if sectors == 0 {
		return
	}
	at := uint64(d.fs.rng.IntN(int(sectors))) * d.sectorSize
	if d.eligible(z, at, d.sectorSize, ^uint64(0)) {
		d.markFaulty(z, at)
		d.fs.stats.BitRot++
	}
}

// tearWithin applies the first units of write o (at least one, never all)
// and leaves the rest of its range as it was: a write torn part way.
func (d *Disk) tearWithin(o *op) {
	n := uint64(len(o.data))
	units := n / tearUnit
	cut := uint64(1)
	if units > 2 {
		cut += uint64(d.fs.rng.IntN(int(units - 1)))
	}
	// What a read saw of the range is what the old bytes were.
	buf := make([]byte, n)
	d.view(o.zone, o.offset, buf)
	copy(buf, o.data[:cut*tearUnit])
	// What the range would hold undamaged: the landed part over what it
	// held intact before, read before rewritten forgets the damage an
	// earlier tear left there (seed 8801478 --storage-faults: a block torn
	// twice kept the first tear's damage as its intact bytes).
	intact := make([]byte, n)
	d.PeekIntact(o.zone, o.offset, intact)
	copy(intact, o.data[:cut*tearUnit])
	d.rewritten(o.zone, o.offset, n)
	d.keepTorn(o.zone, o.offset, o.data)
	// Past the cut, the old bytes as read: where a fault showed them
	// corrupted, the tear made that corruption durable.
	for i := cut * tearUnit / d.sectorSize * d.sectorSize; i < n; i += d.sectorSize {
		d.keepUnharmed(o.zone, o.offset+i, intact[i:i+d.sectorSize])
	}
	d.store(o.zone, o.offset, buf)
	d.fs.extent[o.zone] = max(d.fs.extent[o.zone], o.offset+n)
	if o.zone == io.ZoneSuperblock {
		for s := o.offset / d.sectorSize; s < (o.offset+n)/d.sectorSize; s++ {
			d.fs.torn[sectorKey{o.zone, s}] = struct{}{}
		}
	}
	d.fs.stats.Torn++
}
