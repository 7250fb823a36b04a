package lsm

import (
	"bytes"
	"fmt"
	"sort"
)

// Tree is one LSM tree of fixed-size values. Puts and removes land in the
// mutable table; at the end of each bar it becomes the immutable table, which
// the next bar's compaction writes into level 0. Every on-disk level holds
// disjoint tables in key order, so a lookup reads at most one table per level.
type Tree struct {
	f         *Forest
	cfg       TreeConfig
	layout    treeLayout
	mutable   *mutable
	immutable *run // nil once written to level 0
	// levels are copy-on-write: an install replaces a level's slice and never
	// edits one in place, so a lookup or scan keeps a consistent snapshot of
	// the tables it started with.
	levels      [LevelCountMax][]TableInfo
	compactions []*compaction // this half-bar's, in level order
	scratch     []byte
	// lookups are the lookups no Get holds, reused with their key buffer
	// and bound completions: a lookup that reads blocks allocates nothing.
	lookups []*lookup
	// scans counts the scans under way: the immutable table's buffers go
	// back to the mutable table once it is written only if no scan may
	// still read them.
	scans int
}

func newTree(f *Forest, cfg TreeConfig) (*Tree, error) {
	l, err := cfg.layout(f.bodyMax)
	if err != nil {
		return nil, err
	}
	return &Tree{
		f:       f,
		cfg:     cfg,
		layout:  l,
		mutable: newMutable(cfg.KeySize, cfg.ValueSize, cfg.TableValueCountMax, cfg.ScanOnly),
		scratch: make([]byte, cfg.ValueSize),
	}, nil
}

// Config returns the tree's config.
func (t *Tree) Config() TreeConfig { return t.cfg }

// Put inserts or replaces the value with value's key. The tree copies value.
func (t *Tree) Put(value []byte) {
	if len(value) != t.cfg.ValueSize {
		panic(fmt.Sprintf("lsm: tree %d: value of %d bytes, want %d", t.cfg.ID, len(value), t.cfg.ValueSize))
	}
	t.checkWritable()
	t.mutable.put(value, false)
}

// checkWritable refuses writes while a beat runs: the bar's last beat seals
// the mutable table when its IO completes, so a put racing it would land on
// either side depending on IO timing.
func (t *Tree) checkWritable() {
	if t.f.beating {
		panic("lsm: put or remove while a beat runs")
	}
}

func (t *Tree) checkKey(key []byte) {
	if len(key) != t.cfg.KeySize {
		panic(fmt.Sprintf("lsm: tree %d: key of %d bytes, want %d", t.cfg.ID, len(key), t.cfg.KeySize))
	}
}

// Remove writes a tombstone for key; it shadows the key in older tables until
// compaction reaches the last level.
func (t *Tree) Remove(key []byte) {
	t.checkKey(key)
	t.checkWritable()
	clear(t.scratch)
	copy(t.scratch, key)
	t.mutable.put(t.scratch, true)
}

// Get looks key up: mutable, immutable, then each level from the top. The
// value passed to done is valid only during done. A block that cannot be read
// intact ends the lookup with a *BlockFaultError; the caller repairs and
// retries.
func (t *Tree) Get(key []byte, done func(value []byte, found bool, err error)) {
	t.checkKey(key)
	if v, tomb, ok := t.mutable.get(key); ok {
		done(v, !tomb, nil)
		return
	}
	if t.immutable != nil {
		if v, tomb, ok := t.immutable.get(key); ok {
			done(v, !tomb, nil)
			return
		}
	}
	g := t.newLookup()
	g.key, g.levels, g.done = append(g.key[:0], key...), t.levels, done
	g.level(0)
}

type lookup struct {
	t      *Tree
	key    []byte
	levels [LevelCountMax][]TableInfo
	done   func([]byte, bool, error)
	// at and ref are the level and the block being read; onIndex and
	// onValue the read's completions, bound once.
	at               int
	ref              BlockRef
	onIndex, onValue func(body []byte, ok bool)
}

func (t *Tree) newLookup() *lookup {
	if n := len(t.lookups); n > 0 {
		g := t.lookups[n-1]
		t.lookups[n-1] = nil
		t.lookups = t.lookups[:n-1]
		return g
	}
	g := &lookup{t: t}
	g.onIndex, g.onValue = g.indexRead, g.valueRead
	return g
}

// finish gives g back before calling done, which may start the next Get
// (the value lies in the grid's block, not in g).
func (g *lookup) finish(value []byte, found bool, err error) {
	done := g.done
	g.done, g.levels = nil, [LevelCountMax][]TableInfo{}
	g.t.lookups = append(g.t.lookups, g)
	done(value, found, err)
}

func (g *lookup) level(i int) {
	ks := g.t.cfg.KeySize
	for ; i < g.t.f.cfg.LevelCount; i++ {
		tables := g.levels[i]
		j := sort.Search(len(tables), func(j int) bool { return compareKeys(tables[j].keyMax(ks), g.key) >= 0 })
		if j == len(tables) || compareKeys(tables[j].keyMin(ks), g.key) > 0 {
			continue
		}
		g.index(i, tables[j].Index)
		return
	}
	g.finish(nil, false, nil)
}

func (g *lookup) index(level int, ref BlockRef) {
	g.at, g.ref = level, ref
	g.t.f.grid.ReadBlock(ref.Address, ref.Checksum, g.onIndex)
}

func (g *lookup) indexRead(body []byte, ok bool) {
	ib, decoded := decodeIndexBlock(body, g.t.cfg.KeySize)
	if !ok || !decoded {
		g.finish(nil, false, &BlockFaultError{Block: g.ref})
		return
	}
	b := ib.search(g.key)
	if b == ib.count || compareKeys(ib.keyMin(b), g.key) > 0 {
		g.level(g.at + 1)
		return
	}
	g.value(g.at, ib.ref(b))
}

func (g *lookup) value(level int, ref BlockRef) {
	g.at, g.ref = level, ref
	g.t.f.grid.ReadBlock(ref.Address, ref.Checksum, g.onValue)
}

func (g *lookup) valueRead(body []byte, ok bool) {
	vb, decoded := decodeValueBlock(body, g.t.cfg.KeySize)
	if !ok || !decoded {
		g.finish(nil, false, &BlockFaultError{Block: g.ref})
		return
	}
	i := vb.search(g.key)
	if i < vb.count && bytes.Equal(vb.value(i)[:g.t.cfg.KeySize], g.key) {
		g.finish(vb.value(i), !vb.tombstone(i), nil)
		return
	}
	g.level(g.at + 1)
}

// Scan returns, in key order (from the largest key down if reversed), up to
// limit (<= 0: all) live values with keys in [lo, hi], merging the memtables
// and every level. Each level is one cursor over just
// the tables meeting the range, so the cost is the values and blocks the
// range touches, not the tree's size. The values are copies.
func (t *Tree) Scan(lo, hi []byte, limit int, reversed bool, done func(values [][]byte, err error)) {
	t.checkKey(lo)
	t.checkKey(hi)
	ks := t.cfg.KeySize
	s := &scan{t: t, limit: limit, reversed: reversed, done: done}
	t.scans++
	cursors := []cursor{newRunIter(t.mutable.rangeRun(lo, hi), nil, nil, reversed)}
	if t.immutable != nil {
		cursors = append(cursors, newRunIter(t.immutable, lo, hi, reversed))
	}
	for i := range t.f.cfg.LevelCount {
		tables := t.levels[i]
		start := sort.Search(len(tables), func(j int) bool { return compareKeys(tables[j].keyMax(ks), lo) >= 0 })
		end := sort.Search(len(tables), func(j int) bool { return compareKeys(tables[j].keyMin(ks), hi) > 0 })
		if start < end {
			cursors = append(cursors, &levelIter{keySize: ks, tables: tables[start:end], lo: lo, hi: hi, reversed: reversed})
		}
	}
	s.cursors = cursors
	s.loop.step = s.step
	s.rd = newReader(t.f.grid, &s.loop, s.fault, cursors...)
	s.loop.kick()
}

type scan struct {
	t        *Tree
	cursors  []cursor // newest source first: the first holding a key wins
	rd       *reader
	loop     loop
	limit    int
	reversed bool
	out      [][]byte
	key      []byte
	err      error
	ended    bool
	done     func([][]byte, error)
}

func (s *scan) fault(ref BlockRef, _ func()) {
	if s.err == nil {
		s.err = &BlockFaultError{Block: ref}
	}
}

func (s *scan) step() {
	ks := s.t.cfg.KeySize
	for !s.ended {
		if s.err != nil {
			// Wait out the other reads so no completion lands after done.
			if s.rd.idle() {
				s.finish(nil, s.err)
			}
			return
		}
		if !s.rd.ready() {
			return
		}
		best := -1
		var bestKey []byte
		for i, c := range s.cursors {
			if st, _ := c.settle(); st != cursorReady {
				continue
			}
			v, _ := c.peek()
			if cmp := compareKeys(v[:ks], bestKey); best < 0 || (!s.reversed && cmp < 0) || (s.reversed && cmp > 0) {
				best, bestKey = i, v[:ks]
			}
		}
		if best < 0 {
			s.finish(s.out, nil)
			return
		}
		v, tomb := s.cursors[best].peek()
		if !tomb {
			s.out = append(s.out, append([]byte(nil), v...))
		}
		s.key = append(s.key[:0], bestKey...)
		for _, c := range s.cursors {
			if st, _ := c.settle(); st == cursorReady {
				if v, _ := c.peek(); bytes.Equal(v[:ks], s.key) {
					c.next()
				}
			}
		}
		if s.limit > 0 && len(s.out) == s.limit {
			s.finish(s.out, nil)
			return
		}
	}
}

func (s *scan) finish(values [][]byte, err error) {
	s.ended = true
	s.t.scans--
	s.done(values, err)
}

// TableCounts returns the number of tables in each level, for tests and the
// run record.
func (t *Tree) TableCounts() []int {
	n := make([]int, t.f.cfg.LevelCount)
	for i := range n {
		n[i] = len(t.levels[i])
	}
	return n
}

// Tables returns level i's tables in key order. The slice is shared: do not
// modify it.
func (t *Tree) Tables(level int) []TableInfo { return t.levels[level] }
