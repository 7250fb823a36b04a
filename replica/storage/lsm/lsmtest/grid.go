// Package lsmtest is a fake block grid for testing the LSM forest: blocks in
// memory, checksums verified on read, the free set's release-at-checkpoint
// rule, and completions that wait in a queue until the test runs them, in
// order or shuffled, so the forest is exercised against real asynchrony.
package lsmtest

import (
	"encoding/binary"
	"math/rand/v2"

	"viewstamp/replica/checksum"
	"viewstamp/replica/u128"
)

// Write is one WriteBlock call, in call order.
type Write struct {
	Address   uint64
	BlockType uint8
	Checksum  u128.U128
}

type block struct {
	blockType uint8
	body      []byte
	checksum  u128.U128
	corrupt   bool // the body no longer matches checksum
}

// Grid is the fake. Addresses start at 1 (0 means "none" in block links).
type Grid struct {
	bodyMax int
	blocks  map[uint64]block
	// free[a] for a in 1..len-1; acquired blocks are false. released are
	// freed at the next Checkpoint.
	free     []bool
	freeMin  int // no address below it is free
	released []uint64
	// releasing holds the addresses in released (lookups only).
	releasing map[uint64]bool
	queue     []func()
	rng       *rand.Rand // nil: completions run in FIFO order
	// Writes logs every WriteBlock call.
	Writes []Write
	// faulty addresses fail their reads (ok=false) while set.
	faulty map[uint64]bool
	// Reads counts ReadBlock calls.
	Reads int

	saved    *savedState
	trusting bool // reads skip re-summing bodies (benchmarks)
	stream   checksum.Stream
}

type savedState struct {
	free []bool
}

// New makes a grid of blocks with bodyMax bytes of body.
func New(bodyMax int) *Grid {
	return &Grid{bodyMax: bodyMax, blocks: map[uint64]block{}, free: []bool{false}, faulty: map[uint64]bool{}, releasing: map[uint64]bool{}}
}

// Shuffle makes completions run in an order drawn from seed rather than FIFO.
func (g *Grid) Shuffle(seed uint64) { g.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

// Trust makes reads skip re-summing stored bodies, for benchmarks that
// should measure the forest rather than the fake.
func (g *Grid) Trust() { g.trusting = true }

// BlockBodyMax implements lsm.Grid.
func (g *Grid) BlockBodyMax() int { return g.bodyMax }

// Acquire returns the lowest free address, growing the grid if none is.
func (g *Grid) Acquire() uint64 {
	for a := max(g.freeMin, 1); a < len(g.free); a++ {
		if g.free[a] {
			g.free[a] = false
			g.freeMin = a + 1
			return uint64(a)
		}
	}
	g.free = append(g.free, false)
	g.freeMin = len(g.free)
	return uint64(len(g.free) - 1)
}

// Release marks address to be freed at the next checkpoint.
func (g *Grid) Release(address uint64) {
	if address == 0 || address >= uint64(len(g.free)) || g.free[address] {
		panic("lsmtest: release of a block not acquired")
	}
	if g.releasing[address] {
		panic("lsmtest: block released twice")
	}
	g.releasing[address] = true
	g.released = append(g.released, address)
}

// sum stands in for the grid header's checksum, which covers the address
// and type as well as the body.
func (g *Grid) sum(address uint64, blockType uint8, body []byte) u128.U128 {
	var h [9]byte
	binary.LittleEndian.PutUint64(h[:], address)
	h[8] = blockType
	g.stream.Reset()
	g.stream.Write(h[:])
	g.stream.Write(body)
	return g.stream.Sum()
}

// WriteBlock stores a copy of body when the completion runs, so a read
// issued before then sees the old block.
func (g *Grid) WriteBlock(address uint64, blockType uint8, body []byte, done func()) u128.U128 {
	if address == 0 || address >= uint64(len(g.free)) || g.free[address] {
		panic("lsmtest: write to a block not acquired")
	}
	if len(body) != g.bodyMax {
		panic("lsmtest: body not BlockBodyMax bytes")
	}
	cs := g.sum(address, blockType, body)
	g.Writes = append(g.Writes, Write{Address: address, BlockType: blockType, Checksum: cs})
	// No copy: the forest never touches a body again once written (so a
	// grid cache may keep it too); reads re-sum the body unless told not to,
	// so one that did would fail its reads.
	b := block{blockType: blockType, body: body, checksum: cs}
	g.queue = append(g.queue, func() {
		g.blocks[address] = b
		done()
	})
	return cs
}

// ReadBlock completes with ok=false when the block there is not the one
// named by checksum, or the address is marked faulty.
func (g *Grid) ReadBlock(address uint64, cs u128.U128, done func(body []byte, ok bool)) {
	g.Reads++
	g.queue = append(g.queue, func() {
		b, ok := g.blocks[address]
		if !ok || b.checksum != cs || g.faulty[address] || b.corrupt ||
			(!g.trusting && g.sum(address, b.blockType, b.body) != cs) {
			done(nil, false)
			return
		}
		done(b.body, true)
	})
}

// Pending is the number of completions waiting.
func (g *Grid) Pending() int { return len(g.queue) }

// Step runs one completion (the oldest, or a random one when shuffled).
func (g *Grid) Step() bool {
	if len(g.queue) == 0 {
		return false
	}
	i := 0
	if g.rng != nil {
		i = g.rng.IntN(len(g.queue))
	}
	f := g.queue[i]
	g.queue = append(g.queue[:i], g.queue[i+1:]...)
	f()
	return true
}

// Drain runs completions until none is left, including those they issue.
func (g *Grid) Drain() {
	for g.Step() {
	}
}

// SetFaulty makes reads of address fail (or succeed again).
func (g *Grid) SetFaulty(address uint64, faulty bool) {
	if faulty {
		g.faulty[address] = true
	} else {
		delete(g.faulty, address)
	}
}

// Corrupt flips a byte of the stored block so its checksum no longer holds.
func (g *Grid) Corrupt(address uint64) {
	b := g.blocks[address]
	b.body = append([]byte(nil), b.body...)
	b.body[0] ^= 0xff
	b.corrupt = g.sum(address, b.blockType, b.body) != b.checksum
	g.blocks[address] = b
}

// Checkpoint makes the blocks released so far free (the checkpoint that no
// longer names them is durable) and saves the free set for Restore.
func (g *Grid) Checkpoint() {
	for _, a := range g.released {
		g.free[a] = true
	}
	g.released = nil
	clear(g.releasing)
	g.freeMin = 0
	g.saved = &savedState{free: append([]bool(nil), g.free...)}
}

// Restore models a crash back to the last Checkpoint: pending completions are
// lost (their writes never landed), the free set is the checkpoint's, and
// blocks written since stay on disk but are free.
func (g *Grid) Restore() {
	g.queue = nil
	g.released = nil
	clear(g.releasing)
	g.freeMin = 0
	if g.saved == nil {
		g.free = []bool{false}
		return
	}
	g.free = append([]bool(nil), g.saved.free...)
}

// Acquired is the number of blocks not free.
func (g *Grid) Acquired() int {
	n := 0
	for a := 1; a < len(g.free); a++ {
		if !g.free[a] {
			n++
		}
	}
	return n
}

// AcquiredAddresses lists the addresses not free, in order.
func (g *Grid) AcquiredAddresses() []uint64 {
	var out []uint64
	for a := 1; a < len(g.free); a++ {
		if !g.free[a] {
			out = append(out, uint64(a))
		}
	}
	return out
}

// Body returns the stored body of address (nil if never written).
func (g *Grid) Body(address uint64) []byte { return g.blocks[address].body }
