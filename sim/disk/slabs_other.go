//go:build !unix

package disk

// slabs is the sectors' memory, on the Go heap where no memory mapping is
// available.
type slabs struct{}

func newSlabs(*Sectors) *slabs { return &slabs{} }

func (*slabs) grow(n uint64) []byte { return make([]byte, n) }

// give keeps heap memory: the garbage collector cannot take part of a slab.
func (*slabs) give([]byte) {}
