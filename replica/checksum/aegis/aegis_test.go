package aegis

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/zeebo/xxh3"

	"viewstamp/replica/tbprng"
)

// paths runs f once per AES round this machine can run, with that round
// selected, so the Go round is tested on AES-NI machines too.
func paths(t testing.TB, f func(t testing.TB)) {
	t.Helper()
	saved := useAES
	defer func() { useAES = saved }()
	for _, aes := range []bool{false, true} {
		if aes && !hasAES {
			t.Logf("no AES-NI here: only the Go round is tested")
			continue
		}
		useAES = aes
		f(t)
	}
}

func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func TestSbox(t *testing.T) {
	s := sbox()
	// Entries from FIPS-197's table, at both ends and in between.
	for in, want := range map[byte]byte{0x00: 0x63, 0x01: 0x7c, 0x10: 0xca, 0x53: 0xed, 0x80: 0xcd, 0xfe: 0xbb, 0xff: 0x16} {
		if s[in] != want {
			t.Errorf("S(%#02x) = %#02x, want %#02x", in, s[in], want)
		}
	}
	var seen [256]bool
	for _, v := range s {
		if seen[v] {
			t.Fatalf("S-box is not a permutation: %#02x twice", v)
		}
		seen[v] = true
	}
}

// TestVectors checks the tags listed in the wire facts (tigerbeetle-wire.md
// section 3), which are the bytes TigerBeetle writes.
func TestVectors(t *testing.T) {
	vectors := []struct {
		name string
		in   []byte
		tag  string
	}{
		{"empty", nil, "83cc600dc4e3e7e62d4055826174f149"},
		{"16 zeros", make([]byte, 16), "f72ad48dd05dd1656133101cd4be3a26"},
		{"32 zeros", make([]byte, 32), "087545991d8771ea723fef90d9f515cd"},
		{"256 zeros", make([]byte, 256), "651b82f3ddd4fcbf2deb8496e8ff613c"},
		{"0x00..0x3f", seq(64), "b4e8e46cee04a401ec67bad73df4aa60"},
		{"abc", []byte("abc"), "3b3182a3fd642bfdbd200bdbe1b4eb4d"},
		{"0x00..0xff", seq(256), "d6ba1c495ca4c976f5d0993644aa9acd"},
	}
	paths(t, func(t testing.TB) {
		for _, v := range vectors {
			got := Sum(v.in)
			if hex.EncodeToString(got[:]) != v.tag {
				t.Errorf("aes=%v %s: got %x, want %s", useAES, v.name, got, v.tag)
			}
			var st Stream
			st.Write(v.in)
			if got := st.Sum(); hex.EncodeToString(got[:]) != v.tag {
				t.Errorf("aes=%v %s: stream got %x, want %s", useAES, v.name, got, v.tag)
			}
		}
	})
}

// TestRegisterHeader checks a register request captured from the 0.17.9
// client: its body is 256 zero bytes, checksum_body is their tag and
// checksum is the tag of header bytes 16..256.
func TestRegisterHeader(t *testing.T) {
	const capture = "" +
		"3e06b9151a49af41c326ca8126df77fc00000000000000000000000000000000" +
		"651b82f3ddd4fcbf2deb8496e8ff613c00000000000000000000000000000000" +
		"0000000000000000000000000000000000000000000000000000000000000000" +
		"0002000000000000000000000911000000000500000000000000000000000000" +
		"0000000000000000000000000000000000000000000000000000000000000000" +
		"c343eab4466f1b434fbe3e95c7b4249c00000000000000000000000000000000" +
		"0000000002000000000000000000000000000000000000000000000000000000" +
		"0000000000000000000000000000000000000000000000000000000000000000"
	header, err := hex.DecodeString(capture)
	if err != nil || len(header) != 256 {
		t.Fatalf("bad capture: %v, %d bytes", err, len(header))
	}
	paths(t, func(t testing.TB) {
		if got := Sum(make([]byte, 256)); !bytes.Equal(got[:], header[32:48]) {
			t.Errorf("aes=%v: body tag %x, header carries %x", useAES, got, header[32:48])
		}
		if got := Sum(header[16:]); !bytes.Equal(got[:], header[0:16]) {
			t.Errorf("aes=%v: header tag %x, header carries %x", useAES, got, header[0:16])
		}
	})
}

// u128 is a tag read as TigerBeetle's u128: its bytes little-endian.
func u128(tag [TagSize]byte) (hi, lo uint64) {
	return binary.LittleEndian.Uint64(tag[8:]), binary.LittleEndian.Uint64(tag[:8])
}

// hashOfCases is the checksum of the tags concatenated, TigerBeetle's way of
// pinning many cases with one constant.
func hashOfCases(t testing.TB, cases [][TagSize]byte) string {
	seen := make(map[[TagSize]byte]bool, len(cases))
	var all []byte
	for _, c := range cases {
		if seen[c] {
			t.Fatalf("two cases share the tag %x", c)
		}
		seen[c] = true
		all = append(all, c[:]...)
	}
	hi, lo := u128(Sum(all))
	return fmt.Sprintf("%016x%016x", hi, lo)
}

// TestStability reproduces TigerBeetle's "checksum stability" vector: 128
// zero inputs, 512 single-bit inputs and 256 pseudo-random ones.
func TestStability(t *testing.T) {
	paths(t, func(t testing.TB) {
		var buf [1024]byte
		var cases [][TagSize]byte
		for n := 0; n < 128; n++ {
			cases = append(cases, Sum(buf[:n]))
		}
		for k := 0; k < 64*8; k++ {
			var m [64]byte
			m[k/8] = 1 << (k % 8)
			cases = append(cases, Sum(m[:]))
		}
		prng := tbprng.New(92)
		for i := 0; i < 256; i++ {
			m := buf[:i+13]
			prng.Fill(m)
			cases = append(cases, Sum(m))
		}
		if got, want := hashOfCases(t, cases), "82dcaacf4875b279446825b6830d1263"; got != want {
			t.Errorf("aes=%v: stability hash %s, want %s", useAES, got, want)
		}
	})
}

// TestAlignment reproduces TigerBeetle's "alignment and sizing" vector:
// every length 0..255 and the rest of the buffer, from 16 start offsets, so
// unaligned loads and every tail length are covered.
func TestAlignment(t *testing.T) {
	paths(t, func(t testing.TB) {
		input := make([]byte, 8<<10)
		tbprng.New(92).Fill(input)
		var cases [][TagSize]byte
		for start := 0; start < 16; start++ {
			cases = append(cases, Sum(input[start:]))
			for size := 0; size < 256; size++ {
				cases = append(cases, Sum(input[start:][:size]))
			}
		}
		// Short inputs from different offsets can repeat (all empty ones
		// do), so only the combined hash is compared.
		var all []byte
		for _, c := range cases {
			all = append(all, c[:]...)
		}
		hi, lo := u128(Sum(all))
		if got, want := fmt.Sprintf("%016x%016x", hi, lo), "c8e7102d72ce96458639f6027da0fba0"; got != want {
			t.Errorf("aes=%v: alignment hash %s, want %s", useAES, got, want)
		}
	})
}

// writeInPieces feeds data to a stream in pieces whose sizes come from cuts,
// cycling through them; a zero size is an empty write.
func writeInPieces(data, cuts []byte) [TagSize]byte {
	var st Stream
	st.Reset()
	for i := 0; len(data) > 0; i++ {
		n := len(data)
		if len(cuts) > 0 {
			n = min(n, int(cuts[i%len(cuts)]))
			if i > 4*len(data)+len(cuts) { // all-zero cuts would never finish
				n = len(data)
			}
		}
		st.Write(data[:n])
		data = data[n:]
	}
	return st.Sum()
}

func TestStreamMatchesSum(t *testing.T) {
	data := seq(300)
	paths(t, func(t testing.TB) {
		for n := 0; n <= len(data); n++ {
			want := Sum(data[:n])
			for cut := 1; cut <= 70; cut++ {
				if got := writeInPieces(data[:n], []byte{byte(cut)}); got != want {
					t.Fatalf("aes=%v: %d bytes in pieces of %d: %x, want %x", useAES, n, cut, got, want)
				}
			}
		}
	})
}

func TestStreamSumThenWrite(t *testing.T) {
	data := seq(100)
	var st Stream // the zero value, no Reset
	st.Write(data[:45])
	if got, want := st.Sum(), Sum(data[:45]); got != want {
		t.Fatalf("mid-stream sum %x, want %x", got, want)
	}
	st.Write(data[45:])
	if got, want := st.Sum(), Sum(data); got != want {
		t.Fatalf("sum after more writes %x, want %x", got, want)
	}
	st.Reset()
	if got, want := st.Sum(), Sum(nil); got != want {
		t.Fatalf("sum after reset %x, want %x", got, want)
	}
}

// TestPathsAgreeRandom compares both rounds on random inputs of every tail
// length, a fixed-seed complement to FuzzPathsAgree that runs in make test.
func TestPathsAgreeRandom(t *testing.T) {
	if !hasAES {
		t.Skip("no AES-NI here: only one path")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		data := make([]byte, rng.IntN(3000))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		cuts := []byte{byte(rng.IntN(80)), byte(rng.IntN(80)), byte(rng.IntN(80))}
		checkAgree(t, data, cuts)
	}
}

func checkAgree(t testing.TB, data, cuts []byte) {
	t.Helper()
	saved := useAES
	defer func() { useAES = saved }()
	useAES = false
	generic := Sum(data)
	if got := writeInPieces(data, cuts); got != generic {
		t.Fatalf("Go round: stream %x, one-shot %x (%d bytes, cuts %v)", got, generic, len(data), cuts)
	}
	if !hasAES {
		return
	}
	useAES = true
	if got := Sum(data); got != generic {
		t.Fatalf("AESENC %x, Go round %x (%d bytes)", got, generic, len(data))
	}
	if got := writeInPieces(data, cuts); got != generic {
		t.Fatalf("AESENC: stream %x, one-shot %x (%d bytes, cuts %v)", got, generic, len(data), cuts)
	}
}

// FuzzPathsAgree: go test -fuzz FuzzPathsAgree ./replica/checksum/aegis
// checks that the AESENC and Go rounds give the same tag, and that a
// stream written in pieces gives the one-shot tag.
func FuzzPathsAgree(f *testing.F) {
	f.Add([]byte{}, []byte{})
	f.Add([]byte("abc"), []byte{1})
	f.Add(seq(256), []byte{31, 1, 0, 33})
	f.Add(make([]byte, 1000), []byte{64, 7})
	f.Fuzz(func(t *testing.T, data, cuts []byte) { checkAgree(t, data, cuts) })
}

func benchSizes(b *testing.B, sum func([]byte)) {
	for _, size := range []int{256, 4 << 10, 1 << 20} {
		data := seq(size)
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				sum(data)
			}
		})
	}
}

func BenchmarkSum(b *testing.B) {
	if !hasAES {
		b.Skip("no AES-NI here")
	}
	benchSizes(b, func(p []byte) { Sum(p) })
}

func BenchmarkSumGo(b *testing.B) {
	saved := useAES
	defer func() { useAES = saved }()
	useAES = false
	benchSizes(b, func(p []byte) { Sum(p) })
}

// BenchmarkXXH3 is the checksum this package replaced, for comparison.
func BenchmarkXXH3(b *testing.B) { benchSizes(b, func(p []byte) { xxh3.Hash128(p) }) }
