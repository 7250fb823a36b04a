package ledger

import "viewstamp/replica/u128"

// posTable maps account ids to positions: open addressing with linear
// probing, at most half full, cleared in O(1) by bumping a generation. A Go
// map was most of the cost of finding an account (a forest working set
// finds each of a batch's accounts three times and cleared the map, a cost
// proportional to its capacity, every batch). Nothing iterates the table,
// so its slot order decides nothing. A removed id keeps its slot (position
// noPos) until the table grows, so probes never break; only rollback
// removes.
type posTable struct {
	slots []posSlot
	gen   uint32
	mask  uint64
	used  int // slots of the current generation, removed ones too
}

type posSlot struct {
	key u128.U128
	pos int32
	gen uint32
}

// noPos is a removed id's position.
const noPos int32 = -1

// posTableMin is a new table's slot count: a working set's first batch
// grows it to its size once, and it keeps that memory.
const posTableMin = 1 << 8

func newPosTable() posTable {
	return posTable{slots: make([]posSlot, posTableMin), gen: 1, mask: posTableMin - 1}
}

// home is id's first slot: both words mixed, since ids are often
// sequential and a mask of the low word alone would cluster them.
func (t *posTable) home(id u128.U128) uint64 {
	h := id.Lo*0x9e3779b97f4a7c15 ^ id.Hi*0xc2b2ae3d27d4eb4f
	h ^= h >> 31
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 29
	return h & t.mask
}

// find returns id's slot, or the empty slot where it would go.
func (t *posTable) find(id u128.U128) (*posSlot, bool) {
	for i := t.home(id); ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.gen != t.gen {
			return s, false
		}
		if s.key == id {
			return s, true
		}
	}
}

func (t *posTable) get(id u128.U128) (int32, bool) {
	s, ok := t.find(id)
	if !ok || s.pos == noPos {
		return 0, false
	}
	return s.pos, true
}

func (t *posTable) set(id u128.U128, pos int32) {
	s, ok := t.find(id)
	if !ok {
		if 2*(t.used+1) > len(t.slots) {
			t.grow()
			s, _ = t.find(id)
		}
		t.used++
	}
	*s = posSlot{key: id, pos: pos, gen: t.gen}
}

func (t *posTable) remove(id u128.U128) {
	if s, ok := t.find(id); ok {
		s.pos = noPos
	}
}

// reset empties the table, keeping its memory.
func (t *posTable) reset() {
	t.gen++
	t.used = 0
	if t.gen == 0 { // wrapped: old generations would look current
		clear(t.slots)
		t.gen = 1
	}
}

// grow doubles the table, re-placing the live ids and dropping removed ones.
func (t *posTable) grow() {
	old, gen := t.slots, t.gen
	t.slots = make([]posSlot, 2*len(old))
	t.mask, t.gen, t.used = uint64(len(t.slots)-1), 1, 0
	for i := range old {
		if s := &old[i]; s.gen == gen && s.pos != noPos {
			n, _ := t.find(s.key)
			*n = posSlot{key: s.key, pos: s.pos, gen: t.gen}
			t.used++
		}
	}
}
