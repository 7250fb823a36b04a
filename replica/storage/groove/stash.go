package groove

import (
	"fmt"

	"viewstamp/replica/u128"
)

// noEntry marks a map slot that had no stash entry.
const noEntry int32 = -1

type entryState uint8

const (
	statePending entryState = iota // its lookup is in flight
	statePresent
	stateAbsent // looked up and not found: Get answers "no such object"
	stateOrphan // an id used by no object
)

type entry struct {
	state entryState
	id    u128.U128
	ts    uint64
}

// stash holds everything this batch prefetched or inserted, never evicting,
// so execute finds each object it was promised. Its two tables map ids and
// timestamps to entries. Entries are allocated in a fixed arena of StashMax
// objects: a batch that needs more is misconfigured.
type stash struct {
	max        int
	objectSize int
	entries    []entry
	objects    []byte
	byID       slots
	byTS       slots
}

func (s *stash) init(max, objectSize int) {
	s.max, s.objectSize = max, objectSize
	s.entries = make([]entry, 0, max)
	s.objects = make([]byte, max*objectSize)
	s.byID.init(max)
	s.byTS.init(max)
}

func (s *stash) reset() {
	s.entries = s.entries[:0]
	s.byID.reset()
	s.byTS.reset()
}

func (s *stash) add(state entryState, id u128.U128, ts uint64) int32 {
	if len(s.entries) == s.max {
		panic(fmt.Sprintf("groove: stash full: a batch needs more than StashMax %d objects", s.max))
	}
	s.entries = append(s.entries, entry{state: state, id: id, ts: ts})
	return int32(len(s.entries) - 1)
}

func (s *stash) object(e int32) []byte {
	lo, hi := int(e)*s.objectSize, (int(e)+1)*s.objectSize
	return s.objects[lo:hi:hi]
}

func (s *stash) present(e int32) ([]byte, bool) {
	if s.entries[e].state != statePresent {
		return nil, false
	}
	return s.object(e), true
}

// slots is a fixed hash table from a u128 to a stash entry: linear probing
// at most half full, cleared in O(1) by bumping a generation. A Go map
// costs several times as much per lookup here, and prefetch and execute do
// a handful of lookups per object. A deleted key keeps its slot (value
// noEntry), so probes never break; the keys a batch can place are bounded
// by the entries it allocates, StashMax.
type slots struct {
	slots []slot
	gen   uint32
	mask  uint64
}

// slot keeps key, value and generation together: a probe touches one
// cache line.
type slot struct {
	key u128.U128
	val int32
	gen uint32
}

func (t *slots) init(max int) {
	n := 1
	for n < 2*max {
		n *= 2
	}
	t.slots = make([]slot, n)
	t.gen, t.mask = 1, uint64(n-1)
}

func (t *slots) reset() {
	t.gen++
	if t.gen == 0 { // wrapped: old generations would look current
		clear(t.slots)
		t.gen = 1
	}
}

// slotRunBits: keys equal but for their low slotRunBits bits hash to one
// run of consecutive slots. Timestamps are dense (the cluster assigns them
// one after another) and so are many ids, and a batch names keys from a
// few dense ranges: neighbours then share cache lines, where a hash per
// key spread them over the whole table, a cache miss per probe.
const slotRunBits = 3

// find returns key's slot, or the empty slot where it would go.
func (t *slots) find(key u128.U128) (*slot, bool) {
	h := (key.Lo>>slotRunBits ^ key.Hi*0x9e3779b97f4a7c15) * 0xbf58476d1ce4e5b9
	i := ((h^h>>32)<<slotRunBits | key.Lo&(1<<slotRunBits-1)) & t.mask
	for {
		s := &t.slots[i]
		if s.gen != t.gen {
			return s, false
		}
		if s.key == key {
			return s, true
		}
		i = (i + 1) & t.mask
	}
}

func (t *slots) get(key u128.U128) (int32, bool) {
	s, ok := t.find(key)
	if !ok || s.val == noEntry {
		return noEntry, false
	}
	return s.val, true
}

func (t *slots) set(key u128.U128, v int32) {
	s, _ := t.find(key)
	*s = slot{key: key, val: v, gen: t.gen}
}

func (t *slots) del(key u128.U128) {
	if s, ok := t.find(key); ok {
		s.val = noEntry
	}
}

// restore puts back a value saved before a change (noEntry: absent).
func (t *slots) restore(key u128.U128, v int32) {
	if v == noEntry {
		t.del(key)
		return
	}
	t.set(key, v)
}
