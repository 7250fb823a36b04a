// Package simple shares a prefix with root "sim" but is not under it.
package simple

func Run(f func()) { go f() }
