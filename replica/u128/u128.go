// Package u128 is the 128-bit unsigned integer used for ids, clusters and
// checksums on the wire, stored little-endian as two words.
package u128

import (
	"encoding/binary"
	"fmt"
)

// U128 is a 128-bit unsigned integer: Lo holds the low 64 bits.
type U128 struct{ Lo, Hi uint64 }

// Zero is the zero value, spelled out for readability at call sites.
var Zero U128

// Max is 2^128 - 1.
var Max = U128{Lo: ^uint64(0), Hi: ^uint64(0)}

// From64 widens a uint64.
func From64(v uint64) U128 { return U128{Lo: v} }

// IsZero reports whether u == 0.
func (u U128) IsZero() bool { return u.Lo == 0 && u.Hi == 0 }

// Less orders numerically.
func (u U128) Less(v U128) bool { return u.Hi < v.Hi || (u.Hi == v.Hi && u.Lo < v.Lo) }

// Put writes u little-endian into b[0:16].
func (u U128) Put(b []byte) {
	binary.LittleEndian.PutUint64(b[0:8], u.Lo)
	binary.LittleEndian.PutUint64(b[8:16], u.Hi)
}

// Get reads a little-endian U128 from b[0:16].
func Get(b []byte) U128 {
	return U128{Lo: binary.LittleEndian.Uint64(b[0:8]), Hi: binary.LittleEndian.Uint64(b[8:16])}
}

// String prints the value as 32 hex digits, most significant first.
func (u U128) String() string { return fmt.Sprintf("%016x%016x", u.Hi, u.Lo) }
