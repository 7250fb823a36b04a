package grid

import (
	"bytes"
	"fmt"
	"testing"

	rio "viewstamp/replica/io"
	"viewstamp/replica/storage"
	"viewstamp/replica/storage/block"
	"viewstamp/replica/storage/storagetest"
	"viewstamp/replica/u128"
)

var testCluster = u128.U128{Lo: 0x11, Hi: 0x22}

func testLayout(blocks uint64) storage.Layout {
	// Blocks of four sectors, so a short block is written in part.
	c := storage.SimulatorConfig()
	c.GridBlockCount = blocks
	c.MessageSizeMax, c.BlockSize = 16<<10, 16<<10
	return storage.MustLayout(c)
}

func newTestGrid(blocks uint64) (*Grid, *storagetest.MemStorage) {
	l := testLayout(blocks)
	st := storagetest.New(l.SectorSize, l.ZoneSizes())
	return New(st, l, testCluster), st
}

func body(seed, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seed*31 + i*7)
	}
	return b
}

type readResult struct {
	calls int
	body  []byte
	ok    bool
}

// done keeps a copy: ReadBlock's body is lent for the completion only.
func (r *readResult) done(b []byte, ok bool) { r.calls++; r.body, r.ok = append([]byte(nil), b...), ok }

func TestWriteThenRead(t *testing.T) {
	g, st := newTestGrid(64)
	a := g.Acquire()
	want := body(1, 5000)
	written := false
	sum := g.WriteBlock(a, uint8(block.TypeValue), want, func() { written = true })
	clear(want[:10]) // the caller may reuse its buffer at once
	want = body(1, 5000)
	if written {
		t.Fatal("write completed inside WriteBlock")
	}
	if p := st.Pending(); len(p) != 1 || !p[0].Write || p[0].Zone != rio.ZoneGrid || p[0].Offset != g.layout.BlockOffset(a) {
		t.Fatalf("pending IO %+v, want one grid write at block %d", p, a)
	}
	st.RunFIFO()
	if !written {
		t.Fatal("write never completed")
	}
	// Only whole sectors of the block are written: the rest of the block
	// stays as it was (zero here).
	zone := st.Bytes(rio.ZoneGrid)[g.layout.BlockOffset(a):]
	if n := g.layout.SectorCeil(block.HeaderSize + 5000); !bytes.Equal(zone[n:g.layout.BlockSize], make([]byte, g.layout.BlockSize-n)) {
		t.Fatal("write spilled past its last sector")
	}
	var r readResult
	g.ReadBlock(a, sum, r.done)
	if r.calls != 0 {
		t.Fatal("read completed inside ReadBlock")
	}
	st.RunFIFO()
	if r.calls != 1 || !r.ok || !bytes.Equal(r.body, want) {
		t.Fatalf("read: calls %d ok %v, body equal %v", r.calls, r.ok, bytes.Equal(r.body, want))
	}
	if g.Stats().Reads[block.Valid] != 1 || g.Stats().Writes != 1 {
		t.Fatalf("stats %+v", g.Stats())
	}
}

func TestReadWithWriteInFlightIsServedFromTheWrite(t *testing.T) {
	g, st := newTestGrid(64)
	a := g.Acquire()
	want := body(2, 100)
	var order []string
	sum := g.WriteBlock(a, uint8(block.TypeIndex), want, func() { order = append(order, "write") })
	var r, stale readResult
	g.ReadBlock(a, sum, func(b []byte, ok bool) { order = append(order, "read"); r.done(b, ok) })
	g.ReadBlock(a, u128.U128{Lo: 1}, stale.done)
	if p := st.Pending(); len(p) != 1 {
		t.Fatalf("%d IOs pending: a read went to the disk while the write was in flight", len(p))
	}
	if writes, reads := g.InFlight(); writes != 1 || reads != 0 {
		t.Fatalf("in flight: %d writes, %d reads", writes, reads)
	}
	st.RunFIFO()
	if !r.ok || !bytes.Equal(r.body, want) {
		t.Fatalf("in-flight read: ok %v", r.ok)
	}
	if stale.calls != 1 || stale.ok || stale.body != nil {
		t.Fatalf("read of another version while writing: %+v", stale)
	}
	if fmt.Sprint(order) != "[write read]" {
		t.Fatalf("callbacks ran as %v", order)
	}
	s := g.Stats()
	if s.ReadsFromWrites != 2 || s.Reads[block.Valid] != 1 || s.Reads[block.Stale] != 1 {
		t.Fatalf("stats %+v", s)
	}
	// The reader owns its copy: a later write to the same block (after a
	// release and reuse) does not change it.
	r.body[0] ^= 0xff
	var again readResult
	g.ReadBlock(a, sum, again.done)
	st.RunFIFO()
	if !again.ok || !bytes.Equal(again.body, want) {
		t.Fatal("changing a reader's copy changed the block")
	}
}

// Damage on disk is caught and named: each case reads what the disk holds
// through the reference the parent kept.
func TestReadDetectsDamage(t *testing.T) {
	cases := []struct {
		name   string
		damage func(g *Grid, st *storagetest.MemStorage, a, other uint64)
		want   block.Result
	}{
		{"corrupt body byte", func(g *Grid, st *storagetest.MemStorage, a, _ uint64) {
			st.Bytes(rio.ZoneGrid)[g.layout.BlockOffset(a)+block.HeaderSize+9] ^= 1
		}, block.BadBodyChecksum},
		{"corrupt header byte", func(g *Grid, st *storagetest.MemStorage, a, _ uint64) {
			st.Bytes(rio.ZoneGrid)[g.layout.BlockOffset(a)+100] ^= 1
		}, block.BadHeaderChecksum},
		{"misdirected: another block's bytes at this address", func(g *Grid, st *storagetest.MemStorage, a, other uint64) {
			z := st.Bytes(rio.ZoneGrid)
			copy(z[g.layout.BlockOffset(a):g.layout.BlockOffset(a)+g.layout.BlockSize], z[g.layout.BlockOffset(other):])
		}, block.Misdirected},
		{"never written", func(g *Grid, st *storagetest.MemStorage, a, _ uint64) {
			clear(st.Bytes(rio.ZoneGrid)[g.layout.BlockOffset(a) : g.layout.BlockOffset(a)+g.layout.BlockSize])
		}, block.BadHeaderChecksum},
	}
	for _, c := range cases {
		g, st := newTestGrid(16)
		a, other := g.Acquire(), g.Acquire()
		sum := g.WriteBlock(a, uint8(block.TypeValue), body(3, 700), func() {})
		g.WriteBlock(other, uint8(block.TypeValue), body(3, 700), func() {})
		st.RunFIFO()
		c.damage(g, st, a, other)
		var r readResult
		g.ReadBlock(a, sum, r.done)
		st.RunFIFO()
		if r.calls != 1 || r.ok || r.body != nil {
			t.Errorf("%s: read returned ok %v", c.name, r.ok)
		}
		if n := g.Stats().Reads[c.want]; n != 1 {
			t.Errorf("%s: reads by result %v, want one %v", c.name, g.Stats().Reads, c.want)
		}
	}
}

// A write lost in a crash leaves the previous version of the block on disk.
// It verifies on its own, but not as the version the parent names.
func TestReadDetectsStaleVersion(t *testing.T) {
	g, st := newTestGrid(16)
	a := g.Acquire()
	old := g.WriteBlock(a, uint8(block.TypeManifest), body(4, 300), func() {})
	st.RunFIFO()
	newer := g.WriteBlock(a, uint8(block.TypeManifest), body(5, 300), func() {})
	st.Drop(0) // the crash: the new version never reaches the disk
	g = New(st, g.layout, testCluster)
	g.free.MarkAcquired(a)
	var r, o readResult
	g.ReadBlock(a, newer, r.done)
	g.ReadBlock(a, old, o.done)
	st.RunFIFO()
	if r.ok || g.Stats().Reads[block.Stale] != 1 {
		t.Fatalf("stale block read as ok %v, stats %v", r.ok, g.Stats().Reads)
	}
	if !o.ok || !bytes.Equal(o.body, body(4, 300)) {
		t.Fatal("the old version, asked for by its own checksum, did not read back")
	}
}

func TestWriteMisuseIsRefused(t *testing.T) {
	g, _ := newTestGrid(16)
	a := g.Acquire()
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	mustPanic("free block", func() { g.WriteBlock(a+1, uint8(block.TypeValue), nil, func() {}) })
	mustPanic("body too big", func() { g.WriteBlock(a, uint8(block.TypeValue), make([]byte, g.BlockBodyMax()+1), func() {}) })
	mustPanic("reserved type", func() { g.WriteBlock(a, uint8(block.TypeReserved), nil, func() {}) })
	g.WriteBlock(a, uint8(block.TypeValue), nil, func() {})
	mustPanic("two writes at once", func() { g.WriteBlock(a, uint8(block.TypeValue), nil, func() {}) })
	g.Release(a)
	mustPanic("released block", func() { g.WriteBlock(a, uint8(block.TypeValue), nil, func() {}) })
	if g.BlockBodyMax() != int(g.layout.BlockSize)-block.HeaderSize {
		t.Errorf("block body max %d", g.BlockBodyMax())
	}
}

// A block fetched from a peer repairs a damaged local copy, but only if it is
// the block the parent names.
func TestWriteRepaired(t *testing.T) {
	peer, pst := newTestGrid(16)
	local, lst := newTestGrid(16)
	a := peer.Acquire()
	local.Acquire()
	want := body(8, 3000)
	sum := peer.WriteBlock(a, uint8(block.TypeIndex), want, func() {})
	local.WriteBlock(a, uint8(block.TypeIndex), want, func() {})
	pst.RunFIFO()
	lst.RunFIFO()
	lst.Bytes(rio.ZoneGrid)[local.layout.BlockOffset(a)+block.HeaderSize] ^= 1

	// The peer serves the whole block, header included.
	var served []byte
	peer.ReadBlockFull(a, sum, func(blk []byte, ok bool) { served = blk })
	pst.RunFIFO()
	if served == nil {
		t.Fatal("peer could not read its block")
	}
	other := bytes.Clone(served)
	other[block.HeaderSize+5] ^= 1
	if local.WriteRepaired(block.Ref{Address: a, Checksum: sum}, other, func() {}) {
		t.Fatal("a corrupt block from a peer was accepted")
	}
	if local.WriteRepaired(block.Ref{Address: a + 1, Checksum: sum}, served, func() {}) {
		t.Fatal("a block for another address was accepted")
	}
	if len(lst.Pending()) != 0 {
		t.Fatal("a refused repair wrote")
	}
	repaired := false
	if !local.WriteRepaired(block.Ref{Address: a, Checksum: sum}, served, func() { repaired = true }) {
		t.Fatal("the right block was refused")
	}
	lst.RunFIFO()
	var r readResult
	local.ReadBlock(a, sum, r.done)
	lst.RunFIFO()
	if !repaired || !r.ok || !bytes.Equal(r.body, want) {
		t.Fatalf("after repair: done %v ok %v", repaired, r.ok)
	}
}

// The grid never has more than GridWritesMax writes or GridReadsMax reads at
// the device; the rest wait, in call order, and all complete.
func TestIOIsBounded(t *testing.T) {
	g, st := newTestGrid(64)
	const n = 20
	maxW, maxR := int(g.layout.GridWritesMax), int(g.layout.GridReadsMax)
	sums := make([]u128.U128, n+1)
	written := 0
	for a := uint64(1); a <= n; a++ {
		g.Acquire()
		sums[a] = g.WriteBlock(a, uint8(block.TypeValue), body(int(a), 10), func() { written++ })
	}
	if len(st.Pending()) != maxW {
		t.Fatalf("%d writes at the device, want %d", len(st.Pending()), maxW)
	}
	var offsets []uint64
	for len(st.Pending()) > 0 {
		if len(st.Pending()) > maxW {
			t.Fatalf("%d writes at the device", len(st.Pending()))
		}
		offsets = append(offsets, st.Pending()[0].Offset)
		st.Complete(0)
	}
	if written != n {
		t.Fatalf("%d of %d writes completed", written, n)
	}
	for i, off := range offsets {
		if off != g.layout.BlockOffset(uint64(i+1)) {
			t.Fatalf("write %d went to offset %d: not in call order", i, off)
		}
	}

	results := make([]readResult, n+1)
	for a := uint64(1); a <= n; a++ {
		g.ReadBlock(a, sums[a], results[a].done)
	}
	if len(st.Pending()) != maxR {
		t.Fatalf("%d reads at the device, want %d", len(st.Pending()), maxR)
	}
	// A read still queued when its block is rewritten is served by the
	// write: it names the old version, so it reports stale.
	g.Release(n)
	g.CheckpointWritten()
	g.CheckpointDurable()
	g.CheckpointWritten()
	g.CheckpointDurable()
	if a := g.Acquire(); a != n {
		t.Fatalf("reacquired %d, want %d", a, n)
	}
	g.WriteBlock(n, uint8(block.TypeValue), body(99, 10), func() {})
	st.RunFIFO()
	for a := uint64(1); a < n; a++ {
		if results[a].calls != 1 || !results[a].ok || !bytes.Equal(results[a].body, body(int(a), 10)) {
			t.Fatalf("read %d: %+v", a, results[a])
		}
	}
	if r := results[n]; r.calls != 1 || r.ok {
		t.Fatalf("read of a rewritten block: %+v", r)
	}
	if w, r := g.InFlight(); w != 0 || r != 0 {
		t.Fatalf("left in flight: %d writes, %d reads", w, r)
	}
}

// With SetMissing, a read of a block the grid lacks waits for a peer's copy
// instead of failing, once per block however many wait; a local read (what a
// replica serves to peers) still fails at once.
func TestMissingBlocksParkReadsUntilRepaired(t *testing.T) {
	peer, pst := newTestGrid(16)
	local, lst := newTestGrid(16)
	a := peer.Acquire()
	want := body(9, 2000)
	sum := peer.WriteBlock(a, uint8(block.TypeValue), want, func() {})
	pst.RunFIFO()
	ref := block.Ref{Address: a, Checksum: sum}

	var heard []block.Ref
	local.SetMissing(func(r block.Ref) { heard = append(heard, r) })
	var r1, r2, l readResult
	local.ReadBlock(a, sum, r1.done)
	local.ReadBlock(a, sum, r2.done)
	local.ReadBlockLocal(ref, l.done)
	lst.RunFIFO()
	if r1.calls+r2.calls != 0 || l.calls != 1 || l.ok {
		t.Fatalf("before repair: parked reads answered %d times, local read %d times (ok %v)", r1.calls+r2.calls, l.calls, l.ok)
	}
	if len(heard) != 1 || heard[0] != ref {
		t.Fatalf("missing heard %v, want once %v", heard, ref)
	}
	var served []byte
	peer.ReadBlockLocal(ref, func(blk []byte, ok bool) { served = blk })
	pst.RunFIFO()
	if !local.WriteRepaired(ref, served, func() {}) {
		t.Fatal("repair refused")
	}
	lst.RunFIFO()
	for i, r := range []readResult{r1, r2} {
		if r.calls != 1 || !r.ok || !bytes.Equal(r.body, want) {
			t.Fatalf("parked read %d after repair: calls %d ok %v", i, r.calls, r.ok)
		}
	}
}
