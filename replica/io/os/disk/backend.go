package disk

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"viewstamp/replica/io/os/loop"
	"viewstamp/replica/io/os/uring"
)

// newRing sets up the ring; a variable so that a test can stand in for a
// kernel that refuses io_uring.
var newRing = uring.New

// wakeUserData marks the read of the wake-up eventfd; slots are numbered
// below InFlightMax.
const wakeUserData = ^uint64(0)

// uringBackend is the loop's Waiter: the loop thread submits, sleeps inside
// io_uring_enter until a completion, a Wake or the next tick, and delivers
// completions itself. The kernel completes an IO through the task that
// submitted it, so having that task be the one asleep in io_uring_enter
// costs one wake-up per IO. Wake writes an eventfd that the ring always has
// a read pending on. Everything but Wake runs on the loop goroutine.
type uringBackend struct {
	d    *Disk
	loop *loop.Loop
	ring *uring.Ring
	fd   int
	cqes []uring.CQE

	// efd wakes the loop from another goroutine; armed is set while a read
	// of it is in the ring. efdBuf is that read's buffer.
	efd    int
	efdBuf [8]byte
	armed  bool
	// inFlight counts IOs issued and not yet reaped: Close waits for them
	// before the buffers the kernel uses go away.
	inFlight int

	// mu makes Wake from another goroutine safe against Close: a write to
	// a closed eventfd number could hit a file opened since.
	mu     sync.RWMutex
	closed bool
}

func newUringBackend(d *Disk, l *loop.Loop) (*uringBackend, error) {
	if l.HasWaiter() {
		return nil, errors.New("disk: the loop already sleeps in another waiter; one io_uring data file per loop")
	}
	ring, err := newRing(RingEntries)
	if errors.Is(err, uring.ErrUnavailable) {
		return nil, fmt.Errorf("disk: %v: %w", err, ErrUringUnavailable)
	}
	if err != nil {
		return nil, fmt.Errorf("disk: %w", err)
	}
	if ring.CQEntries() < InFlightMax+1 {
		_ = ring.Close()
		return nil, fmt.Errorf("disk: io_uring completion queue of %d entries is below the %d IOs in flight", ring.CQEntries(), InFlightMax+1)
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		_ = ring.Close()
		return nil, fmt.Errorf("disk: eventfd: %w", err)
	}
	b := &uringBackend{d: d, loop: l, ring: ring, fd: d.fd, cqes: make([]uring.CQE, reapBatch), efd: efd}
	l.SetWaiter(b)
	return b, nil
}

func (b *uringBackend) issue(slot uint32, write bool, buf []byte, off uint64) {
	var err error
	if write {
		err = b.ring.Write(b.fd, buf, off, uint64(slot))
	} else {
		err = b.ring.Read(b.fd, buf, off, uint64(slot))
	}
	if err != nil {
		// Every slot in flight plus the eventfd read has a submission
		// entry (RingEntries): running out is a bug, not back-pressure.
		panic(fmt.Sprintf("disk: queue IO in slot %d: %v", slot, err))
	}
	b.inFlight++
}

// Wait submits what is queued, sleeps if asked and nothing is ready, and
// delivers the completions that are ready. It is loop.Waiter's Wait.
func (b *uringBackend) Wait(timeout time.Duration) {
	if b.closed {
		return
	}
	if !b.armed {
		if err := b.ring.Read(b.efd, b.efdBuf[:], 0, wakeUserData); err != nil {
			panic(fmt.Sprintf("disk: queue the wake-up read: %v", err))
		}
		b.armed = true
	}
	var err error
	switch {
	case timeout > 0 && b.ring.Ready() == 0:
		_, err = b.ring.SubmitAndWaitTimeout(1, timeout)
	case b.ring.Queued() > 0:
		_, err = b.ring.Submit()
	}
	// EAGAIN/EBUSY: the kernel is short of memory or completion space; the
	// entries stay queued and the next Wait submits them again.
	if err != nil && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EBUSY) {
		b.d.fatal(err)
		return
	}
	b.reap(true)
}

// reap takes every ready completion; deliver passes them to the Disk.
func (b *uringBackend) reap(deliver bool) {
	for !b.closed {
		n := b.ring.Reap(b.cqes)
		if n == 0 {
			return
		}
		for _, c := range b.cqes[:n] {
			if c.UserData == wakeUserData {
				b.armed = false
				continue
			}
			b.inFlight--
			if deliver {
				b.d.complete(uint32(c.UserData), c.Res)
				if b.closed {
					// A callback closed the Disk: the ring is gone.
					return
				}
			}
		}
	}
}

// Wake ends the loop's sleep in Wait. Any goroutine.
func (b *uringBackend) Wake() {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return
	}
	one := [8]byte{1}
	// The only failure is a counter about to overflow, i.e. the loop is
	// already due to wake.
	_, _ = unix.Write(b.efd, one[:])
}

// close hands the loop back its own wait, waits for every IO in the kernel
// (dropping their completions) and the eventfd read, and releases the ring.
func (b *uringBackend) close() error {
	b.loop.SetWaiter(nil)
	if b.armed {
		b.Wake()
	}
	for b.inFlight > 0 || b.armed {
		if _, err := b.ring.SubmitAndWaitTimeout(1, closeWaitStep); err != nil && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EBUSY) {
			// The ring is unusable; keep it mapped rather than free memory
			// the kernel may still write.
			return fmt.Errorf("disk: drain io_uring at close: %w", err)
		}
		b.reap(false)
	}
	b.mu.Lock()
	b.closed = true
	err := unix.Close(b.efd)
	b.mu.Unlock()
	return errors.Join(err, b.ring.Close())
}

// job is one pread or pwrite for a worker.
type job struct {
	slot  uint32
	write bool
	buf   []byte
	off   uint64
}

// syncBackend runs blocking pread/pwrite on SyncWorkers goroutines.
type syncBackend struct {
	fd    int
	slots *[InFlightMax]slot
	post  func(func())
	jobs  chan job
	wg    sync.WaitGroup
}

// newSyncBackend starts the workers; their completions are posted to the
// loop, each through its slot's fire.
func newSyncBackend(fd int, slots *[InFlightMax]slot, post func(func())) *syncBackend {
	// Room for every slot: issue never blocks the loop.
	b := &syncBackend{fd: fd, slots: slots, post: post, jobs: make(chan job, InFlightMax)}
	for range SyncWorkers {
		b.wg.Add(1)
		go b.work()
	}
	return b
}

func (b *syncBackend) issue(slot uint32, write bool, buf []byte, off uint64) {
	b.jobs <- job{slot: slot, write: write, buf: buf, off: off}
}

func (b *syncBackend) work() {
	defer b.wg.Done()
	for j := range b.jobs {
		var n int
		var err error
		if j.write {
			n, err = unix.Pwrite(b.fd, j.buf, int64(j.off))
		} else {
			n, err = unix.Pread(b.fd, j.buf, int64(j.off))
		}
		res := int32(n)
		if err != nil {
			var errno unix.Errno
			if !errors.As(err, &errno) {
				errno = unix.EIO
			}
			res = -int32(errno)
		}
		s := &b.slots[j.slot]
		s.res.Store(res)
		b.post(s.fire)
	}
}

// close lets the workers finish every job already issued, then stops them.
func (b *syncBackend) close() error {
	close(b.jobs)
	b.wg.Wait()
	return nil
}
