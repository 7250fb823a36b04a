package repl

import (
	"errors"
	"math/bits"
	"strings"

	"viewstamp/replica/u128"
)

var (
	errNotNumber = errors.New("is not a number")
	errRange     = errors.New("is out of range")
)

// parseU128 reads a decimal or 0x-prefixed hexadecimal number; underscores
// may group digits, as in Go, because 128-bit ids and amounts are unreadable
// without them.
func parseU128(s string) (u128.U128, error) {
	if s == "" {
		return u128.Zero, errNotNumber
	}
	base := uint64(10)
	digits := s
	if rest, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		base, digits = 16, rest
	}
	var v u128.U128
	seen := false
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c == '_' {
			continue
		}
		d, ok := digit(c, base)
		if !ok {
			return u128.Zero, errNotNumber
		}
		seen = true
		var carry bool
		if v, carry = mulAdd(v, base, d); carry {
			return u128.Zero, errRange
		}
	}
	if !seen {
		return u128.Zero, errNotNumber
	}
	return v, nil
}

func digit(c byte, base uint64) (uint64, bool) {
	var d uint64
	switch {
	case c >= '0' && c <= '9':
		d = uint64(c - '0')
	case c >= 'a' && c <= 'f':
		d = uint64(c-'a') + 10
	case c >= 'A' && c <= 'F':
		d = uint64(c-'A') + 10
	default:
		return 0, false
	}
	return d, d < base
}

// mulAdd returns v*m + a and whether it overflowed 128 bits.
func mulAdd(v u128.U128, m, a uint64) (u128.U128, bool) {
	hiOver, hi := bits.Mul64(v.Hi, m)
	carryLo, lo := bits.Mul64(v.Lo, m)
	hi, c1 := bits.Add64(hi, carryLo, 0)
	lo, c2 := bits.Add64(lo, a, 0)
	hi, c3 := bits.Add64(hi, 0, c2)
	return u128.U128{Lo: lo, Hi: hi}, hiOver != 0 || c1 != 0 || c3 != 0
}

// formatU128 prints v in decimal, as TigerBeetle's REPL and clients do.
func formatU128(v u128.U128) string {
	if v.Hi == 0 {
		return formatU64(v.Lo)
	}
	var buf [40]byte
	i := len(buf)
	for !v.IsZero() {
		// Long division by 10^19, the largest power of ten in a word, gives
		// nineteen digits per step.
		const chunk = 10_000_000_000_000_000_000
		q1, r1 := bits.Div64(0, v.Hi, chunk)
		q0, r := bits.Div64(r1, v.Lo, chunk)
		v = u128.U128{Lo: q0, Hi: q1}
		for k := 0; k < 19 && (r != 0 || !v.IsZero()); k++ {
			i--
			buf[i] = byte('0' + r%10)
			r /= 10
		}
	}
	return string(buf[i:])
}

func formatU64(v uint64) string {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(buf[i:])
		}
	}
}
