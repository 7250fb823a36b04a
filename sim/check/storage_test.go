package check

import (
	"strings"
	"testing"

	"viewstamp/replica/u128"
)

func stored(id uint64, blocks ...uint64) Stored {
	st := Stored{ID: u128.From64(id), Replies: u128.From64(1)}
	for i, d := range blocks {
		st.Blocks = append(st.Blocks, BlockDigest{Address: uint64(i + 1), Digest: u128.From64(d)})
		st.Grid = u128.U128{Lo: st.Grid.Lo*31 + d, Hi: uint64(i + 1)}
	}
	return st
}

func TestCheckpointsFailOnDivergence(t *testing.T) {
	c := NewCheckpoints()
	for _, r := range []int{0, 2, 1} {
		if err := c.Checkpointed(r, 19, stored(7, 10, 11)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Checkpointed(0, 39, stored(8, 10, 12)); err != nil {
		t.Fatal(err)
	}
	if err := c.Checkpointed(1, 39, stored(9, 10, 12)); err == nil {
		t.Fatal("replica 1's checkpoint 39 differs from replica 0's and passed")
	}
	if c.Count() != 2 {
		t.Fatalf("count %d, want 2", c.Count())
	}
}

// The same checkpoint id over a different block is a storage divergence,
// and the verdict names the block.
func TestCheckpointsFailOnADivergentBlock(t *testing.T) {
	c := NewCheckpoints()
	if err := c.Checkpointed(0, 19, stored(7, 10, 11, 12)); err != nil {
		t.Fatal(err)
	}
	err := c.Checkpointed(3, 19, stored(7, 10, 99, 12))
	if err == nil || !strings.Contains(err.Error(), "block 2 differs") {
		t.Fatalf("a divergent block 2: %v", err)
	}
	err = c.Checkpointed(4, 19, stored(7, 10, 11))
	if err == nil || !strings.Contains(err.Error(), "lacks block 3") {
		t.Fatalf("a missing block 3: %v", err)
	}
	bad := stored(7, 10, 11, 12)
	bad.Replies = u128.From64(2)
	if err := c.Checkpointed(5, 19, bad); err == nil || !strings.Contains(err.Error(), "client replies") {
		t.Fatalf("divergent client replies: %v", err)
	}
}

// Per-block digests are kept for the newest checkpoints only.
func TestCheckpointsKeepBlocksBounded(t *testing.T) {
	c := NewCheckpoints()
	for op := uint64(19); op < 19+20*10; op += 20 {
		if err := c.Checkpointed(0, op, stored(op, 1, 2, 3)); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.blocks) != blocksKept {
		t.Fatalf("%d checkpoints' blocks kept, want %d", len(c.blocks), blocksKept)
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
