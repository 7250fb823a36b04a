package groove_test

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"viewstamp/replica/storage/groove"
	"viewstamp/replica/storage/lsm"
	"viewstamp/replica/storage/lsm/lsmtest"
	"viewstamp/replica/u128"
)

// The benchmark's shape: production forest and 64 KiB blocks, an account
// (128 bytes, TigerBeetle's layout) groove with its id tree and five
// indexes, batches of 8190 as create_transfers prefetches.
const (
	benchBodyMax = 64<<10 - 256
	benchBatch   = 8190
	benchCache   = 1 << 16 // 8 MiB of accounts
	accountSize  = 128
)

func accountsConfig() groove.Config {
	return groove.Config{
		Descriptor: groove.Descriptor{
			Name: "accounts", ObjectSize: accountSize, ObjectTree: groove.TreeAccounts, IDTree: groove.TreeAccountsID,
			IDOffset: 0, TimestampOffset: 120,
			Fields: []groove.Field{
				groove.U128Field("user_data_128", groove.TreeAccountsUserData128, 80),
				groove.U64Field("user_data_64", groove.TreeAccountsUserData64, 96),
				groove.U32Field("user_data_32", groove.TreeAccountsUserData32, 104),
				groove.U32Field("ledger", groove.TreeAccountsLedger, 112),
				groove.U16Field("code", groove.TreeAccountsCode, 116),
			},
		},
		PutsPerOpMax: benchBatch, CacheObjects: benchCache, StashMax: 2 * benchBatch,
	}
}

func account(i uint64) []byte {
	b := make([]byte, accountSize)
	u128.From64(i + 1).Put(b)
	binary.LittleEndian.PutUint64(b[96:], i%7) // user_data_64, often zero
	binary.LittleEndian.PutUint32(b[112:], uint32(1+i%4))
	binary.LittleEndian.PutUint16(b[116:], uint16(1+i%10))
	binary.LittleEndian.PutUint64(b[120:], i+1)
	return b
}

func newBenchEnv(b *testing.B, n uint64) *env {
	grid := lsmtest.New(benchBodyMax)
	grid.Trust()
	e := newEnv(b, grid, lsm.ProductionForest, accountsConfig())
	ids := make([]u128.U128, 0, benchBatch)
	for i := uint64(0); i < n; {
		e.g.PrefetchSetup()
		ids = ids[:0]
		start := i
		for ; i < n && len(ids) < benchBatch; i++ {
			ids = append(ids, u128.From64(i+1))
		}
		e.prefetch(ids, nil)
		for k := start; k < i; k++ {
			e.g.Insert(account(k))
		}
		e.beat()
	}
	// A bar more, so the last batches are on disk too.
	for range lsm.ProductionForest.CompactionOps {
		e.beat()
	}
	return e
}

var benchSets = []struct {
	name    string
	objects uint64
	hot     uint64 // ids drawn from the first hot objects
}{
	{"objects=10k", 10_000, 10_000},
	{"objects=1M/uniform", 1_000_000, 1_000_000},
	{"objects=1M/hot=10k", 1_000_000, 10_000},
}

// BenchmarkPrefetch: a batch of 8190 ids (drawn with repeats, as a batch
// of transfers names its accounts) prefetched and then read by GetByID,
// reported per id; with the cache's hit rate and the blocks read per batch.
func BenchmarkPrefetch(b *testing.B) {
	for _, s := range benchSets {
		b.Run(s.name, func(b *testing.B) {
			e := newBenchEnv(b, s.objects)
			rng := rand.New(rand.NewPCG(1, 2))
			ids := make([]u128.U128, benchBatch)
			draw := func() {
				for i := range ids {
					ids[i] = u128.From64(1 + rng.Uint64N(s.hot))
				}
			}
			for range 4 { // warm the cache
				draw()
				e.g.PrefetchSetup()
				e.prefetch(ids, nil)
			}
			st0, reads := e.g.Stats(), e.grid.Reads
			for b.Loop() {
				draw()
				e.g.PrefetchSetup()
				e.prefetch(ids, nil)
				for _, id := range ids {
					if _, ok := e.g.GetByID(id); !ok {
						b.Fatal("missing")
					}
				}
			}
			st := e.g.Stats()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/id")
			b.ReportMetric(float64(st.CacheHits-st0.CacheHits)/float64(st.CacheHits-st0.CacheHits+st.CacheMisses-st0.CacheMisses), "cache-hit-rate")
			b.ReportMetric(float64(e.grid.Reads-reads)/float64(b.N), "reads/batch")
		})
	}
}

// BenchmarkMap is the baseline in the same run: the same batches looked up
// in a Go map of every object (no durability, unbounded memory).
func BenchmarkMap(b *testing.B) {
	for _, s := range benchSets {
		b.Run(s.name, func(b *testing.B) {
			m := make(map[u128.U128][]byte, s.objects)
			for i := range s.objects {
				m[u128.From64(i+1)] = account(i)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			ids := make([]u128.U128, benchBatch)
			for b.Loop() {
				for i := range ids {
					ids[i] = u128.From64(1 + rng.Uint64N(s.hot))
				}
				for _, id := range ids {
					if _, ok := m[id]; !ok {
						b.Fatal("missing")
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/id")
		})
	}
}
