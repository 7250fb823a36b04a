// Package disk simulates one replica's data file: an asynchronous,
// sector-aligned io.Storage whose IOs complete on the simulator's scheduler
// after a sampled latency, and whose in-flight writes are lost or torn when
// the process crashes. With Options.Faults it is hostile too (faults.go):
// latent sector errors, bit rot, write faults, misdirected writes and reads,
// writes torn part way, superblock copy faults, each landing only where the
// cluster's Atlas (atlas.go) says the cluster can recover from it.
//
// Determinism: everything runs on the caller's goroutine; every random choice
// comes from the *rand.Rand handed to New, drawn in a documented order:
//
//   - Read / Write: one rng.Uint64() for the latency (sim/draw's integer
//     exponential, the same on every CPU), only if the corresponding mean
//     latency exceeds its minimum (drawn at issue time);
//   - Crash: for each pending write in issue order, one rng.Float64() (torn if
//     < CrashFaultProbability); if torn, then one rng.IntN(sectors) choosing
//     the garbage sector and ceil(sectorSize/8) rng.Uint64() filling it
//     (with Faults.TearWithin and an atlas set, instead one fault-rng
//     IntN(units-1) choosing how many 512-byte units land, only for writes
//     of more than two units).
//
// Storage faults (Options.Faults, faults.go) draw from their own rng, handed
// to SetAtlas, never from the one above, in this order:
//
//   - at a read's completion: if MisdirectRead > 0, one Float64 (misdirected
//     if < MisdirectRead), and if so one IntN(places) choosing the offset;
//     then if Latent > 0, one Float64, and if faulted one IntN(sectors);
//   - at a write's completion, for a superblock copy: if Superblock > 0, one
//     Float64, and if faulted one IntN(3) for the kind, then IntN(sectors)
//     (corrupt) or IntN(copies-1) (misdirected) or nothing (lost); a faulted
//     copy draws nothing more. Then, for any write but one to the header
//     ring: if MisdirectWrite > 0, one Float64, and if misdirected, if
//     MisdirectCrossZone > 0 one Float64 (another zone if below) and then
//     IntN(ZoneCount) for the zone, then IntN(places) for the offset; a
//     misdirected write draws nothing more. Then if Write > 0, one Float64,
//     and if faulted one IntN(sectors);
//   - Rot: if BitRot > 0, one Float64, and if it strikes IntN(ZoneCount)
//     for the zone and, if the zone was ever written, IntN(sectors).
//
// A draw is made even where the atlas then refuses the fault, so that the
// atlas changes where faults land, not the stream.
//
// Durable contents: a write's data becomes visible only when it completes,
// just before its callback runs. A read copies the durable contents at its
// completion time (not at issue time). Sectors never written read back as
// zeros (checksums reject them like any other garbage).
//
// Pause: while the process using the disk is paused (a VM migration), IOs
// still complete on the device, but their completions are held and nothing
// of them is visible: a held write is still pending (a crash tears or loses
// it), a held read has not copied anything yet. Resume delivers the held
// completions in the order they fell due, in one scheduler event at the
// resume time, each applied just before its callback as usual.
//
// Memory: durable contents live in a Sectors store, which the disks of one
// cluster may share (NewShared): a sector identical to a peer disk's at the
// same place is kept once, and sectors never written cost nothing.
//
// Performance: pending-IO records are recycled through a free list, each with
// a completion method value bound once, and a write's private copy of its data
// reuses the record's buffer; in steady state an IO allocates nothing.
package disk

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"

	"viewstamp/replica/io"
	"viewstamp/sim/draw"
	"viewstamp/sim/sched"
)

// Options tune latency and crash faults. Latency of each IO is
// min + exponential(mean - min) nanoseconds: the mean is the whole
// latency's, and a mean at or below the minimum gives exactly the minimum,
// with no rng draw.
type Options struct {
	ReadLatencyMinNs, ReadLatencyMeanNs   uint64
	WriteLatencyMinNs, WriteLatencyMeanNs uint64
	// CrashFaultProbability is the probability, per pending write at a crash,
	// that the write is torn rather than lost entirely. Must be in [0, 1].
	CrashFaultProbability float64
	// Faults, if set, make the disk hostile (faults.go); nil: the disk only
	// loses or tears writes in flight at a crash, and draws nothing more.
	Faults *Faults
}

// Stats counts IOs. Reads and Writes count IOs issued (including those later
// forgotten or lost at a crash); WritesLost and WritesTorn count pending writes
// at crashes.
type Stats struct{ Reads, Writes, WritesLost, WritesTorn uint64 }

type zone struct {
	size uint64
}

type opKind uint8

const (
	opRead opKind = iota
	opWrite
)

// op is one pending IO. It stays owned by the scheduler event until that event
// fires, even if a crash made it stale, so a recycled op can never be
// completed by an older event.
type op struct {
	d        *Disk
	complete sched.Event // d.complete bound to this op, created once
	gen      uint64      // d.gen at issue; a mismatch at completion means stale
	seq      uint64      // issue order, for crash processing
	kind     opKind
	zone     io.Zone
	offset   uint64
	buf      []byte // read: the caller's buffer
	data     []byte // write: private copy of the caller's data (capacity reused)
	done     func()
	index    int // position in d.pendingWrites, writes only
	next     *op // free list
}

// Disk is a simulated data file. It implements io.Storage.
type Disk struct {
	opts       Options
	rng        *rand.Rand
	sched      *sched.Scheduler
	sectorSize uint64
	zones      [io.ZoneCount]zone
	sectors    *Sectors
	index      int // this disk's in sectors

	gen           uint64 // incremented at each crash
	seq           uint64
	pendingReads  int
	pendingWrites []*op // current generation's writes in flight (unordered)
	free          *op
	stats         Stats

	paused  bool
	held    []*op // completions that fell due while paused, in order
	resumed sched.Event

	fs faultState
	// tornOld holds, for each sector a crash tore, the bytes Heal puts
	// there until a write lands: outside the superblock what the torn
	// write meant to write (it lands whole instead), in the superblock what
	// the sector held before (the copy's write lost instead).
	tornOld    map[sectorKey][]byte
	tornKeys   []sectorKey // tornOld's keys, in the order they tore
	differsBuf []byte      // Differs' scratch: a sector as written and as read
	// unharmed holds, for each sector a crash tear left holding what no
	// clean partial write would (random bytes, or old bytes with a fault's
	// corruption baked in), the bytes it would hold without that damage:
	// the part of the write that landed over the durable contents before
	// it (PeekIntact).
	unharmed map[sectorKey][]byte
}

var _ io.Storage = (*Disk)(nil)

// New returns an empty (all zeros) disk. Every zone size must be a multiple of
// sectorSize, which must be non-zero.
func New(opts Options, rng *rand.Rand, s *sched.Scheduler, sectorSize uint64, zoneSizes [io.ZoneCount]uint64) *Disk {
	if sectorSize == 0 {
		panic("disk: sector size must be non-zero")
	}
	return NewShared(NewSectors(sectorSize), opts, rng, s, zoneSizes)
}

// NewShared is New keeping the disk's contents in sectors, shared with the
// other disks using it (of its sector size).
func NewShared(sectors *Sectors, opts Options, rng *rand.Rand, s *sched.Scheduler, zoneSizes [io.ZoneCount]uint64) *Disk {
	if rng == nil || s == nil {
		panic("disk: New needs an rng and a scheduler")
	}
	sectorSize := sectors.size
	d := &Disk{rng: rng, sched: s, sectorSize: sectorSize, sectors: sectors, index: sectors.attach()}
	d.resumed = d.deliverHeld
	for z := range io.ZoneCount {
		if zoneSizes[z]%sectorSize != 0 {
			panic(fmt.Sprintf("disk: zone %v size %d is not a multiple of sector size %d", z, zoneSizes[z], sectorSize))
		}
		d.zones[z].size = zoneSizes[z]
	}
	d.SetOptions(opts)
	return d
}

// SetOptions replaces the options. IOs already pending keep their completion
// times; the new latencies apply to IOs issued afterwards, the new crash fault
// probability to the next crash.
func (d *Disk) SetOptions(opts Options) {
	p := opts.CrashFaultProbability
	if !(p >= 0 && p <= 1) {
		panic(fmt.Sprintf("disk: CrashFaultProbability %v not in [0, 1]", p))
	}
	d.opts = opts
	if opts.Faults != nil {
		d.fs.init()
	}
}

// Options returns the current options.
func (d *Disk) Options() Options { return d.opts }

// Stats returns the IO counters.
func (d *Disk) Stats() Stats { return d.stats }

// SectorSize returns the sector size given to New.
func (d *Disk) SectorSize() uint64 { return d.sectorSize }

// ZoneSize returns the size of zone z in bytes.
func (d *Disk) ZoneSize(z io.Zone) uint64 {
	d.checkZone("ZoneSize", z)
	return d.zones[z].size
}

// PendingWrites returns how many writes issued since the last crash have not
// completed yet.
func (d *Disk) PendingWrites() int { return len(d.pendingWrites) }

// PendingReads returns how many reads issued since the last crash have not
// completed yet.
func (d *Disk) PendingReads() int { return d.pendingReads }

// Read schedules a read of len(buf) bytes at offset in zone. At completion the
// durable contents at that moment are copied into buf and done runs. offset
// and len(buf) must be non-zero multiples of the sector size (offset may be
// zero) within the zone; otherwise Read panics. buf must stay untouched by the
// caller until done runs. If the disk crashes first, buf is never written and
// done never runs.
func (d *Disk) Read(zone io.Zone, offset uint64, buf []byte, done func()) {
	d.checkIO("Read", zone, offset, uint64(len(buf)))
	o := d.alloc(opRead, zone, offset, done)
	o.buf = buf
	d.pendingReads++
	d.stats.Reads++
	d.sched.After(d.latency(d.opts.ReadLatencyMinNs, d.opts.ReadLatencyMeanNs), o.complete)
}

// Write copies buf and schedules writing it at offset in zone; the caller may
// reuse buf at once. The data becomes durable (visible to reads and Peek) at
// completion, just before done runs. Alignment rules are those of Read. If the
// disk crashes first, the write is lost or torn (see Crash) and done never
// runs.
func (d *Disk) Write(zone io.Zone, offset uint64, buf []byte, done func()) {
	d.checkIO("Write", zone, offset, uint64(len(buf)))
	o := d.alloc(opWrite, zone, offset, done)
	o.data = append(o.data[:0], buf...)
	o.index = len(d.pendingWrites)
	d.pendingWrites = append(d.pendingWrites, o)
	d.stats.Writes++
	d.sched.After(d.latency(d.opts.WriteLatencyMinNs, d.opts.WriteLatencyMeanNs), o.complete)
}

// Crash models the death of the process using this disk. Every pending read
// is forgotten (its buffer is never written, its callback never runs). Every
// pending write, in issue order, is either torn, with probability
// CrashFaultProbability, or else lost entirely (the target keeps its old
// contents); its callback never runs. A torn write lands in full except for
// exactly one sector of its range, chosen uniformly, which receives random
// bytes instead. Overlapping torn writes land in issue order.
//
// The disk keeps working afterwards: IOs issued after Crash complete normally,
// and completion events of IOs issued before it do nothing.
func (d *Disk) Crash() {
	slices.SortFunc(d.pendingWrites, func(a, b *op) int { return cmp.Compare(a.seq, b.seq) })
	p := d.opts.CrashFaultProbability
	for i, o := range d.pendingWrites {
		if d.rng.Float64() < p {
			if f := d.opts.Faults; f != nil && f.TearWithin && d.fs.rng != nil {
				d.tearWithin(o)
			} else {
				d.tear(o)
			}
			d.stats.WritesTorn++
		} else {
			d.stats.WritesLost++
		}
		d.pendingWrites[i] = nil
	}
	d.pendingWrites = d.pendingWrites[:0]
	d.crashHead()
	d.pendingReads = 0
	// A misdirected read is gone with the process that made it.
	d.fs.sbMisread = false
	d.gen++
	// Held completions belong to the dead process; its successor runs.
	for i, o := range d.held {
		d.release(o)
		d.held[i] = nil
	}
	d.held = d.held[:0]
	d.paused = false
}

// Pause holds every completion until Resume: the process stops while its
// IOs go on.
func (d *Disk) Pause() { d.paused = true }

// Paused reports whether completions are being held.
func (d *Disk) Paused() bool { return d.paused }

// Resume ends a pause. Completions held meanwhile are delivered in order in
// one scheduler event at the current time, never from inside Resume.
func (d *Disk) Resume() {
	if !d.paused {
		return
	}
	d.paused = false
	if len(d.held) > 0 {
		d.sched.At(d.sched.Now(), d.resumed)
	}
}

// Held returns how many completions wait for Resume.
func (d *Disk) Held() int { return len(d.held) }

// deliverHeld completes the held IOs in the order they fell due, stopping
// if a callback's world paused the disk again.
func (d *Disk) deliverHeld() {
	i := 0
	for ; i < len(d.held) && !d.paused; i++ {
		o := d.held[i]
		d.held[i] = nil
		d.finish(o)
	}
	n := copy(d.held, d.held[i:])
	clear(d.held[n:])
	d.held = d.held[:n]
}

// tear applies write o except for one random sector, which gets random bytes.
func (d *Disk) tear(o *op) {
	n := uint64(len(o.data))
	sectors := n / d.sectorSize
	bad := uint64(d.rng.IntN(int(sectors))) * d.sectorSize
	// None of the write reaches the bad sector: undamaged, it holds what
	// it held intact before, read before rewritten forgets an earlier
	// tear's damage there.
	intact := make([]byte, d.sectorSize)
	d.PeekIntact(o.zone, o.offset+bad, intact)
	d.rewritten(o.zone, o.offset, n)
	d.keepTorn(o.zone, o.offset, o.data)
	garbage := o.data[bad : bad+d.sectorSize]
	for i := uint64(0); i < d.sectorSize; i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], d.rng.Uint64())
		copy(garbage[i:], w[:])
	}
	d.keepUnharmed(o.zone, o.offset+bad, intact)
	d.store(o.zone, o.offset, o.data)
	if o.zone == io.ZoneSuperblock && d.fs.torn != nil {
		// The superblock's damage budget counts the torn copy, as for a
		// tear within the write (tearWithin).
		d.fs.torn[sectorKey{o.zone, (o.offset + bad) / d.sectorSize}] = struct{}{}
	}
}

// Peek copies the current durable contents at offset in zone into buf,
// synchronously, without latency, faults or rng draws. For checkers and
// tests; need not be sector aligned but must lie within the zone.
func (d *Disk) Peek(zone io.Zone, offset uint64, buf []byte) {
	d.checkZone("Peek", zone)
	if size := d.zones[zone].size; offset > size || uint64(len(buf)) > size-offset {
		panic(fmt.Sprintf("disk: Peek zone %v [%d, %d+%d) out of zone size %d", zone, offset, offset, len(buf), size))
	}
	d.load(zone, offset, buf)
}

func (d *Disk) complete(o *op) {
	if o.gen != d.gen {
		// Issued before a crash: forgotten (read), or already lost or torn (write).
		d.release(o)
		return
	}
	if d.paused || len(d.held) > 0 { // behind held ones, to keep their order
		d.held = append(d.held, o)
		return
	}
	d.finish(o)
}

// finish applies a completed IO and runs its callback.
func (d *Disk) finish(o *op) {
	done := o.done
	switch o.kind {
	case opRead:
		d.pendingReads--
		if d.opts.Faults != nil && d.fs.rng != nil {
			d.readFaults(o)
		} else {
			d.view(o.zone, o.offset, o.buf)
		}
	case opWrite:
		if d.opts.Faults != nil && d.fs.rng != nil {
			d.writeFaults(o)
		} else {
			d.rewritten(o.zone, o.offset, uint64(len(o.data)))
			d.store(o.zone, o.offset, o.data)
		}
		last := len(d.pendingWrites) - 1
		moved := d.pendingWrites[last]
		d.pendingWrites[o.index] = moved
		moved.index = o.index
		d.pendingWrites[last] = nil
		d.pendingWrites = d.pendingWrites[:last]
	}
	d.release(o)
	if done != nil {
		done()
	}
}

func (d *Disk) alloc(kind opKind, zone io.Zone, offset uint64, done func()) *op {
	o := d.free
	if o != nil {
		d.free = o.next
		o.next = nil
	} else {
		o = &op{d: d}
		o.complete = func() { o.d.complete(o) }
	}
	d.seq++
	o.gen, o.seq = d.gen, d.seq
	o.kind, o.zone, o.offset, o.done = kind, zone, offset, done
	return o
}

func (d *Disk) release(o *op) {
	o.buf = nil
	o.done = nil
	o.index = -1
	o.next = d.free
	d.free = o
}

func (d *Disk) latency(minNs, meanNs uint64) uint64 {
	if meanNs <= minNs {
		return minNs
	}
	return minNs + draw.Exp(d.rng, meanNs-minNs)
}

func (d *Disk) checkZone(what string, z io.Zone) {
	if z >= io.ZoneCount {
		panic(fmt.Sprintf("disk: %s of invalid zone %d", what, z))
	}
}

func (d *Disk) checkIO(what string, z io.Zone, offset, length uint64) {
	d.checkZone(what, z)
	size := d.zones[z].size
	switch {
	case length == 0:
		panic(fmt.Sprintf("disk: %s zone %v offset %d: empty buffer", what, z, offset))
	case offset%d.sectorSize != 0:
		panic(fmt.Sprintf("disk: %s zone %v offset %d not a multiple of sector size %d", what, z, offset, d.sectorSize))
	case length%d.sectorSize != 0:
		panic(fmt.Sprintf("disk: %s zone %v offset %d length %d not a multiple of sector size %d", what, z, offset, length, d.sectorSize))
	case offset > size || length > size-offset:
		panic(fmt.Sprintf("disk: %s zone %v [%d, %d+%d) out of zone size %d", what, z, offset, offset, length, size))
	}
}

// load copies durable contents into buf; unwritten bytes read as zeros.
func (d *Disk) load(z io.Zone, offset uint64, buf []byte) {
	for len(buf) > 0 {
		k, within := offset/d.sectorSize, offset%d.sectorSize
		n := min(uint64(len(buf)), d.sectorSize-within)
		d.sectors.read(d.index, z, k, within, buf[:n])
		buf, offset = buf[n:], offset+n
	}
}

// store makes data durable at offset, a whole number of sectors.
func (d *Disk) store(z io.Zone, offset uint64, data []byte) {
	for k := offset / d.sectorSize; len(data) > 0; k++ {
		d.sectors.write(d.index, z, k, data[:d.sectorSize])
		data = data[d.sectorSize:]
	}
}
