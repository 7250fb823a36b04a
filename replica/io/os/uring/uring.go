// Package uring is a minimal io_uring over raw system calls: set up a ring,
// queue reads, writes, fsyncs and no-ops, submit them, wait for and reap
// their completions. It exists because every Go io_uring module is refused by
// this project's module proxy; it implements only what the data file needs.
//
// Concurrency: the submission side (Read, Write, Fsync, Nop, Submit,
// SubmitAndWait) must be used by one goroutine at a time, and the completion
// side (Wait, Reap) by one goroutine at a time; the two sides may be different
// goroutines, since the SQ ring is written only by the submitter and the CQ
// ring consumed only by the reaper, each publishing its index with an atomic
// store that the kernel reads with acquire semantics (and vice versa).
//
// Buffers: the kernel reads or writes a buffer until the operation's
// completion is reaped. The caller must keep it reachable and unmodified
// (writes) or unread (reads) until then. Go's heap does not move objects, so
// a reachable heap slice or an mmap'd region both work.
package uring

import (
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Opcodes (include/uapi/linux/io_uring.h), only those this package queues.
const (
	opNop   = 0
	opFsync = 3
	opRead  = 22
	opWrite = 23
)

// fsyncDatasync is IORING_FSYNC_DATASYNC: fdatasync rather than fsync.
const fsyncDatasync = 1

// io_uring_enter flags: wait for completions; the argument is an
// io_uring_getevents_arg (with a timeout) rather than a signal mask.
const (
	enterGetEvents = 1
	enterExtArg    = 8
)

// mmap offsets of the three shared regions.
const (
	offSQRing = 0
	offCQRing = 0x8000000
	offSQEs   = 0x10000000
)

// featSingleMmap is IORING_FEAT_SINGLE_MMAP: SQ and CQ rings share one
// mapping (every kernel since 5.4).
const featSingleMmap = 1

// featExtArg is IORING_FEAT_EXT_ARG (Linux 5.11): io_uring_enter takes a
// timeout, so a thread can wait for a completion or the next tick at once.
const featExtArg = 1 << 8

// EntriesMax is the largest ring the kernel accepts (IORING_MAX_ENTRIES).
const EntriesMax = 32768

// sqeSize and cqeSize are the ABI sizes without SQE128/CQE32.
const (
	sqeSize = 64
	cqeSize = 16
)

// sqe is the kernel's struct io_uring_sqe (64 bytes).
type sqe struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	opFlags     uint32
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFdIn  int32
	pad         [2]uint64
}

// CQE is a completion: the UserData of the operation and its result, a
// byte count or a negated errno.
type CQE struct {
	UserData uint64
	Res      int32
	Flags    uint32
}

// Err is the completion's error, nil if it succeeded.
func (c CQE) Err() error {
	if c.Res < 0 {
		return syscall.Errno(-c.Res)
	}
	return nil
}

type sqringOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqringOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// params is struct io_uring_params (120 bytes).
type params struct {
	sqEntries    uint32
	cqEntries    uint32
	flags        uint32
	sqThreadCPU  uint32
	sqThreadIdle uint32
	features     uint32
	wqFd         uint32
	resv         [3]uint32
	sqOff        sqringOffsets
	cqOff        cqringOffsets
}

// Compile-time checks of the ABI sizes.
var (
	_ [sqeSize]byte = [unsafe.Sizeof(sqe{})]byte{}
	_ [cqeSize]byte = [unsafe.Sizeof(CQE{})]byte{}
	_ [120]byte     = [unsafe.Sizeof(params{})]byte{}
)

// ErrUnavailable wraps the setup failures that mean this kernel or container
// forbids io_uring (ENOSYS, EPERM, EACCES, or io_uring_disabled).
var ErrUnavailable = errors.New("io_uring unavailable")

// ErrRingFull is returned when every submission slot is queued and not yet
// consumed by the kernel: submit, or reap completions, then retry.
var ErrRingFull = errors.New("io_uring submission queue full")

// Ring is one io_uring instance.
type Ring struct {
	fd int

	ringMem []byte // SQ and CQ rings (one mapping with FEAT_SINGLE_MMAP)
	cqMem   []byte // the CQ ring's own mapping on kernels without it
	sqeMem  []byte

	sqHead    *uint32 // advanced by the kernel as it consumes SQEs
	sqTail    *uint32 // advanced by us to publish SQEs
	sqMask    uint32
	sqEntries uint32
	sqArray   []uint32
	sqes      []sqe
	// sqeTail counts SQEs filled in; sqeHead those published through sqTail.
	sqeTail, sqeHead uint32

	cqHead    *uint32 // advanced by us as we consume CQEs
	cqTail    *uint32 // advanced by the kernel to publish CQEs
	cqMask    uint32
	cqEntries uint32
	cqes      []CQE

	// The timeout argument of a waiting enter, kept here so that the
	// pointer the kernel follows (arg.ts) refers to reachable memory.
	arg getEventsArg
	ts  unix.Timespec
}

// getEventsArg is struct io_uring_getevents_arg.
type getEventsArg struct {
	sigmask   uint64
	sigmaskSz uint32
	pad       uint32
	ts        uint64
}

// New sets up a ring of at least entries submission slots (rounded up to a
// power of two by the kernel). The completion queue is twice as large.
func New(entries uint32) (*Ring, error) {
	if entries == 0 || entries > EntriesMax {
		return nil, fmt.Errorf("uring: %d entries outside [1, %d]", entries, EntriesMax)
	}
	var p params
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		switch errno {
		case unix.ENOSYS, unix.EPERM, unix.EACCES:
			return nil, fmt.Errorf("%w: io_uring_setup: %v", ErrUnavailable, errno)
		}
		return nil, fmt.Errorf("uring: io_uring_setup(%d): %w", entries, errno)
	}
	r := &Ring{fd: int(fd)}
	if p.features&featExtArg == 0 {
		_ = r.Close()
		return nil, fmt.Errorf("%w: the kernel's io_uring cannot wait with a timeout (IORING_FEAT_EXT_ARG, Linux 5.11)", ErrUnavailable)
	}
	if err := r.mmap(&p); err != nil {
		_ = r.Close()
		return nil, err
	}
	return r, nil
}

func (r *Ring) mmap(p *params) error {
	sqSize := int(p.sqOff.array) + int(p.sqEntries)*4
	cqSize := int(p.cqOff.cqes) + int(p.cqEntries)*cqeSize
	single := p.features&featSingleMmap != 0
	if single {
		sqSize = max(sqSize, cqSize)
	}
	var err error
	r.ringMem, err = unix.Mmap(r.fd, offSQRing, sqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("uring: mmap SQ ring: %w", err)
	}
	cqMem := r.ringMem
	if !single {
		r.cqMem, err = unix.Mmap(r.fd, offCQRing, cqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
		if err != nil {
			return fmt.Errorf("uring: mmap CQ ring: %w", err)
		}
		cqMem = r.cqMem
	}
	r.sqeMem, err = unix.Mmap(r.fd, offSQEs, int(p.sqEntries)*sqeSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("uring: mmap SQEs: %w", err)
	}

	u32 := func(mem []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&mem[off])) }
	r.sqHead = u32(r.ringMem, p.sqOff.head)
	r.sqTail = u32(r.ringMem, p.sqOff.tail)
	r.sqMask = *u32(r.ringMem, p.sqOff.ringMask)
	r.sqEntries = *u32(r.ringMem, p.sqOff.ringEntries)
	r.sqArray = unsafe.Slice(u32(r.ringMem, p.sqOff.array), r.sqEntries)
	r.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(&r.sqeMem[0])), r.sqEntries)

	r.cqHead = u32(cqMem, p.cqOff.head)
	r.cqTail = u32(cqMem, p.cqOff.tail)
	r.cqMask = *u32(cqMem, p.cqOff.ringMask)
	r.cqEntries = *u32(cqMem, p.cqOff.ringEntries)
	r.cqes = unsafe.Slice((*CQE)(unsafe.Pointer(&cqMem[p.cqOff.cqes])), r.cqEntries)
	// The SQ array maps ring positions to SQE indexes; an identity mapping
	// set once lets sqe i always travel through position i.
	for i := range r.sqArray {
		r.sqArray[i] = uint32(i)
	}
	return nil
}

// Entries is the number of submission slots.
func (r *Ring) Entries() uint32 { return r.sqEntries }

// CQEntries is the number of completion slots. Keeping at most this many
// operations in flight means the completion queue never overflows.
func (r *Ring) CQEntries() uint32 { return r.cqEntries }

// Close unmaps the rings and closes the ring. Operations still in the
// kernel are cancelled by the kernel; their buffers must outlive them, so
// callers wait for every completion before closing.
func (r *Ring) Close() error {
	var errs []error
	for _, m := range [][]byte{r.sqeMem, r.cqMem, r.ringMem} {
		if m != nil {
			errs = append(errs, unix.Munmap(m))
		}
	}
	r.sqeMem, r.cqMem, r.ringMem = nil, nil, nil
	if r.fd >= 0 {
		errs = append(errs, unix.Close(r.fd))
		r.fd = -1
	}
	return errors.Join(errs...)
}

// next claims the next free SQE, or reports that all are queued. A slot is
// free once the kernel's head has passed it.
func (r *Ring) next() (*sqe, error) {
	head := atomic.LoadUint32(r.sqHead)
	if r.sqeTail-head >= r.sqEntries {
		return nil, ErrRingFull
	}
	s := &r.sqes[r.sqeTail&r.sqMask]
	r.sqeTail++
	*s = sqe{}
	return s, nil
}

func bufAddr(buf []byte) uint64 {
	if len(buf) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&buf[0])))
}

// Read queues a read of len(buf) bytes at offset off of fd.
func (r *Ring) Read(fd int, buf []byte, off uint64, userData uint64) error {
	return r.rw(opRead, fd, buf, off, userData)
}

// Write queues a write of buf at offset off of fd.
func (r *Ring) Write(fd int, buf []byte, off uint64, userData uint64) error {
	return r.rw(opWrite, fd, buf, off, userData)
}

func (r *Ring) rw(op uint8, fd int, buf []byte, off uint64, userData uint64) error {
	if uint64(len(buf)) > 1<<32-1 {
		return fmt.Errorf("uring: buffer of %d bytes exceeds one operation", len(buf))
	}
	s, err := r.next()
	if err != nil {
		return err
	}
	s.opcode = op
	s.fd = int32(fd)
	s.off = off
	s.addr = bufAddr(buf)
	s.len = uint32(len(buf))
	s.userData = userData
	return nil
}

// Fsync queues an fsync of fd, or an fdatasync if datasync is set.
func (r *Ring) Fsync(fd int, datasync bool, userData uint64) error {
	s, err := r.next()
	if err != nil {
		return err
	}
	s.opcode = opFsync
	s.fd = int32(fd)
	if datasync {
		s.opFlags = fsyncDatasync
	}
	s.userData = userData
	return nil
}

// Nop queues an operation that completes at once with result 0: a way to
// wake a goroutine blocked in Wait.
func (r *Ring) Nop(userData uint64) error {
	s, err := r.next()
	if err != nil {
		return err
	}
	s.opcode = opNop
	s.fd = -1
	s.userData = userData
	return nil
}

// Queued is how many SQEs are filled in and not yet consumed by the kernel:
// never submitted, or left over by a submission the kernel cut short
// (EAGAIN), which the next Submit retries.
func (r *Ring) Queued() uint32 { return r.sqeTail - atomic.LoadUint32(r.sqHead) }

// publish makes every filled SQE visible to the kernel. The store-release of
// the tail orders the SQE contents before it.
func (r *Ring) publish() uint32 {
	n := r.sqeTail - r.sqeHead
	if n > 0 {
		r.sqeHead = r.sqeTail
		atomic.StoreUint32(r.sqTail, r.sqeTail)
	}
	return n
}

// Submit hands the queued SQEs to the kernel and returns how many it took.
func (r *Ring) Submit() (int, error) { return r.SubmitAndWait(0) }

// SubmitAndWait submits the queued SQEs and, if wait > 0, blocks until at
// least wait completions are available. EINTR is retried.
func (r *Ring) SubmitAndWait(wait uint32) (int, error) {
	// Everything published but not yet consumed by the kernel is resubmitted
	// as a count: the kernel reads SQEs from its own head up to our tail.
	r.publish()
	toSubmit := atomic.LoadUint32(r.sqTail) - atomic.LoadUint32(r.sqHead)
	var flags uintptr
	if wait > 0 {
		flags = enterGetEvents
	}
	if toSubmit == 0 && wait == 0 {
		return 0, nil
	}
	for {
		// Syscall6, not RawSyscall6: a blocking enter must let the Go
		// scheduler run other goroutines on another thread.
		n, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit), uintptr(wait), flags, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return int(n), fmt.Errorf("uring: io_uring_enter: %w", errno)
		}
		return int(n), nil
	}
}

// Wait blocks until at least n completions are available, without
// submitting anything (so a reaper goroutine may call it while another
// goroutine submits).
func (r *Ring) Wait(n uint32) error {
	if r.Ready() >= n {
		return nil
	}
	for {
		_, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), 0, uintptr(n), enterGetEvents, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return fmt.Errorf("uring: io_uring_enter wait: %w", errno)
		}
		return nil
	}
}

// SubmitAndWaitTimeout submits the queued SQEs and blocks until at least
// wait completions are available or timeout has passed (which is not an
// error). A signal (EINTR) also ends the wait early; callers loop anyway.
func (r *Ring) SubmitAndWaitTimeout(wait uint32, timeout time.Duration) (int, error) {
	r.publish()
	toSubmit := atomic.LoadUint32(r.sqTail) - atomic.LoadUint32(r.sqHead)
	r.ts = unix.NsecToTimespec(max(int64(timeout), 0))
	r.arg = getEventsArg{ts: uint64(uintptr(unsafe.Pointer(&r.ts)))}
	n, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit), uintptr(wait),
		enterGetEvents|enterExtArg, uintptr(unsafe.Pointer(&r.arg)), unsafe.Sizeof(r.arg))
	switch errno {
	case 0, unix.ETIME, unix.EINTR:
		return int(n), nil
	}
	return int(n), fmt.Errorf("uring: io_uring_enter with timeout: %w", errno)
}

// Ready is how many completions can be reaped now.
func (r *Ring) Ready() uint32 {
	return atomic.LoadUint32(r.cqTail) - atomic.LoadUint32(r.cqHead)
}

// Reap copies up to len(dst) available completions into dst and frees their
// slots for the kernel, returning how many it copied. It never blocks.
func (r *Ring) Reap(dst []CQE) int {
	head := atomic.LoadUint32(r.cqHead)
	// Load-acquire of the tail: the CQEs before it are fully written.
	tail := atomic.LoadUint32(r.cqTail)
	n := 0
	for head != tail && n < len(dst) {
		dst[n] = r.cqes[head&r.cqMask]
		head++
		n++
	}
	if n > 0 {
		// Store-release of the head: we are done reading those slots.
		atomic.StoreUint32(r.cqHead, head)
	}
	return n
}
