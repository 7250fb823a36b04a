package disk

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"viewstamp/replica/io"
)

// memSector is the simulator's sector size, a page: a raw sector is a page.
const memSector = 4096

// sectorWith returns a sector whose encoding has exactly nonZero non-zero
// words (so its size class is fixed by nonZero), made distinct by tag.
func sectorWith(nonZero int, tag uint64) []byte {
	b := make([]byte, memSector)
	for w := range nonZero {
		binary.LittleEndian.PutUint64(b[8*w:], tag<<16|uint64(w)|1)
	}
	return b
}

// The store's memory is bounded by the disks' configured size, not by how
// much was ever written: a grid rewritten again and again with sectors of
// every size class, as compaction rewrites blocks, holds the pages its
// current contents need, and nothing once it holds only zeros. Where the
// system can say which pages are resident (residentPages), the pages given
// back are given back for real.
func TestSectorsMemoryBoundedByContents(t *testing.T) {
	const places = 256 // the configured grid zone, in sectors
	configured := uint64(places * memSector)
	st := NewSectors(memSector)
	disk := st.attach()
	words := memSector / 8
	// Each round rewrites every place into one size class, smallest to
	// raw and back; a class left behind must not keep its pages.
	var classes []int
	for c := range sizeClasses {
		classes = append(classes, c)
	}
	for c := sizeClasses - 2; c >= 0; c-- {
		classes = append(classes, c)
	}
	for round, c := range classes {
		// An encoding of n words is a bitmap of words/64 bytes plus 8n.
		nonZero := min(((c+1)*memSector/sizeClasses-words/8)/8, words)
		for p := range uint64(places) {
			st.write(disk, io.ZoneGrid, p, sectorWith(nonZero, uint64(round)<<32|p))
		}
		stored, resident := st.StoredBytes(), st.ResidentBytes()
		if want := uint64(places*(c+1)) * memSector / sizeClasses; stored != want {
			t.Fatalf("round %d (class %d): %d bytes stored, want %d", round, c, stored, want)
		}
		// One partly used page at the end of the class's slots at most.
		if resident > stored+pageSize || resident > configured {
			t.Fatalf("round %d (class %d): %d bytes resident for %d stored (configured %d)", round, c, resident, stored, configured)
		}
		if n, ok := st.residentPages(); ok && uint64(n)*pageSize > resident {
			t.Fatalf("round %d (class %d): the system holds %d pages, the store counts %d bytes", round, c, n, resident)
		}
	}
	// Random churn over classes and places stays within the configured
	// size times two: one disk holds a slot per place, and a slot spans at
	// most two pages.
	rng := rand.New(rand.NewPCG(9, 9))
	for i := range 20 * places {
		p := uint64(rng.IntN(places))
		st.write(disk, io.ZoneGrid, p, sectorWith(rng.IntN(words+1), uint64(i)))
		if r := st.ResidentBytes(); r > 2*configured {
			t.Fatalf("write %d: %d bytes resident for a grid of %d", i, r, configured)
		}
	}
	for p := range uint64(places) {
		st.write(disk, io.ZoneGrid, p, make([]byte, memSector))
	}
	if s, r := st.StoredBytes(), st.ResidentBytes(); s != 0 || r != 0 {
		t.Fatalf("all zeros: %d bytes stored, %d resident", s, r)
	}
	if n, ok := st.residentPages(); ok && n != 0 {
		t.Fatalf("all zeros: the system still holds %d pages of the store", n)
	}
	// A write takes its new slot before it frees the old one: one sector
	// over the grid at most.
	if st.ResidentBytesMax() > 2*configured || st.StoredBytesMax() > configured+memSector {
		t.Fatalf("peaks: %d resident, %d stored, for a grid of %d", st.ResidentBytesMax(), st.StoredBytesMax(), configured)
	}
}
