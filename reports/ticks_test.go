package reports

import (
	"slices"
	"testing"
)

func TestTicksAreRoundAndLabelled(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		whole  bool
		want   []string
	}{
		{0, 1, false, []string{"0.0", "0.4", "1.0"}},
		{0, 1, true, []string{"0", "1"}},
		{0, 40179, false, []string{"0", "10000", "40000"}},
		{-0.04, 27, true, []string{"0", "5", "25"}},
	} {
		var labels []string
		for _, tk := range (intTicks{whole: c.whole}).Ticks(c.lo, c.hi) {
			if tk.Label != "" {
				labels = append(labels, tk.Label)
			}
		}
		for _, w := range c.want {
			if !slices.Contains(labels, w) {
				t.Errorf("[%g, %g] whole %v: labels %v lack %q", c.lo, c.hi, c.whole, labels, w)
			}
		}
		for _, l := range labels {
			if len(l) > 6 {
				t.Errorf("[%g, %g]: label %q", c.lo, c.hi, l)
			}
		}
	}
}
