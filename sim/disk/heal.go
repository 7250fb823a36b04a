package disk

import (
	"bytes"
	"slices"

	"viewstamp/replica/io"
)

// keepTorn notes what Heal is to put on the sectors a crash is tearing
// the write of want at offset of zone (called before the torn bytes are
// stored). Outside the superblock that is want itself: the replica may have
// read the torn write back as valid (the garbage fell in a prepare's or a
// block's padding, which no checksum covers) and acknowledged it since, so
// only the write landing whole is consistent with what it did (seed 148
// --storage-faults: healed back to the slot's older prepare, an
// acknowledged prepare read as a write that never landed, and was nacked).
// In the superblock it is the sector's old bytes (the oldest kept): a torn
// copy never verifies, so nothing relied on it, and a later restart may
// have written the same sequence anew to the other copies.
func (d *Disk) keepTorn(z io.Zone, offset uint64, want []byte) {
	if d.tornOld == nil {
		d.tornOld = map[sectorKey][]byte{}
	}
	for i := uint64(0); i < uint64(len(want)); i += d.sectorSize {
		k := sectorKey{z, (offset + i) / d.sectorSize}
		kept, ok := d.tornOld[k]
		if !ok {
			kept = make([]byte, d.sectorSize)
			d.tornKeys = append(d.tornKeys, k)
		} else if z == io.ZoneSuperblock {
			continue
		}
		if z == io.ZoneSuperblock {
			d.load(z, offset+i, kept)
		} else {
			copy(kept, want[i:i+d.sectorSize])
		}
		d.tornOld[k] = kept
	}
}

// Heal undoes the damage faults and crashes left on the disk: faulty
// sectors and overlays read as last written again, and writes torn at a
// crash land whole (in the superblock, become writes lost: see keepTorn).
// The simulator heals a disk whose replica restarts with too few healthy
// peers to settle it should it come back unsure of its log (TigerBeetle
// disables faults for such a restart, lest the cluster stall with too many
// replicas in recovering_head). It draws nothing.
func (d *Disk) Heal() {
	fs := &d.fs
	// In the order the sectors tore, not map order: the bytes landed would
	// be the same, but the sector store's slot reuse would not.
	for _, k := range d.tornKeys {
		if kept, ok := d.tornOld[k]; ok {
			d.store(k.zone, k.sector*d.sectorSize, kept)
		}
	}
	clear(d.tornOld)
	d.tornKeys = d.tornKeys[:0]
	clear(d.unharmed)
	clear(fs.faulty)
	clear(fs.overlay)
	clear(fs.torn)
}

// Damaged reports whether anything Heal would undo is on the disk.
func (d *Disk) Damaged() bool {
	return len(d.tornOld) > 0 || len(d.fs.faulty) > 0 || len(d.fs.overlay) > 0 || len(d.fs.torn) > 0
}

// Wipe replaces the data file with an empty one (a disk replaced): every
// zone reads zeros and nothing of the old disk's damage remains. IOs in
// flight must have been dropped first (Crash).
func (d *Disk) Wipe() {
	if len(d.pendingWrites) > 0 || d.pendingReads > 0 {
		panic("disk: Wipe with IO in flight")
	}
	for z := range io.ZoneCount {
		d.sectors.wipe(d.index, z)
		d.fs.extent[z] = 0
	}
	clear(d.tornOld)
	d.tornKeys = d.tornKeys[:0]
	clear(d.unharmed)
	clear(d.fs.faulty)
	clear(d.fs.overlay)
	clear(d.fs.torn)
}

// Poke writes data (whole sectors) at offset of zone at once, durably, with
// no latency, fault or rng draw: the simulator formats a replaced disk with
// it while the rest of the cluster runs on.
func (d *Disk) Poke(zone io.Zone, offset uint64, data []byte) {
	d.checkIO("Poke", zone, offset, uint64(len(data)))
	d.rewritten(zone, offset, uint64(len(data)))
	d.store(zone, offset, data)
	if d.opts.Faults != nil {
		d.fs.extent[zone] = max(d.fs.extent[zone], offset+uint64(len(data)))
	}
}

// keepUnharmed notes, for the sector at offset of zone that a tear is
// about to leave damaged, what it would hold undamaged: intact, the part of
// the write that reached it (possibly none) over what the sector held intact
// before (PeekIntact, not its durable contents: those may be an earlier
// tear's damage, which is no more what the replica stored than this one's).
func (d *Disk) keepUnharmed(z io.Zone, offset uint64, intact []byte) {
	if d.unharmed == nil {
		d.unharmed = map[sectorKey][]byte{}
	}
	d.unharmed[sectorKey{z, offset / d.sectorSize}] = slices.Clone(intact[:d.sectorSize])
}

// PeekIntact is Peek with the damage a crash tear left undone: each sector
// it left holding random bytes, or the old bytes as a read saw them with a
// fault's corruption made durable, reads as the part of the write that
// landed there over what it held intact before it (so the damage of
// several tears in a row is read past too). The storage and journal
// checkers compare what the replicas meant to store, not what faults did to
// it (faulty sectors and misdirections are overlays Peek never sees; a tear
// is the one fault that reaches the durable contents), and read through this.
func (d *Disk) PeekIntact(zone io.Zone, offset uint64, buf []byte) {
	d.Peek(zone, offset, buf)
	if len(d.unharmed) == 0 {
		return
	}
	for s := offset / d.sectorSize; s*d.sectorSize < offset+uint64(len(buf)); s++ {
		sec, ok := d.unharmed[sectorKey{zone, s}]
		if !ok {
			continue
		}
		lo, hi := s*d.sectorSize, (s+1)*d.sectorSize
		from, to := max(lo, offset), min(hi, offset+uint64(len(buf)))
		copy(buf[from-offset:to-offset], sec[from-lo:to-lo])
	}
}

// Differs reports whether a read of [offset, offset+length) of zone would
// see other than what was last written there: a faulty sector, an overlay
// (a lost or misdirected write), judged by the bytes a read would return (a
// fault's flip on an overlay that already carries it cancels out), or
// damage a crash tear left durable (PeekIntact). For checkers: it goes
// through no IO and draws nothing.
func (d *Disk) Differs(zone io.Zone, offset, length uint64) bool {
	fs := &d.fs
	if len(fs.faulty) == 0 && len(fs.overlay) == 0 && len(d.unharmed) == 0 {
		return false
	}
	if d.differsBuf == nil {
		d.differsBuf = make([]byte, 2*d.sectorSize)
	}
	durable, seen := d.differsBuf[:d.sectorSize], d.differsBuf[d.sectorSize:]
	for s := offset / d.sectorSize; s*d.sectorSize < offset+length; s++ {
		k := sectorKey{zone, s}
		ov, overlaid := fs.overlay[k]
		bit, faulty := fs.faulty[k]
		intact, torn := d.unharmed[k]
		if !overlaid && !faulty && !torn {
			continue
		}
		d.load(zone, s*d.sectorSize, durable)
		copy(seen, durable)
		if torn {
			copy(durable, intact)
		}
		if overlaid {
			copy(seen, ov)
		}
		if faulty {
			d.corrupt(k, seen, bit)
		}
		if !bytes.Equal(seen, durable) {
			return true
		}
	}
	return false
}
