package scrub

import (
	"viewstamp/replica/storage/block"
	"viewstamp/replica/storage/grid"
)

// GridOf is g as the scrubber reads it.
func GridOf(g *grid.Grid) Grid { return gridReader{g} }

type gridReader struct{ g *grid.Grid }

func (r gridReader) ReadBlockLocal(ref block.Ref, done func(blk []byte, ok bool)) {
	r.g.ReadBlockLocalLent(ref, done)
}

// Skip: a block the current checkpoint references is acquired and not
// released; one released since may be freed and reused before the tour
// reaches it, and one being written (a repair landing) is about to change.
func (r gridReader) Skip(address uint64) bool {
	f := r.g.FreeSet()
	return address == 0 || address > f.Blocks() || !f.IsAcquired(address) || f.IsReleased(address) || r.g.Writing(address)
}

// AppendTrailerChildren appends to dst the block a checkpoint trailer's
// block links back to: the scrubber walks a trailer from the reference the
// superblock holds.
func AppendTrailerChildren(dst []block.Ref, blk []byte) []block.Ref {
	switch block.DecodeHeader(blk).Type {
	case block.TypeFreeSet, block.TypeClientSessions, block.TypeSnapshot:
		if link := block.Link(block.Metadata(blk)); link.Address != 0 {
			return append(dst, link)
		}
	}
	return dst
}
