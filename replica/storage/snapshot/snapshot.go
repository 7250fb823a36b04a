// Package snapshot checkpoints a state machine kept whole in memory: its
// state, encoded as one canonical byte string, is written to the grid as a
// trailer of snapshot blocks, which the superblock's checkpoint state names.
// It stands in for the LSM forest while a state machine lives in memory; it
// costs a write of the whole state per checkpoint.
package snapshot

import (
	"viewstamp/replica/storage"
	"viewstamp/replica/storage/block"
	"viewstamp/replica/storage/grid"
	"viewstamp/replica/u128"
)

// Keeper holds the state captured for the next checkpoint and the trailer of
// the last one, which the next checkpoint releases.
type Keeper struct {
	captured []byte
	last     grid.Trailer
}

// Capture keeps state (not copied: the caller must not change it) as the
// next checkpoint's.
func (k *Keeper) Capture(state []byte) { k.captured = state }

// Checkpoint writes the captured state and records it in cs. Its blocks are
// acquired before it returns; the replaced checkpoint's are released, to be
// reused once this one is durable.
func (k *Keeper) Checkpoint(g *grid.Grid, cs *storage.CheckpointState, done func()) {
	if k.captured == nil {
		panic("snapshot: checkpoint without a captured state")
	}
	g.ReleaseTrailer(k.last)
	data := k.captured
	k.captured = nil
	g.WriteTrailer(block.TypeSnapshot, data, func(t grid.Trailer) {
		k.last = t
		cs.Snapshot = t.Ref
		done()
	})
}

// Open reads the state checkpoint cs holds: nil for the formatted, empty
// state, which has no snapshot.
func (k *Keeper) Open(g *grid.Grid, cs *storage.CheckpointState, done func(state []byte, ok bool)) {
	k.captured, k.last = nil, grid.Trailer{}
	if cs.Snapshot.IsZero() {
		done(nil, true)
		return
	}
	g.ReadTrailer(cs.Snapshot, block.TypeSnapshot, func(t grid.Trailer, data []byte, ok bool) {
		if ok {
			k.last = t
		}
		done(data, ok)
	})
}

// Hash is the whole state of a state machine that keeps only a hash chain
// over what it committed (the protocol tests' state machines), with the
// checkpoint methods of vsr.StateMachine: embed it.
type Hash struct {
	State u128.U128
	k     Keeper
}

// MarkCheckpoint captures State for the next checkpoint.
func (h *Hash) MarkCheckpoint() {
	b := make([]byte, u128Size)
	h.State.Put(b)
	h.k.Capture(b)
}

// Checkpoint writes the captured state.
func (h *Hash) Checkpoint(g *grid.Grid, cs *storage.CheckpointState, done func()) {
	h.k.Checkpoint(g, cs, done)
}

// Open restores State from cs: zero for the formatted state.
func (h *Hash) Open(g *grid.Grid, cs *storage.CheckpointState, done func(ok bool)) {
	h.k.Open(g, cs, func(b []byte, ok bool) {
		switch {
		case ok && b == nil:
			h.State = u128.Zero
		case ok && len(b) == u128Size:
			h.State = u128.Get(b)
		default:
			ok = false
		}
		done(ok)
	})
}

const u128Size = 16
