//go:build !unix

package disk

// slabs is the sectors' memory, on the Go heap where no memory mapping is
// available.
type slabs struct {
	bytes uint64
	list  [][]byte
}

func newSlabs(_ *Sectors, slabBytes uint64) *slabs { return &slabs{bytes: slabBytes} }

func (m *slabs) grow() { m.list = append(m.list, make([]byte, m.bytes)) }
