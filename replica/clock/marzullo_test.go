package clock

import (
	"math/rand/v2"
	"testing"
)

// intervals turns [lo, hi] pairs into tuples, source i for pair i.
func intervals(pairs ...[2]int64) []Tuple {
	var ts []Tuple
	for i, p := range pairs {
		ts = append(ts, Tuple{Source: uint8(i), Offset: p[0], Bound: Lower}, Tuple{Source: uint8(i), Offset: p[1], Bound: Upper})
	}
	return ts
}

func TestSmallestIntervalHandMade(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pairs [][2]int64
		want  Interval
	}{
		{"empty", nil, Interval{}},
		{"one source", [][2]int64{{1, 3}}, Interval{1, 3, 1, 0}},
		{"agreement", [][2]int64{{11, 13}, {10, 12}, {8, 12}}, Interval{11, 12, 3, 0}},
		{"two agree at a point", [][2]int64{{1, 3}, {2, 2}}, Interval{2, 2, 2, 0}},
		{"false ticker", [][2]int64{{8, 12}, {11, 13}, {14, 15}}, Interval{11, 12, 2, 1}},
		{"false ticker far below", [][2]int64{{-90, -80}, {5, 9}, {4, 6}, {3, 8}}, Interval{5, 6, 3, 1}},
		{"nested", [][2]int64{{-10, 10}, {-1, 1}, {0, 0}}, Interval{0, 0, 3, 0}},
		{"nested deeper", [][2]int64{{-100, 100}, {-50, 20}, {-5, 10}, {0, 3}}, Interval{0, 3, 4, 0}},
		// Closed intervals: touching ends agree, at the one point.
		{"touching", [][2]int64{{8, 10}, {10, 12}}, Interval{10, 10, 2, 0}},
		{"touching chain", [][2]int64{{8, 12}, {10, 11}, {8, 10}}, Interval{10, 10, 3, 0}},
		// No two agree: the narrowest single interval.
		{"no agreement", [][2]int64{{1, 3}, {4, 5}}, Interval{4, 5, 1, 1}},
		{"no agreement of three", [][2]int64{{0, 10}, {20, 22}, {30, 34}}, Interval{20, 22, 1, 2}},
		// Equal support: the narrower range wins wherever it lies.
		{"tie, first narrower", [][2]int64{{8, 12}, {10, 12}, {8, 9}}, Interval{8, 9, 2, 1}},
		{"tie, last narrower", [][2]int64{{7, 9}, {7, 12}, {10, 11}}, Interval{10, 11, 2, 1}},
		{"tie, negative offsets", [][2]int64{{-9, -7}, {-12, -7}, {-11, -10}}, Interval{-11, -10, 2, 1}},
		// Equal support and width: the lowest.
		{"tie, equal width", [][2]int64{{0, 4}, {2, 6}, {10, 14}, {12, 16}}, Interval{2, 4, 2, 2}},
		// Identical intervals are as good as one point each.
		{"identical", [][2]int64{{5, 7}, {5, 7}, {5, 7}}, Interval{5, 7, 3, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SmallestInterval(intervals(tc.pairs...)); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// bruteForce finds the same interval another way: every point where the most
// intervals overlap lies in a range starting at some interval's lower bound,
// so try each lower bound as the start, the intervals containing it as the
// support, and their nearest upper bound as the end.
func bruteForce(pairs [][2]int64) Interval {
	if len(pairs) == 0 {
		return Interval{}
	}
	var best Interval
	for _, p := range pairs {
		start, end, n := p[0], int64(1<<62), 0
		for _, q := range pairs {
			if q[0] <= start && start <= q[1] {
				n++
				end = min(end, q[1])
			}
		}
		better := n > best.SourcesTrue ||
			n == best.SourcesTrue && (end-start < best.Upper-best.Lower ||
				end-start == best.Upper-best.Lower && start < best.Lower)
		if better {
			best = Interval{start, end, n, len(pairs) - n}
		}
	}
	return best
}

func TestSmallestIntervalMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20_000 {
		pairs := make([][2]int64, rng.IntN(7))
		for j := range pairs {
			lo := rng.Int64N(40) - 20
			pairs[j] = [2]int64{lo, lo + rng.Int64N(15)}
		}
		ts := intervals(pairs...)
		rng.Shuffle(len(ts), func(a, b int) { ts[a], ts[b] = ts[b], ts[a] })
		if got, want := SmallestInterval(ts), bruteForce(pairs); got != want {
			t.Fatalf("case %d %v: got %+v, want %+v", i, pairs, got, want)
		}
	}
}

func TestSmallestIntervalIgnoresInputOrder(t *testing.T) {
	pairs := [][2]int64{{0, 4}, {2, 6}, {10, 14}, {12, 16}, {3, 3}}
	want := SmallestInterval(intervals(pairs...))
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		ts := intervals(pairs...)
		rng.Shuffle(len(ts), func(a, b int) { ts[a], ts[b] = ts[b], ts[a] })
		if got := SmallestInterval(ts); got != want {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	}
	if want != (Interval{3, 3, 3, 2}) {
		t.Fatalf("got %+v", want)
	}
}
