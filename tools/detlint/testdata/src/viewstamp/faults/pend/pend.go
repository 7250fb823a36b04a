// Package pend has a file whose FMA findings are pending (see -float-pending).
package pend

import "math"

func Uniform(lo, hi, u float64) float64 { return lo + u*(hi-lo) }

func Chained(x, y, z float64) float64 { go func() {}(); return x*y + z } // want `detlint: go statement`

func Latency(mean float64, draw func() float64) float64 { return mean * -math.Log(draw()) }
