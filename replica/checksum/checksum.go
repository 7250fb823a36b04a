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

// Stream checksums data written in pieces, for state digests built up while
// a batch executes rather than from one buffer.
type Stream struct{ h xxh3.Hasher }

// Reset starts a new checksum.
func (s *Stream) Reset() { s.h.Reset() }

// Write adds data.
func (s *Stream) Write(data []byte) { s.h.Write(data) }

// Sum returns the checksum of everything written since Reset.
func (s *Stream) Sum() u128.U128 {
	h := s.h.Sum128()
	return u128.U128{Lo: h.Lo, Hi: h.Hi}
}
