// Package good uses only what the determinism rules allow.
package good

import (
	"maps"
	"math/rand/v2"
	"slices"
	"time"
	"unsafe"
)

const tick = 10 * time.Millisecond

type Timeout struct {
	After time.Duration
}

func (t Timeout) Expired(elapsed time.Duration) bool { return elapsed >= t.After }

func seeded(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

func draw(seed uint64, xs []int) int {
	r := seeded(seed)
	r.Shuffle(len(xs), func(i, j int) { xs[i], xs[j] = xs[j], xs[i] })
	_ = r.Float64()
	_ = r.Perm(3)
	_ = rand.NewChaCha8([32]byte{})
	return r.IntN(10) + int(r.Uint64()%2)
}

func sortedKeys(m map[string]int) (n int) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		n += m[k]
	}
	for _, k := range slices.Sorted(maps.Keys[map[string]int](m)) {
		n += len(k)
	}
	return n
}

func mapsAndSlices(m map[int]string, xs []int, arr [4]int) int {
	m[1] = "one"
	v, ok := m[1]
	delete(m, 2)
	clear(m)
	n := len(v) + len(m)
	if ok {
		n++
	}
	for i, x := range xs {
		n += i + x
	}
	for _, x := range arr {
		n += x
	}
	for i := range 10 {
		n += i
	}
	for _, r := range "string" {
		n += int(r)
	}
	n += int(unsafe.Sizeof(n))
	return n + int(tick)
}
