// Package checksum is the one place that decides how the database checksums
// headers, bodies, WAL entries and superblock copies: TigerBeetle's
// AEGIS-128L tag (package aegis), so that what the simulator checks is what
// goes on the wire and on disk, and TigerBeetle's clients accept it.
package checksum

import (
	"encoding/binary"

	"viewstamp/replica/checksum/aegis"
	"viewstamp/replica/u128"
)

// Sum returns the 128-bit checksum of data.
func Sum(data []byte) u128.U128 { return fromTag(aegis.Sum(data)) }

// fromTag reads a tag as TigerBeetle does, a little-endian u128, so that
// u128.Put writes back exactly the tag bytes.
func fromTag(tag [aegis.TagSize]byte) u128.U128 {
	return u128.U128{Lo: binary.LittleEndian.Uint64(tag[0:8]), Hi: binary.LittleEndian.Uint64(tag[8:16])}
}

// Stream checksums data written in pieces, for state digests built up while
// a batch executes rather than from one buffer. It gives the same checksum
// as Sum over the concatenation of the writes.
type Stream struct{ s aegis.Stream }

// Reset starts a new checksum.
func (s *Stream) Reset() { s.s.Reset() }

// Write adds data.
func (s *Stream) Write(data []byte) { s.s.Write(data) }

// Sum returns the checksum of everything written since Reset.
func (s *Stream) Sum() u128.U128 { return fromTag(s.s.Sum()) }
