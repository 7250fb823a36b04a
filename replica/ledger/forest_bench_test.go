package ledger

import (
	"context"
	"math/rand/v2"
	"runtime/pprof"
	"syscall"
	"testing"

	"viewstamp/replica/storage/lsm"
	"viewstamp/replica/storage/lsm/lsmtest"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// The forest machine against the plain map ledger on the same batches:
// 8189-transfer create_transfers batches over 10,000 accounts (the hot set:
// every account fits the cache) and 1,000,000 (most prefetches miss it and
// go to the trees), production shape (512 KiB blocks, lsm.ProductionForest)
// on an in-memory grid. A bar is 32 ops, so -benchtime=32x times one whole
// bar, its compaction and its memtables' sealing included; fewer batches
// time the start of one. Run with:
//
//	go test ./replica/ledger -run '^$' -bench 'Forest|MapLedger' -benchtime=32x
const (
	benchBlockBody = 512<<10 - 256
	// benchAccountCache is TigerBeetle's default accounts cache (128 MiB of
	// 128-byte accounts).
	benchAccountCache = 1 << 20
	benchAccountsMany = 1_000_000
	// benchWarmBars is how many whole bars of transfer batches run before
	// the timer, at least: the warm-up then goes on to a bar's end, so the
	// timed batches start a bar as a long-running replica's do, with the
	// account creation's bar compacted, the memtables and compaction
	// buffers allocated and the cache filled. (Four warm batches timed
	// the first bar, which has nothing to compact and whose account
	// updates found their keys in the creation's ascending run.)
	benchWarmBars = 1
)

// benchWarmBatches is the warm-up after ops 1..ops created the accounts:
// at least benchWarmBars bars, ending with a bar's last op (op%bar ==
// bar-1), so the first timed op starts a bar.
func benchWarmBatches(ops int) int {
	bar := lsm.ProductionForest.CompactionOps
	w := benchWarmBars * bar
	for (ops+w+1)%bar != 0 {
		w++
	}
	return w
}

type benchForest struct {
	m    *ForestMachine
	grid *lsmtest.Grid
	op   uint64
	ts   uint64
}

func (f *benchForest) run(b *testing.B, op uint8, body []byte, events int) []byte {
	f.op++
	f.ts += uint64(events) + 1
	ready := false
	body = oneBatch(op, body)
	f.m.Prefetch(f.op, f.ts, vsr.Operation(op), body, func() { ready = true })
	f.grid.Drain()
	if !ready {
		b.Fatal("prefetch never completed")
	}
	reply := replyBatch(b, op, f.m.Commit(u128.U128{}, f.op, f.ts, vsr.Operation(op), body))
	done := false
	f.m.Compact(f.op, func() { done = true })
	f.grid.Drain()
	if !done {
		b.Fatal("beat never completed")
	}
	return reply
}

func newBenchForest(b *testing.B, accounts, cache int) *benchForest {
	g := lsmtest.New(benchBlockBody)
	g.Trust()
	m := newForestMachine(Config{BatchMax: benchBatch}, ForestConfig{Shape: lsm.ProductionForest, AccountCacheObjects: cache})
	if err := m.OpenEmpty(g); err != nil {
		b.Fatal(err)
	}
	f := &benchForest{m: m, grid: g, ts: 1e18}
	for start := 1; start <= accounts; start += benchBatch {
		n := min(benchBatch, accounts-start+1)
		body := make([]byte, n*AccountSize)
		for i := 0; i < n; i++ {
			a := Account{ID: u128.From64(uint64(start + i)), Ledger: 1, Code: 1}
			a.Encode(body[i*AccountSize:])
		}
		f.run(b, OpCreateAccounts, body, n)
	}
	return f
}

func uniformOver(n int) func(*rand.Rand) pick {
	return func(r *rand.Rand) pick { return func() uint64 { return 1 + r.Uint64N(uint64(n)) } }
}

func benchmarkForest(b *testing.B, accounts int) {
	f := newBenchForest(b, accounts, benchAccountCache)
	warmBatches := benchWarmBatches(int(f.op))
	all := benchBatchesOver(warmBatches+b.N, uniformOver(accounts)(rand.New(rand.NewPCG(1, 2))))
	for _, body := range all[:warmBatches] {
		f.run(b, OpCreateTransfers, body, benchBatch)
	}
	if bar := uint64(lsm.ProductionForest.CompactionOps); (f.op+1)%bar != 0 {
		b.Fatalf("warm-up ended at op %d, not at a bar's end", f.op)
	}
	// The ratio counts the timed batches' lookups only: creating the
	// accounts looks each id up once before it exists, a miss that says
	// nothing about the hot set (over the whole run, 10,000 of them).
	warm := f.m.accounts.Stats()
	b.ResetTimer()
	cpu := cpuSeconds()
	// The timed batches carry the profile label phase=timed: a profile of
	// them alone is -tagfocus=phase=timed, leaving out the set-up.
	pprof.Do(context.Background(), pprof.Labels("phase", "timed"), func(context.Context) {
		for _, body := range all[warmBatches:] {
			if DecodeResult(f.run(b, OpCreateTransfers, body, benchBatch)).Status != StatusCreated {
				b.Fatal("benchmark transfer not created")
			}
		}
	})
	reportCPU(b, cpu)
	s := f.m.accounts.Stats()
	hits, misses := s.CacheHits-warm.CacheHits, s.CacheMisses-warm.CacheMisses
	b.ReportMetric(float64(hits)/float64(max(1, hits+misses)), "cache_hit_ratio")
}

func benchmarkMapOver(b *testing.B, accounts int) {
	batches := benchBatchesOver(b.N, uniformOver(accounts)(rand.New(rand.NewPCG(1, 2))))
	m := make(map[u128.U128]mapAccount, accounts)
	for id := uint64(1); id <= uint64(accounts); id++ {
		m[u128.From64(id)] = mapAccount{}
	}
	b.ResetTimer()
	cpu := cpuSeconds()
	for i := 0; i < b.N; i++ {
		body := batches[i]
		for k := 0; k < benchBatch; k++ {
			e := body[k*TransferSize:]
			dr, cr, amount := getU128(e[16:]), getU128(e[32:]), getU128(e[48:])
			d, c := m[dr], m[cr]
			d.debits, _ = add(d.debits, amount)
			c.credits, _ = add(c.credits, amount)
			m[dr], m[cr] = d, c
		}
	}
	reportCPU(b, cpu)
}

// cpuSeconds is the process's CPU time (user and system, every thread):
// the machine these run on is shared, so wall time says more about the
// neighbours than about the ledger, and the ratio of CPU times is the
// comparison that holds.
func cpuSeconds() float64 {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return float64(u.Utime.Nano()+u.Stime.Nano()) / 1e9
}

func reportCPU(b *testing.B, since float64) {
	cpu := cpuSeconds() - since
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "transfers/s")
	b.ReportMetric(cpu*1e3/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(b.N*benchBatch)/cpu, "transfers/cpu-s")
}

// benchBatchesOver is benchBatches with ids continuing across batches.
func benchBatchesOver(count int, p pick) [][]byte { return benchBatches(count, p) }

func BenchmarkForest10K(b *testing.B)        { benchmarkForest(b, benchAccounts) }
func BenchmarkForest1M(b *testing.B)         { benchmarkForest(b, benchAccountsMany) }
func BenchmarkMapLedgerOver10K(b *testing.B) { benchmarkMapOver(b, benchAccounts) }
func BenchmarkMapLedgerOver1M(b *testing.B)  { benchmarkMapOver(b, benchAccountsMany) }
