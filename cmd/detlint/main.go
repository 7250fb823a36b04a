// Command detlint runs the determinism checker standalone or under go vet:
//
//	go build -o bin/detlint ./cmd/detlint
//	go vet -vettool=$(pwd)/bin/detlint ./...
//
// It is a separate binary, not part of the default vet suite, because its rules
// only hold for the simulated packages and it must never be skipped silently.
package main

import (
	"golang.org/x/tools/go/analysis/singlechecker"

	"viewstamp/tools/detlint"
)

func main() { singlechecker.Main(detlint.Analyzer) }
