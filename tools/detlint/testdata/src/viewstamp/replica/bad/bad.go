// Package bad has one example of every determinism violation.
package bad

import (
	crand "crypto/rand" // want `detlint: import "crypto/rand": it reads OS entropy`
	"maps"
	mrand "math/rand" // want `detlint: import "math/rand": its global source is randomly seeded`
	"math/rand/v2"
	_ "net"     // want `detlint: import "net": real sockets`
	_ "os"      // want `detlint: import "os": it reaches the real process environment`
	_ "os/exec" // want `detlint: import "os/exec": it runs real processes`
	"runtime"
	"sync"        // want `detlint: import "sync": locks and atomics`
	"sync/atomic" // want `detlint: import "sync/atomic": locks and atomics`
	"time"

	"viewstamp/cmd/x"
)

var (
	_ = crand.Reader
	_ = mrand.Int
	_ sync.Mutex
	_ atomic.Int64
)

type queue chan int // want `detlint: channel type: channel operations are ordered by the Go scheduler`

func spawn(f func()) {
	go f() // want `detlint: go statement: goroutines interleave`
}

func param(c <-chan int) {} // want `detlint: channel type`

func channels(q queue) int {
	c := make(chan int, 1) // want `detlint: channel type`
	c <- 1                 // want `detlint: channel send`
	v := <-c               // want `detlint: channel receive`
	d := (chan<- int)(c)   // want `detlint: channel type`
	_ = d
	select { // want `detlint: select statement: when several cases are ready Go picks one at random`
	case v = <-c:
	case q <- v:
	default:
	}
	for range q { // want `detlint: range over channel`
	}
	var e x.Ch // want `detlint: channel type x.Ch`
	_ = e
	return v
}

func runtimeCalls() int {
	runtime.Gosched()         // want `detlint: runtime.Gosched: its effect depends on the Go scheduler`
	runtime.GC()              // want `detlint: runtime.GC: heap and finalizer timing`
	return runtime.NumCPU() + // allowed: not on the list
		runtime.NumGoroutine() // want `detlint: runtime.NumGoroutine`
}

func clocks() {
	t0 := time.Now()                 // want `detlint: time.Now: real time differs on every run; use the simulated clock`
	_ = time.Since(t0)               // want `detlint: time.Since`
	_ = time.Until(t0)               // want `detlint: time.Until`
	time.Sleep(time.Millisecond)     // want `detlint: time.Sleep`
	_ = time.After(time.Second)      // want `detlint: time.After: real time`
	_ = time.AfterFunc(0, func() {}) // want `detlint: time.AfterFunc`
	_ = time.Tick(time.Second)       // want `detlint: time.Tick`
	_ = time.NewTimer(time.Second)   // want `detlint: time.NewTimer`
	_ = time.NewTicker(time.Second)  // want `detlint: time.NewTicker`
	now := time.Now                  // want `detlint: time.Now`
	_ = now
}

func globalRand() {
	_ = rand.IntN(10)                  // want `detlint: rand.IntN: draws from the global, randomly seeded source`
	_ = rand.Uint64()                  // want `detlint: rand.Uint64`
	_ = rand.Float64()                 // want `detlint: rand.Float64`
	rand.Shuffle(3, func(i, j int) {}) // want `detlint: rand.Shuffle`
	_ = rand.Perm(3)                   // want `detlint: rand.Perm`
	_ = rand.N(time.Second)            // want `detlint: rand.N`
	_ = rand.N[int64](5)               // want `detlint: rand.N`
}

func mapOrder(m map[string]int) (n int) {
	for k, v := range m { // want `detlint: range over map: iteration order is random; iterate sorted keys or a slice`
		n += len(k) + v
	}
	for k := range maps.Keys(m) { // want `detlint: maps.Keys: yields in random map order`
		n += len(k)
	}
	for v := range maps.Values(m) { // want `detlint: maps.Values`
		n += v
	}
	for k, v := range maps.All(m) { // want `detlint: maps.All`
		n += len(k) + v
	}
	keys := maps.Keys[map[string]int] // want `detlint: maps.Keys`
	_ = keys
	return n
}

type byName map[string]int

func namedMap(m byName) {
	for range m { // want `detlint: range over map`
	}
}

func genericMap[M ~map[K]V, K comparable, V any](m M) {
	for range m { // want `detlint: range over map`
	}
}
