package checksum

import (
	"encoding/hex"
	"testing"

	"viewstamp/replica/u128"
)

func TestSumDistinguishesInputs(t *testing.T) {
	a := Sum([]byte("prepare"))
	if a != Sum([]byte("prepare")) {
		t.Fatal("checksum is not a function of its input")
	}
	if a == Sum([]byte("prepard")) {
		t.Fatal("one changed byte left the checksum unchanged")
	}
	if Sum(nil).IsZero() {
		t.Fatal("the empty input must not checksum to zero: zero marks an absent checksum")
	}
}

// TestTigerBeetleValues checks the two u128 values TigerBeetle's own tests
// pin, so the byte order of the conversion is checked, not just the tag.
func TestTigerBeetleValues(t *testing.T) {
	if got, want := Sum(nil), (u128.U128{Hi: 0x49F174618255402D, Lo: 0xE6E7E3C40D60CC83}); got != want {
		t.Errorf("Sum(empty) = %v, want %v", got, want)
	}
	if got, want := Sum(make([]byte, 16)), (u128.U128{Hi: 0x263abed41c103361, Lo: 0x65d15dd08dd42af7}); got != want {
		t.Errorf("Sum(16 zeros) = %v, want %v", got, want)
	}
	var b [16]byte
	Sum(nil).Put(b[:])
	if got := hex.EncodeToString(b[:]); got != "83cc600dc4e3e7e62d4055826174f149" {
		t.Errorf("empty checksum on the wire %s", got)
	}
}

// TestStreamOddWrites writes the way the ledger digest does, a header then
// records of sizes that do not divide the block size.
func TestStreamOddWrites(t *testing.T) {
	var all []byte
	var s Stream
	s.Reset()
	for i, n := range []int{256, 0, 1, 24, 128, 7, 31, 33, 1000, 3} {
		p := make([]byte, n)
		for j := range p {
			p[j] = byte(i*31 + j)
		}
		s.Write(p)
		all = append(all, p...)
		if got, want := s.Sum(), Sum(all); got != want {
			t.Fatalf("after write %d (%d bytes): stream %v, Sum %v", i, n, got, want)
		}
	}
}
