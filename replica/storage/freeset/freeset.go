// Package freeset tracks which grid blocks are in use. Allocation is
// deterministic (the first free block, in a range reserved in a fixed order),
// so replicas that ran the same ops hold byte-identical grids, and a block
// released by the current checkpoint interval stays unallocated until the next
// checkpoint is durable, so a replica restarting from the previous checkpoint
// can still read (or repair) every block that checkpoint references.
//
// Block addresses start at 1 (0 is the null reference); bit i of each bitset
// is address i+1.
package freeset

import (
	"fmt"
	"math/bits"
)

const (
	wordBits = 64
	// ShardBlocks is how many blocks one bit of the shard index covers
	// (TigerBeetle's figure): a set shard bit means every one of them is
	// acquired, so a search skips them in one step.
	ShardBlocks = 4096
	shardWords  = ShardBlocks / wordBits
)

// FreeSet is the allocation state of a grid of a fixed number of blocks.
type FreeSet struct {
	blocks uint64

	// acquired has a bit per block in use, released included. Bits past
	// blocks are set, so no search ever returns them.
	acquired []uint64
	// released has a bit per block released while the current checkpoint
	// was durable: they are freed when the next one is.
	released []uint64
	// releasedPrior has a bit per block released while the current
	// checkpoint was not yet durable (TigerBeetle's
	// released_prior_checkpoint_durability): the previous checkpoint may
	// still be needed, and it references them.
	releasedPrior []uint64
	// full has a bit per shard of acquired that is all ones.
	full []uint64

	acquiredCount uint64
	releasedCount uint64
	priorCount    uint64

	// durable reports whether the current checkpoint is durable.
	durable bool

	// Reservations are ranges of bit indexes handed out one after another
	// from 0; reservedEnd is where the last one ends. They are all
	// forfeited together, which bumps session so that a stale Reservation
	// cannot be used.
	reservedEnd  uint64
	reservations int
	session      uint64
}

// Reservation is a range of the grid holding at least Count free blocks
// when it was made; a job acquires from it only.
type Reservation struct {
	start, end uint64 // bit indexes
	count      uint64 // blocks that may still be acquired
	session    uint64
}

// New returns the free set of a freshly formatted grid: every block free, and
// checkpoint 0 durable (nothing before it needs protecting).
func New(blocks uint64) *FreeSet {
	if blocks == 0 {
		panic("freeset: a grid of no blocks")
	}
	shards := (blocks + ShardBlocks - 1) / ShardBlocks
	words := shards * shardWords
	f := &FreeSet{
		blocks:        blocks,
		acquired:      make([]uint64, words),
		released:      make([]uint64, words),
		releasedPrior: make([]uint64, words),
		full:          make([]uint64, (shards+wordBits-1)/wordBits),
		durable:       true,
	}
	for i := blocks; i < words*wordBits; i++ {
		f.acquired[i/wordBits] |= 1 << (i % wordBits)
	}
	for s := uint64(0); s < shards; s++ {
		f.updateShard(s)
	}
	return f
}

// Blocks is the grid's capacity.
func (f *FreeSet) Blocks() uint64 { return f.blocks }

// AcquiredCount is how many blocks are in use, released ones included.
func (f *FreeSet) AcquiredCount() uint64 { return f.acquiredCount }

// FreeCount is how many blocks could be acquired now.
func (f *FreeSet) FreeCount() uint64 { return f.blocks - f.acquiredCount }

// ReleasedCount is how many acquired blocks are released and waiting for a
// checkpoint to become durable.
func (f *FreeSet) ReleasedCount() uint64 { return f.releasedCount + f.priorCount }

// Durable reports whether the current checkpoint is durable.
func (f *FreeSet) Durable() bool { return f.durable }

// IsAcquired reports whether address is in use (released blocks still are).
func (f *FreeSet) IsAcquired(address uint64) bool {
	i := f.index(address)
	return get(f.acquired, i)
}

// IsReleased reports whether address is released and not yet free.
func (f *FreeSet) IsReleased(address uint64) bool {
	i := f.index(address)
	return get(f.released, i) || get(f.releasedPrior, i)
}

// HighestAcquired is the highest address in use, or 0 if none.
func (f *FreeSet) HighestAcquired() uint64 {
	for w := int(f.blocks-1) / wordBits; w >= 0; w-- {
		word := f.acquired[w]
		if uint64(w) == (f.blocks-1)/wordBits {
			word &= lowMask(f.blocks - uint64(w)*wordBits)
		}
		if word != 0 {
			return uint64(w)*wordBits + uint64(bits.Len64(word))
		}
	}
	return 0
}

func (f *FreeSet) index(address uint64) uint64 {
	if address == 0 || address > f.blocks {
		panic(fmt.Sprintf("freeset: address %d outside [1, %d]", address, f.blocks))
	}
	return address - 1
}

// Reserve sets aside the next range of the grid holding n free blocks, after
// every reservation still active. Jobs that run concurrently reserve in a
// fixed order (the same on every replica) before any of them acquires, so
// which blocks each gets does not depend on the order their IO completes.
// It reports false when the grid has fewer than n free blocks past the
// active reservations.
func (f *FreeSet) Reserve(n uint64) (Reservation, bool) {
	if n == 0 {
		panic("freeset: reserving no blocks")
	}
	start := f.reservedEnd
	end, ok := f.nthFree(start, n)
	if !ok {
		return Reservation{}, false
	}
	f.reservedEnd = end
	f.reservations++
	return Reservation{start: start, end: end, count: n, session: f.session}, true
}

// AcquireReserved acquires the first free block of r. A job must not acquire
// more blocks than it reserved.
func (f *FreeSet) AcquireReserved(r *Reservation) uint64 {
	if r.session != f.session || f.reservations == 0 {
		panic("freeset: acquiring from a forfeited reservation")
	}
	if r.count == 0 {
		panic("freeset: acquiring more blocks than reserved")
	}
	i, ok := f.firstFree(r.start, r.end)
	if !ok {
		panic("freeset: reservation has no free block left")
	}
	r.count--
	f.set(i)
	return i + 1
}

// Forfeit ends r. Once every reservation is forfeited, the next Reserve
// starts again from the first block.
func (f *FreeSet) Forfeit(r *Reservation) {
	if r.session != f.session || f.reservations == 0 {
		panic("freeset: forfeiting a reservation twice")
	}
	f.reservations--
	r.session = ^uint64(0)
	if f.reservations == 0 {
		f.reservedEnd = 0
		f.session++
	}
}

// Reserving reports whether a reservation is active.
func (f *FreeSet) Reserving() bool { return f.reservations > 0 }

// Acquire acquires the first free block past every active reservation, for
// callers whose acquisitions are already in a deterministic order (they run
// in op order, not in IO-completion order). It returns 0 when no block is
// free there.
func (f *FreeSet) Acquire() uint64 {
	i, ok := f.firstFree(f.reservedEnd, f.blocks)
	if !ok {
		return 0
	}
	f.set(i)
	return i + 1
}

// MarkAcquired acquires a particular free block: used on open, for the
// blocks of a free-set trailer, which its own encoding records as free.
func (f *FreeSet) MarkAcquired(address uint64) {
	i := f.index(address)
	if get(f.acquired, i) {
		panic(fmt.Sprintf("freeset: block %d already acquired", address))
	}
	f.set(i)
}

// Release gives address back. The block stays acquired, and so unallocated,
// until the checkpoint after the current one is durable: if the current one
// is durable, that is the next; if not, the one after.
func (f *FreeSet) Release(address uint64) {
	i := f.index(address)
	switch {
	case !get(f.acquired, i):
		panic(fmt.Sprintf("freeset: releasing free block %d", address))
	case get(f.released, i) || get(f.releasedPrior, i):
		panic(fmt.Sprintf("freeset: releasing block %d twice", address))
	case f.durable:
		f.released[i/wordBits] |= 1 << (i % wordBits)
		f.releasedCount++
	default:
		f.releasedPrior[i/wordBits] |= 1 << (i % wordBits)
		f.priorCount++
	}
}

// CheckpointWritten records that a new checkpoint is now the current one,
// not yet durable. The previous one must have become durable first.
func (f *FreeSet) CheckpointWritten() {
	if !f.durable {
		panic("freeset: checkpoint written before the previous one was durable")
	}
	f.durable = false
}

// CheckpointDurable records that the current checkpoint is durable: no
// replica will restart from the one before, so the blocks released before
// the current checkpoint are free, and those released since move up one
// step. It must run at the same op on every replica, with no reservation
// active, so that the next acquisitions agree.
func (f *FreeSet) CheckpointDurable() {
	if f.durable {
		panic("freeset: checkpoint durable twice")
	}
	if f.reservations > 0 {
		panic("freeset: checkpoint durable during a reservation")
	}
	for w, word := range f.released {
		if word == 0 {
			continue
		}
		f.acquired[w] &^= word
		f.acquiredCount -= uint64(bits.OnesCount64(word))
		f.updateShard(uint64(w) / shardWords)
	}
	f.released, f.releasedPrior = f.releasedPrior, f.released
	clear(f.releasedPrior)
	f.releasedCount, f.priorCount = f.priorCount, 0
	f.durable = true
}

func (f *FreeSet) set(i uint64) {
	f.acquired[i/wordBits] |= 1 << (i % wordBits)
	f.acquiredCount++
	if f.acquired[i/wordBits] == ^uint64(0) {
		f.updateShard(i / ShardBlocks)
	}
}

func (f *FreeSet) updateShard(s uint64) {
	isFull := true
	for _, w := range f.acquired[s*shardWords : (s+1)*shardWords] {
		if w != ^uint64(0) {
			isFull = false
			break
		}
	}
	if isFull {
		f.full[s/wordBits] |= 1 << (s % wordBits)
	} else {
		f.full[s/wordBits] &^= 1 << (s % wordBits)
	}
}

// firstFree is the lowest clear bit of acquired in [from, to).
func (f *FreeSet) firstFree(from, to uint64) (uint64, bool) {
	for i := from; i < to; {
		s := i / ShardBlocks
		if get(f.full, s) {
			i = (s + 1) * ShardBlocks
			continue
		}
		w := i / wordBits
		word := f.acquired[w] | lowMask(i%wordBits)
		if word != ^uint64(0) {
			b := w*wordBits + uint64(bits.TrailingZeros64(^word))
			return b, b < to
		}
		i = (w + 1) * wordBits
	}
	return 0, false
}

// nthFree is the index just past the n-th clear bit of acquired at or after
// from.
func (f *FreeSet) nthFree(from, n uint64) (uint64, bool) {
	for i := from; i < f.blocks; {
		s := i / ShardBlocks
		if get(f.full, s) {
			i = (s + 1) * ShardBlocks
			continue
		}
		w := i / wordBits
		free := ^(f.acquired[w] | lowMask(i%wordBits))
		if c := uint64(bits.OnesCount64(free)); c < n {
			n -= c
			i = (w + 1) * wordBits
			continue
		}
		for ; n > 1; n-- {
			free &= free - 1
		}
		return w*wordBits + uint64(bits.TrailingZeros64(free)) + 1, true
	}
	return 0, false
}

func get(bitset []uint64, i uint64) bool { return bitset[i/wordBits]&(1<<(i%wordBits)) != 0 }

// lowMask has the n lowest bits set (n < 64, or 64 for all).
func lowMask(n uint64) uint64 {
	if n >= wordBits {
		return ^uint64(0)
	}
	return 1<<n - 1
}

// EachReferenced calls fn, in address order, with every block the current
// checkpoint references: acquired and released by no checkpoint since. (A
// released block is still acquired, for the checkpoint before, which may
// still be restarted from; the current one no longer refers to it.)
func (f *FreeSet) EachReferenced(fn func(address uint64)) {
	for w, word := range f.acquired {
		word &^= f.released[w] | f.releasedPrior[w]
		for word != 0 {
			i := uint64(w)*wordBits + uint64(bits.TrailingZeros64(word))
			if i >= f.blocks {
				return
			}
			fn(i + 1)
			word &= word - 1
		}
	}
}
