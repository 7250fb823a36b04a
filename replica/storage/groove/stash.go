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
// so execute finds each object it was promised. Its maps are only looked up,
// never iterated. Entries are allocated in a fixed arena of StashMax
// objects: a batch that needs more is misconfigured.
type stash struct {
	max        int
	objectSize int
	entries    []entry
	objects    []byte
	byID       map[u128.U128]int32
	byTS       map[uint64]int32
}

func (s *stash) init(max, objectSize int) {
	s.max, s.objectSize = max, objectSize
	s.entries = make([]entry, 0, max)
	s.objects = make([]byte, max*objectSize)
	s.byID = make(map[u128.U128]int32, max)
	s.byTS = make(map[uint64]int32, max)
}

func (s *stash) reset() {
	s.entries = s.entries[:0]
	clear(s.byID)
	clear(s.byTS)
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
