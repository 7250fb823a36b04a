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
	sets       uint64
	// tags hold 16 bits of each entry's hash: a lookup scans its set's
	// tags (one cache line) and compares a full key only on a match.
	tags    []uint16
	keys    []u128.U128
	counts  []uint8 // 0: empty or evictable
	hands   []uint8
	objects []byte
	hits    uint64
	misses  uint64
}

func newCache(capacity, objectSize int) *cache {
	if capacity == 0 {
		return nil
	}
	return &cache{
		objectSize: objectSize,
		sets:       uint64(capacity / CacheWays),
		tags:       make([]uint16, capacity),
		keys:       make([]u128.U128, capacity),
		counts:     make([]uint8, capacity),
		hands:      make([]uint8, capacity/CacheWays),
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
	s, _ := bits.Mul64(h, c.sets)
	return s, uint16(h)
}

func (c *cache) object(i int) []byte { return c.objects[i*c.objectSize : (i+1)*c.objectSize] }

// get returns the cached object for key, counting the use.
func (c *cache) get(key u128.U128) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	s, tag := c.set(key)
	base := int(s) * CacheWays
	for i := base; i < base+CacheWays; i++ {
		if c.tags[i] == tag && c.counts[i] > 0 && c.keys[i] == key {
			if c.counts[i] < clockCountMax {
				c.counts[i]++
			}
			c.hits++
			return c.object(i), true
		}
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
	base := int(s) * CacheWays
	for i := base; i < base+CacheWays; i++ {
		if c.tags[i] == tag && c.counts[i] > 0 && c.keys[i] == key {
			copy(c.object(i), object)
			return
		}
	}
	// The hand decrements at most clockCountMax rounds before a count is 0.
	for {
		i := base + int(c.hands[s])
		c.hands[s] = uint8((int(c.hands[s]) + 1) % CacheWays)
		if c.counts[i] == 0 {
			c.tags[i], c.keys[i], c.counts[i] = tag, key, 1
			copy(c.object(i), object)
			return
		}
		c.counts[i]--
	}
}

// len is the number of live entries (tests).
func (c *cache) len() int {
	if c == nil {
		return 0
	}
	n := 0
	for _, k := range c.counts {
		if k > 0 {
			n++
		}
	}
	return n
}
