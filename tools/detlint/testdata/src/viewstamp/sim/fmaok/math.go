package fmaok

import "math"

// exact are the math functions whose every bit IEEE 754 or their definition
// fixes.
func exact(x, y float64) float64 {
	r := math.Sqrt(x) + math.Floor(y) + math.Ceil(x) + math.Trunc(y) + math.Round(x)
	r += math.Abs(x) + math.Mod(x, y) + math.Ldexp(x, 3) + math.Pow10(3) + math.FMA(x, y, r)
	f, e := math.Frexp(r)
	r += f + float64(e) + math.Max(x, y) + math.Min(x, y) + math.Copysign(x, y)
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return math.Inf(1) + math.NaN() + math.Float64frombits(math.Float64bits(x))
	}
	return r
}
