//go:build unix

package disk

import (
	"runtime"
	"syscall"
)

// slabs is the sectors' memory, mapped from the operating system in slabs
// of a fixed size, outside the Go heap. The mappings are returned when the
// Sectors owning them is unreachable: only it ever holds a slice of them,
// and every read copies out.
type slabs struct {
	bytes uint64
	list  [][]byte
}

func newSlabs(owner *Sectors, slabBytes uint64) *slabs {
	m := &slabs{bytes: slabBytes}
	runtime.AddCleanup(owner, (*slabs).release, m)
	return m
}

// grow adds one zeroed slab.
func (m *slabs) grow() {
	b, err := syscall.Mmap(-1, 0, int(m.bytes), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		// Out of address space or memory: the run cannot go on.
		panic("disk: mapping sector memory: " + err.Error())
	}
	m.list = append(m.list, b)
}

func (m *slabs) release() {
	for _, b := range m.list {
		_ = syscall.Munmap(b)
	}
	m.list = nil
}
