package lsm

import "encoding/binary"

// AppendRoots appends to out the blocks the forest names from memory: its
// manifest log's blocks and every table's index block, in a fixed order
// (manifest oldest first, then trees by id, levels top down, tables by
// key). Everything else the forest holds is a value block an index block
// names (IndexBlockValues), so a scrubber that reads these and follows their
// index blocks visits the whole forest. Taken right after a checkpoint, these are the checkpoint's.
func (f *Forest) AppendRoots(out []BlockRef) []BlockRef {
	for _, b := range f.manifest.blocks {
		out = append(out, b.ref)
	}
	for _, t := range f.trees {
		for level := range f.cfg.LevelCount {
			for _, table := range t.levels[level] {
				out = append(out, table.Index)
			}
		}
	}
	return out
}

// IndexBlockValues lists the value blocks an index block's body names, or
// false if the body is not a well-formed index block. The block carries its
// own key size, so this needs no tree: the caller has verified the block
// against its reference, so the body is the one its table wrote.
func IndexBlockValues(body []byte) ([]BlockRef, bool) {
	if len(body) < indexBlockHeaderSize {
		return nil, false
	}
	ib, ok := decodeIndexBlock(body, int(binary.LittleEndian.Uint16(body[4:])))
	if !ok {
		return nil, false
	}
	out := make([]BlockRef, ib.count)
	for i := range out {
		out[i] = ib.ref(i)
	}
	return out, true
}
