//go:build amd64 && !purego

package aegis

import "golang.org/x/sys/cpu"

// hasAES reports whether this CPU can run the AESENC path.
var hasAES = cpu.X86.HasAES

// useAES selects the AESENC path. Tests clear it to run the Go round on
// the same machine, the path a CPU without AES-NI takes.
var useAES = hasAES

// absorbAES is absorbGeneric with the state in XMM registers and AESENC
// as the round; it is in aes_amd64.s.
//
//go:noescape
func absorbAES(s *state, p []byte)

// sumAES is sumGeneric on AES-NI, with the length in bits.
//
//go:noescape
func sumAES(s *state, full []byte, last *[BlockSize]byte, adBits uint64, tag *[TagSize]byte)

func absorb(s *state, p []byte) {
	if useAES {
		absorbAES(s, p)
	} else {
		absorbGeneric(s, p)
	}
}

func sum(s *state, full []byte, last *[BlockSize]byte, adLen uint64) [TagSize]byte {
	if !useAES {
		return sumGeneric(s, full, last, adLen)
	}
	var tag [TagSize]byte
	sumAES(s, full, last, adLen*8, &tag)
	return tag
}
