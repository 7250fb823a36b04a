package lsm

import (
	"bytes"
	"encoding/binary"
	"slices"
	"sort"
)

// run is a sorted, deduplicated array of values with their tombstone flags:
// the immutable table, and the sorted view of the mutable one.
type run struct {
	values    []byte // count x valueSize
	tombs     []bool
	valueSize int
	keySize   int
	// prefixes, when set, holds each key's first eight bytes as a word: a
	// search then probes a dense array instead of striding over values.
	prefixes []uint64
}

func (r *run) len() int { return len(r.tombs) }

func (r *run) value(i int) []byte {
	return r.values[i*r.valueSize : (i+1)*r.valueSize]
}

// search returns the first index whose key is >= key.
func (r *run) search(key []byte) int {
	lo, hi := 0, r.len()
	if r.prefixes != nil {
		p := keyPrefix(key)
		lo, _ = slices.BinarySearch(r.prefixes, p)
		if r.keySize <= 8 {
			return lo // the prefix is the whole key
		}
		end := lo + sort.Search(hi-lo, func(i int) bool { return r.prefixes[lo+i] > p })
		hi = end
	}
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if compareKeys(r.value(mid)[:r.keySize], key) < 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

func (r *run) get(key []byte) (value []byte, tomb, found bool) {
	i := r.search(key)
	if i < r.len() && bytes.Equal(r.value(i)[:r.keySize], key) {
		return r.value(i), r.tombs[i], true
	}
	return nil, false, false
}

// keyRange returns the run's smallest and largest keys; the run is not empty.
func (r *run) keyRange() (lo, hi []byte) {
	return r.value(0)[:r.keySize], r.value(r.len() - 1)[:r.keySize]
}

// mutable collects one bar's puts. A hash table finds a key's slot (lookups
// only: nothing iterates it), and the slots stay in arrival order until
// sealed, when one sort orders them; sorting unique keys is deterministic.
// The table is open addressing over the values themselves, at most half
// full, cleared in O(1) by a generation: a Go map keyed by string(key)
// allocated a string per new key and cost a clear proportional to its
// capacity each bar, and it dominated a batch's puts.
type mutable struct {
	table     []mslot
	mask      uint64
	gen       uint32
	values    []byte
	tombs     []bool
	valueSize int
	keySize   int
	capacity  int
	sorted    []int // sorted view for scans, rebuilt when a new key arrives
	sortBuf   []sortEntry
	dirty     bool
}

// mslot is one hash table slot: the value's index, current while gen is
// the table's.
type mslot struct {
	index int32
	gen   uint32
}

func newMutable(keySize, valueSize, capacity int) *mutable {
	n := 1
	for n < 2*capacity {
		n *= 2
	}
	return &mutable{
		table:     make([]mslot, n),
		mask:      uint64(n - 1),
		gen:       1,
		values:    make([]byte, 0, capacity*valueSize),
		tombs:     make([]bool, 0, capacity),
		valueSize: valueSize,
		keySize:   keySize,
		capacity:  capacity,
	}
}

func (m *mutable) len() int { return len(m.tombs) }

func (m *mutable) value(i int) []byte { return m.values[i*m.valueSize : (i+1)*m.valueSize] }

// hashKey mixes the key's bytes eight at a time (splitmix64's finalizer):
// keys are often sequential (timestamps, time-based ids), so each word is
// spread before the table masks it. Deterministic, though nothing depends
// on slot positions.
func hashKey(key []byte) uint64 {
	h := uint64(len(key))
	for len(key) > 0 {
		var b [8]byte
		n := copy(b[:], key)
		key = key[n:]
		h ^= binary.LittleEndian.Uint64(b[:])
		h ^= h >> 30
		h *= 0xbf58476d1ce4e5b9
		h ^= h >> 27
		h *= 0x94d049bb133111eb
		h ^= h >> 31
	}
	return h
}

// find returns key's value index, or -1 and the empty slot it would take.
func (m *mutable) find(key []byte) (int, *mslot) {
	for s := hashKey(key) & m.mask; ; s = (s + 1) & m.mask {
		e := &m.table[s]
		if e.gen != m.gen {
			return -1, e
		}
		if bytes.Equal(m.value(int(e.index))[:m.keySize], key) {
			return int(e.index), e
		}
	}
}

func (m *mutable) put(value []byte, tomb bool) {
	key := value[:m.keySize]
	i, e := m.find(key)
	if i >= 0 {
		copy(m.value(i), value)
		m.tombs[i] = tomb
		return
	}
	if m.len() == m.capacity {
		panic("lsm: mutable table full: more distinct keys in one bar than TableValueCountMax")
	}
	*e = mslot{index: int32(m.len()), gen: m.gen}
	m.values = append(m.values, value...)
	m.tombs = append(m.tombs, tomb)
	m.dirty = true
}

func (m *mutable) get(key []byte) (value []byte, tomb, found bool) {
	if i, _ := m.find(key); i >= 0 {
		return m.value(i), m.tombs[i], true
	}
	return nil, false, false
}

func (m *mutable) order() []int {
	if m.dirty || len(m.sorted) != m.len() {
		// Sort (key prefix, slot) pairs: the prefix compares as a word and
		// keeps the sort in cache; only equal prefixes look at the values.
		m.sortBuf = m.sortBuf[:0]
		for i := range m.len() {
			m.sortBuf = append(m.sortBuf, sortEntry{prefix: keyPrefix(m.value(i)[:m.keySize]), slot: i})
		}
		slices.SortFunc(m.sortBuf, func(a, b sortEntry) int {
			switch {
			case a.prefix < b.prefix:
				return -1
			case a.prefix > b.prefix:
				return 1
			}
			return compareKeys(m.value(a.slot)[:m.keySize], m.value(b.slot)[:m.keySize])
		})
		m.sorted = m.sorted[:0]
		for _, e := range m.sortBuf {
			m.sorted = append(m.sorted, e.slot)
		}
		m.dirty = false
	}
	return m.sorted
}

type sortEntry struct {
	prefix uint64
	slot   int
}

// keyPrefix is the key's first eight bytes as a big-endian word (zero
// padded), which orders like the bytes themselves.
func keyPrefix(key []byte) uint64 {
	var b [8]byte
	copy(b[:], key)
	return binary.BigEndian.Uint64(b[:])
}

// reset empties the table for the next bar, keeping its memory: nothing
// outside holds its buffers (sealed and rangeRun copy).
func (m *mutable) reset() {
	m.gen++
	if m.gen == 0 { // wrapped: old generations would look current
		clear(m.table)
		m.gen = 1
	}
	m.values = m.values[:0]
	m.tombs = m.tombs[:0]
	m.sorted = m.sorted[:0]
	m.sortBuf = m.sortBuf[:0]
	m.dirty = false
}

// sealed copies the table's values in key order into a run.
func (m *mutable) sealed() *run {
	r := &run{
		values:    make([]byte, 0, len(m.values)),
		tombs:     make([]bool, 0, m.len()),
		valueSize: m.valueSize,
		keySize:   m.keySize,
	}
	order := m.order()
	r.prefixes = make([]uint64, 0, len(order))
	for j, i := range order {
		r.values = append(r.values, m.value(i)...)
		r.tombs = append(r.tombs, m.tombs[i])
		r.prefixes = append(r.prefixes, m.sortBuf[j].prefix)
	}
	return r
}

// rangeRun copies the values with keys in [lo, hi] into a run, so a scan
// reads a snapshot that later puts cannot disturb.
func (m *mutable) rangeRun(lo, hi []byte) *run {
	r := &run{valueSize: m.valueSize, keySize: m.keySize}
	order := m.order()
	start, _ := slices.BinarySearchFunc(order, lo, func(i int, k []byte) int {
		return compareKeys(m.value(i)[:m.keySize], k)
	})
	for _, i := range order[start:] {
		if compareKeys(m.value(i)[:m.keySize], hi) > 0 {
			break
		}
		r.values = append(r.values, m.value(i)...)
		r.tombs = append(r.tombs, m.tombs[i])
	}
	return r
}
