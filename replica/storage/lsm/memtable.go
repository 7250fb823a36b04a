package lsm

import (
	"bytes"
	"cmp"
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
	if r.len() == 0 || compareKeys(key, r.value(r.len() - 1)[:r.keySize]) > 0 {
		return nil, false, false // past the last key: a new id's existence check
	}
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
	table []mslot
	mask  uint64
	gen   uint32
	// values[:ascending] arrived in ascending key order and are not in the
	// table: found by binary search. A bar of timestamps or time-based ids
	// (object trees, id trees, an index on a field most objects share)
	// puts only ascending keys and never touches the table, whose probes
	// are a cache miss each. The run ends at the first key out of order,
	// when its keys enter the table (ascending is then 0): from then on
	// every key is found there. (A scanOnly table keeps the run and logs
	// the rest.)
	ascending int
	hashed    bool
	values    []byte
	tombs     []bool
	valueSize int
	keySize   int
	capacity  int
	sorted    []int // sorted view for scans, rebuilt when a new key arrives
	sortBuf   []sortEntry
	sortTmp   []sortEntry // radixSort's other buffer
	dirty     bool
	// scanOnly trees (index trees: nothing looks a key up, scans read them)
	// keep no hash table: a put out of order appends, and sorting resolves
	// a key put twice to its last put (the stable sort orders equal keys
	// by arrival). hashed then means "out of order".
	scanOnly bool
	// spare holds a sealed run's buffers once the run is dropped, so the
	// next seal writes into memory already held instead of a fresh
	// allocation the size of a table.
	spare run
}

// mslot is one hash table slot: the value's index, current while gen is
// the table's.
type mslot struct {
	index int32
	gen   uint32
	tag   uint32 // the hash's high bits: most mismatches never read the value
}

// mutableTableMin is the hash table's size before a bar's puts grow it: a
// table sized for the bar's capacity from the start would spread a few
// thousand keys over megabytes, a cache miss per probe.
const mutableTableMin = 1 << 10

func newMutable(keySize, valueSize, capacity int, scanOnly bool) *mutable {
	return &mutable{
		scanOnly:  scanOnly,
		table:     make([]mslot, mutableTableMin),
		mask:      mutableTableMin - 1,
		gen:       1,
		values:    make([]byte, 0, capacity*valueSize),
		tombs:     make([]bool, 0, capacity),
		valueSize: valueSize,
		keySize:   keySize,
		capacity:  capacity,
	}
}

// grow doubles the table once it is half full, re-placing its keys; it
// never outgrows twice the capacity, so its memory stays bounded by the
// configuration while a bar that puts few keys keeps a small table.
func (m *mutable) grow() {
	n := 2 * len(m.table)
	m.table = make([]mslot, n)
	m.mask, m.gen = uint64(n-1), 1
	for i := m.ascending; i < m.len(); i++ {
		_, e, tag := m.find(m.value(i)[:m.keySize])
		*e = mslot{index: int32(i), gen: m.gen, tag: tag}
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
func (m *mutable) find(key []byte) (int, *mslot, uint32) {
	h := hashKey(key)
	tag := uint32(h >> 32)
	for s := h & m.mask; ; s = (s + 1) & m.mask {
		e := &m.table[s]
		if e.gen != m.gen {
			return -1, e, tag
		}
		if e.tag == tag && bytes.Equal(m.value(int(e.index))[:m.keySize], key) {
			return int(e.index), e, tag
		}
	}
}

func (m *mutable) put(value []byte, tomb bool) {
	key := value[:m.keySize]
	n := m.len()
	if !m.hashed && (n == 0 || compareKeys(key, m.value(n - 1)[:m.keySize]) > 0) {
		m.add(value, tomb)
		m.ascending++
		return
	}
	if m.scanOnly {
		m.append(value, tomb)
		return
	}
	i := m.searchAscending(key)
	var e *mslot
	var tag uint32
	if i < 0 && m.hashed {
		i, e, tag = m.find(key)
	}
	if i >= 0 {
		copy(m.value(i), value)
		m.tombs[i] = tomb
		return
	}
	if !m.hashed {
		m.hashAscending()
	}
	if e == nil {
		_, e, tag = m.find(key)
	}
	*e = mslot{index: int32(n), gen: m.gen, tag: tag}
	m.add(value, tomb)
	if 2*(m.len()-m.ascending) >= len(m.table) {
		m.grow()
	}
}

func (m *mutable) add(value []byte, tomb bool) {
	if m.len() == m.capacity {
		panic("lsm: mutable table full: more distinct keys in one bar than TableValueCountMax")
	}
	m.values = append(m.values, value...)
	m.tombs = append(m.tombs, tomb)
	m.dirty = true
}

// hashAscending enters the ascending run into the hash table at the first
// key out of order, so later puts and gets probe the table alone rather
// than a binary search of the run first (a cache miss per put).
func (m *mutable) hashAscending() {
	m.hashed = true
	run := m.ascending
	for 2*run >= len(m.table) {
		m.grow() // re-places nothing yet: every value is in the run
	}
	m.ascending = 0
	for i := range run {
		_, e, tag := m.find(m.value(i)[:m.keySize])
		*e = mslot{index: int32(i), gen: m.gen, tag: tag}
	}
}

// append is a scanOnly put out of order. A full log is first merged in
// place (each key's last put, in key order), so the capacity still bounds
// distinct keys, not puts.
func (m *mutable) append(value []byte, tomb bool) {
	if m.len() == m.capacity {
		m.merge()
	}
	m.hashed = true
	m.add(value, tomb)
}

// merge rewrites a scanOnly log as its sorted view: one value per key, in
// key order, all of it the ascending run again.
func (m *mutable) merge() {
	order := m.order()
	values, tombs := m.spare.values[:0], m.spare.tombs[:0]
	for _, i := range order {
		values = append(values, m.value(i)...)
		tombs = append(tombs, m.tombs[i])
	}
	m.spare.values, m.spare.tombs = m.values[:0], m.tombs[:0]
	m.values, m.tombs = values, tombs
	m.ascending, m.hashed, m.dirty = m.len(), false, true
}

// searchAscending finds key in the ascending run, or returns -1. A key past
// the run's last, as a new time-based id or timestamp is, needs one compare.
func (m *mutable) searchAscending(key []byte) int {
	if m.ascending == 0 || compareKeys(key, m.value(m.ascending - 1)[:m.keySize]) > 0 {
		return -1
	}
	lo, hi := 0, m.ascending
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if compareKeys(m.value(mid)[:m.keySize], key) < 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < m.ascending && compareKeys(m.value(lo)[:m.keySize], key) == 0 {
		return lo
	}
	return -1
}

func (m *mutable) get(key []byte) (value []byte, tomb, found bool) {
	i := -1
	if m.scanOnly && m.hashed {
		// A key of the ascending run may have been put again since, out
		// of order: only the sorted view knows which put is the last.
		order := m.order()
		j, ok := slices.BinarySearchFunc(order, key, func(i int, k []byte) int {
			return compareKeys(m.value(i)[:m.keySize], k)
		})
		if ok {
			i = order[j]
		}
	} else if i = m.searchAscending(key); i < 0 && m.hashed {
		i, _, _ = m.find(key)
	}
	if i >= 0 {
		return m.value(i), m.tombs[i], true
	}
	return nil, false, false
}

func (m *mutable) order() []int {
	if !m.dirty {
		return m.sorted
	}
	m.dirty = false
	m.sorted = m.sorted[:0]
	if !m.hashed {
		// Every key arrived in ascending order: the arrival order is the
		// key order, with nothing to sort.
		for i := range m.len() {
			m.sorted = append(m.sorted, i)
		}
		return m.sorted
	}
	// Sort (key words, slot) pairs: the key's first three words compare as
	// integers and keep the sort in cache; only keys longer than that whose
	// words are all equal look at the values. (One word was not enough: an
	// index key starts with its field, which most entries share.) Equal
	// keys (a scanOnly log's repeats) order by arrival, and the last wins.
	m.sortBuf = m.sortBuf[:0]
	for i := range m.len() {
		key := m.value(i)[:m.keySize]
		m.sortBuf = append(m.sortBuf, sortEntry{prefix: keyPrefix(key), word2: keyWord(key, 1), word3: keyWord(key, 2), slot: i})
	}
	long := m.keySize > 3*8
	if long || len(m.sortBuf) < radixSortMin {
		slices.SortFunc(m.sortBuf, func(a, b sortEntry) int { return m.compareEntries(a, b, long, true) })
	} else {
		m.sortTmp = slices.Grow(m.sortTmp[:0], len(m.sortBuf))[:len(m.sortBuf)]
		m.sortBuf, m.sortTmp = radixSort(m.sortBuf, m.sortTmp)
	}
	for j, e := range m.sortBuf {
		if j+1 < len(m.sortBuf) && m.compareEntries(e, m.sortBuf[j+1], long, false) == 0 {
			continue // a later put of the same key follows
		}
		m.sortBuf[len(m.sorted)] = e
		m.sorted = append(m.sorted, e.slot)
	}
	m.sortBuf = m.sortBuf[:len(m.sorted)]
	return m.sorted
}

// compareEntries orders sort entries by key, then (bySlot) by arrival.
func (m *mutable) compareEntries(a, b sortEntry, long, bySlot bool) int {
	if c := cmp.Compare(a.prefix, b.prefix); c != 0 {
		return c
	}
	if c := cmp.Compare(a.word2, b.word2); c != 0 {
		return c
	}
	if c := cmp.Compare(a.word3, b.word3); c != 0 {
		return c
	}
	if long {
		if c := compareKeys(m.value(a.slot)[:m.keySize], m.value(b.slot)[:m.keySize]); c != 0 {
			return c
		}
	}
	if bySlot {
		return cmp.Compare(a.slot, b.slot)
	}
	return 0
}

// radixSortMin is the number of keys from which a table sorts by radix: a
// bar's table of an index on account ids holds hundreds of thousands of
// keys in no order, which a comparison sort took a tenth of a second over;
// a few hundred keys sort faster by comparison.
const radixSortMin = 1 << 10

// radixSort sorts entries by their three key words, stably (equal keys stay
// in arrival order, so the last put of a key stays last), one byte at a
// time from the least significant, skipping the bytes every entry shares:
// keys of one bar differ in a few bytes (an account id's low bytes, a
// timestamp's), so a sort is a few linear passes. It returns the sorted
// slice and the other buffer, each of them a or tmp.
func radixSort(a, tmp []sortEntry) (sorted, spare []sortEntry) {
	var diff [3]uint64
	f := a[0]
	for _, e := range a {
		diff[0] |= e.word3 ^ f.word3
		diff[1] |= e.word2 ^ f.word2
		diff[2] |= e.prefix ^ f.prefix
	}
	for w := range diff {
		for shift := uint(0); shift < 64; shift += 8 {
			if (diff[w]>>shift)&0xff == 0 {
				continue
			}
			var start [256]int
			for i := range a {
				start[a[i].word(w)>>shift&0xff]++
			}
			sum := 0
			for d, n := range start {
				start[d] = sum
				sum += n
			}
			for i := range a {
				d := a[i].word(w) >> shift & 0xff
				tmp[start[d]] = a[i]
				start[d]++
			}
			a, tmp = tmp, a
		}
	}
	return a, tmp
}

// word is the entry's key word w, least significant first.
func (e *sortEntry) word(w int) uint64 {
	switch w {
	case 0:
		return e.word3
	case 1:
		return e.word2
	}
	return e.prefix
}

type sortEntry struct {
	prefix, word2, word3 uint64
	slot                 int
}

// keyWord is the key's i-th eight bytes as a big-endian word (zero padded,
// zero past the key), which orders like the bytes themselves.
func keyWord(key []byte, i int) uint64 {
	if len(key) <= 8*i {
		return 0
	}
	return keyPrefix(key[8*i:])
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
	m.ascending, m.hashed = 0, false
	m.values = m.values[:0]
	m.tombs = m.tombs[:0]
	m.sorted = m.sorted[:0]
	m.sortBuf = m.sortBuf[:0]
	m.dirty = false
}

// sealed turns the table's values, in key order, into a run. A table whose
// keys all arrived in order hands over its buffers as they are and takes
// the spare ones; any other is gathered in key order into the spare ones.
func (m *mutable) sealed() *run {
	r := &run{valueSize: m.valueSize, keySize: m.keySize, prefixes: m.spare.prefixes[:0]}
	order := m.order()
	if !m.hashed {
		r.values, r.tombs = m.values, m.tombs
		m.values, m.tombs = m.spare.values[:0], m.spare.tombs[:0]
		if cap(m.values) < m.capacity*m.valueSize {
			m.values = make([]byte, 0, m.capacity*m.valueSize)
			m.tombs = make([]bool, 0, m.capacity)
		}
		for i := range r.len() {
			r.prefixes = append(r.prefixes, keyPrefix(r.value(i)[:m.keySize]))
		}
		m.spare = run{}
		return r
	}
	r.values, r.tombs = m.spare.values[:0], m.spare.tombs[:0]
	m.spare = run{}
	for j, i := range order {
		r.values = append(r.values, m.value(i)...)
		r.tombs = append(r.tombs, m.tombs[i])
		r.prefixes = append(r.prefixes, m.sortBuf[j].prefix)
	}
	return r
}

// recycle takes back the buffers of a run sealed from this table, which
// nothing reads any more.
func (m *mutable) recycle(r *run) {
	if cap(r.values) > cap(m.spare.values) {
		m.spare = run{values: r.values[:0], tombs: r.tombs[:0], prefixes: r.prefixes[:0]}
	}
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
