package aegis

import (
	"encoding/binary"
	"math/bits"
)

// te0..te3 fold SubBytes and MixColumns for one input byte per row, as
// little-endian column words (row r in bits 8r..8r+7).
var te0, te1, te2, te3 = aesTables()

// sbox builds the AES S-box from its definition, the inverse in GF(2^8)
// followed by the affine map, rather than from a typed-in table.
func sbox() [256]byte {
	var s [256]byte
	p, q := byte(1), byte(1)
	for {
		// p walks the multiplicative group by the generator 3 ...
		p ^= p<<1 ^ (p>>7)*0x1b
		// ... and q by its inverse, so q = 1/p throughout.
		q ^= q << 1
		q ^= q << 2
		q ^= q << 4
		if q&0x80 != 0 {
			q ^= 0x09
		}
		s[p] = q ^ bits.RotateLeft8(q, 1) ^ bits.RotateLeft8(q, 2) ^ bits.RotateLeft8(q, 3) ^ bits.RotateLeft8(q, 4) ^ 0x63
		if p == 1 {
			break
		}
	}
	s[0] = 0x63 // zero has no inverse; the affine map of 0
	return s
}

func aesTables() (t0, t1, t2, t3 [256]uint32) {
	s := sbox()
	for i, v := range s {
		x1 := uint32(v)
		x2 := uint32(v<<1 ^ (v>>7)*0x1b)
		x3 := x2 ^ x1
		// MixColumns column (2, 1, 1, 3) for the byte in row 0; the other
		// rows are the same column rotated.
		w := x2 | x1<<8 | x1<<16 | x3<<24
		t0[i] = w
		t1[i] = bits.RotateLeft32(w, 8)
		t2[i] = bits.RotateLeft32(w, 16)
		t3[i] = bits.RotateLeft32(w, 24)
	}
	return
}

type block [4]uint32

// aesRound is AESENC: MixColumns(ShiftRows(SubBytes(in))) ^ rk. ShiftRows
// takes row r of output column c from input column c+r.
func aesRound(in, rk block) block {
	return block{
		te0[byte(in[0])] ^ te1[byte(in[1]>>8)] ^ te2[byte(in[2]>>16)] ^ te3[byte(in[3]>>24)] ^ rk[0],
		te0[byte(in[1])] ^ te1[byte(in[2]>>8)] ^ te2[byte(in[3]>>16)] ^ te3[byte(in[0]>>24)] ^ rk[1],
		te0[byte(in[2])] ^ te1[byte(in[3]>>8)] ^ te2[byte(in[0]>>16)] ^ te3[byte(in[1]>>24)] ^ rk[2],
		te0[byte(in[3])] ^ te1[byte(in[0]>>8)] ^ te2[byte(in[1]>>16)] ^ te3[byte(in[2]>>24)] ^ rk[3],
	}
}

func loadBlock(b []byte) block {
	return block{
		binary.LittleEndian.Uint32(b[0:4]),
		binary.LittleEndian.Uint32(b[4:8]),
		binary.LittleEndian.Uint32(b[8:12]),
		binary.LittleEndian.Uint32(b[12:16]),
	}
}

func xorBlock(a, b block) block { return block{a[0] ^ b[0], a[1] ^ b[1], a[2] ^ b[2], a[3] ^ b[3]} }

// absorbGeneric runs Update(M0, M1) for each 32-byte block of p, whose
// length must be a multiple of BlockSize.
func absorbGeneric(st *state, p []byte) {
	if len(p) == 0 {
		return
	}
	var s [stateBlocks]block
	for i := range s {
		s[i] = loadBlock(st[i][:])
	}
	for ; len(p) >= BlockSize; p = p[BlockSize:] {
		m0, m1 := loadBlock(p[0:16]), loadBlock(p[16:32])
		s7 := s[7]
		// Downwards, so S(i-1) is still the old block when S(i) needs it.
		for i := stateBlocks - 1; i > 0; i-- {
			s[i] = aesRound(s[i-1], s[i])
		}
		s[4] = xorBlock(s[4], m1)
		s[0] = xorBlock(aesRound(s7, s[0]), m0)
	}
	for i := range s {
		for j, w := range s[i] {
			binary.LittleEndian.PutUint32(st[i][4*j:], w)
		}
	}
}
