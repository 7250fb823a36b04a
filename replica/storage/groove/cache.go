package groove

import (
	"math/bits"

	"viewstamp/replica/u128"
)

// clockCountMax saturates an entry's CLOCK count: an object used this often
// survives that many sweeps of its set's hand before it can be evicted.
const clockCountMax = 3

// cache is a set-associative CLOCK cache of objects. A key hashes to one set
// of CacheWays entries; a miss takes the first entry the set's hand finds
// with count zero, decrementing the others it passes. Memory is fixed at
// construction, and every decision depends only on the sequence of calls,
// so replicas applying the same ops evict the same objects.
type cache struct {
	objectSize int
	sets       []cacheSet
	objects    []byte
	hits       uint64
	misses     uint64
}

// cacheSet keeps a set's bookkeeping together: a lookup reads the header
// line (tags, counts, hand) and the line holding the matching way's key,
// adjacent, where separate arrays of tags, counts, keys and hands cost a
// cache miss each on a cache far larger than the processor's.
type cacheSet struct {
	// tags hold 16 bits of each entry's hash: a lookup scans its set's
	// tags and compares a full key only on a match.
	tags   [CacheWays]uint16
	counts [CacheWays]uint8 // 0: empty or evictable
	hand   uint8
	_      [cacheLine - 3*CacheWays - 1]byte // the keys start on the next line
	keys   [CacheWays]u128.U128
}

// cacheLine is the processor cache line the set header fills.
const cacheLine = 64

func newCache(capacity, objectSize int) *cache {
	if capacity == 0 {
		return nil
	}
	return &cache{
		objectSize: objectSize,
		sets:       make([]cacheSet, capacity/CacheWays),
		objects:    make([]byte, capacity*objectSize),
	}
}

// set maps a key to its set and tag: a fixed mix of both words (so
// sequential ids and timestamps spread), reduced by multiply-high rather
// than modulo, the tag from bits the reduction weighs least.
func (c *cache) set(key u128.U128) (uint64, uint16) {
	h := key.Lo*0x9e3779b97f4a7c15 ^ key.Hi*0xc2b2ae3d27d4eb4f
	h ^= h >> 31
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 29
	s, _ := bits.Mul64(h, uint64(len(c.sets)))
	return s, uint16(h)
}

func (c *cache) object(s uint64, way int) []byte {
	i := int(s)*CacheWays + way
	return c.objects[i*c.objectSize : (i+1)*c.objectSize]
}

// find returns the way of set that holds key, or -1.
func (c *cache) find(set *cacheSet, key u128.U128, tag uint16) int {
	for w := range CacheWays {
		if set.tags[w] == tag && set.counts[w] > 0 && set.keys[w] == key {
			return w
		}
	}
	return -1
}

// get returns the cached object for key, counting the use.
func (c *cache) get(key u128.U128) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	s, tag := c.set(key)
	set := &c.sets[s]
	if w := c.find(set, key, tag); w >= 0 {
		if set.counts[w] < clockCountMax {
			set.counts[w]++
		}
		c.hits++
		return c.object(s, w), true
	}
	c.misses++
	return nil, false
}

// upsert stores object under key, replacing the cached copy or evicting.
func (c *cache) upsert(key u128.U128, object []byte) {
	if c == nil {
		return
	}
	s, tag := c.set(key)
	set := &c.sets[s]
	if w := c.find(set, key, tag); w >= 0 {
		copy(c.object(s, w), object)
		return
	}
	// The hand decrements at most clockCountMax rounds before a count is 0.
	for {
		w := int(set.hand)
		set.hand = uint8((w + 1) % CacheWays)
		if set.counts[w] == 0 {
			set.tags[w], set.keys[w], set.counts[w] = tag, key, 1
			copy(c.object(s, w), object)
			return
		}
		set.counts[w]--
	}
}

// len is the number of live entries (tests).
func (c *cache) len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.sets {
		for _, k := range c.sets[i].counts {
			if k > 0 {
				n++
			}
		}
	}
	return n
}
