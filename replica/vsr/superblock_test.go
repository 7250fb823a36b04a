package vsr

import (
	"testing"

	rio "viewstamp/replica/io"
)

// stageView stages view on r's superblock and completes IO one completion at
// a time, checking that no more than one copy is ever in flight.
func stageView(t *testing.T, r *Replica, st *memStorage, view uint32) {
	t.Helper()
	r.sb.stage(VSRState{Replica: r.index, View: view, LogView: r.logView, ViewHeaders: r.viewHeaders})
	for len(st.pending) > 0 {
		if n := st.inFlight(rio.ZoneSuperblock); n > superblockCopiesInFlight {
			t.Fatalf("%d superblock copies in flight at once; a crash could tear more than one", n)
		}
		o := st.pending[0]
		st.pending = st.pending[1:]
		copy(st.zones[o.zone][o.off:], o.buf)
		o.done()
	}
}

func TestSuperblockWritesOneCopyAtATime(t *testing.T) {
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

// A crash while the first or second copy of a version is in flight leaves
// a quorum of the old version, or one copy of the new one chained to its
// parent, and the reopened replica completes what it opens in every copy.
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

// One copy corrupt and one stale (a lost write that kept the older version)
// still leave two copies of the newest version: open takes it, not the
// stale one, and rewrites both bad copies.
func TestSuperblockOpensPastCorruptAndStaleCopies(t *testing.T) {
	st := newMemStorage(SimConfig(3))
	r, _ := openReplica(t, 3, 1, st, true)
	l := r.cfg.Layout()
	zone := st.zones[rio.ZoneSuperblock]
	off := func(c uint64) uint64 { return l.SuperblockCopyOffset(c) }
	old := append([]byte(nil), zone[off(3):off(3)+l.SuperblockCopySize]...)
	stageView(t, r, st, 7)
	want := r.sb.durable.Sequence
	copy(zone[off(3):], old)
	zone[off(0)+100] ^= 0x10
	r2, _ := openReplica(t, 3, 1, st, false)
	if r2.View() != 7 || r2.sb.durable.Sequence != want {
		t.Fatalf("opened view %d sequence %d, want view 7 sequence %d", r2.View(), r2.sb.durable.Sequence, want)
	}
	for c := uint64(0); c < SuperblockCopies; c++ {
		s, ok := decodeSuperblock(zone[off(c):off(c)+l.SuperblockCopySize], r.cfg, testCluster)
		if !ok || s.Sequence != want {
			t.Fatalf("copy %d not repaired (valid %v, sequence %d)", c, ok, s.Sequence)
		}
	}
}

// A lone copy of the newest version, with no copy of the parent it names,
// is no quorum: open refuses rather than guess.
func TestSuperblockQuorumLost(t *testing.T) {
	st := newMemStorage(SimConfig(3))
	r, _ := openReplica(t, 3, 1, st, true)
	stageView(t, r, st, 7)
	stageView(t, r, st, 8)
	l := r.cfg.Layout()
	copies := make([][]byte, SuperblockCopies)
	for c := range copies {
		o := l.SuperblockCopyOffset(uint64(c))
		copies[c] = append([]byte(nil), st.zones[rio.ZoneSuperblock][o:o+l.SuperblockCopySize]...)
		if c > 0 {
			copies[c][200] ^= 1
		}
	}
	if _, _, err := chooseSuperblock(copies, r.cfg, testCluster, 1); err == nil {
		t.Fatal("opened from one copy")
	}
	copies[1] = append([]byte(nil), copies[0]...)
	copies[1][sbCopy] = 0 // copy 0 misdirected onto slot 1: still one vote
	if _, _, err := chooseSuperblock(copies, r.cfg, testCluster, 1); err == nil {
		t.Fatal("counted a misdirected duplicate as a second copy")
	}
}
