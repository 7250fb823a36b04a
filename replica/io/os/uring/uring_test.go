package uring

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// blockSize is the IO size of these tests: one 4 KiB sector, the alignment
// O_DIRECT needs on every common device.
const blockSize = 4096

// newRing sets up a ring, or skips the test where the kernel or container
// forbids io_uring: that is an environment fact, not a failure.
func newRing(t testing.TB, entries uint32) *Ring {
	t.Helper()
	r, err := New(entries)
	if errors.Is(err, ErrUnavailable) {
		t.Skipf("io_uring is not permitted here (%v); the sync backend covers this machine", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// alignedBuf is page-aligned memory outside the Go heap, as O_DIRECT needs.
func alignedBuf(t testing.TB, size int) []byte {
	t.Helper()
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Munmap(b) })
	return b
}

// directFile opens a new file of size bytes with O_DIRECT in a temporary
// directory, or skips if the filesystem refuses O_DIRECT.
func directFile(t testing.TB, size int64) int {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data")
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_DIRECT|unix.O_CLOEXEC, 0o600)
	if errors.Is(err, unix.EINVAL) {
		t.Skipf("the temporary directory's filesystem refuses O_DIRECT: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Close(fd) })
	if err := unix.Ftruncate(fd, size); err != nil {
		t.Fatal(err)
	}
	return fd
}

// complete waits for and reaps exactly n completions.
func complete(t testing.TB, r *Ring, n int) []CQE {
	t.Helper()
	out := make([]CQE, 0, n)
	buf := make([]CQE, 64)
	for len(out) < n {
		if err := r.Wait(1); err != nil {
			t.Fatal(err)
		}
		k := r.Reap(buf[:min(len(buf), n-len(out))])
		out = append(out, buf[:k]...)
	}
	return out
}

func TestNop(t *testing.T) {
	r := newRing(t, 8)
	if r.Entries() != 8 || r.CQEntries() != 16 {
		t.Fatalf("entries %d/%d, want 8/16", r.Entries(), r.CQEntries())
	}
	if err := r.Nop(42); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SubmitAndWait(1); err != nil {
		t.Fatal(err)
	}
	c := complete(t, r, 1)
	if c[0].UserData != 42 || c[0].Res != 0 {
		t.Fatalf("got %+v", c[0])
	}
	if r.Ready() != 0 {
		t.Fatalf("%d completions left after reaping", r.Ready())
	}
}

// TestConcurrentReadWrite keeps a whole ring of writes, then of reads, in
// flight at once at shuffled sector-aligned offsets, and checks each
// completion against its own user data and bytes.
func TestConcurrentReadWrite(t *testing.T) {
	const ops = 64
	r := newRing(t, ops)
	fd := directFile(t, 4*ops*blockSize)
	rng := rand.New(rand.NewPCG(1, 2))
	offsets := rng.Perm(4 * ops)[:ops]

	src := alignedBuf(t, ops*blockSize)
	for i := range src {
		src[i] = byte(rng.Uint32())
	}
	for i, o := range offsets {
		if err := r.Write(fd, src[i*blockSize:(i+1)*blockSize], uint64(o*blockSize), uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := r.Submit(); err != nil || n != ops {
		t.Fatalf("submitted %d of %d: %v", n, ops, err)
	}
	seen := make([]bool, ops)
	for _, c := range complete(t, r, ops) {
		if c.Err() != nil || c.Res != blockSize || seen[c.UserData] {
			t.Fatalf("write completion %+v (err %v)", c, c.Err())
		}
		seen[c.UserData] = true
	}

	dst := alignedBuf(t, ops*blockSize)
	for i, o := range offsets {
		if err := r.Read(fd, dst[i*blockSize:(i+1)*blockSize], uint64(o*blockSize), uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	for _, c := range complete(t, r, ops) {
		if c.Res != blockSize {
			t.Fatalf("read completion %+v (err %v)", c, c.Err())
		}
	}
	if !bytes.Equal(src, dst) {
		t.Fatal("read back differs from what was written")
	}
}

// TestFailedAndShortOps: errors come back as negative results, never as a
// submission failure, and a read past the end of the file is short.
func TestFailedAndShortOps(t *testing.T) {
	r := newRing(t, 8)
	fd := directFile(t, 2*blockSize)
	buf := alignedBuf(t, 2*blockSize)

	// A directory cannot be read as a file.
	dir, err := unix.Open(t.TempDir(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.Close(dir) }()
	if err := r.Read(dir, buf[:blockSize], 0, 1); err != nil {
		t.Fatal(err)
	}
	// A closed descriptor.
	if err := r.Write(1<<20, buf[:blockSize], 0, 2); err != nil {
		t.Fatal(err)
	}
	// Two blocks asked from the last block of the file: one comes back.
	if err := r.Read(fd, buf, blockSize, 3); err != nil {
		t.Fatal(err)
	}
	if err := r.Fsync(fd, true, 4); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	got := map[uint64]CQE{}
	for _, c := range complete(t, r, 4) {
		got[c.UserData] = c
	}
	if err := got[1].Err(); !errors.Is(err, unix.EISDIR) {
		t.Errorf("read of a directory: %v, want EISDIR", err)
	}
	if err := got[2].Err(); !errors.Is(err, unix.EBADF) {
		t.Errorf("write to a bad descriptor: %v, want EBADF", err)
	}
	if c := got[3]; c.Err() != nil || c.Res != blockSize {
		t.Errorf("read across the end: %+v, want a short read of %d", c, blockSize)
	}
	if err := got[4].Err(); err != nil {
		t.Errorf("fdatasync: %v", err)
	}
}

// TestRingFull: a full submission queue refuses more work until the kernel
// has consumed it, and nothing queued is lost.
func TestRingFull(t *testing.T) {
	r := newRing(t, 4)
	for i := range r.Entries() {
		if err := r.Nop(uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Nop(99); !errors.Is(err, ErrRingFull) {
		t.Fatalf("nop on a full ring: %v, want ErrRingFull", err)
	}
	if r.Queued() != r.Entries() {
		t.Fatalf("queued %d, want %d", r.Queued(), r.Entries())
	}
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	for i := range r.Entries() {
		if err := r.Nop(uint64(100 + i)); err != nil {
			t.Fatalf("after submit: %v", err)
		}
	}
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	sum := uint64(0)
	for _, c := range complete(t, r, int(2*r.Entries())) {
		sum += c.UserData
	}
	if want := uint64(0 + 1 + 2 + 3 + 100 + 101 + 102 + 103); sum != want {
		t.Fatalf("user data sum %d, want %d", sum, want)
	}
}

func TestEntriesBounds(t *testing.T) {
	for _, n := range []uint32{0, EntriesMax + 1} {
		if _, err := New(n); err == nil || errors.Is(err, ErrUnavailable) {
			t.Errorf("New(%d): %v, want a bounds error", n, err)
		}
	}
}

// TestWaitTimeout: a wait with nothing in flight returns at its timeout, and
// a wait with a completion ready returns it.
func TestWaitTimeout(t *testing.T) {
	r := newRing(t, 4)
	if _, err := r.SubmitAndWaitTimeout(1, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if r.Ready() != 0 {
		t.Fatalf("%d completions from nothing", r.Ready())
	}
	if err := r.Nop(7); err != nil {
		t.Fatal(err)
	}
	// A long timeout: the no-op completes at once, so the wait ends early.
	if _, err := r.SubmitAndWaitTimeout(1, time.Hour); err != nil {
		t.Fatal(err)
	}
	if c := complete(t, r, 1); c[0].UserData != 7 {
		t.Fatalf("got %+v", c[0])
	}
}
