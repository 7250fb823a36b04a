package disk

import (
	"fmt"
	"math/bits"

	"golang.org/x/sys/unix"
)

// Bounce-buffer size classes: powers of two from one Alignment unit. Sizes
// above poolClassMax are mapped for the one IO and unmapped after it; the
// replica's IOs (a sector, a prepare or reply of message_size_max, a grid
// block) are all far below it.
const (
	poolClassMin  = Alignment
	poolClassMax  = 16 << 20
	poolClasses   = 13 // log2(poolClassMax / poolClassMin) + 1
	poolKeepBytes = 256 << 20
)

// pool recycles page-aligned bounce buffers mapped outside the Go heap, so
// the kernel may transfer into them at any time and the garbage collector
// never looks at them. It keeps at most poolKeepBytes idle, beyond which a
// returned buffer is unmapped.
type pool struct {
	free [poolClasses][][]byte
	idle uint64
}

func class(n int) int {
	if n <= poolClassMin {
		return 0
	}
	return bits.Len(uint(n-1)) - bits.Len(uint(poolClassMin-1))
}

// get returns an aligned buffer of exactly n bytes.
func (p *pool) get(n int) []byte {
	if n > poolClassMax {
		return mapBuf(n)
	}
	c := class(n)
	if k := len(p.free[c]); k > 0 {
		b := p.free[c][k-1]
		p.free[c] = p.free[c][:k-1]
		p.idle -= uint64(cap(b))
		return b[:n]
	}
	return mapBuf(poolClassMin << c)[:n]
}

func (p *pool) put(b []byte) {
	b = b[:cap(b)]
	if len(b) > poolClassMax || p.idle+uint64(len(b)) > poolKeepBytes {
		unmapBuf(b)
		return
	}
	c := class(len(b))
	p.free[c] = append(p.free[c], b)
	p.idle += uint64(len(b))
}

// release unmaps every idle buffer.
func (p *pool) release() {
	for c := range p.free {
		for _, b := range p.free[c] {
			unmapBuf(b)
		}
		p.free[c] = nil
	}
	p.idle = 0
}

func mapBuf(n int) []byte {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		// Out of address space or memory: the process cannot continue its IO.
		panic(fmt.Sprintf("disk: map a %d-byte IO buffer: %v", n, err))
	}
	return b
}

func unmapBuf(b []byte) {
	if err := unix.Munmap(b); err != nil {
		panic(fmt.Sprintf("disk: unmap an IO buffer: %v", err))
	}
}
