package pend // want `detlint: -float-pending lists faults/pend/clean.go, which has no cross-CPU floating-point finding left; remove it from the list`

func Rounded(lo, hi, u float64) float64 { return lo + float64(u*(hi-lo)) }
