package ledger

import (
	"sort"

	"viewstamp/replica/u128"
)

// idIndex maps ids to positions. Ids that arrive in increasing order, as
// TigerBeetle advises clients to make them (time-based ids), go to an
// append-only sorted run: looking up a new id is one comparison with the
// largest and inserting it is an append, both on memory already in cache.
// Ids that arrive out of order go to a hash map. A random-id workload pays
// for the map, as it would pay for scattered writes in an LSM.
type idIndex struct {
	run  chunks[idEntry]
	rest map[u128.U128]int32
}

type idEntry struct {
	id  u128.U128
	pos int32
}

func newIDIndex() idIndex { return idIndex{rest: map[u128.U128]int32{}} }

func (x *idIndex) last() (u128.U128, bool) {
	if x.run.len() == 0 {
		return u128.U128{}, false
	}
	return x.run.at(int32(x.run.len() - 1)).id, true
}

func (x *idIndex) get(id u128.U128) (int32, bool) {
	if last, ok := x.last(); ok && !last.Less(id) {
		n := x.run.len()
		i := sort.Search(n, func(k int) bool { return !x.run.at(int32(k)).id.Less(id) })
		if i < n && x.run.at(int32(i)).id == id {
			return x.run.at(int32(i)).pos, true
		}
	}
	if len(x.rest) == 0 {
		return 0, false
	}
	p, ok := x.rest[id]
	return p, ok
}

// put adds an id that get reported absent.
func (x *idIndex) put(id u128.U128, pos int32) {
	if last, ok := x.last(); !ok || last.Less(id) {
		x.run.push(idEntry{id, pos})
		return
	}
	x.rest[id] = pos
}

// remove undoes the latest put of id; rollback is its only caller.
func (x *idIndex) remove(id u128.U128) {
	if last, ok := x.last(); ok && last == id {
		x.run.truncate(x.run.len() - 1)
		return
	}
	delete(x.rest, id)
}
