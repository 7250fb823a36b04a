package swarm

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Range is count consecutive seeds from from, wrapping past 2^64-1.
func Range(from uint64, count int) []uint64 {
	seeds := make([]uint64, count)
	for i := range seeds {
		seeds[i] = from + uint64(i)
	}
	return seeds
}

// Shard is shard k of m of seeds: every m-th seed from the k-th. Striding
// rather than cutting into blocks keeps shards balanced when seed cost
// drifts along the range, and needs nothing but the shard's own K and M:
// machines given the same seed list and distinct K run disjoint seeds whose
// union is the whole list.
func Shard(seeds []uint64, k, m int) []uint64 {
	var out []uint64
	for i := k; i < len(seeds); i += m {
		out = append(out, seeds[i])
	}
	return out
}

// ParseShard reads "K/M" with 0 <= K < M: K counts from zero, as a
// Kubernetes completion index does.
func ParseShard(s string) (k, m int, err error) {
	ks, ms, ok := strings.Cut(s, "/")
	if ok {
		k, err = strconv.Atoi(ks)
		if err == nil {
			m, err = strconv.Atoi(ms)
		}
	}
	if !ok || err != nil || m < 1 || k < 0 || k >= m || m > math.MaxInt32 {
		return 0, 0, fmt.Errorf("--shard %q: want K/M with 0 <= K < M, e.g. 0/4", s)
	}
	return k, m, nil
}
