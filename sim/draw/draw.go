// Package draw holds the simulator's random draws that must give the same
// bits on every CPU. A seed names a run on any machine, so a drawn delay or
// rate may not depend on the architecture. Go's math.Exp and math.Log have
// per-architecture assembly, rand's ExpFloat64 calls them on its slow path
// and adds a float32 product that arm64 may fuse into one FMA, and any
// float `a*b+c` may be fused. Everything here is integer arithmetic, or float
// multiplications and divisions alone, which IEEE 754 rounds exactly the same
// everywhere.
package draw

import (
	"math/bits"
	"math/rand/v2"
)

// FracBits is the fixed-point precision of NegLog2: enough that the
// rarest rate the simulator draws (a few per billion) keeps six digits.
const FracBits = 40

// ln2Q64 is ln 2 in 0.64 fixed point, rounded down.
const ln2Q64 = 0xB17217F7D1CF79AB

// tableBits indexes log2Table by the mantissa's first bits after the
// leading one; the rest is a short series.
const tableBits = 8

// invLn2Q63 is 1/ln 2 in 1.63 fixed point, rounded down.
const invLn2Q63 = 0xB8AA3B295C17F0BB

// log2Table[i] is log2(1 + i/2^tableBits) with FracBits fraction bits,
// computed by squaring (log2Squaring): integers only, so the same
// everywhere.
var log2Table = func() (t [1 << tableBits]uint64) {
	for i := range t {
		t[i] = log2Squaring(1<<63 | uint64(i)<<(63-tableBits))
	}
	return t
}()

// NegLog2 returns -log2(x / 2^64) in fixed point with FracBits fraction
// bits, for x > 0 (x = 0 is read as 1), within a few units in the last
// place. It normalizes x to m·2^-k with m in [1, 2), and takes log2(m) from
// a table and a four-term series.
func NegLog2(x uint64) uint64 {
	if x == 0 {
		x = 1
	}
	k := bits.LeadingZeros64(x)
	m := x << k // m / 2^63 in [1, 2); x / 2^64 = (m / 2^63) · 2^-(k+1)
	return uint64(k+1)<<FracBits - log2Mantissa(m)
}

// log2Mantissa returns log2(m / 2^63) for m in [2^63, 2^64), FracBits
// fraction bits: the table's entry at m's first bits, plus log2(1 + r) for
// the rest, r = m/base - 1 below 2^-tableBits, whose series
// r - r²/2 + r³/3 - r⁴/4 is then exact to 2^-42.
func log2Mantissa(m uint64) uint64 {
	i := m >> (63 - tableBits) & (1<<tableBits - 1)
	base := uint64(1)<<63 | i<<(63-tableBits)
	r, _ := bits.Div64(m-base, 0, base) // 0.64 fixed point
	r2, _ := bits.Mul64(r, r)
	r3, _ := bits.Mul64(r2, r)
	r4, _ := bits.Mul64(r3, r)
	ln := r - r2/2 + r3/3 - r4/4 // ln(1 + r): each term below the one before
	l2, _ := bits.Mul64(ln, invLn2Q63)
	return log2Table[i] + l2>>(63-FracBits)
}

// log2Squaring returns log2(m / 2^63) for m in [2^63, 2^64), FracBits
// fraction bits, one bit per squaring: squaring m doubles its logarithm,
// and the bit is set when the square reaches 2. Slow (a multiplication per
// bit) but plainly right; it builds the table and checks the fast path.
func log2Squaring(m uint64) uint64 {
	var frac uint64
	for range FracBits {
		hi, lo := bits.Mul64(m, m) // (m / 2^63)^2 = (hi:lo) / 2^126
		b := hi >> 63              // the square reached 2: halve it back into [1, 2)
		frac = frac<<1 | b
		m = hi<<(1-b) | lo>>63&(b-1)
	}
	return frac
}

// Exp returns an exponential variate with the given mean, rounded down, from
// one rng.Uint64: -mean·ln(U) with U uniform in (0, 1). The result saturates
// at 2^62.
func Exp(rng *rand.Rand, mean uint64) uint64 {
	if mean == 0 {
		return 0
	}
	// U = (u + 1/2) / 2^64 to keep it off zero; only the lowest bit moves.
	l := NegLog2(rng.Uint64() | 1)
	// -ln U = ln 2 · -log2 U, still with FracBits fraction bits.
	nl, _ := bits.Mul64(l, ln2Q64)
	hi, lo := bits.Mul64(mean, nl)
	if hi>>FracBits != 0 {
		return 1 << 62
	}
	return min(hi<<(64-FracBits)|lo>>FracBits, 1<<62)
}

// Geometric returns the number of failures before the first success of
// Bernoulli trials with success probability p (0 < p < 1), as
// floor(-ln U / -ln(1-p)) computed in base 2, integers only. The result
// saturates at 2^62.
func Geometric(rng *rand.Rand, p float64) uint64 {
	if p >= 1 {
		return 0
	}
	if p <= 0 {
		return 1 << 62
	}
	// 1 - p and the scaling by 2^64 are exact or correctly rounded.
	q := 1 - p
	qx := uint64(q * (1 << 64))
	if q >= 1 || qx == 0 {
		return 1 << 62
	}
	per := NegLog2(qx) // -log2(1 - p) per trial
	if per == 0 {
		return 1 << 62
	}
	return min(NegLog2(rng.Uint64()|1)/per, 1<<62)
}

// Decade is how finely LogUniform divides a factor of ten.
const Decade = 64

// step is 10^(1/Decade), correctly rounded by the compiler.
const step = 1.036632928437698

// LogUniform returns a value between lo and hi (0 < lo < hi) whose logarithm
// is uniform, on a grid of Decade steps per factor of ten: lo·step^i with i
// uniform, clamped to hi. Only multiplications, so it is bit-identical on
// every CPU. It also returns where the value lies between lo and hi, from 0
// to 1 on the same logarithmic scale, for labelling a seed.
func LogUniform(rng *rand.Rand, lo, hi float64) (v, at float64) {
	n := 0
	for x := lo; x < hi; x *= step {
		n++
	}
	i := rng.IntN(n + 1)
	v = lo
	for j := 0; j < i; j++ {
		v *= step
	}
	return min(v, hi), float64(i) / float64(n)
}

// PPM returns a probability uniform on a grid of parts per million between
// lo and hi, inclusive, given in parts per million: an integer draw and one
// correctly rounded division.
func PPM(rng *rand.Rand, lo, hi int) float64 {
	return float64(lo+rng.IntN(hi-lo+1)) / 1e6
}
