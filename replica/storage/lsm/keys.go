package lsm

import (
	"bytes"
	"encoding/binary"
)

// compareKeys orders keys as unsigned bytes. Keys are at least a u64 wide in
// practice (timestamps, ids, field ++ timestamp), so the first eight bytes,
// read as one big-endian word, usually decide, sparing bytes.Compare's call
// on the merge and search paths.
func compareKeys(a, b []byte) int {
	if len(a) >= 8 && len(b) >= 8 {
		x, y := binary.BigEndian.Uint64(a), binary.BigEndian.Uint64(b)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		a, b = a[8:], b[8:]
		if len(a) == 0 && len(b) == 0 {
			return 0
		}
	}
	return bytes.Compare(a, b)
}
