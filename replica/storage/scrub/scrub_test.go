package scrub

import (
	"bytes"
	"slices"
	"testing"

	rio "viewstamp/replica/io"
	"viewstamp/replica/storage"
	"viewstamp/replica/storage/block"
	"viewstamp/replica/storage/grid"
	"viewstamp/replica/storage/storagetest"
	"viewstamp/replica/u128"
)

var testCluster = u128.U128{Lo: 7, Hi: 9}

// world is a grid over memory storage whose IO completes latency ticks
// after it was issued, like a disk, so that a test can count ticks.
type world struct {
	t       *testing.T
	g       *grid.Grid
	st      *storagetest.MemStorage
	layout  storage.Layout
	latency uint64
	now     uint64
	issued  map[*storagetest.IO]uint64
}

func newWorld(t *testing.T, blocks, latency uint64) *world {
	c := storage.SimulatorConfig()
	c.GridBlockCount = blocks
	l := storage.MustLayout(c)
	st := storagetest.New(l.SectorSize, l.ZoneSizes())
	return &world{t: t, g: grid.New(st, l, testCluster), st: st, layout: l, latency: latency, issued: map[*storagetest.IO]uint64{}}
}

// step advances one tick: the scrubber ticks, then IO due by now lands.
func (w *world) step(s *Scrubber) {
	w.now++
	s.Tick()
	w.completeDue()
}

func (w *world) completeDue() {
	for {
		landed := false
		for i, io := range w.st.Pending() {
			at, ok := w.issued[io]
			if !ok {
				w.issued[io] = w.now
				at = w.now
			}
			if w.now >= at+w.latency {
				delete(w.issued, io)
				w.st.Complete(i)
				landed = true
				break
			}
		}
		if !landed {
			return
		}
	}
}

// tables writes n "tables": an index-like root block whose body lists the
// refs of its value blocks (children), each with per children, plus one
// trailer chain of chain blocks. It returns the roots and every block.
func (w *world) populate(n, per, chain int) (roots, all []block.Ref) {
	for i := range n {
		var body []byte
		for j := range per {
			a := w.g.Acquire()
			sum := w.g.WriteBlock(a, uint8(block.TypeValue), bytes.Repeat([]byte{byte(i), byte(j)}, 300), func() {})
			ref := block.Ref{Address: a, Checksum: sum}
			all = append(all, ref)
			body = appendRef(body, ref)
		}
		a := w.g.Acquire()
		ref := block.Ref{Address: a, Checksum: w.g.WriteBlock(a, uint8(block.TypeIndex), body, func() {})}
		roots, all = append(roots, ref), append(all, ref)
	}
	if chain > 0 {
		var last block.Ref
		data := bytes.Repeat([]byte{0xab}, chain*w.g.BlockBodyMax())
		w.g.WriteTrailer(block.TypeClientSessions, data, func(tr grid.Trailer) {
			last = tr.Ref.Last
			// A trailer links back, so the scrubber learns of its blocks by
			// reading them; list them here for the test's own accounting.
			for _, a := range tr.Addresses {
				all = append(all, block.Ref{Address: a})
			}
		})
		w.st.RunFIFO()
		roots = append(roots, last)
	}
	w.st.RunFIFO()
	return roots, all
}

func appendRef(b []byte, ref block.Ref) []byte {
	var buf [24]byte
	for i := range 8 {
		buf[i] = byte(ref.Address >> (8 * i))
	}
	ref.Checksum.Put(buf[8:])
	return append(b, buf[:]...)
}

// children decodes populate's index blocks and follows trailer links.
func children(out []block.Ref, blk []byte) []block.Ref {
	if block.DecodeHeader(blk).Type != block.TypeIndex {
		return AppendTrailerChildren(out, blk)
	}
	body := block.Body(blk)
	for o := 0; o+24 <= len(body); o += 24 {
		var a uint64
		for i := range 8 {
			a |= uint64(body[o+i]) << (8 * i)
		}
		out = append(out, block.Ref{Address: a, Checksum: u128.Get(body[o+8:])})
	}
	return out
}

// recorder counts reads by address and the most in flight at once.
type recorder struct {
	Grid
	reads       map[uint64]int
	inFlight    int
	inFlightMax int
}

func (r *recorder) ReadBlockLocal(ref block.Ref, done func([]byte, bool)) {
	r.reads[ref.Address]++
	r.inFlight++
	r.inFlightMax = max(r.inFlightMax, r.inFlight)
	r.Grid.ReadBlockLocal(ref, func(b []byte, ok bool) { r.inFlight--; done(b, ok) })
}

func newRecorder(g *grid.Grid) *recorder { return &recorder{Grid: GridOf(g), reads: map[uint64]int{}} }

// corrupt overwrites a block with garbage through the storage, as a latent
// sector error or a misdirected write would leave it.
func (w *world) corrupt(address uint64) {
	garbage := bytes.Repeat([]byte{0x5a}, int(w.layout.BlockSize))
	w.st.Write(rio.ZoneGrid, w.layout.BlockOffset(address), garbage, func() {})
	w.st.RunFIFO()
}

func TestCleanGridYieldsNoFaults(t *testing.T) {
	w := newWorld(t, 256, 3)
	roots, all := w.populate(10, 4, 2)
	var faults []block.Ref
	s := New(Config{CycleTicks: 400, ReadsMax: 2}, GridOf(w.g), children, func(r block.Ref) { faults = append(faults, r) })
	s.Start(roots, uint64(len(all)))
	for range 400 * 3 {
		w.step(s)
	}
	st := s.Stats()
	if len(faults) != 0 || st.Faults != 0 {
		t.Fatalf("clean grid: faults %v, stats %+v", faults, st)
	}
	if st.Cycles != 3 || st.Scrubbed != 3*uint64(len(all)) || st.Overruns != 0 {
		t.Fatalf("3 cycles in, %d blocks each: stats %+v", len(all), st)
	}
}

func TestCorruptBlockFoundWithinOneCycleAndRepaired(t *testing.T) {
	const cycle = 400
	w := newWorld(t, 256, 3)
	roots, all := w.populate(10, 4, 2)
	// The peer's grid holds the same blocks: writes are deterministic.
	peer := newWorld(t, 256, 3)
	if peerRoots, _ := peer.populate(10, 4, 2); !slices.Equal(peerRoots, roots) {
		t.Fatal("the peer's grid differs")
	}
	victims := []block.Ref{all[5], roots[3], roots[len(roots)-1]} // a value block, an index block, a trailer's last
	for _, v := range victims {
		w.corrupt(v.Address)
	}
	var faults []block.Ref
	s := New(Config{CycleTicks: cycle, ReadsMax: 2}, GridOf(w.g), children, func(r block.Ref) { faults = append(faults, r) })
	s.Start(roots, uint64(len(all)))
	for range cycle {
		w.step(s)
	}
	slices.SortFunc(faults, func(a, b block.Ref) int { return int(a.Address) - int(b.Address) })
	slices.SortFunc(victims, func(a, b block.Ref) int { return int(a.Address) - int(b.Address) })
	if !slices.Equal(faults, victims) {
		t.Fatalf("one cycle found %v, want %v", faults, victims)
	}
	// Repair as the replica does: the peer serves its copy from a local
	// read, the grid writes it if it is the block the reference names.
	for _, ref := range faults {
		var blk []byte
		peer.g.ReadBlockLocal(ref, func(b []byte, ok bool) {
			if !ok {
				t.Fatalf("peer lacks %v", ref)
			}
			blk = b
		})
		peer.st.RunFIFO()
		if bad := slices.Clone(blk); true {
			bad[block.HeaderSize] ^= 1
			if w.g.WriteRepaired(ref, bad, func() {}) {
				t.Fatal("a damaged copy was accepted as a repair")
			}
		}
		if !w.g.WriteRepaired(ref, blk, func() {}) {
			t.Fatalf("repair of %v refused", ref)
		}
	}
	w.st.RunFIFO()
	faults = nil
	before := s.Stats()
	for range 2 * cycle {
		w.step(s)
	}
	after := s.Stats()
	if len(faults) != 0 {
		t.Fatalf("after repair the scrubber still finds %v", faults)
	}
	// The repaired tree is whole again: its children (the index block's
	// value blocks, the trailer's first block) are visited too.
	if got := after.Scrubbed - before.Scrubbed; got < uint64(len(all)) {
		t.Fatalf("a cycle after repair scrubbed %d blocks of %d", got, len(all))
	}
	for _, v := range victims {
		var ok bool
		w.g.ReadBlockLocal(v, func(_ []byte, o bool) { ok = o })
		w.st.RunFIFO()
		if !ok {
			t.Fatalf("block %d still damaged on disk", v.Address)
		}
	}
}

// Every block of the tour is read within one cycle, reads never exceed the
// bound in flight, and the next cycle starts on time, even when the disk is
// slow and the estimate is only the roots.
func TestCycleIsBounded(t *testing.T) {
	const cycle, readsMax = 1000, 3
	for _, c := range []struct {
		name     string
		latency  uint64
		estimate func(all int) uint64
	}{
		{"exact estimate", 4, func(all int) uint64 { return uint64(all) }},
		{"slow disk", 9, func(all int) uint64 { return uint64(all) }},
		{"estimate too low", 4, func(int) uint64 { return 1 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, 512, c.latency)
			roots, all := w.populate(30, 6, 3)
			rec := newRecorder(w.g)
			s := New(Config{CycleTicks: cycle, ReadsMax: readsMax}, rec, children, func(r block.Ref) { t.Fatalf("fault %v", r) })
			s.Start(roots, c.estimate(len(all)))
			for range cycle - 1 {
				w.step(s)
			}
			for _, ref := range all {
				if rec.reads[ref.Address] != 1 {
					t.Fatalf("block %d read %d times in the cycle", ref.Address, rec.reads[ref.Address])
				}
			}
			if len(rec.reads) != len(all) || rec.inFlightMax > readsMax {
				t.Fatalf("%d blocks read of %d; %d in flight at most", len(rec.reads), len(all), rec.inFlightMax)
			}
			w.step(s)
			w.step(s)
			if st := s.Stats(); st.Cycles != 1 || st.Overruns != 0 {
				t.Fatalf("stats %+v at the cycle's end", st)
			}
		})
	}
}

// The pace spreads a cycle's reads instead of reading everything at once.
func TestReadsArePaced(t *testing.T) {
	w := newWorld(t, 512, 1)
	roots, all := w.populate(40, 0, 0)
	rec := newRecorder(w.g)
	s := New(Config{CycleTicks: 800, ReadsMax: 8}, rec, children, func(block.Ref) {})
	s.Start(roots, uint64(len(all)))
	for range 100 {
		w.step(s)
	}
	// 40 blocks over the first 400 ticks: 10 by tick 100.
	if n := len(rec.reads); n < 9 || n > 11 {
		t.Fatalf("%d of %d blocks read by tick 100 of 800", n, len(all))
	}
}

func TestSkipsReleasedAndBeingWritten(t *testing.T) {
	w := newWorld(t, 256, 2)
	roots, all := w.populate(6, 2, 0)
	released := roots[1]
	w.g.Release(released.Address)
	// A repair write in flight for another table's index block.
	var blk []byte
	w.g.ReadBlockLocal(roots[4], func(b []byte, _ bool) { blk = b })
	w.st.RunFIFO()
	if !w.g.WriteRepaired(roots[4], blk, func() {}) {
		t.Fatal("repair refused")
	}
	rec := newRecorder(w.g)
	s := New(Config{CycleTicks: 100, ReadsMax: 2}, rec, children, func(r block.Ref) { t.Fatalf("fault %v", r) })
	s.Start(roots, uint64(len(all)))
	for range 90 {
		s.Tick()
		// Hold the repair write in flight; complete every read.
		for i := 0; i < len(w.st.Pending()); {
			if w.st.Pending()[i].Write {
				i++
				continue
			}
			w.st.Complete(i)
		}
	}
	if rec.reads[released.Address] != 0 || rec.reads[roots[4].Address] != 0 {
		t.Fatalf("read a released block (%d times) or one being written (%d times)", rec.reads[released.Address], rec.reads[roots[4].Address])
	}
	// The skipped tables' value blocks are not reached either; the others are.
	if st := s.Stats(); st.Skipped != 2 || st.Scrubbed != uint64(len(all)-2*3) {
		t.Fatalf("stats %+v", st)
	}
}

// A new checkpoint restarts the tour: reads of the old one that land
// later, failed or not, are not reported or followed.
func TestStartAbandonsTheOldTour(t *testing.T) {
	w := newWorld(t, 256, 0)
	roots, all := w.populate(4, 2, 0)
	w.corrupt(roots[0].Address)
	var faults []block.Ref
	s := New(Config{CycleTicks: 100, ReadsMax: 2}, GridOf(w.g), children, func(r block.Ref) { faults = append(faults, r) })
	s.Start(roots, uint64(len(all)))
	for len(w.st.Pending()) == 0 {
		s.Tick()
	}
	s.Start(roots[2:], 4)
	w.st.RunFIFO()
	if len(faults) != 0 {
		t.Fatalf("a read of the abandoned tour reported %v", faults)
	}
	// The reads in flight still hold their slots.
	s.Tick()
	w.st.RunFIFO()
	for range 150 {
		s.Tick()
		w.st.RunFIFO()
	}
	if st := s.Stats(); st.Restarts != 1 || st.Faults != 0 || st.Cycles != 1 {
		t.Fatalf("stats %+v", st)
	}
	s.Stop()
	s.Tick()
	if len(w.st.Pending()) != 0 {
		t.Fatal("a stopped scrubber read")
	}
}

// Checkpoints come far more often than cycles end. Each re-roots the tour,
// yet the cycle still reads every block once: what this cycle verified is
// not read again, and the blocks below it are still reached.
func TestCheckpointsMoreFrequentThanCycles(t *testing.T) {
	const cycle, every = 600, 40
	w := newWorld(t, 512, 3)
	roots, all := w.populate(20, 5, 2)
	rec := newRecorder(w.g)
	s := New(Config{CycleTicks: cycle, ReadsMax: 2}, rec, children, func(r block.Ref) { t.Fatalf("fault %v", r) })
	s.Start(roots, uint64(len(all)))
	for tick := 1; tick < cycle; tick++ {
		if tick%every == 0 {
			// The next checkpoint: the same tables but the first, and a
			// new one in its place.
			s.Start(roots, uint64(len(all)))
		}
		w.step(s)
	}
	// A read in flight at a re-root may be issued again by the new tour
	// if it reaches the block before the read lands: at most ReadsMax per
	// checkpoint.
	reads := func() int {
		n := 0
		for _, ref := range all {
			if rec.reads[ref.Address] == 0 {
				t.Fatalf("block %d never read in the cycle", ref.Address)
			}
			n += rec.reads[ref.Address]
		}
		return n
	}
	extra := reads() - len(all)
	if restarts := int(s.Stats().Restarts); extra > 2*restarts {
		t.Fatalf("%d blocks read %d times in one cycle over %d checkpoints", len(all), len(all)+extra, restarts)
	}
	w.step(s)
	w.step(s)
	if st := s.Stats(); st.Cycles != 1 || st.Restarts == 0 {
		t.Fatalf("stats %+v", st)
	}
	// The next cycle reads everything again.
	clear(rec.reads)
	for range cycle {
		w.step(s)
	}
	if n := reads(); n != len(all) {
		t.Fatalf("the quiet cycle read %d blocks %d times", len(all), n)
	}
}

// A finished tour re-rooted at the owner's newer blocks reads those, and
// only those, within the same cycle: tables written after the checkpoint the
// tour was rooted at are scrubbed without waiting for another checkpoint.
func TestRerootReadsOnlyNewBlocks(t *testing.T) {
	const cycle = 400
	w := newWorld(t, 256, 3)
	roots, all := w.populate(4, 3, 0)
	rec := newRecorder(w.g)
	var faults []block.Ref
	s := New(Config{CycleTicks: cycle, ReadsMax: 2}, rec, children, func(r block.Ref) { faults = append(faults, r) })
	s.Start(roots, uint64(len(all)))
	for range cycle / 2 {
		w.step(s)
	}
	if !s.Done() || s.Reroot(roots, uint64(len(all))) {
		t.Fatalf("tour done %v; re-rooted at the same roots", s.Done())
	}
	newRoots, newAll := w.populate(2, 3, 0)
	w.corrupt(newAll[1].Address)
	if !s.Reroot(append(slices.Clone(roots), newRoots...), uint64(len(all)+len(newAll))) {
		t.Fatal("a finished tour was not re-rooted at new blocks")
	}
	for range cycle/2 - 1 {
		w.step(s)
	}
	if st := s.Stats(); st.Cycles != 0 || st.Reroots != 1 {
		t.Fatalf("stats %+v: want the same cycle, one re-root", st)
	}
	for _, ref := range all {
		if rec.reads[ref.Address] != 1 {
			t.Fatalf("old block %d read %d times in one cycle", ref.Address, rec.reads[ref.Address])
		}
	}
	for _, ref := range newAll {
		if rec.reads[ref.Address] != 1 {
			t.Fatalf("new block %d read %d times", ref.Address, rec.reads[ref.Address])
		}
	}
	if len(faults) != 1 || faults[0] != newAll[1] {
		t.Fatalf("faults %v, want %v", faults, newAll[1])
	}
}
