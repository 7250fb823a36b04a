package disk

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"viewstamp/replica/io/os/uring"
)

// stopUserData marks the no-op that tells the reaper to stop; slots are
// numbered below InFlightMax.
const stopUserData = ^uint64(0)

// uringBackend submits on the loop goroutine and reaps on its own goroutine,
// which blocks in io_uring_enter and posts each completion to the loop.
type uringBackend struct {
	ring  *uring.Ring
	fd    int
	slots *[InFlightMax]slot
	post  func(func())
	// inFlight counts IOs issued and not yet reaped, so the reaper knows
	// when Close may release the buffers the kernel still uses.
	inFlight atomic.Int64
	stopped  chan struct{} // closed when the reaper has returned
	reapErr  error         // set by the reaper before closing stopped
}

func newUringBackend(fd int, slots *[InFlightMax]slot, post func(func())) (*uringBackend, error) {
	ring, err := uring.New(RingEntries)
	if errors.Is(err, uring.ErrUnavailable) {
		return nil, fmt.Errorf("disk: %v: %w", err, ErrUringUnavailable)
	}
	if err != nil {
		return nil, fmt.Errorf("disk: %w", err)
	}
	if ring.CQEntries() < InFlightMax {
		_ = ring.Close()
		return nil, fmt.Errorf("disk: io_uring completion queue of %d entries is below the %d IOs in flight", ring.CQEntries(), InFlightMax)
	}
	b := &uringBackend{ring: ring, fd: fd, slots: slots, post: post, stopped: make(chan struct{})}
	go b.reap()
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
		// A slot in flight always has a submission entry (RingEntries ==
		// InFlightMax): running out is a bug here, not back-pressure.
		panic(fmt.Sprintf("disk: queue IO in slot %d: %v", slot, err))
	}
	b.inFlight.Add(1)
}

func (b *uringBackend) flush() error {
	for b.ring.Queued() > 0 {
		_, err := b.ring.Submit()
		switch {
		case err == nil:
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EBUSY):
			// The kernel is short of memory or completions: the SQEs stay
			// queued and the next flush (posted with the next IO) or this
			// loop retries. The completion queue cannot overflow (see
			// RingEntries), so this only spins while the kernel recovers.
			continue
		default:
			return fmt.Errorf("disk: io_uring submit: %w", err)
		}
	}
	return nil
}

// reap delivers completions until the stop no-op has been seen and every
// IO issued before it has completed.
func (b *uringBackend) reap() {
	defer close(b.stopped)
	cqes := make([]uring.CQE, reapBatch)
	stopping := false
	for !stopping || b.inFlight.Load() > 0 {
		if err := b.ring.Wait(1); err != nil {
			b.reapErr = err
			return
		}
		n := b.ring.Reap(cqes)
		for _, c := range cqes[:n] {
			if c.UserData == stopUserData {
				stopping = true
				continue
			}
			s := &b.slots[c.UserData]
			s.res.Store(c.Res)
			b.inFlight.Add(-1)
			b.post(s.fire)
		}
	}
}

func (b *uringBackend) close() error {
	var errs []error
	// Submit what is queued first: the stop needs a free submission entry.
	if err := b.flush(); err != nil {
		errs = append(errs, err)
	} else if err := b.ring.Nop(stopUserData); err != nil {
		errs = append(errs, fmt.Errorf("disk: queue the reaper's stop: %w", err))
	} else if err := b.flush(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		<-b.stopped
		errs = append(errs, b.reapErr)
	}
	// Without a stopped reaper the ring must stay mapped: it may still be
	// inside io_uring_enter. Leak it rather than unmap under the kernel.
	if len(errs) == 1 && errs[0] == nil {
		errs = append(errs, b.ring.Close())
	}
	return errors.Join(errs...)
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

// flush has nothing to do: workers pick jobs up as they are issued.
func (b *syncBackend) flush() error { return nil }

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
