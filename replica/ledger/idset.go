package ledger

import "viewstamp/replica/u128"

// idSet is a set of ids that also remembers them in a slice: a snapshot must
// list the set in an order that does not depend on Go's map iteration, and
// ids have no order that slices.Sorted accepts.
type idSet struct {
	m   map[u128.U128]struct{}
	ids []u128.U128
}

func newIDSet() idSet { return idSet{m: map[u128.U128]struct{}{}} }

func (s *idSet) has(id u128.U128) bool {
	_, ok := s.m[id]
	return ok
}

func (s *idSet) add(id u128.U128) {
	if _, ok := s.m[id]; ok {
		return
	}
	s.m[id] = struct{}{}
	s.ids = append(s.ids, id)
}

func (s *idSet) len() int { return len(s.ids) }
