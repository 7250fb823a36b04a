package check

import (
	"testing"

	"viewstamp/replica/u128"
)

func TestCheckpointsFailOnDivergence(t *testing.T) {
	c := NewCheckpoints()
	for _, r := range []int{0, 2, 1} {
		if err := c.Checkpointed(r, 19, u128.From64(7)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Checkpointed(0, 39, u128.From64(8)); err != nil {
		t.Fatal(err)
	}
	if err := c.Checkpointed(1, 39, u128.From64(9)); err == nil {
		t.Fatal("replica 1's checkpoint 39 differs from replica 0's and passed")
	}
	if c.Count() != 2 {
		t.Fatalf("count %d, want 2", c.Count())
	}
}

func TestOpenedStateMustBeTheHistorys(t *testing.T) {
	s, hs := committed(t, 4)
	if err := s.Opened(1, 3, state(3)); err != nil {
		t.Fatal(err)
	}
	// It replays from op 4.
	if err := s.Commit(1, &hs[3], nil, state(4)); err != nil {
		t.Fatal(err)
	}
	if err := s.Opened(2, 3, state(2)); err == nil {
		t.Fatal("a checkpoint opened with another state passed")
	}
	if err := s.Opened(2, 9, state(9)); err == nil {
		t.Fatal("a checkpoint beyond the history passed")
	}
}

func TestWALWriteStaysInsideTheCheckpointsReach(t *testing.T) {
	for _, op := range []uint64{20, 35, 51} {
		if err := WALWrite(0, op, 19, 51); err != nil {
			t.Fatal(err)
		}
	}
	if err := WALWrite(0, 3, 0, 31); err != nil {
		t.Fatal(err)
	}
	for _, op := range []uint64{52, 80} {
		if err := WALWrite(0, op, 19, 51); err == nil {
			t.Fatalf("op %d at checkpoint 19 (prepare_max 51) passed", op)
		}
	}
}
