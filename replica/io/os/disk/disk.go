// Package disk is the production io.Storage: one data file opened with
// O_DIRECT|O_DSYNC, addressed by the zones of a storage.Layout, with its IO
// done by io_uring (the default) or by a small pool of pread/pwrite workers
// (`--io=sync`, for kernels or containers that forbid io_uring).
//
// Threading: Read, Write and Close must be called on the loop goroutine
// (replica/io/os/loop), and every completion is delivered there, so done
// never runs concurrently with the replica and never inside Read or Write.
// With io_uring the Disk becomes the loop's Waiter: the loop thread submits,
// sleeps in io_uring_enter and delivers completions between its other work,
// with no goroutine of the Disk's own. The sync backend's workers touch only
// the kernel, the buffers of IOs in flight and per-slot atomics, and Post
// their completions.
//
// Durability: the descriptor has O_DSYNC, so the kernel completes a write
// only once its data, and the metadata needed to read it back (a file grown
// by the write, an extent allocated by it), are on stable storage: a device
// cache flush or a FUA write per IO. Done is called only after that
// completion, so an acknowledged write survives power loss. O_DSYNC was
// chosen over a separate fsync per write because it needs no ordering
// between two operations in the ring and costs one IO, not two.
//
// Alignment: O_DIRECT transfers straight between the device and the buffer,
// so both must be aligned to the device's logical block. Zone offsets and
// lengths are whole sectors of the layout (checked at Open to be a multiple
// of the file's direct-IO alignment); a buffer that is not at an Alignment
// boundary is read through an aligned bounce buffer, and every write is
// copied into one (Write must copy before it returns anyway).
//
// Errors: a read that fails comes back as zeros, which no checksum accepts,
// so the replica treats the range as corrupt and repairs it from its peers
// (the io.Storage contract: "the data may be corrupt"). A failed write has
// no such remedy: done is not called, and Options.Fatal gets the error.
package disk

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	rio "viewstamp/replica/io"
	"viewstamp/replica/io/os/loop"
	"viewstamp/replica/storage"
)

// Limits.
const (
	// InFlightMax bounds the IOs handed to the kernel or the workers at
	// once; more wait in the Disk's queue. TigerBeetle's production replica
	// keeps at most 32 grid reads, 32 grid writes and 32 journal writes in
	// flight, plus a few reply and superblock IOs: 128 covers them with
	// room, while recovery's burst of WAL reads waits in the queue rather
	// than in the device's.
	InFlightMax = 128
	// RingEntries is the io_uring submission queue size: room for every
	// in-flight IO and the loop's wake-up read at once (the kernel rounds
	// to a power of two anyway), so an IO that got an in-flight slot always
	// finds a submission entry, and the completion queue (twice as large)
	// never overflows.
	RingEntries = 2 * InFlightMax
	// SyncWorkers is the pread/pwrite pool of the sync backend. Each blocks
	// for a whole IO; four keep a few IOs in the device queue on a
	// two-core machine without a thread per IO.
	SyncWorkers = 4
	// Alignment is the buffer alignment the Disk provides: one 4 KiB page,
	// which satisfies the direct-IO memory alignment of every common
	// device (checked at Open against the file's own).
	Alignment = 4096
	// reapBatch is how many completions the loop copies out of the ring
	// per pass.
	reapBatch = 256
	// closeWaitStep bounds each wait while Close drains the ring, so a
	// drain never depends on a wake-up that might not come.
	closeWaitStep = 100 * time.Millisecond
)

// Backend selects how IO reaches the kernel.
type Backend uint8

const (
	// BackendUring submits through io_uring (the default).
	BackendUring Backend = iota
	// BackendSync runs pread/pwrite on SyncWorkers goroutines.
	BackendSync
)

func (b Backend) String() string {
	switch b {
	case BackendUring:
		return "uring"
	case BackendSync:
		return "sync"
	}
	return fmt.Sprintf("backend(%d)", uint8(b))
}

// ParseBackend reads the CLI's --io value.
func ParseBackend(s string) (Backend, error) {
	switch s {
	case "uring":
		return BackendUring, nil
	case "sync":
		return BackendSync, nil
	}
	return 0, fmt.Errorf("disk: unknown IO backend %q (want uring or sync)", s)
}

// ErrUringUnavailable is wrapped by Open when the kernel or the container
// refuses io_uring; the sync backend works there.
var ErrUringUnavailable = errors.New("io_uring is unavailable (kernel too old, disabled by /proc/sys/kernel/io_uring_disabled, or forbidden by the container's seccomp policy): start with --io=sync to use pread/pwrite instead")

// ErrNoDirectIO is wrapped when the data file's filesystem cannot do
// O_DIRECT (tmpfs, ramfs, some FUSE and network filesystems): without it
// writes sit in the page cache and "durable" means nothing.
var ErrNoDirectIO = errors.New("the filesystem does not support O_DIRECT (tmpfs, ramfs and some network filesystems do not): put the data file on a local disk filesystem such as ext4 or xfs")

// ErrInUse is wrapped when another process holds the data file open.
var ErrInUse = errors.New("the data file is locked by another process")

// Options configure Open.
type Options struct {
	Backend Backend
	// Loop is the process's event loop; required. With io_uring the Disk
	// sets itself as the loop's Waiter (one such Disk per loop).
	Loop *loop.Loop
	// Fatal receives a write that could not be made durable, on the loop
	// goroutine. Nil panics: a replica that cannot write its data file must
	// stop rather than acknowledge what it has not stored.
	Fatal func(error)
}

// Stats counts IOs since Open.
type Stats struct {
	Reads, Writes uint64
	// ReadErrors are reads that failed and were delivered as zeros.
	ReadErrors uint64
	// ReadsPastEnd are reads that reached the end of the file (a grid not
	// yet grown that far) and were completed with zeros.
	ReadsPastEnd uint64
	// Resumed counts short transfers continued with a further IO.
	Resumed uint64
	// InFlight and Queued are the IOs now with the backend and waiting for
	// an in-flight slot.
	InFlight, Queued int
}

// op is one Read or Write from the call until done.
type op struct {
	write bool
	abs   uint64 // absolute file offset
	buf   []byte // aligned memory the kernel transfers
	user  []byte // the caller's buffer when buf is a bounce buffer for a read
	pool  bool   // buf came from the bounce pool
	n     int    // bytes already transferred
	done  func()
	slot  uint32
}

// slot is one in-flight position; its index is an io_uring user_data.
type slot struct {
	res  atomic.Int32 // sync backend: written by a worker, read on the loop after Post
	fire func()       // sync backend: bound once at Open, completes this slot with res
	op   *op          // loop goroutine only
}

// backend hands IO to the kernel; issue and close run on the loop goroutine.
type backend interface {
	issue(slot uint32, write bool, buf []byte, off uint64)
	close() error
}

// Disk implements io.Storage over one data file.
type Disk struct {
	path   string
	fd     int
	zones  [rio.ZoneCount]storage.Zone
	sector uint64
	opts   Options
	be     backend

	slots     [InFlightMax]slot
	freeSlots []uint32
	queue     []*op // waiting for a slot, oldest first from queueHead
	queueHead int
	freeOps   []*op
	bounce    pool

	closed bool
	stats  Stats
}

var _ rio.Storage = (*Disk)(nil)

// Create makes a new data file of size bytes, allocated on the device so
// that later writes need not allocate, and makes its existence durable. It
// refuses an existing path and a filesystem without O_DIRECT.
func Create(path string, size uint64) (err error) {
	if size == 0 || size%Alignment != 0 {
		return fmt.Errorf("disk: data file size %d is not a positive multiple of %d", size, Alignment)
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	if errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("disk: %s already exists; refusing to overwrite a data file", path)
	}
	if err != nil {
		return fmt.Errorf("disk: create %s: %w", path, err)
	}
	defer func() {
		if cerr := unix.Close(fd); err == nil && cerr != nil {
			err = fmt.Errorf("disk: close %s: %w", path, cerr)
		}
		if err != nil {
			_ = os.Remove(path)
		}
	}()
	if _, err := checkDirectIO(fd, path); err != nil {
		return err
	}
	if err := unix.Fallocate(fd, 0, 0, int64(size)); err != nil {
		if !errors.Is(err, unix.EOPNOTSUPP) {
			return fmt.Errorf("disk: allocate %d bytes for %s: %w", size, path, err)
		}
		// Without fallocate the file is sparse; O_DSYNC writes still make
		// their allocations durable, only more slowly.
		if err := unix.Ftruncate(fd, int64(size)); err != nil {
			return fmt.Errorf("disk: size %s to %d bytes: %w", path, size, err)
		}
	}
	if err := unix.Fsync(fd); err != nil {
		return fmt.Errorf("disk: fsync %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a new directory entry durable.
func syncDir(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("disk: open directory %s: %w", dir, err)
	}
	defer func() { _ = unix.Close(fd) }()
	if err := unix.Fsync(fd); err != nil {
		return fmt.Errorf("disk: fsync directory %s: %w", dir, err)
	}
	return nil
}

// checkDirectIO refuses filesystems that cannot do direct IO and returns the
// file's direct-IO offset alignment.
func checkDirectIO(fd int, path string) (uint32, error) {
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil {
		return 0, fmt.Errorf("disk: statfs %s: %w", path, err)
	}
	// Linux 6.6 lets tmpfs accept O_DIRECT, but the data stays in memory:
	// nothing would survive a power loss, so refuse by type too.
	switch fs.Type {
	case unix.TMPFS_MAGIC, unix.RAMFS_MAGIC:
		return 0, fmt.Errorf("disk: %s is on tmpfs/ramfs: %w", path, ErrNoDirectIO)
	}
	var st unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_DIOALIGN, &st); err != nil {
		return 0, fmt.Errorf("disk: statx %s: %w", path, err)
	}
	if st.Mask&unix.STATX_DIOALIGN == 0 {
		// Kernels before 6.1 do not report the alignment; the O_DIRECT open
		// then decides, and the sector size is trusted to be enough.
		return 0, nil
	}
	if st.Dio_offset_align == 0 {
		return 0, fmt.Errorf("disk: %s: %w", path, ErrNoDirectIO)
	}
	if st.Dio_mem_align > Alignment {
		return 0, fmt.Errorf("disk: %s needs direct-IO buffers aligned to %d bytes, more than the %d this package provides", path, st.Dio_mem_align, Alignment)
	}
	return st.Dio_offset_align, nil
}

// Open opens an existing data file laid out by layout. The file must hold at
// least every zone before the grid; the grid may extend beyond its end
// (reads there return zeros, writes grow the file).
func Open(path string, layout storage.Layout, opts Options) (*Disk, error) {
	if opts.Loop == nil {
		return nil, errors.New("disk: Options.Loop is required")
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_DIRECT|unix.O_DSYNC|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.EINVAL):
		return nil, fmt.Errorf("disk: open %s with O_DIRECT: %v: %w", path, err, ErrNoDirectIO)
	case err != nil:
		return nil, fmt.Errorf("disk: open %s: %w", path, err)
	}
	d := &Disk{path: path, fd: fd, zones: layout.Zones, sector: layout.SectorSize, opts: opts}
	if err := d.open(layout); err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	return d, nil
}

func (d *Disk) open(layout storage.Layout) error {
	align, err := checkDirectIO(d.fd, d.path)
	if err != nil {
		return err
	}
	if align != 0 && layout.SectorSize%uint64(align) != 0 {
		return fmt.Errorf("disk: %s needs direct IO aligned to %d bytes; the layout's sector size %d is not a multiple", d.path, align, layout.SectorSize)
	}
	// One process per data file: two replicas writing one file would
	// destroy it. The lock goes with the descriptor, so a killed process
	// releases it.
	if err := unix.Flock(d.fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("disk: %s: %w", d.path, ErrInUse)
		}
		return fmt.Errorf("disk: lock %s: %w", d.path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(d.fd, &st); err != nil {
		return fmt.Errorf("disk: stat %s: %w", d.path, err)
	}
	if grid := layout.Zones[rio.ZoneGrid].Offset; uint64(st.Size) < grid {
		return fmt.Errorf("disk: %s is %d bytes, smaller than the %d bytes of zones before the grid: not a data file of this layout", d.path, st.Size, grid)
	}

	d.freeSlots = make([]uint32, 0, InFlightMax)
	for i := range d.slots {
		s := uint32(i)
		d.slots[i].fire = func() { d.complete(s, d.slots[s].res.Load()) }
		// Popped from the end: slot 0 first.
		d.freeSlots = append(d.freeSlots, InFlightMax-1-s)
	}
	switch d.opts.Backend {
	case BackendUring:
		be, err := newUringBackend(d, d.opts.Loop)
		if err != nil {
			return err
		}
		d.be = be
	case BackendSync:
		d.be = newSyncBackend(d.fd, &d.slots, d.opts.Loop.Post)
	default:
		return fmt.Errorf("disk: unknown backend %v", d.opts.Backend)
	}
	return nil
}

// Path is the data file's path.
func (d *Disk) Path() string { return d.path }

// Backend is the backend in use.
func (d *Disk) Backend() Backend { return d.opts.Backend }

// Stats returns the counters. Loop goroutine only.
func (d *Disk) Stats() Stats {
	s := d.stats
	s.InFlight = InFlightMax - len(d.freeSlots)
	s.Queued = len(d.queue) - d.queueHead
	return s
}

// absolute checks an IO against its zone and the sector size, and returns
// its offset in the file. Violations are bugs in the caller.
func (d *Disk) absolute(zone rio.Zone, offset uint64, n int) uint64 {
	if zone >= rio.ZoneCount {
		panic(fmt.Sprintf("disk: zone %d out of range", zone))
	}
	z := d.zones[zone]
	if offset%d.sector != 0 || uint64(n)%d.sector != 0 {
		panic(fmt.Sprintf("disk: %v IO of %d bytes at %d is not sector (%d) aligned", zone, n, offset, d.sector))
	}
	if offset > z.Size || uint64(n) > z.Size-offset {
		panic(fmt.Sprintf("disk: %v IO of %d bytes at %d overruns the zone's %d bytes", zone, n, offset, z.Size))
	}
	return z.Offset + offset
}

func aligned(b []byte) bool {
	return len(b) > 0 && uintptr(unsafe.Pointer(&b[0]))%Alignment == 0
}

func (d *Disk) newOp() *op {
	if n := len(d.freeOps); n > 0 {
		o := d.freeOps[n-1]
		d.freeOps = d.freeOps[:n-1]
		return o
	}
	return &op{}
}

// Read fills buf from zone at offset and later calls done on the loop. buf
// must stay untouched until then.
func (d *Disk) Read(zone rio.Zone, offset uint64, buf []byte, done func()) {
	o := d.newOp()
	*o = op{abs: d.absolute(zone, offset, len(buf)), done: done}
	if aligned(buf) {
		// The kernel reads straight into the caller's buffer, which the op
		// keeps reachable until done.
		o.buf = buf
	} else {
		o.buf, o.user, o.pool = d.bounce.get(len(buf)), buf, true
	}
	d.stats.Reads++
	d.submit(o)
}

// Write copies buf, writes it to zone at offset and calls done on the loop
// once the write is durable.
func (d *Disk) Write(zone rio.Zone, offset uint64, buf []byte, done func()) {
	o := d.newOp()
	*o = op{write: true, abs: d.absolute(zone, offset, len(buf)), done: done, pool: true}
	o.buf = d.bounce.get(len(buf))
	copy(o.buf, buf)
	d.stats.Writes++
	d.submit(o)
}

func (d *Disk) submit(o *op) {
	if d.closed {
		panic("disk: IO after Close")
	}
	if len(o.buf) == 0 {
		// Nothing to transfer; still never complete inside the call.
		d.opts.Loop.Post(func() {
			if !d.closed {
				d.finish(o)()
			}
		})
		return
	}
	if len(d.freeSlots) == 0 {
		d.queue = append(d.queue, o)
		return
	}
	d.start(o)
}

// start gives o a slot and hands its remaining bytes to the backend. With
// io_uring the submission itself waits for the loop's next Wait, so all the
// IO of one loop turn goes to the kernel in one system call.
func (d *Disk) start(o *op) {
	n := len(d.freeSlots) - 1
	o.slot = d.freeSlots[n]
	d.freeSlots = d.freeSlots[:n]
	d.slots[o.slot].op = o
	d.be.issue(o.slot, o.write, o.buf[o.n:], o.abs+uint64(o.n))
}

func (d *Disk) fatal(err error) {
	if d.opts.Fatal == nil {
		panic(err)
	}
	d.opts.Fatal(err)
}

// complete runs on the loop when the backend finished slot's IO with res
// (bytes transferred, or a negated errno).
func (d *Disk) complete(s uint32, res int32) {
	if d.closed {
		return
	}
	sl := &d.slots[s]
	o := sl.op
	sl.op = nil
	d.freeSlots = append(d.freeSlots, s)
	done := d.outcome(o, res)
	// Queued IOs take the freed slot before done can issue more.
	d.startQueued()
	if done != nil {
		done()
	}
}

// outcome acts on one transfer's result: it finishes o (returning its done)
// or sends the rest again (returning nil).
func (d *Disk) outcome(o *op, res int32) func() {
	switch {
	case res < 0:
		err := syscall.Errno(-res)
		if err == unix.EINTR || err == unix.EAGAIN {
			d.retry(o)
			return nil
		}
		if o.write {
			d.release(o)
			d.fatal(fmt.Errorf("disk: write of %d bytes at offset %d of %s: %w", len(o.buf), o.abs, d.path, err))
			return nil
		}
		d.stats.ReadErrors++
		clear(o.buf[o.n:])
	case res == 0:
		if o.write {
			d.release(o)
			d.fatal(fmt.Errorf("disk: write of %d bytes at offset %d of %s wrote nothing (device full?)", len(o.buf)-o.n, o.abs+uint64(o.n), d.path))
			return nil
		}
		// The end of the file: never written, so zeros, like a sector the
		// simulated disk never wrote.
		d.stats.ReadsPastEnd++
		clear(o.buf[o.n:])
	default:
		o.n += int(res)
		if o.n < len(o.buf) {
			d.stats.Resumed++
			d.retry(o)
			return nil
		}
	}
	return d.finish(o)
}

// retry sends o's remaining bytes again, behind the queue if it is full.
func (d *Disk) retry(o *op) {
	if len(d.freeSlots) == 0 {
		d.queue = append(d.queue, o)
		return
	}
	d.start(o)
}

func (d *Disk) startQueued() {
	for len(d.freeSlots) > 0 && d.queueHead < len(d.queue) {
		o := d.queue[d.queueHead]
		d.queue[d.queueHead] = nil
		d.queueHead++
		d.start(o)
	}
	if d.queueHead == len(d.queue) {
		// Drained: reuse the backing array from its start.
		d.queue, d.queueHead = d.queue[:0], 0
	}
}

// finish copies a bounced read out, recycles o and returns its done.
func (d *Disk) finish(o *op) func() {
	if o.user != nil {
		copy(o.user, o.buf)
	}
	done := o.done
	d.release(o)
	return done
}

func (d *Disk) release(o *op) {
	if o.pool {
		d.bounce.put(o.buf)
	}
	*o = op{}
	d.freeOps = append(d.freeOps, o)
}

// Close stops the backend once every IO it holds has completed (their
// callbacks are dropped; queued IOs are abandoned), then closes the file.
// Loop goroutine only; no Read or Write may follow.
func (d *Disk) Close() error {
	if d.closed {
		return nil
	}
	d.closed = true
	err := d.be.close()
	if err == nil {
		// Otherwise the kernel may still transfer into them: leak them.
		d.bounce.release()
	}
	errs := []error{err, unix.Close(d.fd)}
	for i := range d.slots {
		d.slots[i].op = nil
	}
	d.queue, d.freeOps = nil, nil
	return errors.Join(errs...)
}
