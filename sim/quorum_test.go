package sim

import (
	"strings"
	"testing"
)

// TestCannotViewChange feeds the liveness excuse cores that can change view
// (it must not excuse them) and one that cannot.
func TestCannotViewChange(t *testing.T) {
	rh := func(i int) coreReplica { return coreReplica{index: i, recoveringHead: true, walDamaged: true} }
	voter := func(i int) coreReplica { return coreReplica{index: i} }
	cases := []struct {
		name string
		q    int
		core []coreReplica
		want bool
	}{
		{"three voters", 2, []coreReplica{voter(0), voter(1), voter(2)}, false},
		{"a quorum votes beside recovering_head", 2, []coreReplica{rh(0), voter(1), voter(2)}, false},
		{"two of three in recovering_head", 2, []coreReplica{rh(0), rh(1), voter(2)}, true},
		{"a normal primary can settle them", 2, []coreReplica{rh(0), rh(1), {index: 2, normalPrimary: true}}, false},
		{"too few voters, none in recovering_head", 2, []coreReplica{{index: 0, reformatting: true}, voter(1)}, false},
		{"reformatting and recovering_head", 3, []coreReplica{{index: 0, reformatting: true}, rh(1), voter(2), voter(3)}, true},
		{"a reformatted replica in recovering_head", 2, []coreReplica{{index: 0, recoveringHead: true, reformatting: true}, rh(1), voter(2)}, true},
		{"recovering_head over an intact WAL", 2, []coreReplica{{index: 0, recoveringHead: true}, rh(1), voter(2)}, false},
	}
	for _, tc := range cases {
		why, got := cannotViewChange(tc.q, tc.core)
		if got != tc.want {
			t.Errorf("%s: excused %v (%q), want %v", tc.name, got, why, tc.want)
		}
		if got && !strings.Contains(why, "recovering_head") {
			t.Errorf("%s: reason %q does not name recovering_head", tc.name, why)
		}
	}
}
