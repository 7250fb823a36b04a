package lsm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMutableTable: puts in every order - an ascending run, then keys out
// of order, re-puts and tombstones of keys in the run and in the hash
// table - read back as a map does, over several bars (reset) and table
// growth, and seal in key order with one value per key. A scanOnly table
// (no hash table: an out-of-order log merged in place when full, which the
// re-puts past capacity force) answers the same; sealed runs' buffers are
// recycled on some bars, as compaction gives them back.
func TestMutableTable(t *testing.T) {
	for _, scanOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("scanOnly=%v", scanOnly), func(t *testing.T) { testMutableTable(t, scanOnly) })
	}
}

func testMutableTable(t *testing.T, scanOnly bool) {
	const keySize, valueSize, capacity = 16, 24, 3000
	rng := rand.New(rand.NewPCG(4, 4))
	m := newMutable(keySize, valueSize, capacity, scanOnly)
	for bar := range 8 {
		model := map[[keySize]byte][]byte{}
		tombs := map[[keySize]byte]bool{}
		var keys [][keySize]byte
		put := func(k [keySize]byte, tomb bool) {
			v := make([]byte, valueSize)
			copy(v, k[:])
			binary.LittleEndian.PutUint64(v[keySize:], rng.Uint64())
			m.put(v, tomb)
			if _, ok := model[k]; !ok {
				keys = append(keys, k)
			}
			model[k], tombs[k] = v, tomb
		}
		key := func(hi, lo uint64) (k [keySize]byte) {
			binary.BigEndian.PutUint64(k[:], hi)
			binary.BigEndian.PutUint64(k[8:], lo)
			return k
		}
		ascending := rng.IntN(capacity / 2)
		switch bar {
		case 0:
			ascending = 0 // hashed from the first key
		case 1:
			ascending = capacity // in order throughout: sealed hands over its buffers
		}
		for i := range ascending {
			put(key(uint64(bar), uint64(10*i+10)), false)
		}
		for len(keys) < capacity {
			switch r := rng.IntN(10); {
			case r < 3 && len(keys) > 0:
				put(keys[rng.IntN(len(keys))], r == 0) // a re-put or a tombstone
			default:
				put(key(uint64(bar), rng.Uint64N(uint64(20*capacity))), false)
			}
		}
		for k, v := range model {
			got, tomb, found := m.get(k[:])
			if !found || !bytes.Equal(got, v) || tomb != tombs[k] {
				t.Fatalf("bar %d: key %x: found %v tomb %v, want tomb %v", bar, k, found, tomb, tombs[k])
			}
		}
		if _, _, found := m.get(make([]byte, keySize)); found {
			t.Fatalf("bar %d: found a key never put", bar)
		}
		r := m.sealed()
		if r.len() != len(model) {
			t.Fatalf("bar %d: sealed %d values, want %d", bar, r.len(), len(model))
		}
		slices.SortFunc(keys, func(a, b [keySize]byte) int { return bytes.Compare(a[:], b[:]) })
		for i, k := range keys {
			if !bytes.Equal(r.value(i), model[k]) || r.tombs[i] != tombs[k] {
				t.Fatalf("bar %d: sealed value %d is not key %x's", bar, i, k)
			}
		}
		m.reset()
		if bar%2 == 1 {
			m.recycle(r)
		}
	}
}

// TestRadixSort: the radix sort orders entries as a stable comparison sort
// by the three key words does, whichever bytes vary (none, one, some in
// every word), ties kept in arrival order.
func TestRadixSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for round := range 40 {
		n := 1 + rng.IntN(5000)
		masks := [3]uint64{}
		for w := range masks {
			if round%4 != 0 { // every fourth round: all keys equal
				masks[w] = rng.Uint64() & rng.Uint64()
			}
		}
		a := make([]sortEntry, n)
		for i := range a {
			a[i] = sortEntry{word3: rng.Uint64() & masks[0], word2: rng.Uint64() & masks[1], prefix: rng.Uint64() & masks[2], slot: i}
		}
		want := slices.Clone(a)
		slices.SortStableFunc(want, func(x, y sortEntry) int {
			if x.prefix != y.prefix {
				return cmpU64(x.prefix, y.prefix)
			}
			if x.word2 != y.word2 {
				return cmpU64(x.word2, y.word2)
			}
			return cmpU64(x.word3, y.word3)
		})
		got, _ := radixSort(a, make([]sortEntry, n))
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: radix sort of %d entries differs from a stable sort", round, n)
		}
	}
}

func cmpU64(a, b uint64) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}
