package lsm

import (
	"bytes"
)

// A cursor walks values in key order, loading blocks only when asked. settle
// advances as far as it can without IO and says whether a value is ready, the
// cursor is exhausted, or which block it needs; the caller reads the block and
// hands it back through fill. Keeping IO out of the cursor lets one driver
// issue the reads of many cursors at once and decide, deterministically, what
// happens when they complete.
type cursor interface {
	settle() (cursorState, BlockRef)
	peek() (value []byte, tomb bool)
	next()
	fill(state cursorState, body []byte) bool
}

type cursorState uint8

const (
	cursorReady cursorState = iota
	cursorExhausted
	cursorNeedIndex
	cursorNeedValue
)

// runIter walks a run's values with keys in [lo, hi] (nil: unbounded), in
// key order or, reversed, from the largest down.
type runIter struct {
	r        *run
	pos      int
	lo, hi   []byte
	reversed bool
}

func newRunIter(r *run, lo, hi []byte, reversed bool) *runIter {
	it := &runIter{r: r, lo: lo, hi: hi, reversed: reversed}
	switch {
	case !reversed && lo != nil:
		it.pos = r.search(lo)
	case reversed && hi != nil:
		it.pos = lastAtMost(r.search(hi), r.len(), hi, func(i int) []byte { return r.value(i)[:r.keySize] })
	case reversed:
		it.pos = r.len() - 1
	}
	return it
}

// lastAtMost turns first, the first index whose key is >= key, into the last
// index whose key is <= key (-1 if none).
func lastAtMost(first, count int, key []byte, keyAt func(int) []byte) int {
	if first < count && bytes.Equal(keyAt(first), key) {
		return first
	}
	return first - 1
}

func (it *runIter) settle() (cursorState, BlockRef) {
	if it.pos < 0 || it.pos >= it.r.len() {
		return cursorExhausted, BlockRef{}
	}
	k := it.r.value(it.pos)[:it.r.keySize]
	if (!it.reversed && it.hi != nil && compareKeys(k, it.hi) > 0) ||
		(it.reversed && it.lo != nil && compareKeys(k, it.lo) < 0) {
		return cursorExhausted, BlockRef{}
	}
	return cursorReady, BlockRef{}
}

func (it *runIter) peek() ([]byte, bool) { return it.r.value(it.pos), it.r.tombs[it.pos] }

func (it *runIter) next() {
	if it.reversed {
		it.pos--
	} else {
		it.pos++
	}
}

func (it *runIter) fill(cursorState, []byte) bool { return false }

// levelIter walks the values of a key-ordered list of disjoint tables (one
// level, or the inputs of a compaction) with keys in [lo, hi], in key order
// or reversed. Blocks are copied out of the grid's buffer, which is only lent
// for the completion.
type levelIter struct {
	keySize   int
	tables    []TableInfo
	lo, hi    []byte // nil: unbounded
	reversed  bool
	started   bool
	ti        int
	indexBuf  []byte
	index     indexBlock
	haveIndex bool
	vbi       int
	valueBuf  []byte
	vb        valueBlock
	haveValue bool
	pos       int
	exhausted bool
	// onIndex sees every index block loaded, so a compaction learns the value
	// blocks it must release once its inputs are gone.
	onIndex func(table *TableInfo, index indexBlock)
}

// step is +1 forward, -1 reversed.
func (it *levelIter) step() int {
	if it.reversed {
		return -1
	}
	return 1
}

// beyond reports whether key lies past the end of the walk.
func (it *levelIter) beyond(key []byte) bool {
	if it.reversed {
		return it.lo != nil && compareKeys(key, it.lo) < 0
	}
	return it.hi != nil && compareKeys(key, it.hi) > 0
}

func (it *levelIter) settle() (cursorState, BlockRef) {
	if !it.started {
		it.started = true
		if it.reversed {
			it.ti = len(it.tables) - 1
		}
	}
	for !it.exhausted {
		switch {
		case !it.haveIndex:
			if it.ti < 0 || it.ti >= len(it.tables) {
				it.exhausted = true
				continue
			}
			return cursorNeedIndex, it.tables[it.ti].Index
		case !it.haveValue:
			if it.vbi < 0 || it.vbi >= it.index.count {
				it.ti += it.step()
				it.haveIndex = false
				continue
			}
			// The block's nearest key already lies past the walk's end.
			near := it.index.keyMin(it.vbi)
			if it.reversed {
				near = it.index.keyMax(it.vbi)
			}
			if it.beyond(near) {
				it.exhausted = true
				continue
			}
			return cursorNeedValue, it.index.ref(it.vbi)
		case it.pos < 0 || it.pos >= it.vb.count:
			it.haveValue = false
			it.vbi += it.step()
		case it.beyond(it.vb.value(it.pos)[:it.keySize]):
			it.exhausted = true
		default:
			return cursorReady, BlockRef{}
		}
	}
	return cursorExhausted, BlockRef{}
}

func (it *levelIter) peek() ([]byte, bool) { return it.vb.value(it.pos), it.vb.tombstone(it.pos) }
func (it *levelIter) next()                { it.pos += it.step() }

func (it *levelIter) fill(state cursorState, body []byte) bool {
	switch state {
	case cursorNeedIndex:
		it.indexBuf = append(it.indexBuf[:0], body...)
		ib, ok := decodeIndexBlock(it.indexBuf, it.keySize)
		if !ok {
			return false
		}
		it.index, it.haveIndex = ib, true
		switch {
		case !it.reversed && it.lo != nil:
			it.vbi = ib.search(it.lo)
		case !it.reversed:
			it.vbi = 0
		case it.hi != nil:
			// The last block whose key_min is <= hi.
			it.vbi = ib.search(it.hi)
			if it.vbi == ib.count || compareKeys(ib.keyMin(it.vbi), it.hi) > 0 {
				it.vbi--
			}
		default:
			it.vbi = ib.count - 1
		}
		if it.onIndex != nil {
			it.onIndex(&it.tables[it.ti], ib)
		}
	case cursorNeedValue:
		it.valueBuf = append(it.valueBuf[:0], body...)
		vb, ok := decodeValueBlock(it.valueBuf, it.keySize)
		if !ok {
			return false
		}
		it.vb, it.haveValue = vb, true
		switch {
		case !it.reversed && it.lo != nil:
			it.pos = vb.search(it.lo)
		case !it.reversed:
			it.pos = 0
		case it.hi != nil:
			it.pos = lastAtMost(vb.search(it.hi), vb.count, it.hi, func(i int) []byte { return vb.value(i)[:it.keySize] })
		default:
			it.pos = vb.count - 1
		}
	default:
		return false
	}
	return true
}

// loop runs step until it stops asking to run again. IO completions call
// kick; one that arrives while step is running (a grid completing inside the
// call) only marks the loop to go round again, so completions never recurse.
type loop struct {
	running, again bool
	step           func()
}

func (l *loop) kick() {
	if l.running {
		l.again = true
		return
	}
	l.running = true
	for {
		l.again = false
		l.step()
		if !l.again {
			break
		}
	}
	l.running = false
}

// reader issues the block reads its cursors need, at most one per cursor at
// a time, and kicks the loop when each completes. A block that cannot be read
// intact parks its cursor and goes to onFault with a retry.
type reader struct {
	grid     Grid
	cursors  []cursor
	inflight []bool
	parked   []bool
	loop     *loop
	onFault  func(ref BlockRef, retry func())
}

func newReader(grid Grid, l *loop, onFault func(BlockRef, func()), cursors ...cursor) *reader {
	return &reader{
		grid:     grid,
		cursors:  cursors,
		inflight: make([]bool, len(cursors)),
		parked:   make([]bool, len(cursors)),
		loop:     l,
		onFault:  onFault,
	}
}

// ready settles every cursor, reading the blocks they need, and reports
// whether each has a value or is exhausted.
func (r *reader) ready() bool {
	all := true
	for i, c := range r.cursors {
		if r.inflight[i] || r.parked[i] {
			all = false
			continue
		}
		st, ref := c.settle()
		if st == cursorReady || st == cursorExhausted {
			continue
		}
		all = false
		r.inflight[i] = true
		r.grid.ReadBlock(ref.Address, ref.Checksum, func(body []byte, ok bool) {
			r.inflight[i] = false
			if !ok || !c.fill(st, body) {
				r.parked[i] = true
				r.onFault(ref, func() {
					r.parked[i] = false
					r.loop.kick()
				})
			}
			r.loop.kick()
		})
	}
	return all
}

func (r *reader) idle() bool {
	for i := range r.cursors {
		if r.inflight[i] {
			return false
		}
	}
	return true
}
