// Package x is outside the deterministic roots.
package x

import "time"

// Ch is a named channel type that in-scope code must not use either.
type Ch chan int

func Run(f func()) {
	go f()
	ch := make(Ch)
	select {
	case <-ch:
	case <-time.After(time.Second):
	}
}
