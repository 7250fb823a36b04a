// Package storagetest is an io.Storage in memory for tests of the storage
// engine, whose IO completes only when the test says so and in the order it
// chooses, so a test can hold a write in flight, reorder completions, or
// damage the bytes a read will see.
package storagetest

import (
	"fmt"

	rio "viewstamp/replica/io"
)

// MemStorage is a data file in memory.
type MemStorage struct {
	sectorSize uint64
	zones      [rio.ZoneCount][]byte
	pending    []*IO
}

// IO is a read or write not yet completed.
type IO struct {
	Write  bool
	Zone   rio.Zone
	Offset uint64
	buf    []byte // a write's private copy, or the reader's buffer
	done   func()
}

// New returns a zeroed data file with the given zone sizes.
func New(sectorSize uint64, zoneSizes [rio.ZoneCount]uint64) *MemStorage {
	s := &MemStorage{sectorSize: sectorSize}
	for z := range rio.ZoneCount {
		s.zones[z] = make([]byte, zoneSizes[z])
	}
	return s
}

func (s *MemStorage) check(z rio.Zone, off uint64, n int) {
	if z >= rio.ZoneCount || off%s.sectorSize != 0 || uint64(n)%s.sectorSize != 0 || n == 0 ||
		off+uint64(n) > uint64(len(s.zones[z])) {
		panic(fmt.Sprintf("storagetest: bad IO %v at %d of %d bytes", z, off, n))
	}
}

// Read queues a read; its bytes are copied when it completes.
func (s *MemStorage) Read(z rio.Zone, off uint64, buf []byte, done func()) {
	s.check(z, off, len(buf))
	s.pending = append(s.pending, &IO{Zone: z, Offset: off, buf: buf, done: done})
}

// Write copies buf and queues the write; the zone changes when it completes.
func (s *MemStorage) Write(z rio.Zone, off uint64, buf []byte, done func()) {
	s.check(z, off, len(buf))
	s.pending = append(s.pending, &IO{Write: true, Zone: z, Offset: off, buf: append([]byte(nil), buf...), done: done})
}

// Pending is the IO in flight, in issue order.
func (s *MemStorage) Pending() []*IO { return s.pending }

// Complete finishes the i-th pending IO and runs its callback.
func (s *MemStorage) Complete(i int) {
	io := s.pending[i]
	s.pending = append(s.pending[:i], s.pending[i+1:]...)
	if io.Write {
		copy(s.zones[io.Zone][io.Offset:], io.buf)
	} else {
		copy(io.buf, s.zones[io.Zone][io.Offset:])
	}
	io.done()
}

// RunFIFO completes IO oldest first, including IO issued by callbacks,
// until none is left.
func (s *MemStorage) RunFIFO() {
	for len(s.pending) > 0 {
		s.Complete(0)
	}
}

// RunLIFO completes IO newest first until none is left: the opposite order
// to RunFIFO, for tests that results do not depend on completion order.
func (s *MemStorage) RunLIFO() {
	for len(s.pending) > 0 {
		s.Complete(len(s.pending) - 1)
	}
}

// Bytes is the durable contents of zone z (not a copy: tests may damage it).
func (s *MemStorage) Bytes(z rio.Zone) []byte { return s.zones[z] }

// Drop forgets the i-th pending IO without running its callback: a write
// lost in a crash, or a read that vanished with the process.
func (s *MemStorage) Drop(i int) {
	s.pending = append(s.pending[:i], s.pending[i+1:]...)
}

// Clone copies the durable contents, as a restarted process would find them;
// IO in flight is not carried over.
func (s *MemStorage) Clone() *MemStorage {
	c := &MemStorage{sectorSize: s.sectorSize}
	for z := range rio.ZoneCount {
		c.zones[z] = append([]byte(nil), s.zones[z]...)
	}
	return c
}
