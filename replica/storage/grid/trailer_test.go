package grid

import (
	"bytes"
	"slices"
	"testing"

	rio "viewstamp/replica/io"
	"viewstamp/replica/storage"
	"viewstamp/replica/storage/block"
	"viewstamp/replica/storage/freeset"
	"viewstamp/replica/storage/storagetest"
)

// newSimGrid uses the simulator preset's 4 KiB blocks, so free sets of a few
// thousand blocks need trailers of several blocks.
func newSimGrid(blocks uint64) (*Grid, *storagetest.MemStorage) {
	c := storage.SimulatorConfig()
	c.GridBlockCount = blocks
	l := storage.MustLayout(c)
	st := storagetest.New(l.SectorSize, l.ZoneSizes())
	return New(st, l, testCluster), st
}

func writeTrailer(t *testing.T, g *Grid, st *storagetest.MemStorage, typ block.Type, data []byte) Trailer {
	t.Helper()
	var got *Trailer
	g.WriteTrailer(typ, data, func(tr Trailer) { got = &tr })
	st.RunFIFO()
	if got == nil {
		t.Fatal("trailer write never completed")
	}
	return *got
}

type trailerResult struct {
	calls int
	tr    Trailer
	data  []byte
	ok    bool
}

func readTrailer(g *Grid, st *storagetest.MemStorage, ref storage.TrailerRef, typ block.Type) trailerResult {
	var r trailerResult
	g.ReadTrailer(ref, typ, func(tr Trailer, data []byte, ok bool) { r.calls++; r.tr, r.data, r.ok = tr, data, ok })
	st.RunFIFO()
	return r
}

func TestTrailerRoundTrip(t *testing.T) {
	g, st := newSimGrid(64)
	bmax := g.BlockBodyMax()
	for _, n := range []int{0, 1, bmax - 1, bmax, bmax + 1, 3*bmax + 5} {
		data := body(n, n)
		tr := writeTrailer(t, g, st, block.TypeClientSessions, data)
		wantBlocks := max(1, (n+bmax-1)/bmax)
		if tr.Ref.BlockCount != uint64(wantBlocks) || len(tr.Addresses) != wantBlocks || tr.Ref.Size != uint64(n) {
			t.Fatalf("%d bytes: ref %+v, %d addresses, want %d blocks", n, tr.Ref, len(tr.Addresses), wantBlocks)
		}
		if tr.Ref.Last.Address != tr.Addresses[len(tr.Addresses)-1] {
			t.Fatalf("%d bytes: last block %d is not the last address %v", n, tr.Ref.Last.Address, tr.Addresses)
		}
		r := readTrailer(g, st, tr.Ref, block.TypeClientSessions)
		if r.calls != 1 || !r.ok || !bytes.Equal(r.data, data) || !slices.Equal(r.tr.Addresses, tr.Addresses) {
			t.Fatalf("%d bytes: read back ok %v, equal %v, addresses %v vs %v", n, r.ok, bytes.Equal(r.data, data), r.tr.Addresses, tr.Addresses)
		}
	}
}

func TestTrailerReadRefusesABrokenChain(t *testing.T) {
	g, st := newSimGrid(64)
	data := body(9, 3*g.BlockBodyMax()+10)
	tr := writeTrailer(t, g, st, block.TypeFreeSet, data)
	bad := func(name string, ref storage.TrailerRef, typ block.Type) {
		t.Helper()
		if r := readTrailer(g, st, ref, typ); r.calls != 1 || r.ok || r.data != nil {
			t.Errorf("%s: read ok %v (%d calls)", name, r.ok, r.calls)
		}
	}
	ref := tr.Ref
	fewer, more, size, sum := ref, ref, ref, ref
	fewer.BlockCount--
	more.BlockCount++
	size.Size--
	sum.Checksum.Lo ^= 1
	bad("fewer blocks than the chain", fewer, block.TypeFreeSet)
	bad("more blocks than the chain", more, block.TypeFreeSet)
	bad("other size", size, block.TypeFreeSet)
	bad("other checksum", sum, block.TypeFreeSet)
	bad("other type", ref, block.TypeClientSessions)

	// A corrupt middle block breaks the walk back to the first.
	zone := st.Bytes(rio.ZoneGrid)
	off := g.layout.BlockOffset(tr.Addresses[1]) + block.HeaderSize + 1
	zone[off] ^= 0x40
	bad("corrupt middle block", ref, block.TypeFreeSet)
	zone[off] ^= 0x40
	if r := readTrailer(g, st, ref, block.TypeFreeSet); !r.ok {
		t.Fatal("repaired chain does not read")
	}
}

// checkpoint writes the free set's trailers and then, as the superblock
// write would, makes the new checkpoint current.
func checkpoint(t *testing.T, g *Grid, st *storagetest.MemStorage, run func()) (acq, rel storage.TrailerRef) {
	t.Helper()
	called := false
	g.CheckpointFreeSet(func(a, r storage.TrailerRef) { acq, rel, called = a, r, true })
	if called {
		t.Fatal("checkpoint completed inside CheckpointFreeSet")
	}
	run()
	if !called {
		t.Fatal("free-set checkpoint never completed")
	}
	g.CheckpointWritten()
	return acq, rel
}

func openFreeSet(t *testing.T, st *storagetest.MemStorage, l storage.Layout, acq, rel storage.TrailerRef) *Grid {
	t.Helper()
	g := New(st, l, testCluster)
	var ok, called bool
	g.OpenFreeSet(acq, rel, func(o bool) { ok, called = o, true })
	st.RunFIFO()
	if !called || !ok {
		t.Fatalf("open free set: called %v ok %v", called, ok)
	}
	return g
}

func sameFreeSet(t *testing.T, what string, a, b *Grid) {
	t.Helper()
	fa, fb := a.FreeSet(), b.FreeSet()
	for addr := uint64(1); addr <= fa.Blocks(); addr++ {
		if fa.IsAcquired(addr) != fb.IsAcquired(addr) || fa.IsReleased(addr) != fb.IsReleased(addr) {
			t.Fatalf("%s: block %d acquired %v/%v released %v/%v", what, addr, fa.IsAcquired(addr), fb.IsAcquired(addr), fa.IsReleased(addr), fb.IsReleased(addr))
		}
	}
	if fa.Durable() != fb.Durable() || fa.AcquiredCount() != fb.AcquiredCount() {
		t.Fatalf("%s: durable %v/%v, acquired %d/%d", what, fa.Durable(), fb.Durable(), fa.AcquiredCount(), fb.AcquiredCount())
	}
}

// A replica restarted from a checkpoint must hold exactly the free set of
// the replica that wrote it, and go on allocating the same blocks.
func TestFreeSetCheckpointRoundTrip(t *testing.T) {
	const blocks = 8192
	g, st := newSimGrid(blocks)
	for range 6000 {
		g.Acquire()
	}
	// Every other block released and freed: one run per block, so the
	// acquired trailer spans several blocks.
	for a := uint64(1); a <= 6000; a += 2 {
		g.Release(a)
	}
	g.CheckpointWritten()
	g.CheckpointDurable()
	for a := uint64(2); a <= 600; a += 6 {
		g.Release(a) // released in this interval: recorded as released
	}
	acq, rel := checkpoint(t, g, st, st.RunFIFO)
	if acq.BlockCount < 2 {
		t.Fatalf("acquired trailer of %d blocks; the test wants a chain", acq.BlockCount)
	}
	if uint64(len(g.freeSetBlocks)) != acq.BlockCount+rel.BlockCount {
		t.Fatalf("%d free-set blocks for trailers of %d + %d", len(g.freeSetBlocks), acq.BlockCount, rel.BlockCount)
	}

	r := openFreeSet(t, st.Clone(), g.layout, acq, rel)
	sameFreeSet(t, "after open", g, r)
	if !slices.Equal(r.freeSetBlocks, g.freeSetBlocks) {
		t.Fatalf("trailer blocks %v, writer had %v", r.freeSetBlocks, g.freeSetBlocks)
	}
	if r.StorageSize() != g.StorageSize() {
		t.Fatalf("storage size %d vs %d", r.StorageSize(), g.StorageSize())
	}

	// The same next interval on both: a release before durability, the
	// durability commit, acquisitions, and the next checkpoint.
	rst := r.storage.(*storagetest.MemStorage)
	var refs [2][2]storage.TrailerRef
	var acquiredAfter [2][]uint64
	for i, x := range []*Grid{g, r} {
		s := []*storagetest.MemStorage{st, rst}[i]
		x.Release(4)
		x.CheckpointDurable()
		for range 5 {
			acquiredAfter[i] = append(acquiredAfter[i], x.Acquire())
		}
		if slices.Contains(acquiredAfter[i], 4) || slices.Contains(acquiredAfter[i], x.freeSetBlocks[0]) {
			t.Fatalf("grid %d acquired %v: a protected block", i, acquiredAfter[i])
		}
		refs[i][0], refs[i][1] = checkpoint(t, x, s, s.RunFIFO)
	}
	if !slices.Equal(acquiredAfter[0], acquiredAfter[1]) || acquiredAfter[0][0] != 2 {
		t.Fatalf("after durability the writer acquired %v, the restarted replica %v (want block 2 first, freed at durability)", acquiredAfter[0], acquiredAfter[1])
	}
	if refs[0] != refs[1] {
		t.Fatalf("next checkpoint's trailers differ: %+v vs %+v", refs[0], refs[1])
	}
	sameFreeSet(t, "next checkpoint", g, r)
	if !bytes.Equal(st.Bytes(rio.ZoneGrid), rst.Bytes(rio.ZoneGrid)) {
		t.Fatal("grids differ after the same interval")
	}
}

// The point of holding released blocks: a replica that crashes after
// writing checkpoint 2 but before it is durable restarts from checkpoint 1,
// and every block checkpoint 1 references is still on disk, unchanged, even
// though the running replica released it and went on writing.
func TestReleasedBlocksSurviveForThePreviousCheckpoint(t *testing.T) {
	g, st := newSimGrid(64)
	// Checkpoint 1 references block x.
	x := g.Acquire()
	want := body(7, 2000)
	sum := g.WriteBlock(x, uint8(block.TypeValue), want, func() {})
	st.RunFIFO()
	acq1, rel1 := checkpoint(t, g, st, st.RunFIFO)
	g.CheckpointDurable()

	// The next interval replaces x and releases it; checkpoint 2 is written.
	g.Release(x)
	acq2, rel2 := checkpoint(t, g, st, st.RunFIFO)
	if acq1 == acq2 || rel1 == rel2 {
		t.Fatal("checkpoint 2 wrote the same trailers as checkpoint 1")
	}
	// Until checkpoint 2 is durable, allocation fills the grid around x.
	for a := g.Acquire(); a != 0; a = g.Acquire() {
		if a == x {
			t.Fatal("released block reused before the next checkpoint was durable")
		}
		g.WriteBlock(a, uint8(block.TypeValue), body(int(a), 100), func() {})
	}
	st.RunFIFO()

	// Crash now, restart from checkpoint 1.
	r := openFreeSet(t, st.Clone(), g.layout, acq1, rel1)
	if !r.FreeSet().IsAcquired(x) || r.FreeSet().IsReleased(x) {
		t.Fatal("checkpoint 1 does not hold block x")
	}
	var got readResult
	r.ReadBlock(x, sum, got.done)
	r.storage.(*storagetest.MemStorage).RunFIFO()
	if !got.ok || !bytes.Equal(got.body, want) {
		t.Fatal("block x unreadable from checkpoint 1")
	}

	// Without the crash, checkpoint 2's durability frees x.
	g.CheckpointDurable()
	if a := g.Acquire(); a != x {
		t.Fatalf("after durability acquired %d, want the freed block %d", a, x)
	}
}

func TestOpenFreeSetRefusesDamage(t *testing.T) {
	g, st := newSimGrid(64)
	for range 10 {
		g.Acquire()
	}
	acq, rel := checkpoint(t, g, st, st.RunFIFO)
	before := g.FreeSet()
	st.Bytes(rio.ZoneGrid)[g.layout.BlockOffset(acq.Last.Address)+block.HeaderSize] ^= 1
	called, ok := false, true
	g.OpenFreeSet(acq, rel, func(o bool) { called, ok = true, o })
	st.RunFIFO()
	if !called || ok || g.FreeSet() != before {
		t.Fatalf("open of a corrupt trailer: called %v ok %v, free set replaced %v", called, ok, g.FreeSet() != before)
	}
}

type reservation struct {
	r    freeset.Reservation
	left uint64
}

// Two grids fed the same acquisitions, releases, writes and checkpoints hold
// byte-identical grid zones, even when their IO completes in opposite orders
// and each job acquires its next block only when its previous write lands.
func TestGridsAreDeterministic(t *testing.T) {
	run := func(drain func(*storagetest.MemStorage)) ([]byte, [2]storage.TrailerRef) {
		g, st := newSimGrid(512)
		for round := range 3 {
			jobs := []uint64{4, 7, 3}
			var res [3]*reservation
			for j, n := range jobs {
				r, ok := g.Reserve(n)
				if !ok {
					t.Fatal("reserve failed")
				}
				res[j] = &reservation{r: r, left: n}
			}
			var next func(j int)
			next = func(j int) {
				rv := res[j]
				if rv.left == 0 {
					g.Forfeit(&rv.r)
					return
				}
				rv.left--
				a := g.AcquireReserved(&rv.r)
				g.WriteBlock(a, uint8(block.TypeValue), body(round*100+j*10+int(rv.left), 500+j), func() { next(j) })
			}
			for j := range jobs {
				next(j)
			}
			drain(st)
			// Release some of what this round wrote, in op order.
			for a := uint64(1); a <= g.FreeSet().HighestAcquired(); a += 5 {
				if g.FreeSet().IsAcquired(a) && !g.FreeSet().IsReleased(a) && !slices.Contains(g.freeSetBlocks, a) {
					g.Release(a)
				}
			}
			var refs [2]storage.TrailerRef
			g.CheckpointFreeSet(func(a, r storage.TrailerRef) { refs = [2]storage.TrailerRef{a, r} })
			drain(st)
			g.CheckpointWritten()
			g.CheckpointDurable()
			if round == 2 {
				return bytes.Clone(st.Bytes(rio.ZoneGrid)), refs
			}
		}
		panic("unreachable")
	}
	a, ra := run((*storagetest.MemStorage).RunFIFO)
	b, rb := run((*storagetest.MemStorage).RunLIFO)
	if ra != rb {
		t.Fatalf("checkpoint trailers differ: %+v vs %+v", ra, rb)
	}
	if !bytes.Equal(a, b) {
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("grids differ first at byte %d (block %d)", i, uint64(i)/storage.SimulatorBlockSize+1)
			}
		}
	}
	if bytes.Equal(a, make([]byte, len(a))) {
		t.Fatal("nothing was written")
	}
}

// Each checkpoint's free-set trailers replace the previous ones, which are
// freed when the new checkpoint is durable: an idle grid holds two trailer
// blocks, four while a checkpoint is not yet durable, however many
// checkpoints pass.
func TestCheckpointsDoNotLeakTrailerBlocks(t *testing.T) {
	g, st := newSimGrid(64)
	for n := range 20 {
		checkpoint(t, g, st, st.RunFIFO)
		if got, want := g.FreeSet().AcquiredCount(), uint64(min(n, 1)*2+2); got != want {
			t.Fatalf("checkpoint %d written: %d blocks acquired, want %d", n+1, got, want)
		}
		g.CheckpointDurable()
		if got := g.FreeSet().AcquiredCount(); got != 2 {
			t.Fatalf("checkpoint %d durable: %d blocks acquired, want 2", n+1, got)
		}
	}
	if g.FreeSet().HighestAcquired() > 4 {
		t.Fatalf("trailers wander to block %d: freed blocks are not reused", g.FreeSet().HighestAcquired())
	}
}
