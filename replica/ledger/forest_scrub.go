package ledger

import "viewstamp/replica/storage/block"

// BlockRoots lists the blocks the forest names from memory (manifest log
// and index blocks), for the replica's scrubber; see lsm.Forest.Roots.
func (m *ForestMachine) BlockRoots() []block.Ref {
	if m.forest == nil {
		return nil
	}
	roots := m.forest.LSM().Roots()
	out := make([]block.Ref, len(roots))
	for i, r := range roots {
		out[i] = block.Ref{Address: r.Address, Checksum: r.Checksum}
	}
	return out
}
