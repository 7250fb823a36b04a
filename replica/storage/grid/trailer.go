package grid

import (
	"fmt"
	"slices"

	"viewstamp/replica/checksum"
	"viewstamp/replica/storage"
	"viewstamp/replica/storage/block"
	"viewstamp/replica/storage/freeset"
)

// Trailer is a checkpoint trailer as written or read: its reference (what
// the superblock keeps) and the addresses of its blocks, first to last,
// which the replica releases once a newer checkpoint replaces it.
type Trailer struct {
	Ref       storage.TrailerRef
	Addresses []uint64
}

// trailerBlocks is how many blocks a trailer of size bytes takes: one at
// least, so that even an empty trailer has a block to reference.
func (g *Grid) trailerBlocks(size int) uint64 {
	return max(1, uint64((size+g.BlockBodyMax()-1)/g.BlockBodyMax()))
}

// WriteTrailer writes data as a chain of blocks of type t, acquiring them
// from a reservation of its own (first free blocks past any active one), and
// calls done once every block is durable. The grid must have room.
func (g *Grid) WriteTrailer(t block.Type, data []byte, done func(Trailer)) {
	g.startTrailer(t, data, done)
}

// startTrailer is WriteTrailer returning the addresses it acquired.
func (g *Grid) startTrailer(t block.Type, data []byte, done func(Trailer)) []uint64 {
	n := g.trailerBlocks(len(data))
	r, ok := g.free.Reserve(n)
	if !ok {
		panic(fmt.Sprintf("grid: no room for a trailer of %d blocks (%d free)", n, g.free.FreeCount()))
	}
	addresses := make([]uint64, n)
	for i := range addresses {
		addresses[i] = g.free.AcquireReserved(&r)
	}
	g.free.Forfeit(&r)
	g.writeChain(t, data, addresses, done)
	return addresses
}

// writeChain writes data over addresses, already acquired, each block
// linking back to its predecessor. All writes go out at once: the links are
// checksums, known as soon as each block is sealed.
func (g *Grid) writeChain(t block.Type, data []byte, addresses []uint64, done func(Trailer)) {
	trailer := Trailer{
		Ref: storage.TrailerRef{
			Size:       uint64(len(data)),
			BlockCount: uint64(len(addresses)),
			Checksum:   checksum.Sum(data),
		},
		Addresses: addresses,
	}
	pending := len(addresses)
	written := func() {
		pending--
		if pending == 0 {
			done(trailer)
		}
	}
	var link block.Ref
	meta := make([]byte, block.LinkSize)
	body := g.BlockBodyMax()
	for i, a := range addresses {
		chunk := data[min(i*body, len(data)):min((i+1)*body, len(data))]
		block.PutLink(meta, link)
		link = block.Ref{Address: a, Checksum: g.WriteBlockMetadata(a, uint8(t), meta, chunk, written)}
	}
	trailer.Ref.Last = link
}

// ReadTrailer reads the trailer ref names, walking its chain back from the
// last block, and calls done with its bytes and block addresses. ok is false
// if any block fails to read or verify, or if the chain does not add up to
// what ref promises (type, count, size, checksum). ref must not be zero.
func (g *Grid) ReadTrailer(ref storage.TrailerRef, t block.Type, done func(tr Trailer, data []byte, ok bool)) {
	if ref.IsZero() {
		panic("grid: reading an absent trailer")
	}
	r := &trailerRead{g: g, ref: ref, typ: t, done: done, next: ref.Last}
	r.step()
}

type trailerRead struct {
	g         *Grid
	ref       storage.TrailerRef
	typ       block.Type
	done      func(Trailer, []byte, bool)
	next      block.Ref
	chunks    [][]byte // last first
	addresses []uint64 // last first
}

func (r *trailerRead) step() { r.g.ReadBlockFull(r.next.Address, r.next.Checksum, r.got) }

func (r *trailerRead) fail() { r.done(Trailer{}, nil, false) }

func (r *trailerRead) got(blk []byte, ok bool) {
	if !ok || block.DecodeHeader(blk).Type != r.typ {
		r.fail()
		return
	}
	r.chunks = append(r.chunks, block.Body(blk))
	r.addresses = append(r.addresses, r.next.Address)
	link := block.Link(block.Metadata(blk))
	if uint64(len(r.chunks)) < r.ref.BlockCount {
		if link.Address == 0 {
			r.fail()
			return
		}
		r.next = link
		r.step()
		return
	}
	if link.Address != 0 {
		r.fail() // the chain is longer than the reference says
		return
	}
	slices.Reverse(r.chunks)
	slices.Reverse(r.addresses)
	data := slices.Concat(r.chunks...)
	if uint64(len(data)) != r.ref.Size || checksum.Sum(data) != r.ref.Checksum {
		r.fail()
		return
	}
	r.done(Trailer{Ref: r.ref, Addresses: r.addresses}, data, true)
}

// ReleaseTrailer releases the blocks of a trailer a newer checkpoint has
// replaced (the client sessions'; the free set's are handled by
// CheckpointFreeSet).
func (g *Grid) ReleaseTrailer(t Trailer) {
	for _, a := range t.Addresses {
		g.free.Release(a)
	}
}

// CheckpointFreeSet writes the free set's trailers for a new checkpoint and
// calls done with their references once they are durable. Call it last in
// the checkpoint's data stage, with the current checkpoint durable and no
// reservation active, after every other acquire and release of the interval
// (the client sessions' trailer included), and call CheckpointWritten once
// the superblock naming the result is durable. Between this call and that
// one the free set must not change.
//
// The trailers' own blocks are acquired after the encoding is made, so the
// encoding records them as free; OpenFreeSet marks them acquired again from
// the chain it walks. The previous checkpoint's trailer blocks are released
// first, so the encoding records them as released and they are freed, on
// this replica and on any restarted from the new checkpoint alike, once the
// new checkpoint is durable.
func (g *Grid) CheckpointFreeSet(done func(acquired, released storage.TrailerRef)) {
	for _, a := range g.freeSetBlocks {
		g.free.Release(a)
	}
	acquired, released := g.free.EncodeAcquired(), g.free.EncodeReleased()
	na, nr := g.trailerBlocks(len(acquired)), g.trailerBlocks(len(released))
	r, ok := g.free.Reserve(na + nr)
	if !ok {
		panic(fmt.Sprintf("grid: no room for the free set's %d trailer blocks", na+nr))
	}
	addresses := make([]uint64, na+nr)
	for i := range addresses {
		addresses[i] = g.free.AcquireReserved(&r)
	}
	g.free.Forfeit(&r)
	g.freeSetBlocks = addresses

	var refs [2]storage.TrailerRef
	pending := 2
	written := func(i int) func(Trailer) {
		return func(t Trailer) {
			refs[i] = t.Ref
			pending--
			if pending == 0 {
				done(refs[0], refs[1])
			}
		}
	}
	g.writeChain(block.TypeFreeSet, acquired, addresses[:na], written(0))
	g.writeChain(block.TypeFreeSet, released, addresses[na:], written(1))
}

// OpenFreeSet replaces the free set with the one a checkpoint recorded,
// reading its two trailers, and calls done(false) if either cannot be read
// or decoded (the free set is then unchanged). Checkpoint 0 has no trailers:
// a grid from New is already its free set.
func (g *Grid) OpenFreeSet(acquired, released storage.TrailerRef, done func(ok bool)) {
	if len(g.writes) > 0 {
		panic("grid: opening the free set with writes in flight")
	}
	g.ReadTrailer(acquired, block.TypeFreeSet, func(ta Trailer, acq []byte, ok bool) {
		if !ok {
			done(false)
			return
		}
		g.ReadTrailer(released, block.TypeFreeSet, func(tr Trailer, rel []byte, ok bool) {
			if !ok {
				done(false)
				return
			}
			f, err := freeset.Decode(g.layout.GridBlockCount, acq, rel)
			if err != nil {
				done(false)
				return
			}
			own := slices.Concat(ta.Addresses, tr.Addresses)
			for _, a := range own {
				if f.IsAcquired(a) {
					done(false) // a trailer block the encoding says is in use
					return
				}
				f.MarkAcquired(a)
			}
			g.free = f
			g.freeSetBlocks = own
			done(true)
		})
	})
}
