package check

import (
	"strings"
	"testing"

	"viewstamp/replica/u128"
)

func stored(id uint64, blocks ...uint64) Stored {
	st := Stored{ID: u128.From64(id), Slots: []Digest{{Address: 3, Digest: u128.From64(1)}, {Address: 5, Digest: u128.From64(2)}}}
	for i, d := range blocks {
		st.Blocks = append(st.Blocks, Digest{Address: uint64(i + 1), Digest: u128.From64(d)})
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
}

// Reply slots are compared slot by slot; one its replica declares missing
// is skipped, and the first held copy of a slot becomes the reference.
func TestCheckpointsCompareReplySlots(t *testing.T) {
	c := NewCheckpoints()
	lacking := stored(7, 10)
	lacking.Slots[1] = Digest{Address: 5, Digest: u128.From64(99), Missing: true}
	if err := c.Checkpointed(0, 19, lacking); err != nil {
		t.Fatal(err)
	}
	if err := c.Checkpointed(1, 19, stored(7, 10)); err != nil {
		t.Fatalf("a replica holding the slot another lacks: %v", err)
	}
	bad := stored(7, 10)
	bad.Slots[1].Digest = u128.From64(3)
	if err := c.Checkpointed(2, 19, bad); err == nil || !strings.Contains(err.Error(), "reply slot 5 differs") {
		t.Fatalf("a divergent reply slot 5, after the first held copy: %v", err)
	}
	bad = stored(7, 10)
	bad.Slots[0].Digest = u128.From64(3)
	if err := c.Checkpointed(3, 19, bad); err == nil || !strings.Contains(err.Error(), "reply slot 3 differs") {
		t.Fatalf("a divergent reply slot 3: %v", err)
	}
	bad = stored(7, 10)
	bad.Slots = bad.Slots[:1]
	if err := c.Checkpointed(4, 19, bad); err == nil || !strings.Contains(err.Error(), "reply slots") {
		t.Fatalf("a slot fewer: %v", err)
	}
}

// Per-block digests are kept for the newest checkpoints only.
func TestCheckpointsKeepBlocksBounded(t *testing.T) {
	c := NewCheckpoints()
	for op := uint64(19); op < 19+20*100; op += 20 {
		if err := c.Checkpointed(0, op, stored(op, 1, 2, 3)); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.blocks) != blocksKept || len(c.slots) != slotsKept {
		t.Fatalf("%d checkpoints' blocks and %d checkpoints' slots kept, want %d and %d", len(c.blocks), len(c.slots), blocksKept, slotsKept)
	}
}

// Block lists handed back for reuse are never ones still kept: a list
// built in a reused buffer leaves the kept checkpoints' digests as they
// were, so a later divergence still names the right block.
func TestCheckpointsReuseOnlyListsNoLongerKept(t *testing.T) {
	c := NewCheckpoints()
	build := func(id uint64, digests ...uint64) Stored {
		st := stored(id, digests...)
		st.Blocks = append(c.BlocksBuffer(), st.Blocks...)
		return st
	}
	if err := c.Checkpointed(0, 19, build(7, 10, 11)); err != nil {
		t.Fatal(err)
	}
	for op := uint64(39); op < 39+20*blocksKept; op += 20 {
		for r := range 3 {
			if err := c.Checkpointed(r, op, build(op, op, op+1)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(c.spare) == 0 || len(c.blocks) != blocksKept {
		t.Fatalf("%d spare lists, %d kept: nothing given back for reuse", len(c.spare), len(c.blocks))
	}
	last := uint64(39 + 20*(blocksKept-1))
	err := c.Checkpointed(1, last, build(last, last, 99))
	if err == nil || !strings.Contains(err.Error(), "block 2") || strings.Contains(err.Error(), "block 1") {
		t.Fatalf("a divergence at block 2 after reuse: %v", err)
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
