package check

import (
	"fmt"
	"strings"
)

// leaksShown is how many addresses of each kind a leak verdict names: enough
// to start debugging, short enough to read.
const leaksShown = 8

// GridBlocks is the block leak checker. At a durable checkpoint, the blocks
// a replica's free set holds for that checkpoint (acquired and not released)
// must be exactly those the checkpoint reaches: its forest's manifest log and
// tables and its trailers (free set, client sessions, snapshot). A held block
// nothing reaches is a leak, which grows the grid until it is full; a reached
// block the free set does not hold is worse, since the next acquire may
// overwrite it; a block reached twice has two owners, and the first to
// release it frees the other's.
//
// held and reached must be in ascending order; reached may repeat an address
// (that is the double-owner verdict), held may not.
func GridBlocks(replica int, op uint64, held, reached []uint64) error {
	var leaked, dangling, twice []uint64
	var leakedN, danglingN, twiceN int
	note := func(list *[]uint64, n *int, a uint64) {
		if *n < leaksShown {
			*list = append(*list, a)
		}
		*n++
	}
	i, j := 0, 0
	for i < len(held) || j < len(reached) {
		switch {
		case j > 0 && j < len(reached) && reached[j] == reached[j-1]:
			note(&twice, &twiceN, reached[j])
			j++
		case j == len(reached) || (i < len(held) && held[i] < reached[j]):
			note(&leaked, &leakedN, held[i])
			i++
		case i == len(held) || reached[j] < held[i]:
			note(&dangling, &danglingN, reached[j])
			j++
		default:
			i, j = i+1, j+1
		}
	}
	if leakedN == 0 && danglingN == 0 && twiceN == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "replica %d checkpoint op %d: %d blocks held, %d reached:", replica, op, len(held), len(reached))
	for _, k := range []struct {
		what string
		n    int
		list []uint64
	}{
		{"held but unreachable (leaked)", leakedN, leaked},
		{"reachable but not held (free to overwrite)", danglingN, dangling},
		{"reached twice (two owners)", twiceN, twice},
	} {
		if k.n > 0 {
			fmt.Fprintf(&b, " %d %s, first %v;", k.n, k.what, k.list)
		}
	}
	return fmt.Errorf("%s", strings.TrimSuffix(b.String(), ";"))
}
