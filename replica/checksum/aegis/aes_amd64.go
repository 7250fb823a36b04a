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

// finalAES is finalizeGeneric on AES-NI; it leaves *s undefined.
//
//go:noescape
func finalAES(s *state, adBits uint64, tag *[TagSize]byte)

func absorb(s *state, p []byte) {
	if useAES {
		absorbAES(s, p)
	} else {
		absorbGeneric(s, p)
	}
}

func finalize(s *state, adLen uint64) [TagSize]byte {
	if !useAES {
		return finalizeGeneric(s, adLen)
	}
	var tag [TagSize]byte
	finalAES(s, adLen*8, &tag)
	return tag
}
