package tbprng

import "testing"

// Bounded draws stay in their range and reach every value of it.
func TestRangeInclusiveU8(t *testing.T) {
	const draws = 1000
	p := New(92)
	for lo := uint8(0); lo < 8; lo++ {
		for hi := lo; hi < 8; hi++ {
			var seen [8]int
			for range draws {
				v := p.RangeInclusiveU8(lo, hi)
				if v < lo || v > hi {
					t.Fatalf("range [%d, %d] drew %d", lo, hi, v)
				}
				seen[v]++
			}
			for v := lo; v <= hi; v++ {
				if seen[v] == 0 {
					t.Errorf("range [%d, %d] never drew %d", lo, hi, v)
				}
			}
		}
	}
	if v := New(1).IntInclusiveU8(0xff); v != uint8(New(1).Next()) {
		t.Errorf("the full range is one u8 draw: %d", v)
	}
}
