// Package y is only in scope when the test sets -roots=extra.
package y

func Run(f func()) {
	go f() // want `detlint: go statement`
}
