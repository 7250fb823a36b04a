// Package fma has every shape of unrounded product meeting an addition.
package fma

type prob float64

type rates struct{ loss, dup float64 }

func direct(x, y, z float64) (r float64) {
	r = x*y + z            // want `detlint: floating-point x \* y \+ z: x \* y is an unrounded product; arm64, ppc64, s390x, riscv64 and amd64 v3 may fuse it`
	r = z + x*y            // want `detlint: floating-point z \+ x \* y: x \* y is an unrounded product`
	r = x*y - z            // want `detlint: floating-point x \* y - z`
	r = z - x*y            // want `detlint: floating-point z - x \* y`
	r = (x * y) + z        // want `detlint: floating-point \(x \* y\) \+ z`
	r = -(x * y) + z       // want `detlint: floating-point -\(x \* y\) \+ z`
	r = x*y + x*z          // want `detlint: floating-point x \* y \+ x \* z`
	r = float64(x*y) + x*z // want `detlint: floating-point float64\(x \* y\) \+ x \* z: x \* z`
	return r
}

func compound(x, y, s float64) float64 {
	s += x * y // want `detlint: floating-point s \+= x \* y: x \* y is an unrounded product`
	s -= x * y // want `detlint: floating-point s -= x \* y`
	return s
}

func acrossStatements(x, y, z float64) float64 {
	t := x * y
	u := t
	var w = x * z
	a := t + z // want `detlint: floating-point t \+ z: t holds an unrounded product \(line 27\)`
	b := z - u // want `detlint: floating-point z - u: u holds an unrounded product`
	c := w + a // want `detlint: floating-point w \+ a: w holds an unrounded product`
	return b + c
}

func scaled(p, pause float64, pending bool) bool {
	crash := p
	if pending {
		crash *= 10
	}
	return 0.5 < crash+pause // want `detlint: floating-point crash \+ pause: crash holds an unrounded product`
}

// accumulate is reported twice: the check ignores control flow, so s is a
// product wherever it is read.
func accumulate(s float64, x float64) float64 {
	s *= x
	s += 1   // want `detlint: floating-point s \+= 1: s holds an unrounded product`
	return s // want `detlint: floating-point return s: s holds an unrounded product \(line 47\)`
}

func returned(x, y float64) float64 {
	return x * y // want `detlint: floating-point return x \* y: x \* y is an unrounded product, which a caller's addition may fuse with`
}

func single(x, y, z float32) float32 {
	return x*y + z // want `detlint: floating-point x \* y \+ z`
}

func named(x, y prob, z prob) prob {
	return x*y + z // want `detlint: floating-point x \* y \+ z`
}

func fields(r rates, x float64) float64 {
	return r.loss*x + r.dup // want `detlint: floating-point r.loss \* x \+ r.dup`
}

func generic[F ~float32 | ~float64](x, y, z F) F {
	return x*y + z // want `detlint: floating-point x \* y \+ z`
}

func closure(lo, hi float64, draw func() float64) func() float64 {
	return func() float64 { return lo + draw()*(hi-lo) } // want `detlint: floating-point lo \+ draw\(\) \* \(hi - lo\)`
}

func complexes(a, b complex128) complex128 {
	c := a * b // want `detlint: complex multiplication a \* b: its parts are computed as x\*y - z\*w and x\*w \+ z\*y`
	c *= b     // want `detlint: complex multiplication c \*= b`
	return c
}
