//go:build unix

package disk

import (
	"runtime"
	"syscall"
)

// slabs is the sectors' memory, mapped from the operating system outside
// the Go heap. The mappings are returned when the Sectors owning them is
// unreachable: only it ever holds a slice of them, and reads copy out.
type slabs struct{ list [][]byte }

func newSlabs(owner *Sectors) *slabs {
	m := &slabs{}
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

func (m *slabs) release() {
	for _, b := range m.list {
		_ = syscall.Munmap(b)
	}
	m.list = nil
}
