package vsr

import (
	"testing"

	rio "viewstamp/replica/io"
)

// stageView stages view on r's superblock and completes IO one completion at
// a time, checking that no more than half the copies are ever in flight.
func stageView(t *testing.T, r *Replica, st *memStorage, view uint32) {
	t.Helper()
	r.sb.stage(VSRState{Replica: r.index, View: view, LogView: r.logView, ViewHeaders: r.viewHeaders})
	for len(st.pending) > 0 {
		if n := st.inFlight(rio.ZoneSuperblock); n > superblockCopiesInFlight {
			t.Fatalf("%d superblock copies in flight at once; a crash could tear more than half", n)
		}
		o := st.pending[0]
		st.pending = st.pending[1:]
		copy(st.zones[o.zone][o.off:], o.buf)
		o.done()
	}
}

func TestSuperblockWritesHalfAtATime(t *testing.T) {
	st := newMemStorage(SimConfig(3))
	r, _ := openReplica(t, 3, 1, st, true)
	stageView(t, r, st, 5)
	if r.sb.durable.View != 5 {
		t.Fatalf("durable view %d, want 5", r.sb.durable.View)
	}
	r2, _ := openReplica(t, 3, 1, st, false)
	if r2.View() != 5 {
		t.Fatalf("reopened at view %d, want 5", r2.View())
	}
}

// A crash while either half of a version is in flight leaves a whole copy of
// the old or the new version, and the reopened replica completes it in every
// copy.
func TestSuperblockCrashMidWrite(t *testing.T) {
	for _, half := range []int{0, 1} {
		st := newMemStorage(SimConfig(3))
		r, _ := openReplica(t, 3, 1, st, true)
		r.sb.stage(VSRState{Replica: 1, View: 4, LogView: r.logView, ViewHeaders: r.viewHeaders})
		for i := 0; i < half*superblockCopiesInFlight; i++ {
			o := st.pending[0]
			st.pending = st.pending[1:]
			copy(st.zones[o.zone][o.off:], o.buf)
			o.done()
		}
		if n := st.inFlight(rio.ZoneSuperblock); n != superblockCopiesInFlight {
			t.Fatalf("half %d: %d copies in flight, want %d", half, n, superblockCopiesInFlight)
		}
		st.crash()
		r2, _ := openReplica(t, 3, 1, st, false)
		want := uint32(0)
		if half == 1 {
			want = 4
		}
		if r2.View() != want {
			t.Fatalf("crash in half %d: reopened at view %d, want %d", half, r2.View(), want)
		}
		l := r.cfg.Layout()
		for c := uint64(0); c < SuperblockCopies; c++ {
			off := l.SuperblockCopyOffset(c)
			s, ok := decodeSuperblock(st.zones[rio.ZoneSuperblock][off:off+l.SuperblockCopySize], r.cfg, testCluster)
			if !ok || s.View != want {
				t.Fatalf("crash in half %d: copy %d not repaired (valid %v, view %d)", half, c, ok, s.View)
			}
		}
	}
}

// Staging what is already durable writes nothing.
func TestSuperblockSkipsDurableContent(t *testing.T) {
	st := newMemStorage(SimConfig(3))
	r, _ := openReplica(t, 3, 1, st, true)
	d := r.sb.durable
	called := false
	r.sb.done = func() { called = true }
	r.sb.stage(VSRState{Replica: d.Replica, View: d.View, LogView: d.LogView, CommitMax: d.CommitMax, ViewHeaders: d.ViewHeaders})
	if st.inFlight(rio.ZoneSuperblock) != 0 || !called {
		t.Fatalf("staging durable content: %d writes, done called %v", st.inFlight(rio.ZoneSuperblock), called)
	}
}
