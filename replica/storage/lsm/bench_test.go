package lsm_test

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"viewstamp/replica/storage/lsm"
	"viewstamp/replica/storage/lsm/lsmtest"
)

// The benchmark's shape: production forest (growth 8, 32-beat bars), 64 KiB
// blocks, 128-byte values keyed by a u64 (a transfer object keyed by
// timestamp), 1024 puts per op so a table is 32Ki values.
const (
	benchBodyMax   = 64<<10 - 256
	benchValueSize = 128
	benchBatch     = 1024
)

var benchKeySpaces = []struct {
	name string
	keys uint64
}{{"keys=64Ki", 1 << 16}, {"keys=1Mi", 1 << 20}}

type bench struct {
	h   *harness
	rng *rand.Rand
	v   []byte
	k   []byte
}

func newBench(b *testing.B, keys uint64) *bench {
	tc := lsm.TreeConfig{ID: 1, Name: "bench", KeySize: 8, ValueSize: benchValueSize,
		TableValueCountMax: benchBatch * lsm.CompactionOpsProduction}
	be := &bench{
		h:   newHarness(b, lsmtest.New(benchBodyMax), lsm.ProductionForest, tc),
		rng: rand.New(rand.NewPCG(1, 2)),
		v:   make([]byte, benchValueSize),
		k:   make([]byte, 8),
	}
	be.h.grid.Trust()
	// Put about every key once so lookups reach the levels.
	for range keys / benchBatch {
		be.putBatch(keys)
	}
	return be
}

func (be *bench) putBatch(keys uint64) {
	for range benchBatch {
		binary.BigEndian.PutUint64(be.v, be.rng.Uint64N(keys))
		be.h.tree.Put(be.v)
	}
	be.h.beat()
}

// BenchmarkPut: a batch of puts at random keys and the op's compaction beat;
// reported per value put.
func BenchmarkPut(b *testing.B) {
	for _, ks := range benchKeySpaces {
		b.Run(ks.name, func(b *testing.B) {
			be := newBench(b, ks.keys)
			writes := len(be.h.grid.Writes)
			for b.Loop() {
				be.putBatch(ks.keys)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/put")
			b.ReportMetric(float64(len(be.h.grid.Writes)-writes)/float64(b.N), "blocks/op")
			b.Logf("tables per level %v", be.h.tree.TableCounts())
		})
	}
}

// BenchmarkGet: lookups of random keys, most of them on disk, through the
// fake grid's queue; reported per lookup with the blocks read per lookup.
func BenchmarkGet(b *testing.B) {
	for _, ks := range benchKeySpaces {
		b.Run(ks.name, func(b *testing.B) {
			be := newBench(b, ks.keys)
			reads := be.h.grid.Reads
			found := 0
			for b.Loop() {
				binary.BigEndian.PutUint64(be.k, be.rng.Uint64N(ks.keys))
				be.h.tree.Get(be.k, func(_ []byte, ok bool, err error) {
					if err != nil {
						b.Fatal(err)
					}
					if ok {
						found++
					}
				})
				be.h.grid.Drain()
			}
			b.ReportMetric(float64(be.h.grid.Reads-reads)/float64(b.N), "reads/get")
			b.ReportMetric(float64(found)/float64(b.N), "hit-rate")
		})
	}
}

// BenchmarkMap is the baseline in the same run: a Go map doing the same puts
// and lookups (no durability, no order).
func BenchmarkMap(b *testing.B) {
	for _, ks := range benchKeySpaces {
		b.Run(ks.name, func(b *testing.B) {
			m := map[uint64][benchValueSize]byte{}
			rng := rand.New(rand.NewPCG(1, 2))
			var v [benchValueSize]byte
			for range ks.keys {
				m[rng.Uint64N(ks.keys)] = v
			}
			found := 0
			for b.Loop() {
				k := rng.Uint64N(ks.keys)
				m[k] = v
				if _, ok := m[rng.Uint64N(ks.keys)]; ok {
					found++
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/put+get")
		})
	}
}
