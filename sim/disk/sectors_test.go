package disk

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"

	"viewstamp/replica/io"
	"viewstamp/sim/sched"
)

func sharedDisks(n int) ([]*Disk, *Sectors, *sched.Scheduler) {
	s := &sched.Scheduler{}
	st := NewSectors(sector)
	var ds []*Disk
	for i := range n {
		ds = append(ds, NewShared(st, fixed, rand.New(rand.NewPCG(uint64(i), 1)), s, zoneSizes()))
	}
	return ds, st, s
}

func peek(d *Disk, off uint64, n int) []byte {
	b := make([]byte, n)
	d.Peek(io.ZoneGrid, off, b)
	return b
}

// Disks writing the same bytes at the same place keep one copy; a disk that
// then writes something else there gets its own copy, and the others still
// read theirs.
func TestSectorsShareIdenticalWritesCopyOnWrite(t *testing.T) {
	ds, st, s := sharedDisks(3)
	a, b := fill(2*sector, 0xA1), fill(sector, 0xB2)
	for _, d := range ds {
		d.Write(io.ZoneGrid, 4*sector, a, func() {})
	}
	s.RunUntil(1 << 30)
	if n := st.Stored(); n != 2 {
		t.Fatalf("three disks wrote the same 2 sectors: %d stored, want 2", n)
	}
	ds[1].Write(io.ZoneGrid, 5*sector, b, func() {})
	s.RunUntil(2 << 30)
	if n := st.Stored(); n != 3 {
		t.Fatalf("after one disk diverged: %d stored, want 3", n)
	}
	if got := peek(ds[1], 4*sector, 2*sector); !bytes.Equal(got, append(fill(sector, 0xA1), b...)) {
		t.Fatal("the diverging disk reads back wrong")
	}
	for _, i := range []int{0, 2} {
		if got := peek(ds[i], 4*sector, 2*sector); !bytes.Equal(got, a) {
			t.Fatalf("disk %d changed when disk 1 wrote", i)
		}
	}
	// Disk 1 alone holds its sector: rewriting it needs no new one.
	ds[1].Write(io.ZoneGrid, 5*sector, fill(sector, 0xC3), func() {})
	s.RunUntil(3 << 30)
	if n := st.Stored(); n != 3 {
		t.Fatalf("an unshared rewrite: %d stored, want 3", n)
	}
	// Catching up with its peers, disk 1 shares their copy again.
	ds[1].Write(io.ZoneGrid, 5*sector, fill(sector, 0xA1), func() {})
	s.RunUntil(4 << 30)
	if n := st.Stored(); n != 2 {
		t.Fatalf("identical again: %d stored, want 2", n)
	}
}

// Zeros cost nothing, and a sector no disk holds any more is reused.
func TestSectorsFreeWhatNoDiskHolds(t *testing.T) {
	ds, st, s := sharedDisks(2)
	for _, d := range ds {
		d.Write(io.ZoneGrid, 0, fill(sector, 7), func() {})
		d.Write(io.ZoneWALPrepares, 0, make([]byte, 3*sector), func() {})
	}
	s.RunUntil(1 << 30)
	if n := st.Stored(); n != 1 {
		t.Fatalf("%d stored, want 1", n)
	}
	for _, d := range ds {
		d.Write(io.ZoneGrid, 0, make([]byte, sector), func() {})
	}
	s.RunUntil(2 << 30)
	if n := st.Stored(); n != 0 {
		t.Fatalf("every disk zeroed its sector: %d stored, want 0", n)
	}
	if got := peek(ds[0], 0, sector); !bytes.Equal(got, make([]byte, sector)) {
		t.Fatal("a zeroed sector reads back non-zero")
	}
	ds[0].Write(io.ZoneGrid, 9*sector, fill(sector, 8), func() {})
	s.RunUntil(3 << 30)
	if n, slots := st.Stored(), len(st.slots)-1; n != 1 || slots != 1 {
		t.Fatalf("%d stored in %d slots: the freed slot was not reused", n, slots)
	}
}

// A torn write lands through the shared store like any other: the torn
// disk's sector differs, its peers' do not.
func TestSectorsTornWriteStaysOnItsDisk(t *testing.T) {
	ds, _, s := sharedDisks(2)
	data := fill(4*sector, 0x5A)
	ds[0].Write(io.ZoneGrid, 0, data, func() {})
	s.RunUntil(1 << 30)
	ds[0].SetOptions(Options{WriteLatencyMinNs: 100, CrashFaultProbability: 1})
	ds[1].Write(io.ZoneGrid, 0, data, func() {})
	ds[1].SetOptions(Options{WriteLatencyMinNs: 100, CrashFaultProbability: 1})
	ds[1].Crash() // before the write completes: torn
	s.RunUntil(2 << 30)
	if got := peek(ds[0], 0, 4*sector); !bytes.Equal(got, data) {
		t.Fatal("a peer's torn write changed this disk")
	}
	if got := peek(ds[1], 0, 4*sector); bytes.Equal(got, data) {
		t.Fatal("the torn write landed whole")
	}
}

// Random writes of sectors from all-zero to incompressible, over a few
// disks and places, read back exactly as a plain copy of each disk does,
// whole or in part; and what the store keeps is never more than the
// distinct sectors at each place.
func TestSectorsMatchPlainDisks(t *testing.T) {
	const disks, places = 3, 6
	st := NewSectors(sector)
	for range disks {
		st.attach()
	}
	rng := rand.New(rand.NewPCG(7, 7))
	plain := make([][]byte, disks)
	for i := range plain {
		plain[i] = make([]byte, places*sector)
	}
	// A few shapes, so that peers often write the same bytes.
	shapes := make([][]byte, 12)
	for i := range shapes {
		b := make([]byte, sector)
		density := rng.IntN(sector/8 + 1)
		for w := range sector / 8 {
			if rng.IntN(sector/8) < density {
				binary.LittleEndian.PutUint64(b[8*w:], rng.Uint64()|1<<uint(rng.IntN(64)))
			}
		}
		shapes[i] = b
	}
	for step := range 5000 {
		d, k := rng.IntN(disks), uint64(rng.IntN(places))
		data := shapes[rng.IntN(len(shapes))]
		st.write(d, io.ZoneGrid, k, data)
		copy(plain[d][k*sector:], data)
		for i := range disks {
			for p := uint64(0); p < places; p++ {
				got := make([]byte, sector)
				st.read(i, io.ZoneGrid, p, 0, got)
				if !bytes.Equal(got, plain[i][p*sector:(p+1)*sector]) {
					t.Fatalf("step %d: disk %d sector %d reads back wrong", step, i, p)
				}
				within := uint64(rng.IntN(sector))
				part := make([]byte, rng.IntN(int(sector-within))+1)
				st.read(i, io.ZoneGrid, p, within, part)
				if !bytes.Equal(part, plain[i][p*sector+within:][:len(part)]) {
					t.Fatalf("step %d: disk %d sector %d bytes from %d read back wrong", step, i, p, within)
				}
			}
		}
		// Identical sectors at one place are always one copy.
		distinct := 0
		for p := uint64(0); p < places; p++ {
			var seen [][]byte
			for i := range disks {
				b := plain[i][p*sector : (p+1)*sector]
				if !bytes.Equal(b, make([]byte, sector)) && !slices.ContainsFunc(seen, func(o []byte) bool { return bytes.Equal(o, b) }) {
					seen = append(seen, b)
				}
			}
			distinct += len(seen)
		}
		if n := st.Stored(); n != distinct {
			t.Fatalf("step %d: %d sectors stored, %d distinct ones by place", step, n, distinct)
		}
	}
	if st.StoredBytes() > uint64(st.Stored())*sector {
		t.Fatalf("%d bytes for %d sectors", st.StoredBytes(), st.Stored())
	}
}
