package vsr

import "testing"

// The table in TigerBeetle's documentation, R = 1..6.
func TestQuorumTable(t *testing.T) {
	want := map[uint8][3]uint8{
		1: {1, 1, 1}, 2: {2, 2, 1}, 3: {2, 2, 2}, 4: {2, 3, 3}, 5: {3, 3, 3}, 6: {3, 4, 4},
	}
	for r := uint8(1); r <= 6; r++ {
		q := QuorumsFor(r)
		got := [3]uint8{q.Replication, q.ViewChange, q.Nack}
		if got != want[r] {
			t.Errorf("R=%d: quorums %v, want %v", r, got, want[r])
		}
		// Safety needs every replication quorum to meet every view-change quorum.
		if r > 1 && q.Replication+q.ViewChange <= r {
			t.Errorf("R=%d: replication %d and view change %d need not intersect", r, q.Replication, q.ViewChange)
		}
	}
}
