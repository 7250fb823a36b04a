package grid

import (
	"bytes"
	"testing"

	rio "viewstamp/replica/io"
	"viewstamp/replica/storage/storagetest"
)

func gridCheckpoint(t *testing.T, g *Grid, st *storagetest.MemStorage, sessions []byte) CheckpointRefs {
	t.Helper()
	var refs *CheckpointRefs
	g.Checkpoint(sessions, func(r CheckpointRefs) { refs = &r })
	st.RunFIFO()
	if refs == nil {
		t.Fatal("checkpoint never completed")
	}
	g.CheckpointWritten()
	return *refs
}

// Checkpoints of the grid's trailers, over many intervals, with a restart
// from one of them: the restarted grid reads back the sessions and goes on
// exactly like the one that never stopped, and trailer blocks do not pile up.
func TestCheckpointAndOpen(t *testing.T) {
	g, st := newSimGrid(256)
	var r *Grid
	var rst *storagetest.MemStorage
	sessionsAt := func(n int) []byte { return body(n, 1000+n*900) } // 1 to 4 blocks
	var live []uint64
	step := func(x *Grid, n int) {
		// Some forest activity: two blocks acquired, the oldest two released.
		for range 2 {
			a := x.Acquire()
			x.WriteBlock(a, 5, body(n, 64), func() {})
			if x == g {
				live = append(live, a)
			}
		}
	}
	for n := range 12 {
		for _, x := range []*Grid{g, r} {
			if x == nil {
				continue
			}
			step(x, n)
		}
		if len(live) > 4 {
			for _, x := range []*Grid{g, r} {
				if x != nil {
					x.Release(live[0])
					x.Release(live[1])
				}
			}
			live = live[2:]
		}
		st.RunFIFO()
		refs := gridCheckpoint(t, g, st, sessionsAt(n))
		if r != nil {
			rst.RunFIFO()
			if rr := gridCheckpoint(t, r, rst, sessionsAt(n)); rr != refs {
				t.Fatalf("checkpoint %d: restarted grid wrote %+v, live grid %+v", n, rr, refs)
			}
		}
		if n == 5 {
			// Crash after the superblock of checkpoint 5, restart from it.
			rst = st.Clone()
			r = New(rst, g.layout, testCluster)
			var sessions []byte
			ok := false
			r.Open(refs, func(s []byte, o bool) { sessions, ok = s, o })
			rst.RunFIFO()
			if !ok || !bytes.Equal(sessions, sessionsAt(n)) {
				t.Fatalf("open: ok %v, sessions equal %v", ok, bytes.Equal(sessions, sessionsAt(n)))
			}
			sameFreeSet(t, "after open", g, r)
		}
		g.CheckpointDurable()
		if r != nil {
			r.CheckpointDurable()
			sameFreeSet(t, "after durability", g, r)
		}
		// Live blocks, the sessions trailer (at most 4 blocks) and the
		// two free-set trailers; nothing older survives durability.
		if got, most := g.FreeSet().AcquiredCount(), uint64(len(live)+4+2); got > most {
			t.Fatalf("checkpoint %d: %d blocks acquired, at most %d expected", n, got, most)
		}
	}
	if !bytes.Equal(st.Bytes(rio.ZoneGrid), rst.Bytes(rio.ZoneGrid)) {
		t.Fatal("live and restarted grids differ")
	}
}
