package check

import (
	"strings"
	"testing"
)

func TestGridBlocksPassesWhenHeldIsReached(t *testing.T) {
	if err := GridBlocks(0, 19, []uint64{1, 2, 5, 9}, []uint64{1, 2, 5, 9}); err != nil {
		t.Fatal(err)
	}
	if err := GridBlocks(0, 0, nil, nil); err != nil {
		t.Fatal(err)
	}
}

// A block the free set holds that nothing reaches is a leak, and the verdict
// names it.
func TestGridBlocksFindsALeak(t *testing.T) {
	err := GridBlocks(2, 39, []uint64{1, 2, 3, 7, 8}, []uint64{1, 3, 8})
	if err == nil {
		t.Fatal("blocks 2 and 7 leaked and the check passed")
	}
	if !strings.Contains(err.Error(), "2 held but unreachable (leaked), first [2 7]") {
		t.Fatalf("verdict does not name the leaked blocks: %v", err)
	}
}

func TestGridBlocksFindsUnheldAndDoublyOwnedBlocks(t *testing.T) {
	err := GridBlocks(1, 59, []uint64{1, 2, 4}, []uint64{1, 2, 2, 3, 4, 6})
	if err == nil {
		t.Fatal("blocks 3 and 6 are reachable but free, block 2 has two owners, and the check passed")
	}
	for _, want := range []string{"2 reachable but not held (free to overwrite), first [3 6]", "1 reached twice (two owners), first [2]"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("verdict lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "leaked") {
		t.Fatalf("no block leaked: %v", err)
	}
}

// A long leak lists only the first few addresses, with the count.
func TestGridBlocksShortensLongVerdicts(t *testing.T) {
	var held []uint64
	for a := uint64(1); a <= 100; a++ {
		held = append(held, a)
	}
	err := GridBlocks(0, 19, held, nil)
	if err == nil || !strings.Contains(err.Error(), "100 held but unreachable (leaked), first [1 2 3 4 5 6 7 8]") {
		t.Fatalf("verdict: %v", err)
	}
}
