package disk

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	rio "viewstamp/replica/io"
	"viewstamp/replica/io/os/loop"
	"viewstamp/replica/io/os/uring"
	"viewstamp/replica/storage"
)

var backends = []Backend{BackendUring, BackendSync}

// testLayout is the simulator's small data file (about 16 MiB).
func testLayout() storage.Layout { return storage.MustLayout(storage.SimulatorConfig()) }

// dataDir is a temporary directory on a filesystem with O_DIRECT, or the
// test is skipped: tmpfs would be refused by design, so TMPDIR must be a
// disk.
func dataDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Type == unix.TMPFS_MAGIC || fs.Type == unix.RAMFS_MAGIC {
		t.Skipf("TMPDIR %s is tmpfs/ramfs, which has no real O_DIRECT; set TMPDIR to a disk filesystem", dir)
	}
	return dir
}

// harness is a running loop and a Disk driven by it.
type harness struct {
	t    testing.TB
	loop *loop.Loop
	disk *Disk
	stop chan struct{}
	done chan struct{}
	// afterIssue, if set, runs on the loop right after run issued its batch.
	afterIssue func()
}

func startLoop(t testing.TB) *harness {
	h := &harness{t: t, loop: loop.New(), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		h.loop.Run(loopTick, func() {}, h.stop)
	}()
	t.Cleanup(h.shutdown)
	return h
}

// loopTick is the production tick; nothing here depends on it.
const loopTick = 10 * time.Millisecond

func (h *harness) shutdown() {
	if h.stop == nil {
		return
	}
	if h.disk != nil {
		h.on(func() {
			if err := h.disk.Close(); err != nil {
				h.t.Error(err)
			}
		})
	}
	close(h.stop)
	<-h.done
	h.stop = nil
}

// on runs fn on the loop goroutine and waits for it.
func (h *harness) on(fn func()) {
	ran := make(chan struct{})
	h.loop.Post(func() {
		defer close(ran)
		fn()
	})
	<-ran
}

// newDisk creates and opens a data file of layout in a fresh directory.
func newDisk(t testing.TB, b Backend, l storage.Layout, size uint64) *harness {
	t.Helper()
	path := filepath.Join(dataDir(t), "replica.data")
	if err := Create(path, size); err != nil {
		t.Fatal(err)
	}
	h := startLoop(t)
	h.open(path, b, l)
	return h
}

func (h *harness) open(path string, b Backend, l storage.Layout) {
	h.t.Helper()
	d, err := Open(path, l, Options{Backend: b, Loop: h.loop, Fatal: func(err error) { h.t.Errorf("fatal: %v", err) }})
	if errors.Is(err, ErrUringUnavailable) {
		h.t.Skipf("io_uring is refused here (%v); the sync backend is tested separately", err)
	}
	if err != nil {
		h.t.Fatal(err)
	}
	h.disk = d
}

// io is one IO for the batch helpers.
type io struct {
	zone   rio.Zone
	offset uint64
	buf    []byte
}

// run issues every IO at once from the loop and waits until all are done,
// checking that each done runs on the loop and never inside its call.
func (h *harness) run(writes bool, ios []io) {
	h.t.Helper()
	all := make(chan struct{})
	h.on(func() {
		left := len(ios)
		for _, x := range ios {
			inside := true
			done := func() {
				if inside {
					h.t.Error("done ran inside Read/Write")
				}
				if !h.loop.OnLoop() {
					h.t.Error("done ran off the loop goroutine")
				}
				if left--; left == 0 {
					close(all)
				}
			}
			if writes {
				h.disk.Write(x.zone, x.offset, x.buf, done)
			} else {
				h.disk.Read(x.zone, x.offset, x.buf, done)
			}
			inside = false
		}
		if h.afterIssue != nil {
			h.afterIssue()
		}
	})
	<-all
}

func random(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestCreateRefusesExistingFile(t *testing.T) {
	path := filepath.Join(dataDir(t), "replica.data")
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Create(path, Alignment)
	if err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("Create over an existing file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Fatalf("existing file changed to %q", b)
	}
}

func TestCreateAllocates(t *testing.T) {
	path := filepath.Join(dataDir(t), "replica.data")
	const size = 1 << 20
	if err := Create(path, size); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != size || st.Blocks*512 < size {
		t.Fatalf("size %d with %d bytes allocated, want %d of each", st.Size, st.Blocks*512, size)
	}
	if err := Create(path+"2", size+1); err == nil {
		t.Fatal("Create accepted a size that is not a whole number of alignment units")
	}
}

// TestTmpfsRefused: /dev/shm is tmpfs on Linux; a data file there would not
// survive a power loss, so both Create and Open refuse it with a message.
func TestTmpfsRefused(t *testing.T) {
	var fs unix.Statfs_t
	if err := unix.Statfs("/dev/shm", &fs); err != nil || fs.Type != unix.TMPFS_MAGIC {
		t.Skipf("/dev/shm is not a tmpfs here (%v), nothing to refuse", err)
	}
	dir, err := os.MkdirTemp("/dev/shm", "viewstamp-disk-test")
	if err != nil {
		t.Skipf("cannot write to /dev/shm: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	path := filepath.Join(dir, "replica.data")
	if err := Create(path, Alignment); !errors.Is(err, ErrNoDirectIO) || !strings.Contains(err.Error(), "O_DIRECT") {
		t.Fatalf("Create on tmpfs: %v, want ErrNoDirectIO", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused Create left %s behind: %v", path, err)
	}
	l := testLayout()
	if err := os.WriteFile(path, make([]byte, l.Size), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, l, Options{Loop: loop.New()}); !errors.Is(err, ErrNoDirectIO) {
		t.Fatalf("Open on tmpfs: %v, want ErrNoDirectIO", err)
	}
}

func TestOpenRefusals(t *testing.T) {
	dir := dataDir(t)
	l := testLayout()
	small := filepath.Join(dir, "small.data")
	if err := Create(small, Alignment); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(small, l, Options{Loop: loop.New(), Backend: BackendSync}); err == nil || !strings.Contains(err.Error(), "not a data file") {
		t.Fatalf("Open of a too small file: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "missing"), l, Options{Loop: loop.New(), Backend: BackendSync}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open of a missing file: %v", err)
	}
	path := filepath.Join(dir, "replica.data")
	if err := Create(path, l.Size); err != nil {
		t.Fatal(err)
	}
	d, err := Open(path, l, Options{Loop: loop.New(), Backend: BackendSync})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.Close() }()
	if _, err := Open(path, l, Options{Loop: loop.New(), Backend: BackendSync}); !errors.Is(err, ErrInUse) {
		t.Fatalf("second Open of one data file: %v, want ErrInUse", err)
	}
	if _, err := Open(path, l, Options{Backend: BackendSync}); err == nil {
		t.Fatal("Open without a Loop")
	}
}

func TestParseBackend(t *testing.T) {
	for _, b := range backends {
		if got, err := ParseBackend(b.String()); err != nil || got != b {
			t.Errorf("ParseBackend(%q) = %v, %v", b.String(), got, err)
		}
	}
	if _, err := ParseBackend("aio"); err == nil {
		t.Error("ParseBackend accepted aio")
	}
	if !strings.Contains(ErrUringUnavailable.Error(), "--io=sync") {
		t.Error("the io_uring error does not name the --io=sync fallback")
	}
}

// TestRoundTrip writes every zone from aligned and unaligned buffers, changes
// the buffers as soon as Write returns (Write copies), reads back into
// aligned and unaligned buffers, and reopens the file to read it again.
func TestRoundTrip(t *testing.T) {
	for _, b := range backends {
		t.Run(b.String(), func(t *testing.T) {
			l := testLayout()
			h := newDisk(t, b, l, l.Size)
			rng := rand.New(rand.NewPCG(7, uint64(b)))
			var writes, want []io
			for z := range rio.ZoneCount {
				// One sector at the start, and up to two at the end: the
				// two never overlap, so completion order does not matter.
				size := l.Zones[z].Size
				tail := min(2*l.SectorSize, size-l.SectorSize)
				for _, at := range [][2]uint64{{0, l.SectorSize}, {size - tail, tail}} {
					off, n := at[0], at[1]
					data := random(rng, int(n))
					buf := data
					if len(writes)%2 == 1 {
						// An unaligned source: one byte into a larger slice.
						buf = append(make([]byte, 1, n+1), data...)[1:]
					}
					writes = append(writes, io{z, off, buf})
					want = append(want, io{z, off, bytes.Clone(data)})
				}
			}
			h.run(true, writes)
			for _, w := range writes {
				clear(w.buf)
			}
			check := func() {
				reads := make([]io, len(want))
				for i, w := range want {
					buf := make([]byte, len(w.buf)+1)
					if i%2 == 0 {
						buf = buf[:len(w.buf)]
					} else {
						buf = buf[1:]
					}
					reads[i] = io{w.zone, w.offset, buf}
				}
				h.run(false, reads)
				for i, r := range reads {
					if !bytes.Equal(r.buf, want[i].buf) {
						t.Fatalf("%v at %d: read back differs from what was written", r.zone, r.offset)
					}
				}
			}
			check()
			h.on(func() {
				s := h.disk.Stats()
				if s.Writes != uint64(len(want)) || s.Reads != uint64(len(want)) || s.ReadErrors != 0 || s.InFlight != 0 || s.Queued != 0 {
					t.Errorf("stats %+v", s)
				}
				if err := h.disk.Close(); err != nil {
					t.Fatal(err)
				}
			})
			h.open(h.disk.Path(), b, l)
			check()
		})
	}
}

// TestWriteDurableWhenDone: when done runs the descriptor is O_DIRECT and
// O_DSYNC (so the kernel completed the write only once it was on stable
// storage) and another descriptor already sees the data.
func TestWriteDurableWhenDone(t *testing.T) {
	for _, b := range backends {
		t.Run(b.String(), func(t *testing.T) {
			l := testLayout()
			h := newDisk(t, b, l, l.Size)
			rng := rand.New(rand.NewPCG(3, 4))
			data := random(rng, int(l.BlockSize))
			off := l.BlockOffset(5)
			other, err := os.Open(h.disk.Path())
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = other.Close() }()
			result := make(chan error, 1)
			h.on(func() {
				h.disk.Write(rio.ZoneGrid, off, data, func() {
					flags, err := unix.FcntlInt(uintptr(h.disk.fd), unix.F_GETFL, 0)
					if err != nil {
						result <- err
						return
					}
					if flags&unix.O_DSYNC == 0 || flags&unix.O_DIRECT == 0 {
						result <- errors.New("data file descriptor lacks O_DSYNC or O_DIRECT")
						return
					}
					got := make([]byte, len(data))
					if _, err := other.ReadAt(got, int64(l.Zones[rio.ZoneGrid].Offset+off)); err != nil {
						result <- err
						return
					}
					if !bytes.Equal(got, data) {
						result <- errors.New("a completed write is not in the file")
						return
					}
					result <- nil
				})
			})
			if err := <-result; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestConcurrentIO keeps several times InFlightMax grid IOs outstanding, so
// that the queue and slot recycling are exercised, and checks every block.
func TestConcurrentIO(t *testing.T) {
	const blocks = 3 * InFlightMax
	for _, b := range backends {
		t.Run(b.String(), func(t *testing.T) {
			l := testLayout()
			h := newDisk(t, b, l, l.Size)
			rng := rand.New(rand.NewPCG(5, uint64(b)))
			addrs := rng.Perm(int(l.GridBlockCount))[:blocks]
			writes := make([]io, blocks)
			for i, a := range addrs {
				writes[i] = io{rio.ZoneGrid, l.BlockOffset(uint64(a) + 1), random(rng, int(l.BlockSize))}
			}
			h.afterIssue = func() {
				if s := h.disk.Stats(); s.InFlight != InFlightMax || s.Queued != blocks-InFlightMax {
					t.Errorf("after issuing %d IOs: %d in flight, %d queued", blocks, s.InFlight, s.Queued)
				}
			}
			h.run(true, writes)
			reads := make([]io, blocks)
			for i, w := range writes {
				reads[i] = io{w.zone, w.offset, make([]byte, len(w.buf))}
			}
			h.run(false, reads)
			for i := range reads {
				if !bytes.Equal(reads[i].buf, writes[i].buf) {
					t.Fatalf("block at %d: read back differs", reads[i].offset)
				}
			}
		})
	}
}

// TestGrowingGrid: a file holding only the zones before the grid reads the
// grid as zeros and grows when a block is written there.
func TestGrowingGrid(t *testing.T) {
	for _, b := range backends {
		t.Run(b.String(), func(t *testing.T) {
			l := testLayout()
			h := newDisk(t, b, l, l.Zones[rio.ZoneGrid].Offset)
			buf := bytes.Repeat([]byte{0xff}, int(l.BlockSize))
			addr := uint64(10)
			h.run(false, []io{{rio.ZoneGrid, l.BlockOffset(addr), buf}})
			if !bytes.Equal(buf, make([]byte, len(buf))) {
				t.Fatal("a read past the end of the file is not zeros")
			}
			data := random(rand.New(rand.NewPCG(1, 1)), int(l.BlockSize))
			h.run(true, []io{{rio.ZoneGrid, l.BlockOffset(addr), data}})
			h.run(false, []io{{rio.ZoneGrid, l.BlockOffset(addr), buf}})
			if !bytes.Equal(buf, data) {
				t.Fatal("a block written past the old end does not read back")
			}
			h.on(func() {
				if s := h.disk.Stats(); s.ReadsPastEnd != 1 {
					t.Errorf("ReadsPastEnd %d, want 1", s.ReadsPastEnd)
				}
			})
			var st unix.Stat_t
			if err := unix.Stat(h.disk.Path(), &st); err != nil {
				t.Fatal(err)
			}
			if want := int64(l.StorageSize(addr)); st.Size != want {
				t.Fatalf("file is %d bytes after the write, want %d", st.Size, want)
			}
		})
	}
}

// TestCloseWithIOInFlight: Close waits for the kernel and drops the
// callbacks; none runs afterwards.
func TestCloseWithIOInFlight(t *testing.T) {
	for _, b := range backends {
		t.Run(b.String(), func(t *testing.T) {
			l := testLayout()
			h := newDisk(t, b, l, l.Size)
			called := 0
			h.on(func() {
				for i := range 2 * InFlightMax {
					h.disk.Write(rio.ZoneGrid, l.BlockOffset(uint64(i)+1), make([]byte, l.BlockSize), func() { called++ })
				}
				if err := h.disk.Close(); err != nil {
					t.Error(err)
				}
			})
			// Anything the backend posted before stopping has run by now.
			h.on(func() {})
			h.on(func() {
				if called != 0 {
					t.Errorf("%d callbacks ran after Close", called)
				}
			})
			h.disk = nil
		})
	}
}

func TestMisuse(t *testing.T) {
	l := testLayout()
	h := newDisk(t, BackendSync, l, l.Size)
	zoneEnd := l.Zones[rio.ZoneWALHeaders].Size
	for _, c := range []struct {
		name string
		fn   func()
	}{
		{"unaligned offset", func() { h.disk.Read(rio.ZoneGrid, 1, make([]byte, l.SectorSize), func() {}) }},
		{"unaligned length", func() { h.disk.Write(rio.ZoneGrid, 0, make([]byte, 100), func() {}) }},
		{"past the zone", func() { h.disk.Read(rio.ZoneWALHeaders, zoneEnd, make([]byte, l.SectorSize), func() {}) }},
		{"no such zone", func() { h.disk.Read(rio.ZoneCount, 0, make([]byte, l.SectorSize), func() {}) }},
	} {
		h.on(func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", c.name)
				}
			}()
			c.fn()
		})
	}
}

// TestOutcomes feeds results the kernel rarely gives (an error, a short
// transfer) to the completion logic of a real Disk.
func TestOutcomes(t *testing.T) {
	l := testLayout()
	h := newDisk(t, BackendSync, l, l.Size)
	var fatal error
	h.disk.opts.Fatal = func(err error) { fatal = err }
	n := int(2 * l.SectorSize)
	abs := l.Zones[rio.ZoneGrid].Offset
	h.on(func() {
		// A failed read is delivered as zeros and counted.
		o := h.disk.newOp()
		*o = op{abs: abs, buf: h.disk.bounce.get(n), pool: true}
		for i := range o.buf {
			o.buf[i] = 0xff
		}
		buf := o.buf
		called := false
		o.done = func() { called = !bytes.ContainsFunc(buf, func(r rune) bool { return r != 0 }) }
		if done := h.disk.outcome(o, -int32(unix.EIO)); done != nil {
			done()
		}
		if !called || h.disk.Stats().ReadErrors != 1 {
			t.Errorf("failed read: zeros and done %v, stats %+v", called, h.disk.Stats())
		}

		// A failed write is fatal and never acknowledged.
		o = h.disk.newOp()
		*o = op{write: true, abs: abs, buf: h.disk.bounce.get(n), pool: true, done: func() { t.Error("done of a failed write") }}
		if done := h.disk.outcome(o, -int32(unix.ENOSPC)); done != nil || !errors.Is(fatal, unix.ENOSPC) {
			t.Errorf("failed write: done %v, fatal %v", done != nil, fatal)
		}
	})

	// A short write is resumed for the rest, and only then acknowledged.
	data := random(rand.New(rand.NewPCG(9, 9)), n)
	acked := make(chan struct{})
	h.on(func() {
		o := h.disk.newOp()
		*o = op{write: true, abs: abs, buf: h.disk.bounce.get(n), pool: true, done: func() { close(acked) }}
		copy(o.buf, data)
		if done := h.disk.outcome(o, int32(l.SectorSize)); done != nil {
			t.Error("a short write was acknowledged at once")
		}
	})
	<-acked
	got := make([]byte, n)
	h.run(false, []io{{rio.ZoneGrid, 0, got}})
	if !bytes.Equal(got[l.SectorSize:], data[l.SectorSize:]) || !bytes.Equal(got[:l.SectorSize], make([]byte, l.SectorSize)) {
		t.Fatal("the resumed write did not write exactly the rest")
	}
	h.on(func() {
		if s := h.disk.Stats(); s.Resumed != 1 {
			t.Errorf("Resumed %d, want 1", s.Resumed)
		}
	})
}

// TestUringRefused: where the kernel refuses io_uring, Open says so, names
// the --io=sync fallback and leaves the file unlocked for it.
func TestUringRefused(t *testing.T) {
	l := testLayout()
	path := filepath.Join(dataDir(t), "replica.data")
	if err := Create(path, l.Size); err != nil {
		t.Fatal(err)
	}
	defer func(orig func(uint32) (*uring.Ring, error)) { newRing = orig }(newRing)
	newRing = func(uint32) (*uring.Ring, error) {
		return nil, fmt.Errorf("%w: io_uring_setup: operation not permitted", uring.ErrUnavailable)
	}
	lp := loop.New()
	_, err := Open(path, l, Options{Backend: BackendUring, Loop: lp})
	if !errors.Is(err, ErrUringUnavailable) || !strings.Contains(err.Error(), "--io=sync") {
		t.Fatalf("Open with io_uring refused: %v", err)
	}
	if lp.HasWaiter() {
		t.Fatal("a refused Open left itself as the loop's waiter")
	}
	d, err := Open(path, l, Options{Backend: BackendSync, Loop: lp})
	if err != nil {
		t.Fatalf("the sync fallback after a refused io_uring: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}
