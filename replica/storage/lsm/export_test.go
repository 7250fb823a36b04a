package lsm

// Tombstones counts the tombstones in a level's tables, reading each value
// block's body through body (the fake grid's store), for tests that check
// where compaction drops them.
func (t *Tree) Tombstones(level int, body func(address uint64) []byte) int {
	n := 0
	for _, table := range t.levels[level] {
		ib, ok := decodeIndexBlock(body(table.Index.Address), t.cfg.KeySize)
		if !ok {
			panic("lsm: index block does not decode")
		}
		for i := range ib.count {
			vb, ok := decodeValueBlock(body(ib.ref(i).Address), t.cfg.KeySize)
			if !ok {
				panic("lsm: value block does not decode")
			}
			for j := range vb.count {
				if vb.tombstone(j) {
					n++
				}
			}
		}
	}
	return n
}
