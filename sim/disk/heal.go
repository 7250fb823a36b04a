package disk

import (
	"viewstamp/replica/io"
)

// keepTorn saves what [offset, offset+length) of zone holds before a crash
// tears a write there (the oldest saved stays: that is what the disk held
// before the crash).
func (d *Disk) keepTorn(z io.Zone, offset, length uint64) {
	if d.tornOld == nil {
		d.tornOld = map[sectorKey][]byte{}
	}
	for s := offset / d.sectorSize; s < (offset+length)/d.sectorSize; s++ {
		k := sectorKey{z, s}
		if _, ok := d.tornOld[k]; !ok {
			old := make([]byte, d.sectorSize)
			d.load(z, s*d.sectorSize, old)
			d.tornOld[k] = old
			d.tornKeys = append(d.tornKeys, k)
		}
	}
}

// Heal undoes the damage faults and crashes left on the disk: faulty
// sectors and overlays read as last written again, and writes torn at a
// crash become writes lost (each torn sector gets back what it held before).
// The simulator heals a disk whose replica restarts with too few healthy
// peers to settle it should it come back unsure of its log (TigerBeetle
// disables faults for such a restart, lest the cluster stall with too many
// replicas in recovering_head). It draws nothing.
func (d *Disk) Heal() {
	fs := &d.fs
	// In the order the sectors tore, not map order: the bytes landed would
	// be the same, but the sector store's slot reuse would not.
	for _, k := range d.tornKeys {
		if old, ok := d.tornOld[k]; ok {
			d.store(k.zone, k.sector*d.sectorSize, old)
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
// about to leave damaged, what it would hold undamaged: landed (the part of
// the write that reached it, possibly none) over its durable contents.
func (d *Disk) keepUnharmed(z io.Zone, offset uint64, landed []byte) {
	if d.unharmed == nil {
		d.unharmed = map[sectorKey][]byte{}
	}
	sec := make([]byte, d.sectorSize)
	d.load(z, offset, sec)
	copy(sec, landed)
	d.unharmed[sectorKey{z, offset / d.sectorSize}] = sec
}

// PeekIntact is Peek with the damage a crash tear left undone: each sector
// it left holding random bytes, or the old bytes as a read saw them with a
// fault's corruption made durable, reads as the part of the write that
// landed there over the durable contents before it. The storage and journal
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
