package check

import (
	"testing"

	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

func TestServedHeadersMustBeProvablyCanonical(t *testing.T) {
	root := u128.From64(1)
	s := NewState(1, root)
	h1 := vsr.Header{Command: vsr.CommandPrepare, Op: 1, Parent: root, Checksum: u128.From64(11)}
	if err := s.Commit(0, &h1, nil, u128.Zero); err != nil {
		t.Fatal(err)
	}
	h2 := vsr.Header{Command: vsr.CommandPrepare, Op: 2, Parent: h1.Checksum, Checksum: u128.From64(12), View: 1}
	stale := vsr.Header{Command: vsr.CommandPrepare, Op: 3, Checksum: u128.From64(99), View: 0}
	// The server executed op 1; its log chains from its head down to op 2.
	chained := func(op uint64) (u128.U128, bool) {
		if op == 2 {
			return h2.Checksum, true
		}
		return u128.Zero, false
	}
	if err := Served(0, []vsr.Header{h2, h1}, 1, chained, s); err != nil {
		t.Fatalf("executed and chained headers: %v", err)
	}
	wantErr(t, Served(0, []vsr.Header{stale}, 1, chained, s), "replica 0 served header")
	wantErr(t, Served(0, []vsr.Header{stale}, 1, chained, s), "cannot prove canonical")
	other := h1
	other.Checksum = u128.From64(21)
	wantErr(t, Served(2, []vsr.Header{other}, 1, chained, s), "which it executed as")
}

func TestJoinViewHeadersMustChain(t *testing.T) {
	h3 := vsr.Header{Op: 3, Checksum: u128.From64(3), Parent: u128.From64(2)}
	h2 := vsr.Header{Op: 2, Checksum: u128.From64(2), Parent: u128.From64(1)}
	stale := vsr.Header{Op: 2, Checksum: u128.From64(22), Parent: u128.From64(1)}
	h1 := vsr.Header{Op: 1, Checksum: u128.From64(1)}
	if err := JoinView(0, 5, []vsr.Header{h3, h2, h1}, []bool{false, false, false}); err != nil {
		t.Fatalf("a chained suffix: %v", err)
	}
	// A gap says nothing either way.
	if err := JoinView(0, 5, []vsr.Header{h3, {}, h1}, []bool{false, true, false}); err != nil {
		t.Fatalf("a suffix with a gap: %v", err)
	}
	wantErr(t, JoinView(1, 5, []vsr.Header{h3, stale, h1}, []bool{false, false, false}), "replica 1's join_view for view 5 reports op 2")
}
