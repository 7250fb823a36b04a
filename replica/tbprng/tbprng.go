// Package tbprng is TigerBeetle's PRNG (stdx/prng.zig): xoshiro256++
// seeded by four splitmix64 outputs, with its unbiased bounded integers
// (Lemire's method). Where TigerBeetle derives a protocol choice from a
// seed, such as which backup replies to a client, this makes the same one.
package tbprng

import (
	"encoding/binary"
	"math/bits"
)

// PRNG is one stream. It is deterministic: the same seed gives the same
// draws.
type PRNG struct{ s [4]uint64 }

// New is TigerBeetle's PRNG.from_seed.
func New(seed uint64) *PRNG {
	var p PRNG
	for i := range p.s {
		seed += 0x9e3779b97f4a7c15
		z := seed
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		p.s[i] = z ^ z>>31
	}
	return &p
}

// Next is the next 64 bits.
func (p *PRNG) Next() uint64 {
	s := &p.s
	r := bits.RotateLeft64(s[0]+s[3], 23) + s[0]
	t := s[1] << 17
	s[2] ^= s[0]
	s[3] ^= s[1]
	s[1] ^= s[2]
	s[0] ^= s[3]
	s[2] ^= t
	s[3] = bits.RotateLeft64(s[3], 45)
	return r
}

// Fill writes each draw as 8 little-endian bytes, cutting the last.
func (p *PRNG) Fill(b []byte) {
	var w [8]byte
	for len(b) > 0 {
		binary.LittleEndian.PutUint64(w[:], p.Next())
		b = b[copy(b, w[:]):]
	}
}

// IntInclusiveU8 is TigerBeetle's int_inclusive(u8, max): uniform in
// [0, max], a u8 draw being the low byte of Next.
func (p *PRNG) IntInclusiveU8(max uint8) uint8 {
	if max == 0xff {
		return uint8(p.Next())
	}
	less := max + 1
	m := uint16(uint8(p.Next())) * uint16(less)
	if uint8(m) < less {
		t := -less // 256 - less, as a u8
		if t >= less {
			t -= less
			if t >= less {
				t %= less
			}
		}
		for uint8(m) < t {
			m = uint16(uint8(p.Next())) * uint16(less)
		}
	}
	return uint8(m >> 8)
}

// RangeInclusiveU8 is TigerBeetle's range_inclusive(u8, min, max).
func (p *PRNG) RangeInclusiveU8(min, max uint8) uint8 {
	if min > max {
		panic("tbprng: empty range")
	}
	return min + p.IntInclusiveU8(max-min)
}
