package disk

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"viewstamp/replica/io"
	"viewstamp/replica/vsr"
	"viewstamp/sim/sched"
)

// hostile returns a disk with the given faults, placed as replica 0 of a
// one-in-three atlas that puts every chunk it can on replica 0.
func hostile(f Faults) (*Disk, *sched.Scheduler) {
	d, s := newDisk(fixed, 7)
	o := fixed
	o.Faults = &f
	d.SetOptions(o)
	chunks := AtlasChunks{io.ZoneWALHeaders: sector, io.ZoneWALPrepares: 16 * 4096, io.ZoneClientReplies: 4096, io.ZoneGrid: 4096}
	d.SetAtlas(0, everywhere(chunks), 4096, rand.New(rand.NewPCG(1, 2)))
	return d, s
}

// everywhere is an atlas in which replica 0 may be faulty in every chunk
// (a test fixture: a real atlas never allows that).
func everywhere(chunks AtlasChunks) *Atlas {
	return &Atlas{replicas: 1, faulty: 1, perm: []int{0}, chunk: chunks}
}

func readNow(t *testing.T, d *Disk, s *sched.Scheduler, z io.Zone, off uint64, n int) []byte {
	t.Helper()
	buf := make([]byte, n)
	done := false
	d.Read(z, off, buf, func() { done = true })
	s.RunUntil(s.Now() + 1<<30)
	if !done {
		t.Fatal("read did not complete")
	}
	return buf
}

func writeNow(t *testing.T, d *Disk, s *sched.Scheduler, z io.Zone, off uint64, data []byte) {
	t.Helper()
	done := false
	d.Write(z, off, data, func() { done = true })
	s.RunUntil(s.Now() + 1<<30)
	if !done {
		t.Fatal("write did not complete")
	}
}

// A latent sector error reads back the same corruption on every retry, and
// goes once the sector is rewritten; Peek (the checkers' view) never sees it.
func TestLatentSectorError(t *testing.T) {
	d, s := hostile(Faults{Latent: 1})
	data := fill(sector, 0xAB)
	writeNow(t, d, s, io.ZoneGrid, 0, data)
	first := readNow(t, d, s, io.ZoneGrid, 0, sector)
	if bytes.Equal(first, data) {
		t.Fatal("latent error not injected")
	}
	if diff := bitsDiffer(first, data); diff != 1 {
		t.Fatalf("%d bits differ, want 1", diff)
	}
	d.opts.Faults.Latent = 0
	if again := readNow(t, d, s, io.ZoneGrid, 0, sector); !bytes.Equal(again, first) {
		t.Fatal("retry saw other bits")
	}
	peek := make([]byte, sector)
	d.Peek(io.ZoneGrid, 0, peek)
	if !bytes.Equal(peek, data) {
		t.Fatal("Peek sees the fault")
	}
	writeNow(t, d, s, io.ZoneGrid, 0, data)
	if got := readNow(t, d, s, io.ZoneGrid, 0, sector); !bytes.Equal(got, data) {
		t.Fatal("rewrite did not clear the fault")
	}
	if d.FaultStats().Latent != 1 {
		t.Fatalf("stats %+v", d.FaultStats())
	}
}

func bitsDiffer(a, b []byte) int {
	n := 0
	for i := range a {
		for x := a[i] ^ b[i]; x != 0; x &= x - 1 {
			n++
		}
	}
	return n
}

// A misdirected write leaves its target with the old bytes and shows up at
// another offset; the durable contents are what was meant.
func TestMisdirectedWrite(t *testing.T) {
	d, s := hostile(Faults{})
	old, data := fill(4096, 1), fill(4096, 2)
	writeNow(t, d, s, io.ZoneGrid, 8*4096, old)
	d.opts.Faults.MisdirectWrite = 1
	writeNow(t, d, s, io.ZoneGrid, 8*4096, data)
	if got := readNow(t, d, s, io.ZoneGrid, 8*4096, 4096); !bytes.Equal(got, old) {
		t.Fatal("target does not keep its old bytes")
	}
	if d.FaultStats().MisdirectedWrite != 1 {
		t.Fatalf("stats %+v", d.FaultStats())
	}
	found := false
	for at := range d.fs.overlay {
		if at.zone == io.ZoneGrid && at.sector != 8*4096/sector {
			// Any other sector holding the data will do: OR, for the
			// map's order is random and other overlays may come later.
			found = found || bytes.Equal(d.fs.overlay[at], data[:sector])
		}
	}
	if !found {
		t.Fatal("the write landed nowhere")
	}
	peek := make([]byte, 4096)
	d.Peek(io.ZoneGrid, 8*4096, peek)
	if !bytes.Equal(peek, data) {
		t.Fatal("durable contents are not the intended write")
	}
}

// A write torn at a crash lands partly: its first units new, the rest old.
func TestTearWithin(t *testing.T) {
	d, s := hostile(Faults{TearWithin: true})
	o := d.opts
	o.CrashFaultProbability = 1
	d.SetOptions(o)
	old, data := fill(4096, 1), fill(4096, 2)
	writeNow(t, d, s, io.ZoneWALPrepares, 0, old)
	d.Write(io.ZoneWALPrepares, 0, data, nil)
	d.Crash()
	got := readNow(t, d, s, io.ZoneWALPrepares, 0, 4096)
	cut := bytes.IndexByte(got, 1)
	if cut <= 0 || cut%tearUnit != 0 || !bytes.Equal(got[:cut], data[:cut]) || !bytes.Equal(got[cut:], old[cut:]) {
		t.Fatalf("torn write not partly new, partly old: new up to %d", cut)
	}
}

// A write torn at a crash over a sector with a latent error leaves that
// error durable (the old bytes, as a read saw them, stay where the write did
// not reach): Peek shows the damage, PeekIntact the bytes without it (the
// write's landed part over what the disk held), and a later write ends both.
func TestTornWriteOverALatentError(t *testing.T) {
	d, s := hostile(Faults{TearWithin: true})
	o := d.opts
	o.CrashFaultProbability = 1
	d.SetOptions(o)
	const n = 4 * 4096
	data := fill(n, 3)
	writeNow(t, d, s, io.ZoneGrid, 0, data)
	for at := uint64(0); at < n; at += sector {
		d.markFaulty(io.ZoneGrid, at) // every sector reads back corrupt
	}
	d.Write(io.ZoneGrid, 0, data, nil) // the same bytes again: a repair
	d.Crash()
	got := make([]byte, n)
	if d.Peek(io.ZoneGrid, 0, got); bytes.Equal(got, data) {
		t.Fatal("the tear left no durable damage")
	}
	if d.PeekIntact(io.ZoneGrid, 0, got); !bytes.Equal(got, data) {
		t.Fatal("PeekIntact does not undo the damage the tear left")
	}
	part := make([]byte, 100) // an unaligned window
	if d.PeekIntact(io.ZoneGrid, 4000, part); !bytes.Equal(part, data[4000:4100]) {
		t.Fatal("an unaligned PeekIntact differs")
	}
	next := fill(n, 4)
	writeNow(t, d, s, io.ZoneGrid, 0, next)
	if d.PeekIntact(io.ZoneGrid, 0, got); !bytes.Equal(got, next) {
		t.Fatal("PeekIntact undoes damage a rewrite already replaced")
	}
}

// A fault on a sector whose durable bytes already carry a fault's flip (a
// tear made it durable) never reads as the intact bytes: flipping the same
// bit back would have a replica read its torn prepare as whole (seed
// 8850072 --storage-faults: it acknowledged it).
func TestFaultNeverUndoesDurableDamage(t *testing.T) {
	d, s := hostile(Faults{TearWithin: true})
	o := d.opts
	o.CrashFaultProbability = 1
	d.SetOptions(o)
	const n = 4 * sector
	data := fill(n, 6)
	writeNow(t, d, s, io.ZoneWALPrepares, 0, data)
	for at := uint64(0); at < n; at += sector {
		d.markFaulty(io.ZoneWALPrepares, at)
	}
	d.Write(io.ZoneWALPrepares, 0, data, nil)
	d.Crash() // the flips past the cut are now durable
	for at := uint64(0); at < n; at += sector {
		d.markFaulty(io.ZoneWALPrepares, at) // bit rot on the damaged sectors
	}
	got := readNow(t, d, s, io.ZoneWALPrepares, 0, n)
	intact := make([]byte, n)
	d.PeekIntact(io.ZoneWALPrepares, 0, intact)
	if !bytes.Equal(intact, data) {
		t.Fatal("PeekIntact is not the write")
	}
	for at := uint64(0); at < n; at += sector {
		damaged := d.Differs(io.ZoneWALPrepares, at, sector)
		if bytes.Equal(got[at:at+sector], data[at:at+sector]) {
			t.Fatalf("sector %d: faulty twice, it reads as the intact bytes", at/sector)
		}
		if !damaged {
			t.Fatalf("sector %d reads damaged but Differs says not", at/sector)
		}
	}
}

// A block torn at two crashes in a row (a repair rewritten, torn each time)
// reads through PeekIntact as the replica wrote it: the second tear's
// undamaged bytes are what the sector held intact, not the first tear's
// damage it found durable (seed 8801478 --storage-faults: the storage
// checker saw block 48 differ). Both ways a write tears: within (the old
// bytes, a latent error made durable, past the cut) and whole-sector garbage
// (one sector written, so both tears land on it).
func TestTornTwiceReadsIntact(t *testing.T) {
	for _, within := range []bool{true, false} {
		d, s := hostile(Faults{TearWithin: within})
		o := d.opts
		o.CrashFaultProbability = 1
		d.SetOptions(o)
		n := uint64(sector)
		if within {
			n = 4 * sector // a tear within never lands the whole write
		}
		data := fill(int(n), 5)
		writeNow(t, d, s, io.ZoneGrid, 0, data)
		for tear := range 2 {
			for at := uint64(0); at < n; at += sector {
				d.markFaulty(io.ZoneGrid, at) // a tear within makes it durable
			}
			d.Write(io.ZoneGrid, 0, data, nil)
			d.Crash()
			got := make([]byte, n)
			if d.Peek(io.ZoneGrid, 0, got); bytes.Equal(got, data) {
				t.Fatalf("within %v, tear %d: the tear left no durable damage", within, tear)
			}
			if d.PeekIntact(io.ZoneGrid, 0, got); !bytes.Equal(got, data) {
				t.Fatalf("within %v, tear %d: PeekIntact keeps an earlier tear's damage", within, tear)
			}
			if !d.Differs(io.ZoneGrid, 0, n) {
				t.Fatalf("within %v, tear %d: Differs misses the damage at rest", within, tear)
			}
		}
	}
}

// The WAL never loses both copies of a slot on one replica: with its
// header-ring sector damaged, the prepares it covers take no fault.
func TestWALCopiesNeverBothDamaged(t *testing.T) {
	d, s := hostile(Faults{})
	writeNow(t, d, s, io.ZoneWALHeaders, 0, fill(sector, 3))
	writeNow(t, d, s, io.ZoneWALPrepares, 0, fill(4096, 4))
	d.markFaulty(io.ZoneWALHeaders, 0)
	d.opts.Faults.Write = 1
	writeNow(t, d, s, io.ZoneWALPrepares, 4096, fill(4096, 5))
	if d.FaultStats().Write != 0 {
		t.Fatal("a prepare beside a damaged header sector was faulted")
	}
	writeNow(t, d, s, io.ZoneWALPrepares, 16*4096, fill(4096, 5))
	if d.FaultStats().Write != 1 {
		t.Fatal("a prepare of another chunk was not faulted")
	}
}

// The atlas: each chunk has at most quorum-1 faulty replicas, and no
// replica is faulty in every chunk of a zone.
func TestAtlasRule(t *testing.T) {
	chunks := AtlasChunks{io.ZoneWALHeaders: 4096, io.ZoneWALPrepares: 16 * 4096, io.ZoneClientReplies: 4096, io.ZoneGrid: 4096}
	counts := map[io.Zone]uint64{io.ZoneWALHeaders: 2, io.ZoneWALPrepares: 2, io.ZoneClientReplies: 7, io.ZoneGrid: 100}
	for replicas := 1; replicas <= 6; replicas++ {
		q := (replicas + 1) / 2
		if replicas == 2 {
			q = 2
		}
		q = min(q, 3)
		for seed := uint64(0); seed < 20; seed++ {
			a := NewAtlas(rand.New(rand.NewPCG(seed, 1)), replicas, q, chunks)
			for z, n := range counts {
				if z == io.ZoneGrid && replicas < gridFaultReplicasMin {
					for r := 0; r < replicas; r++ {
						if a.Eligible(r, z, 0) {
							t.Fatalf("grid faults with %d replicas", replicas)
						}
					}
					continue
				}
				every := make([]int, replicas)
				for k := uint64(0); k < n; k++ {
					faulty := 0
					for r := 0; r < replicas; r++ {
						if a.Eligible(r, z, k*chunks[z]) {
							faulty++
							every[r]++
						}
					}
					if faulty != q-1 {
						t.Fatalf("R=%d seed %d zone %v chunk %d: %d faulty replicas, want %d", replicas, seed, z, k, faulty, q-1)
					}
				}
				for r, c := range every {
					if uint64(c) == n && n > 1 {
						t.Fatalf("R=%d seed %d zone %v: replica %d faulty in every chunk", replicas, seed, z, r)
					}
				}
			}
			for k := uint64(0); k < 2; k++ {
				for r := 0; r < replicas; r++ {
					if a.Eligible(r, io.ZoneWALHeaders, k*4096) != a.Eligible(r, io.ZoneWALPrepares, k*16*4096) {
						t.Fatalf("R=%d: WAL chunk %d differs between its rings", replicas, k)
					}
				}
			}
		}
	}
}

// An atlas with a replica that may be reformatted counts it faulty in every
// chunk and keeps the budget: quorum-1 faulty replicas per chunk in all,
// the others in windows of quorum-2, none of them faulty everywhere.
func TestAtlasReformattedReplica(t *testing.T) {
	chunks := AtlasChunks{io.ZoneWALHeaders: 4096, io.ZoneWALPrepares: 16 * 4096, io.ZoneClientReplies: 4096, io.ZoneGrid: 4096}
	for replicas, q := range map[int]int{3: 2, 4: 2, 5: 3, 6: 3} {
		for seed := uint64(0); seed < 20; seed++ {
			a := NewAtlas(rand.New(rand.NewPCG(seed, 1)), replicas, q, chunks)
			d := int(seed) % replicas
			a.Reformatted(d)
			every := make([]int, replicas)
			const n = 50
			for k := uint64(0); k < n; k++ {
				faulty := 0
				for r := 0; r < replicas; r++ {
					if a.Eligible(r, io.ZoneGrid, k*4096) {
						faulty++
						every[r]++
					}
				}
				if faulty != q-1 || !a.Eligible(d, io.ZoneGrid, k*4096) {
					t.Fatalf("R=%d seed %d chunk %d: %d faulty (replica %d among them: %v), want %d with it", replicas, seed, k, faulty, d, a.Eligible(d, io.ZoneGrid, k*4096), q-1)
				}
			}
			for r, c := range every {
				if r != d && c == n {
					t.Fatalf("R=%d seed %d: replica %d faulty in every chunk", replicas, seed, r)
				}
			}
		}
	}
}

// The superblock takes at most one damaged copy at a time: with copy 0
// damaged, writes of the others take no fault, and once copy 0 is rewritten
// whole a copy may be faulted again.
func TestSuperblockOneDamagedCopy(t *testing.T) {
	d, s := hostile(Faults{})
	const copySize = 4096
	for c := uint64(0); c < 4; c++ {
		writeNow(t, d, s, io.ZoneSuperblock, c*copySize, fill(copySize, byte(c+1)))
	}
	d.markFaulty(io.ZoneSuperblock, 0)
	d.opts.Faults.Superblock = 1
	for c := uint64(1); c < 4; c++ {
		writeNow(t, d, s, io.ZoneSuperblock, c*copySize, fill(copySize, 9))
	}
	if n := d.FaultStats().Superblock; n != 0 {
		t.Fatalf("%d superblock faults beside a damaged copy", n)
	}
	writeNow(t, d, s, io.ZoneSuperblock, 0, fill(copySize, 9)) // clears copy 0, may fault it
	writeNow(t, d, s, io.ZoneSuperblock, copySize, fill(copySize, 9))
	if n := d.FaultStats().Superblock; n == 0 {
		t.Fatal("no superblock fault once every copy was whole")
	}
	damaged := 0
	for c := uint64(0); c < 4; c++ {
		if d.sbDamaged(c) {
			damaged++
		}
	}
	if damaged > 2 { // a misdirected copy damages its target and where it lands
		t.Fatalf("%d copies damaged", damaged)
	}
}

// No misdirected write lands in the superblock or leaves it: landing
// mid-zone, one would span two copies besides the one it missed (seed
// 9900895 --storage-faults opened one copy of four).
func TestSuperblockOutsideMisdirectedWrites(t *testing.T) {
	d, s := hostile(Faults{MisdirectWrite: 1, MisdirectCrossZone: 1})
	const copySize = 4096
	for i := range 200 {
		writeNow(t, d, s, io.ZoneGrid, uint64(i%16)*4096, fill(4096, byte(i)))
		c := uint64(i % 4)
		data := fill(copySize, byte(i))
		writeNow(t, d, s, io.ZoneSuperblock, c*copySize, data)
		if got := readNow(t, d, s, io.ZoneSuperblock, c*copySize, copySize); !bytes.Equal(got, data) {
			t.Fatalf("write %d: superblock copy %d did not land", i, c)
		}
	}
	if d.FaultStats().MisdirectedWrite == 0 {
		t.Fatal("no write was misdirected at all")
	}
	for c := uint64(0); c < 4; c++ {
		if d.sbDamaged(c) {
			t.Fatalf("copy %d damaged", c)
		}
	}
}

// A copy torn at a crash counts against the superblock's budget, and the
// process reopening sees at most one misdirected superblock read: with both,
// open could find only one copy intact (seed 231 --storage-faults-grid).
func TestSuperblockTornCopyAndMisreadsBudget(t *testing.T) {
	d, s := hostile(Faults{})
	const copySize = 4096
	for c := uint64(0); c < 4; c++ {
		writeNow(t, d, s, io.ZoneSuperblock, c*copySize, fill(copySize, byte(c+1)))
	}
	o := d.opts
	o.CrashFaultProbability = 1
	d.SetOptions(o)
	d.Write(io.ZoneSuperblock, 0, fill(copySize, 9), func() {})
	d.Crash()
	if !d.sbDamaged(0) {
		t.Fatal("the torn copy does not count as damaged")
	}
	d.opts.Faults.MisdirectRead = 1
	for c := uint64(1); c < 4; c++ {
		if got := readNow(t, d, s, io.ZoneSuperblock, c*copySize, copySize); !bytes.Equal(got, fill(copySize, byte(c+1))) {
			t.Fatalf("copy %d misread beside a torn copy", c)
		}
	}
	writeNow(t, d, s, io.ZoneSuperblock, 0, fill(copySize, 1))
	d.Crash()
	misread := 0
	for c := uint64(0); c < 4; c++ {
		if got := readNow(t, d, s, io.ZoneSuperblock, c*copySize, copySize); !bytes.Equal(got, fill(copySize, byte(c+1))) {
			misread++
		}
	}
	if misread != 1 {
		t.Fatalf("%d of 4 copies misread in one process, want 1", misread)
	}
}

// Differs sees what a read would: a latent error until the sector is
// rewritten, and an overlay only where its bytes are not what was written.
func TestDiffersSeesDamageAtRest(t *testing.T) {
	d, s := hostile(Faults{Latent: 1})
	data := fill(2*sector, 0xAB)
	writeNow(t, d, s, io.ZoneGrid, 0, data)
	if d.Differs(io.ZoneGrid, 0, 2*sector) {
		t.Fatal("damage before any read")
	}
	readNow(t, d, s, io.ZoneGrid, 0, 2*sector)
	if !d.Differs(io.ZoneGrid, 0, 2*sector) {
		t.Fatal("a latent error is not seen")
	}
	d.opts.Faults.Latent = 0
	writeNow(t, d, s, io.ZoneGrid, 0, data)
	if d.Differs(io.ZoneGrid, 0, 2*sector) {
		t.Fatal("a rewritten sector still differs")
	}
	// An overlay holding the bytes last written is no damage.
	d.fs.overlay[sectorKey{io.ZoneGrid, 1}] = fill(sector, 0xAB)
	if d.Differs(io.ZoneGrid, 0, 2*sector) {
		t.Fatal("an overlay equal to the contents differs")
	}
	d.fs.overlay[sectorKey{io.ZoneGrid, 1}] = fill(sector, 0xCD)
	if !d.Differs(io.ZoneGrid, 0, 2*sector) || d.Differs(io.ZoneGrid, 0, sector) {
		t.Fatal("an overlay of other bytes is not seen in its own sector only")
	}
	// A lost write keeps a faulty sector's flipped bytes in its overlay;
	// the sector's fault flipping them again reads as written (seed 1147
	// --storage-faults: the scrubber verified the block).
	flipped := fill(sector, 0xAB)
	flip(sectorKey{io.ZoneGrid, 1}, flipped)
	d.fs.overlay[sectorKey{io.ZoneGrid, 1}] = flipped
	if !d.Differs(io.ZoneGrid, 0, 2*sector) {
		t.Fatal("an overlay of flipped bytes is not seen")
	}
	d.markFaulty(io.ZoneGrid, sector)
	if got := readNow(t, d, s, io.ZoneGrid, sector, sector); !bytes.Equal(got, fill(sector, 0xAB)) {
		t.Fatal("the test's premise: a flip over a flipped overlay reads as written")
	}
	if d.Differs(io.ZoneGrid, 0, 2*sector) {
		t.Fatal("a sector that reads as written differs")
	}
}

// A crash with CrashHead damages both copies of the newest prepare's slot
// and nothing else: its prepare's first byte and its header-ring entry's
// first byte read flipped, the ring's other entries and older prepares
// intact, and the disk's durable contents (the checkers' view) unchanged.
func TestCrashHeadDamagesBothCopiesOfTheNewestSlot(t *testing.T) {
	d, s := crashHeadDisk(Faults{CrashHead: 1})
	ring := fill(2*sector, 3)
	writeNow(t, d, s, io.ZoneWALHeaders, 0, ring)
	writeNow(t, d, s, io.ZoneWALPrepares, 2*4096, fill(4096, 4))
	writeNow(t, d, s, io.ZoneWALPrepares, 3*4096, fill(4096, 5))
	d.Crash()
	if d.FaultStats().CrashHead != 1 {
		t.Fatalf("crash head faults %d, want 1", d.FaultStats().CrashHead)
	}
	got := readNow(t, d, s, io.ZoneWALHeaders, 0, 2*sector)
	for i := range got {
		want := ring[i]
		if i == 3*walEntrySize {
			want ^= 1
		}
		if got[i] != want {
			t.Fatalf("ring byte %d reads %#x, want %#x", i, got[i], want)
		}
	}
	if p := readNow(t, d, s, io.ZoneWALPrepares, 3*4096, 4096); p[0] != fill(1, 5)[0]^1 || !bytes.Equal(p[1:], fill(4096, 5)[1:]) {
		t.Fatal("the newest prepare does not read with its first bit flipped")
	}
	if p := readNow(t, d, s, io.ZoneWALPrepares, 2*4096, 4096); !bytes.Equal(p, fill(4096, 4)) {
		t.Fatal("an older prepare was damaged")
	}
	peek := make([]byte, 2*sector)
	d.Peek(io.ZoneWALHeaders, 0, peek)
	if !bytes.Equal(peek, ring) {
		t.Fatal("the durable ring changed")
	}
}

// CrashHead never pairs with a misdirection: a prepare whose write was lost
// (its slot reads old bytes) takes no crash damage.
func TestCrashHeadSparesAMisdirectedSlot(t *testing.T) {
	d, s := crashHeadDisk(Faults{})
	writeNow(t, d, s, io.ZoneWALHeaders, 0, fill(2*sector, 3))
	d.opts.Faults.MisdirectWrite = 1
	writeNow(t, d, s, io.ZoneWALPrepares, 3*4096, fill(4096, 5))
	if d.FaultStats().MisdirectedWrite != 1 {
		t.Fatal("the prepare write was not misdirected")
	}
	d.opts.Faults.MisdirectWrite, d.opts.Faults.CrashHead = 0, 1
	d.Crash()
	if d.FaultStats().CrashHead != 0 {
		t.Fatal("a misdirected slot took crash damage")
	}
}

// walEntrySize is the protocol's header size: CrashHead must hit exactly
// one slot's ring entry.
func TestWALEntrySize(t *testing.T) {
	if walEntrySize != vsr.HeaderSize {
		t.Fatalf("walEntrySize %d, vsr.HeaderSize %d", walEntrySize, vsr.HeaderSize)
	}
}

// crashHeadDisk is hostile with WAL chunks of the layout's proportions: a
// ring sector of two entries beside two 4 KiB prepare slots.
func crashHeadDisk(f Faults) (*Disk, *sched.Scheduler) {
	d, s := hostile(f)
	chunks := AtlasChunks{io.ZoneWALHeaders: sector, io.ZoneWALPrepares: 2 * 4096, io.ZoneClientReplies: 4096, io.ZoneGrid: 4096}
	d.SetAtlas(0, everywhere(chunks), 4096, rand.New(rand.NewPCG(1, 2)))
	return d, s
}
