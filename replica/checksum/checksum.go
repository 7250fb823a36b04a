// Package checksum is the one place that decides how the database checksums
// headers, bodies, WAL entries and superblock copies. Every caller goes through
// Sum so the function can later become AEGIS-128L (TigerBeetle's wire checksum)
// without touching the protocol.
package checksum

import (
	"github.com/zeebo/xxh3"

	"viewstamp/replica/u128"
)

// Sum returns the 128-bit checksum of data.
func Sum(data []byte) u128.U128 {
	h := xxh3.Hash128(data)
	return u128.U128{Lo: h.Lo, Hi: h.Hi}
}
