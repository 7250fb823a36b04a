// Package grid is the data file's grid zone seen as blocks: it seals blocks
// and writes them through the asynchronous io.Storage, reads them back
// against the (address, checksum) their parent holds, and allocates them
// through the free set. Like the rest of the replica it never blocks and
// starts no goroutine: every result arrives in a callback, run from an IO
// completion and never from inside the call that asked for it.
package grid

import (
	"fmt"
	"slices"

	rio "viewstamp/replica/io"
	"viewstamp/replica/storage"
	"viewstamp/replica/storage/block"
	"viewstamp/replica/storage/freeset"
	"viewstamp/replica/u128"
)

// Grid is one replica's grid.
type Grid struct {
	storage rio.Storage
	layout  storage.Layout
	cluster u128.U128
	free    *freeset.FreeSet

	// writes are the writes not yet completed, in call order: the first
	// writesIssued went to storage, the rest wait for a slot. Few enough
	// that a scan finds one by address faster than an index would.
	writes       []*write
	writesIssued int
	spare        []*write
	idle         []func() // AwaitWrites callers, until no write is left
	// reads wait for a slot (storage.Config.GridReadsMax), oldest first,
	// from readHead on.
	reads    []read
	readHead int
	// readSlots are the reads at the device, each with its completion
	// bound once; freeSlots the slots not in use.
	readSlots []readSlot
	freeSlots []int
	// readBufs are block buffers no read holds: a read whose body is only
	// lent to its completion (ReadBlock) gives its buffer back.
	readBufs [][]byte

	// freeSetBlocks are the blocks of the current checkpoint's free-set
	// trailers, which the encoding itself records as free.
	freeSetBlocks []uint64
	// sessions is the current checkpoint's client-sessions trailer, which
	// the next checkpoint releases.
	sessions Trailer

	readsInFlight int
	stats         Stats

	// missing, if set, hears of each block a read found damaged or absent;
	// such reads are parked until WriteRepaired brings the block named.
	missing func(ref block.Ref)
	parked  map[block.Ref][]func(blk []byte, ok bool)
	// parkedOrder is the order blocks were first parked in, for
	// CancelParked to answer them deterministically.
	parkedOrder []block.Ref
}

// Stats counts what the grid has seen, for the run record and tests.
type Stats struct {
	Writes uint64
	// Reads counts reads by what verification found (block.Valid first).
	Reads [block.ResultCount]uint64
	// ReadsFromWrites counts reads served from a write in flight.
	ReadsFromWrites uint64
}

type write struct {
	g        *Grid
	address  uint64
	checksum u128.U128
	mem      []byte // one block, reused
	buf      []byte // the sealed block, sector-rounded, within mem
	done     func()
	readers  []reader
	complete func()
}

type reader struct {
	checksum u128.U128
	done     func(blk []byte, ok bool)
}

type read struct {
	ref  block.Ref
	done func(blk []byte, ok bool)
	// body, set instead of done (ReadBlock), is lent the block's body
	// for the completion only.
	body  func(body []byte, ok bool)
	local bool // never parked: a failure is the answer
	// lend: done is lent the whole block for the completion only, and
	// the buffer is the next read's (ReadBlockLocalLent).
	lend bool
}

type readSlot struct {
	r    read
	buf  []byte
	done func()
}

// whole is r's completion as one taking a whole block that is the
// caller's, for the paths that hand over a copy (a write's, a repaired
// block's read).
func (r *read) whole() func(blk []byte, ok bool) {
	if r.body == nil {
		return r.done
	}
	body := r.body
	return func(blk []byte, ok bool) {
		if !ok {
			body(nil, false)
			return
		}
		body(block.Body(blk), true)
	}
}

func (r *read) fail() {
	if r.body != nil {
		r.body(nil, false)
		return
	}
	r.done(nil, false)
}

// New returns the grid of a freshly formatted data file (checkpoint 0: every
// block free). A replica opening a checkpoint then calls OpenFreeSet.
func New(st rio.Storage, layout storage.Layout, cluster u128.U128) *Grid {
	g := &Grid{
		storage:   st,
		layout:    layout,
		cluster:   cluster,
		free:      freeset.New(layout.GridBlockCount),
		readSlots: make([]readSlot, layout.GridReadsMax),
	}
	for i := range g.readSlots {
		g.readSlots[i].done = func() { g.readDone(i) }
		g.freeSlots = append(g.freeSlots, len(g.readSlots)-1-i)
	}
	return g
}

// BlockBodyMax is the largest body WriteBlock accepts.
func (g *Grid) BlockBodyMax() int { return int(g.layout.BlockBodyMax()) }

// FreeSet is the grid's allocation state, for checkpoints and inspection.
func (g *Grid) FreeSet() *freeset.FreeSet { return g.free }

// Stats returns the counters.
func (g *Grid) Stats() Stats { return g.stats }

// InFlight reports the writes and reads not yet completed, queued included.
// AwaitWrites calls then once no block write is queued or in flight: at
// once if none is.
func (g *Grid) AwaitWrites(then func()) {
	if len(g.writes) == 0 {
		then()
		return
	}
	g.idle = append(g.idle, then)
}

func (g *Grid) InFlight() (writes, reads int) {
	return len(g.writes), g.readsInFlight + len(g.reads) - g.readHead
}

// Acquire allocates the first free block past any active reservation, or
// returns 0 if the grid is full. Callers acquire in op order; jobs whose
// order depends on IO completions use Reserve instead.
func (g *Grid) Acquire() uint64 { return g.free.Acquire() }

// Release gives a block back; it is reused only once the next checkpoint is
// durable (see freeset).
func (g *Grid) Release(address uint64) { g.free.Release(address) }

// Reserve, AcquireReserved and Forfeit pass through to the free set.
func (g *Grid) Reserve(n uint64) (freeset.Reservation, bool) { return g.free.Reserve(n) }

// AcquireReserved acquires the first free block of r.
func (g *Grid) AcquireReserved(r *freeset.Reservation) uint64 { return g.free.AcquireReserved(r) }

// Forfeit ends r.
func (g *Grid) Forfeit(r *freeset.Reservation) { g.free.Forfeit(r) }

// CheckpointWritten tells the free set the superblock now holds a new
// checkpoint, not yet durable.
func (g *Grid) CheckpointWritten() { g.free.CheckpointWritten() }

// CheckpointDurable tells the free set the current checkpoint is durable,
// freeing what was released before it. Call it at the same commit on every
// replica (storage.Schedule.DurableAt).
func (g *Grid) CheckpointDurable() { g.free.CheckpointDurable() }

// StorageSize is how much of the data file the grid occupies now.
func (g *Grid) StorageSize() uint64 { return g.layout.StorageSize(g.free.HighestAcquired()) }

// WriteBlock seals body as block address of type blockType and writes it,
// calling done once it is durable. It returns the block's checksum at once,
// for the parent that will reference it. The caller may reuse body when
// WriteBlock returns. address must be acquired and have no write in flight.
func (g *Grid) WriteBlock(address uint64, blockType uint8, body []byte, done func()) u128.U128 {
	return g.WriteBlockMetadata(address, blockType, nil, body, done)
}

// WriteBlockMetadata is WriteBlock with the header's metadata area filled
// (at most block.MetadataSize bytes).
func (g *Grid) WriteBlockMetadata(address uint64, blockType uint8, metadata, body []byte, done func()) u128.U128 {
	switch {
	case !g.free.IsAcquired(address):
		panic(fmt.Sprintf("grid: writing block %d, which is not acquired", address))
	case g.free.IsReleased(address):
		panic(fmt.Sprintf("grid: writing block %d, which is released", address))
	case g.writing(address) != nil:
		panic(fmt.Sprintf("grid: writing block %d twice at once", address))
	case len(body) > g.BlockBodyMax():
		panic(fmt.Sprintf("grid: body of %d bytes exceeds %d", len(body), g.BlockBodyMax()))
	}
	w := g.newWrite()
	w.address = address
	w.done = done
	w.buf = w.mem[:g.layout.SectorCeil(uint64(block.HeaderSize+len(body)))]
	w.checksum = block.Seal(w.buf, g.cluster, address, block.Type(blockType), metadata, body)
	g.enqueueWrite(w)
	return w.checksum
}

// enqueueWrite issues w if a write slot is free, else leaves it queued;
// either way reads of its block are served from it from now on.
func (g *Grid) enqueueWrite(w *write) {
	g.writes = append(g.writes, w)
	g.stats.Writes++
	g.issueWrites()
}

func (g *Grid) issueWrites() {
	for g.writesIssued < len(g.writes) && uint64(g.writesIssued) < g.layout.GridWritesMax {
		w := g.writes[g.writesIssued]
		g.writesIssued++
		g.storage.Write(rio.ZoneGrid, g.layout.BlockOffset(w.address), w.buf, w.complete)
	}
}

func (g *Grid) newWrite() *write {
	if n := len(g.spare); n > 0 {
		w := g.spare[n-1]
		g.spare = g.spare[:n-1]
		return w
	}
	w := &write{g: g, mem: make([]byte, g.layout.BlockSize)}
	w.complete = w.completed
	return w
}

func (g *Grid) writing(address uint64) *write {
	for _, w := range g.writes {
		if w.address == address {
			return w
		}
	}
	return nil
}

func (w *write) completed() {
	g := w.g
	i := slices.Index(g.writes, w)
	if i < 0 || i >= g.writesIssued {
		panic("grid: completion of a write not issued")
	}
	g.writes = slices.Delete(g.writes, i, i+1)
	g.writesIssued--
	g.issueWrites()
	done, readers := w.done, w.readers
	// Readers get their own copies: the buffer goes back to the pool before
	// any callback runs, since a callback may start the next write.
	blks := make([][]byte, len(readers))
	results := make([]block.Result, len(readers))
	for i, r := range readers {
		results[i] = block.Verify(w.buf, g.layout.SectorSize, g.cluster, block.Ref{Address: w.address, Checksum: r.checksum})
		if results[i] == block.Valid {
			blks[i] = slices.Clone(w.buf)
		}
	}
	w.done, w.readers, w.buf = nil, nil, nil
	g.spare = append(g.spare, w)
	done()
	for i, r := range readers {
		g.stats.Reads[results[i]]++
		g.stats.ReadsFromWrites++
		r.done(blks[i], results[i] == block.Valid)
	}
	if len(g.writes) == 0 && len(g.idle) > 0 {
		idle := g.idle
		g.idle = nil
		for _, fn := range idle {
			fn()
		}
	}
}

// ReadBlock reads block address and checks it is the one checksum names,
// then calls done with its body, which is valid only during done (the
// buffer is the next read's). ok is false on any
// mismatch (corruption, a misdirected or stale block); body is then nil. A
// block with a write in flight is served from that write's copy when the
// write completes, never from the disk it is racing.
func (g *Grid) ReadBlock(address uint64, checksum u128.U128, done func(body []byte, ok bool)) {
	g.enqueueRead(read{ref: block.Ref{Address: address, Checksum: checksum}, body: done})
}

// ReadBlockFull is ReadBlock handing over the whole block, header included,
// which the caller owns, for callers that read its metadata (block.Metadata)
// or keep it.
func (g *Grid) ReadBlockFull(address uint64, checksum u128.U128, done func(blk []byte, ok bool)) {
	g.read(block.Ref{Address: address, Checksum: checksum}, false, done)
}

// ReadBlockLocal reads a whole block from this grid only, never waiting for
// a peer's copy: how a replica serves a peer's get_blocks.
func (g *Grid) ReadBlockLocal(ref block.Ref, done func(blk []byte, ok bool)) {
	g.read(ref, true, done)
}

// ReadBlockLocalLent is ReadBlockLocal lending the block for done only, its
// buffer then the next read's: for a reader that reads every block over and
// over (the scrubber), which would otherwise leave a block of garbage a
// read.
func (g *Grid) ReadBlockLocalLent(ref block.Ref, done func(blk []byte, ok bool)) {
	g.enqueueRead(read{ref: ref, done: done, local: true, lend: true})
}

func (g *Grid) read(ref block.Ref, local bool, done func(blk []byte, ok bool)) {
	g.enqueueRead(read{ref: ref, done: done, local: local})
}

func (g *Grid) enqueueRead(r read) {
	g.layout.BlockOffset(r.ref.Address) // refuses an address outside the grid now, not when issued
	g.reads = append(g.reads, r)
	g.issueReads()
}

// CancelParked fails every parked read (ok false), oldest block first: the
// replica gave up the checkpoint they belong to for a newer one.
func (g *Grid) CancelParked() {
	order := g.parkedOrder
	g.parkedOrder = nil
	for _, ref := range order {
		waiting := g.parked[ref]
		delete(g.parked, ref)
		for _, done := range waiting {
			done(nil, false)
		}
	}
}

// Writing reports whether a write of address is under way.
func (g *Grid) Writing(address uint64) bool { return g.writing(address) != nil }

// SetMissing makes reads that find their block damaged or absent wait
// instead of failing: missing hears of the block once per episode, and the
// reads complete when WriteRepaired writes it (a peer's copy). A replica
// opening a checkpoint it synced to, whose blocks it has not yet fetched,
// reads through this.
func (g *Grid) SetMissing(missing func(ref block.Ref)) {
	g.missing = missing
	g.parked = map[block.Ref][]func([]byte, bool){}
}

// issueReads starts queued reads while slots are free. A read whose block
// has a write in flight by the time it starts is served from the write.
func (g *Grid) issueReads() {
	for g.readHead < len(g.reads) {
		r := g.reads[g.readHead]
		if w := g.writing(r.ref.Address); w != nil {
			g.popRead()
			w.readers = append(w.readers, reader{checksum: r.ref.Checksum, done: r.whole()})
			continue
		}
		if uint64(g.readsInFlight) >= g.layout.GridReadsMax {
			return
		}
		g.popRead()
		g.readsInFlight++
		i := g.freeSlots[len(g.freeSlots)-1]
		g.freeSlots = g.freeSlots[:len(g.freeSlots)-1]
		sl := &g.readSlots[i]
		sl.r, sl.buf = r, g.readBuffer()
		g.storage.Read(rio.ZoneGrid, g.layout.BlockOffset(r.ref.Address), sl.buf, sl.done)
	}
}

// popRead drops the queue's first read; an empty queue starts over at the
// front of its array, so queuing allocates only to grow it.
func (g *Grid) popRead() {
	g.reads[g.readHead] = read{}
	g.readHead++
	if g.readHead == len(g.reads) {
		g.reads, g.readHead = g.reads[:0], 0
	}
}

// readBuffer is a zeroed block buffer, as a new one would be.
func (g *Grid) readBuffer() []byte {
	n := len(g.readBufs)
	if n == 0 {
		return make([]byte, g.layout.BlockSize)
	}
	buf := g.readBufs[n-1]
	g.readBufs[n-1] = nil
	g.readBufs = g.readBufs[:n-1]
	clear(buf)
	return buf
}

// readDone completes slot i's read: the slot is free (and the next read
// started) before the block is verified and its reader called.
func (g *Grid) readDone(i int) {
	sl := &g.readSlots[i]
	r, buf := sl.r, sl.buf
	sl.r, sl.buf = read{}, nil
	g.freeSlots = append(g.freeSlots, i)
	g.readsInFlight--
	g.issueReads()
	res := block.Verify(buf, g.layout.SectorSize, g.cluster, r.ref)
	g.stats.Reads[res]++
	if res != block.Valid {
		g.readBufs = append(g.readBufs, buf)
		if g.missing != nil && !r.local {
			waiting := g.parked[r.ref]
			g.parked[r.ref] = append(waiting, r.whole())
			if len(waiting) == 0 {
				g.parkedOrder = append(g.parkedOrder, r.ref)
				g.missing(r.ref)
			}
			return
		}
		r.fail()
		return
	}
	if r.body != nil {
		r.body(block.Body(buf), true)
		g.readBufs = append(g.readBufs, buf)
		return
	}
	r.done(buf, true)
	if r.lend {
		g.readBufs = append(g.readBufs, buf)
	}
}

// WriteRepaired writes a block received from a peer (a `block` message, which
// is the sealed block as it lies on disk) in place of a missing or damaged
// local copy, if it is the block want names; it reports false, writing
// nothing, if not. The address need not be acquired: a replica syncing to a
// newer checkpoint fetches blocks before its free set knows them.
func (g *Grid) WriteRepaired(want block.Ref, blk []byte, done func()) bool {
	if uint64(len(blk)) > g.layout.BlockSize || block.Verify(blk, g.layout.SectorSize, g.cluster, want) != block.Valid {
		return false
	}
	if g.writing(want.Address) != nil {
		panic(fmt.Sprintf("grid: repairing block %d while it is being written", want.Address))
	}
	size := block.DecodeHeader(blk).Size
	w := g.newWrite()
	w.address = want.Address
	w.done = done
	w.buf = w.mem[:g.layout.SectorCeil(uint64(size))]
	clear(w.buf[copy(w.buf, blk[:size]):])
	w.checksum = want.Checksum
	g.layout.BlockOffset(want.Address)
	g.enqueueWrite(w)
	// Parked reads of this block are served from the write as it lands.
	if waiting := g.parked[want]; len(waiting) > 0 {
		delete(g.parked, want)
		if i := slices.Index(g.parkedOrder, want); i >= 0 {
			g.parkedOrder = slices.Delete(g.parkedOrder, i, i+1)
		}
		for _, done := range waiting {
			g.reads = append(g.reads, read{ref: want, done: done})
		}
		g.issueReads()
	}
	return true
}
