package lsm

import (
	"slices"
	"sort"
)

// compaction merges one source (the immutable table, or one table of level A)
// into the tables of level B it overlaps, writing new tables for level B. It
// runs in shares: each beat hands it a number of input values to consume, so
// the work of a half-bar spreads evenly over its beats. Its outputs become
// visible when the half-bar ends (install); until then reads see its inputs.
type compaction struct {
	t      *Tree
	levelB int
	// Inputs. tableA is nil when the source is the immutable table. inputsB
	// is levels[levelB][startB:endB].
	tableA         *TableInfo
	indexA         int
	startB, endB   int
	move           bool // no overlap: tableA changes level, nothing is rewritten
	dropTombstones bool // level B is the last: nothing deeper to shadow

	a, b    cursor
	rd      *reader
	loop    loop
	builder tableBuilder
	release []uint64 // blocks of the inputs, freed at install

	workTotal int // input values
	workDone  int
	share     int
	yield     func() // called once the share is consumed or the merge ended
	finished  bool
}

func (c *compaction) remaining() int { return c.workTotal - c.workDone }

// plan picks this half-bar's compactions for the tree: in the first half the
// even levels A (0->1, 2->3, ...), in the second the immutable table into
// level 0 and the odd levels A (1->2, 3->4, ...). No level is A of one
// compaction and B of another in the same half, so inputs stay put.
func (t *Tree) plan(firstHalf bool) {
	levelCount := t.f.cfg.LevelCount
	levelA := 0
	if !firstHalf {
		levelA = 1
		if t.immutable != nil && t.immutable.len() > 0 {
			t.planImmutable()
		}
	}
	for ; levelA+1 < levelCount; levelA += 2 {
		if len(t.levels[levelA]) >= t.f.cfg.levelTableCountMax(levelA) {
			t.planTable(levelA)
		}
	}
}

// overlap returns the tables of level b meeting [lo, hi] as [start, end).
func (t *Tree) overlap(level int, lo, hi []byte) (int, int) {
	ks := t.cfg.KeySize
	tables := t.levels[level]
	start := sort.Search(len(tables), func(j int) bool { return compareKeys(tables[j].keyMax(ks), lo) >= 0 })
	end := start + sort.Search(len(tables)-start, func(j int) bool { return compareKeys(tables[start+j].keyMin(ks), hi) > 0 })
	return start, end
}

// coalesce widens an empty overlap [at, at) in level to take in an adjacent
// table when both it and the source are less than half full. Without it, a
// tree fed a few values per bar at ever-growing keys (timestamps) would move
// one tiny table per bar down the levels forever; with it, small tables merge
// until they are at least half full, which bounds the table count by the data
// rather than by the number of bars.
func (t *Tree) coalesce(level, at, sourceValues int) (int, int) {
	half := t.cfg.TableValueCountMax / 2
	if sourceValues >= half {
		return at, at
	}
	tables := t.levels[level]
	if at > 0 && int(tables[at-1].ValueCount) < half {
		return at - 1, at
	}
	if at < len(tables) && int(tables[at].ValueCount) < half {
		return at, at + 1
	}
	return at, at
}

func (t *Tree) planImmutable() {
	lo, hi := t.immutable.keyRange()
	c := &compaction{t: t, levelB: 0}
	c.startB, c.endB = t.overlap(0, lo, hi)
	if c.startB == c.endB {
		c.startB, c.endB = t.coalesce(0, c.startB, t.immutable.len())
	}
	c.a = newRunIter(t.immutable, nil, nil, false)
	c.workTotal = t.immutable.len()
	t.start(c)
}

func (t *Tree) planTable(levelA int) {
	ks := t.cfg.KeySize
	tables := t.levels[levelA]
	best, bestStart, bestEnd := -1, 0, 0
	// The table overlapping the fewest tables below rewrites the least; ties
	// go to the lowest keys, so every replica picks the same one.
	for i := range tables {
		s, e := t.overlap(levelA+1, tables[i].keyMin(ks), tables[i].keyMax(ks))
		if best < 0 || e-s < bestEnd-bestStart {
			best, bestStart, bestEnd = i, s, e
		}
	}
	if bestStart == bestEnd {
		bestStart, bestEnd = t.coalesce(levelA+1, bestStart, int(tables[best].ValueCount))
	}
	c := &compaction{t: t, levelB: levelA + 1, tableA: &tables[best], indexA: best, startB: bestStart, endB: bestEnd}
	if bestStart == bestEnd {
		c.move = true
		c.finished = true
		t.compactions = append(t.compactions, c)
		return
	}
	c.a = &levelIter{keySize: ks, tables: tables[best : best+1], onIndex: c.collect}
	c.workTotal = int(tables[best].ValueCount)
	t.start(c)
}

func (t *Tree) start(c *compaction) {
	inputsB := t.levels[c.levelB][c.startB:c.endB]
	for i := range inputsB {
		c.workTotal += int(inputsB[i].ValueCount)
	}
	c.b = &levelIter{keySize: t.cfg.KeySize, tables: inputsB, onIndex: c.collect}
	c.dropTombstones = c.levelB == t.f.cfg.LevelCount-1
	c.builder = tableBuilder{t: t, level: uint8(c.levelB)}
	c.loop.step = c.step
	c.rd = newReader(t.f.grid, &c.loop, t.f.park, c.a, c.b)
	t.compactions = append(t.compactions, c)
}

func (c *compaction) collect(table *TableInfo, index indexBlock) {
	c.release = append(c.release, table.Index.Address)
	for i := range index.count {
		c.release = append(c.release, index.ref(i).Address)
	}
}

// run consumes share input values (or finishes the merge) and then calls
// yield.
func (c *compaction) run(share int, yield func()) {
	c.share, c.yield = share, yield
	c.loop.kick()
}

func (c *compaction) pause() {
	y := c.yield
	c.yield = nil
	y()
}

func (c *compaction) step() {
	ks := c.t.cfg.KeySize
	for c.yield != nil {
		if c.share <= 0 {
			// The last values consumed may leave both cursors at their
			// end without more IO; finish now rather than next beat.
			if sa, _ := c.a.settle(); sa == cursorExhausted {
				if sb, _ := c.b.settle(); sb == cursorExhausted {
					c.finish()
				}
			}
			c.pause()
			return
		}
		if !c.rd.ready() {
			return
		}
		sa, _ := c.a.settle()
		sb, _ := c.b.settle()
		if sa == cursorExhausted && sb == cursorExhausted {
			c.finish()
			c.pause()
			return
		}
		var v []byte
		var tomb bool
		switch {
		case sb == cursorExhausted:
			v, tomb = c.a.peek()
			c.a.next()
			c.consume(1)
		case sa == cursorExhausted:
			v, tomb = c.b.peek()
			c.b.next()
			c.consume(1)
		default:
			va, ta := c.a.peek()
			vb, tb := c.b.peek()
			switch cmp := compareKeys(va[:ks], vb[:ks]); {
			case cmp < 0:
				v, tomb = va, ta
				c.a.next()
				c.consume(1)
			case cmp > 0:
				v, tomb = vb, tb
				c.b.next()
				c.consume(1)
			default: // A is newer; B's value is shadowed
				v, tomb = va, ta
				c.a.next()
				c.b.next()
				c.consume(2)
			}
		}
		if tomb && (c.dropTombstones || !c.t.deeper(c.levelB, v[:ks])) {
			continue
		}
		c.builder.add(v, tomb)
	}
}

func (c *compaction) consume(n int) {
	c.share -= n
	c.workDone += n
}

func (c *compaction) finish() {
	if !c.finished {
		c.builder.finishTable()
		c.finished = true
	}
}

// install makes the outputs visible at op+1 and retires the inputs, logging
// both in the manifest, removes first.
func (c *compaction) install(op uint64) {
	t := c.t
	m := t.f.manifest
	if !c.finished || c.remaining() != 0 {
		panic("lsm: compaction installed before its work was done")
	}
	levelB := t.levels[c.levelB]
	var outputs []TableInfo
	if c.move {
		moved := *c.tableA
		moved.Level = uint8(c.levelB)
		m.append(&moved, eventUpdate)
		outputs = []TableInfo{moved}
	} else {
		if c.tableA != nil {
			removed := *c.tableA
			removed.SnapshotMax = op
			m.append(&removed, eventRemove)
		}
		for i := c.startB; i < c.endB; i++ {
			removed := levelB[i]
			removed.SnapshotMax = op
			m.append(&removed, eventRemove)
		}
		outputs = c.builder.outputs
		for i := range outputs {
			outputs[i].SnapshotMin = op + 1
			outputs[i].SnapshotMax = SnapshotLatest
			m.append(&outputs[i], eventInsert)
		}
	}
	if c.tableA != nil {
		levelA := int(c.levelB) - 1
		t.levels[levelA] = slices.Concat(t.levels[levelA][:c.indexA], t.levels[levelA][c.indexA+1:])
	} else {
		if t.scans == 0 {
			t.mutable.recycle(t.immutable)
		}
		t.immutable = nil
	}
	t.levels[c.levelB] = slices.Concat(levelB[:c.startB], outputs, levelB[c.endB:])
	t.checkLevel(c.levelB)
	// The grid frees them only once a checkpoint no longer names them; the
	// order is sorted so it does not depend on which read completed first.
	slices.Sort(c.release)
	for _, a := range c.release {
		t.f.grid.Release(a)
	}
}

// deeper reports whether a table below level might hold key. A tombstone
// with nothing below it to shadow is dropped; without this, removed keys
// would keep their tombstones until the last level. The levels below are the
// ones planned against: a compaction running in the same half-bar out of
// level+1 still has its inputs installed, so a version it is moving is seen.
func (t *Tree) deeper(level int, key []byte) bool {
	ks := t.cfg.KeySize
	for l := level + 1; l < t.f.cfg.LevelCount; l++ {
		tables := t.levels[l]
		j := sort.Search(len(tables), func(j int) bool { return compareKeys(tables[j].keyMax(ks), key) >= 0 })
		if j < len(tables) && compareKeys(tables[j].keyMin(ks), key) <= 0 {
			return true
		}
	}
	return false
}

// checkLevel asserts the invariant every lookup relies on: a level's tables
// are in key order and disjoint.
func (t *Tree) checkLevel(level int) {
	ks := t.cfg.KeySize
	tables := t.levels[level]
	for i := range tables {
		if compareKeys(tables[i].keyMin(ks), tables[i].keyMax(ks)) > 0 ||
			(i > 0 && compareKeys(tables[i-1].keyMax(ks), tables[i].keyMin(ks)) >= 0) {
			panic("lsm: level tables overlap or are out of order")
		}
	}
}

// tableBuilder cuts a sorted stream of values into tables of at most
// TableValueCountMax values, writing each value block when it fills and the
// index block when the table ends. Blocks are acquired and written in stream
// order, so the same inputs give the same addresses and bytes everywhere.
type tableBuilder struct {
	t           *Tree
	level       uint8
	vw          valueBlockWriter
	haveValue   bool
	iw          indexBlockWriter
	haveIndex   bool
	tableValues int
	outputs     []TableInfo
}

func (b *tableBuilder) add(value []byte, tomb bool) {
	t := b.t
	if !b.haveIndex {
		b.iw = newIndexBlockWriter(t.f.bodyMax, t.cfg.KeySize, t.cfg.ID)
		b.haveIndex = true
		b.tableValues = 0
	}
	if !b.haveValue {
		b.vw = newValueBlockWriter(t.f.bodyMax, t.cfg.ValueSize, t.layout.valuesPerBlock, t.cfg.ID)
		b.haveValue = true
	}
	b.vw.add(value, tomb)
	b.tableValues++
	if b.vw.full() {
		b.finishValueBlock()
	}
	if b.tableValues == t.cfg.TableValueCountMax {
		b.finishTable()
	}
}

func (b *tableBuilder) finishValueBlock() {
	if !b.haveValue || b.vw.count == 0 {
		return
	}
	ks := b.t.cfg.KeySize
	ref := b.t.f.write(BlockValue, b.vw.body)
	b.iw.add(ref, b.vw.value(0)[:ks], b.vw.value(b.vw.count - 1)[:ks])
	b.haveValue = false
}

func (b *tableBuilder) finishTable() {
	b.finishValueBlock()
	if !b.haveIndex || b.iw.count == 0 {
		b.haveIndex = false
		return
	}
	ib, _ := decodeIndexBlock(b.iw.body, b.t.cfg.KeySize)
	info := TableInfo{TreeID: b.t.cfg.ID, Level: b.level, ValueCount: uint32(b.tableValues)}
	copy(info.KeyMin[:], ib.keyMin(0))
	copy(info.KeyMax[:], ib.keyMax(ib.count-1))
	b.iw.setValueCount(b.tableValues)
	info.Index = b.t.f.write(BlockIndex, b.iw.body)
	b.outputs = append(b.outputs, info)
	b.haveIndex = false
}
