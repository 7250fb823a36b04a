package check

import (
	"fmt"

	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// Served checks the headers a replica sends in answer to get_headers. A
// replica may serve only headers it can prove canonical: ops it has executed
// (which are the committed history), or headers hash-chained down from its
// log head. A leftover of an older view served as if canonical can become a
// lagging backup's new head, which trusts the primary's headers without a
// chain to check them against, so the server's proof is the protection, and
// this checker holds it to it. chained is the server's chain walk from its
// head (vsr.Replica.ChainedChecksum) and executed its commit_min, both at
// the moment of sending.
func Served(replica int, headers []vsr.Header, executed uint64, chained func(op uint64) (u128.U128, bool), state *State) error {
	for i := range headers {
		h := &headers[i]
		if h.Op <= executed {
			if c, ok := state.At(h.Op); ok && c.Checksum != h.Checksum {
				return fmt.Errorf("replica %d served header %v for op %d, which it executed as %v", replica, h.Checksum, h.Op, c.Checksum)
			}
			continue
		}
		if sum, ok := chained(h.Op); !ok || sum != h.Checksum {
			return fmt.Errorf("replica %d served header %v for op %d (view %d), which it cannot prove canonical: not executed (commit_min %d) and not hash-chained to its head", replica, h.Checksum, h.Op, h.View, executed)
		}
	}
	return nil
}

// JoinView checks the log suffix a replica reports in a join_view: the new
// primary takes its headers at face value (the highest log_view's headers
// become canonical, and nacks are counted against them), so two adjacent
// headers must never contradict each other's hash chain. A header that does
// not chain to the one above it is a leftover of another view, and reported
// as this log view's it can make a nack quorum truncate a committed op.
// headers[i] is op head-i; blank entries (gaps) are skipped.
func JoinView(replica int, view uint32, headers []vsr.Header, blank []bool) error {
	for i := 1; i < len(headers); i++ {
		if blank[i] || blank[i-1] {
			continue
		}
		if headers[i-1].Parent != headers[i].Checksum {
			return fmt.Errorf("replica %d's join_view for view %d reports op %d as %v (view %d), but its op %d names parent %v: a leftover of another view reported as canonical",
				replica, view, headers[i].Op, headers[i].Checksum, headers[i].View, headers[i-1].Op, headers[i-1].Parent)
		}
	}
	return nil
}
