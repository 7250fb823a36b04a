// Package fmaok has the float arithmetic that no compiler may fuse.
package fmaok

import "math"

type prob float64

const scale = 1.5

func rounded(x, y, z float64) (r float64) {
	r = float64(x*y) + z
	r = z + float64(x*y)
	r = z - float64((x * y))
	p := prob(x*y) + 1 // a conversion to a named float type rounds too
	r += float64(p)
	r += float64(x * y)
	t := float64(x * y)
	r = t + z
	r = math.FMA(x, y, z) // one rounding, the same on every CPU
	return r
}

func noProductInTheSum(x, y, z float64) (r float64) {
	r = x/y + z // no fused divide-add exists
	r = x + y - z
	if x*y*z < r { // compared, never added
		r = -x
	}
	n := uint64(x * y) // converted to an integer, never added
	return r + float64(n)
}

func constants(x float64) float64 {
	const c = scale*2 + 1 // folded exactly at compile time
	return x + scale*2 + c
}

func integers(a, b, c int) int {
	a += b * c
	return a*b + c
}

func reassigned(x, y, z float64) float64 {
	t := float64(x * y)
	t = t + 0
	return t + z
}

var global = 2.0 * 3.0

func returnsRounded(x, y float64) float64 { return float64(x * y) }

func returnsQuotient(x, y float64) float64 { return x / y }

func complexes(a, b, c complex128) complex128 { return a/b + c }

func sum(xs []float64) (s float64) {
	for _, x := range xs {
		s += x
	}
	return s + global
}
