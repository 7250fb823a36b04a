//go:build unix

package disk

import (
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// slabs is the sectors' memory, mapped from the operating system outside
// the Go heap. The mappings are returned when the Sectors owning them is
// unreachable: only it ever holds a slice of them, and reads copy out.
type slabs struct {
	list [][]byte
	// givesBack is whether a pageSize piece of a slab is a whole number of
	// the system's pages, which alone can be given back.
	givesBack bool
}

func newSlabs(owner *Sectors) *slabs {
	m := &slabs{givesBack: pageSize%syscall.Getpagesize() == 0}
	runtime.AddCleanup(owner, (*slabs).release, m)
	return m
}

// grow maps a zeroed slab of n bytes.
func (m *slabs) grow(n uint64) []byte {
	b, err := syscall.Mmap(-1, 0, int(n), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		// Out of address space or memory: the run cannot go on.
		panic("disk: mapping sector memory: " + err.Error())
	}
	m.list = append(m.list, b)
	return b
}

// give returns b's pages (pageSize bytes of a slab, page aligned) to the
// system, which maps zeros there again when they are next written. Failing
// that the memory merely stays ours.
func (m *slabs) give(b []byte) {
	if m.givesBack {
		_ = unix.Madvise(b, unix.MADV_DONTNEED)
	}
}

func (m *slabs) release() {
	for _, b := range m.list {
		_ = syscall.Munmap(b)
	}
	m.list = nil
}
