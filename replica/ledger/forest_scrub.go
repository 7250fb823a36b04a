package ledger

import "viewstamp/replica/storage/block"

// AppendBlockRoots appends to dst the blocks the forest names from memory
// (manifest log and index blocks), for the replica's scrubber; see
// lsm.Forest.AppendRoots.
func (m *ForestMachine) AppendBlockRoots(dst []block.Ref) []block.Ref {
	if m.forest == nil {
		return dst
	}
	m.roots = m.forest.LSM().AppendRoots(m.roots[:0])
	for _, r := range m.roots {
		dst = append(dst, block.Ref{Address: r.Address, Checksum: r.Checksum})
	}
	return dst
}
