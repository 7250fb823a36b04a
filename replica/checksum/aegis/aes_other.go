//go:build !amd64 || purego

package aegis

// hasAES is false: this build has only the Go round.
var hasAES = false

// useAES exists so that tests compile everywhere; only the Go round is built.
var useAES = false

func absorb(s *state, p []byte) { absorbGeneric(s, p) }

func sum(s *state, full []byte, last *[BlockSize]byte, adLen uint64) [TagSize]byte {
	return sumGeneric(s, full, last, adLen)
}
