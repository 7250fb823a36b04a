package grid

import (
	"viewstamp/replica/storage"
	"viewstamp/replica/storage/block"
)

// CheckpointRefs is the grid's share of a CheckpointState.
type CheckpointRefs struct {
	ClientSessions  storage.TrailerRef
	FreeSetAcquired storage.TrailerRef
	FreeSetReleased storage.TrailerRef
	StorageSize     uint64
}

// Checkpoint writes a checkpoint's trailers in the one order that keeps the
// free set right: release the previous client-sessions trailer, write the new
// one (its blocks acquired, so the free set records them), then the free set
// (CheckpointFreeSet, which must come last). done gets the references once
// every block is durable. Everything else the checkpoint references (the
// manifest's blocks) must be acquired before this call, and the conditions of
// CheckpointFreeSet hold.
func (g *Grid) Checkpoint(sessions []byte, done func(CheckpointRefs)) {
	g.ReleaseTrailer(g.sessions)
	var refs CheckpointRefs
	pending := 2
	finish := func() {
		pending--
		if pending == 0 {
			done(refs)
		}
	}
	addresses := g.startTrailer(block.TypeClientSessions, sessions, func(t Trailer) {
		refs.ClientSessions = t.Ref
		finish()
	})
	g.sessions = Trailer{Addresses: addresses}
	g.CheckpointFreeSet(func(acquired, released storage.TrailerRef) {
		refs.FreeSetAcquired, refs.FreeSetReleased = acquired, released
		finish()
	})
	refs.StorageSize = g.StorageSize()
}

// Open loads the grid's state at a checkpoint: the free set from its two
// trailers, then the client sessions trailer, whose bytes done receives.
// ok is false if any of them cannot be read (the replica must then fetch
// the blocks from a peer). Checkpoint 0 has nothing to open.
func (g *Grid) Open(refs CheckpointRefs, done func(sessions []byte, ok bool)) {
	g.OpenFreeSet(refs.FreeSetAcquired, refs.FreeSetReleased, func(ok bool) {
		if !ok {
			done(nil, false)
			return
		}
		g.ReadTrailer(refs.ClientSessions, block.TypeClientSessions, func(t Trailer, data []byte, ok bool) {
			if !ok {
				done(nil, false)
				return
			}
			g.sessions = t
			done(data, true)
		})
	})
}
