package checksum

import "testing"

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
