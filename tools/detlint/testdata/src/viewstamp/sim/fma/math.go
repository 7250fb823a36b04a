package fma

import (
	"math"
	"math/rand/v2"
)

func inexact(x float64, r *rand.Rand) float64 {
	y := math.Exp(x)                 // want `detlint: math.Exp is not correctly rounded: the last bit differs between CPUs`
	y += math.Log(x)                 // want `detlint: math.Log is not correctly rounded`
	y += math.Log1p(x)               // want `detlint: math.Log1p`
	y += math.Pow(x, 1.5)            // want `detlint: math.Pow`
	y += math.Sin(x)                 // want `detlint: math.Sin`
	y += math.Hypot(x, y)            // want `detlint: math.Hypot`
	y += r.ExpFloat64()              // want `detlint: rand ExpFloat64: its ziggurat computes float32 x\*y\+z`
	y += r.NormFloat64()             // want `detlint: rand NormFloat64`
	z := rand.NewZipf(r, 1.1, 1, 10) // want `detlint: rand NewZipf: its draws use math.Exp`
	exp := math.Exp                  // want `detlint: math.Exp`
	return y + float64(z.Uint64()) + exp(0)
}
