// Package bench is the driver behind `replica benchmark`: it creates
// accounts, sends transfers in batches from concurrent clients, measures
// throughput and batch latency, and checks a sample of balances against what
// it sent.
//
// It lives outside replica/ on purpose: it runs goroutines and reads the
// wall clock, which detlint forbids there, and it is not part of what the
// simulator replays. It is also not under cmd/replica, so that a peer
// benchmark (the same ledger over etcd's raft) can drive its cluster with
// the very same load and the figures compare like for like.
package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"viewstamp/replica/ledger"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// Submit sends one batch of events and returns its results, the ledger's
// records back to back (replica/client/tcp's Submit has this shape, and
// packs concurrent calls into multi-batch requests).
type Submit func(ctx context.Context, op vsr.Operation, body []byte) ([]byte, error)

// Defaults, TigerBeetle's benchmark's where it has one.
const (
	DefaultAccountCount  = 10_000
	DefaultTransferCount = 1_000_000
	// DefaultBatchSize is what one 1 MiB message holds.
	DefaultBatchSize = 8189
	DefaultLedger    = 700
	DefaultCode      = 10
	// DefaultSampleSize accounts are looked up at the end: enough to catch
	// a lost batch, few enough to stay one or two lookups.
	DefaultSampleSize = 1_000
	// DefaultZipfExponent skews about as much as YCSB's zipfian constant
	// 0.99 (math/rand/v2's Zipf needs an exponent above 1): with 10,000
	// accounts the hottest one takes about a tenth of all transfers.
	DefaultZipfExponent = 1.01
)

// amountMax bounds a transfer's amount; small amounts keep every expected
// balance far from overflow whatever the transfer count.
const amountMax = 100

// mismatchesKept is how many verification failures a Result spells out.
const mismatchesKept = 10

// Config describes one run. Zero fields take the defaults.
type Config struct {
	AccountCount  int
	TransferCount int
	BatchSize     int
	// Zipf draws accounts with a Zipf distribution instead of uniformly.
	Zipf         bool
	ZipfExponent float64
	// Seed fixes every id, account choice and amount; the same seed sends
	// the same transfers whatever the client count. Ids carry the seed, so
	// runs with different seeds can share a cluster.
	Seed       uint64
	Ledger     uint32
	Code       uint16
	SampleSize int
}

func (c *Config) defaults() error {
	if c.AccountCount == 0 {
		c.AccountCount = DefaultAccountCount
	}
	if c.TransferCount == 0 {
		c.TransferCount = DefaultTransferCount
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.ZipfExponent == 0 {
		c.ZipfExponent = DefaultZipfExponent
	}
	if c.Ledger == 0 {
		c.Ledger = DefaultLedger
	}
	if c.Code == 0 {
		c.Code = DefaultCode
	}
	if c.SampleSize == 0 {
		c.SampleSize = DefaultSampleSize
	}
	switch {
	case c.AccountCount < 2:
		return errors.New("bench: a transfer needs at least two accounts")
	case c.TransferCount < 0 || c.BatchSize < 1 || c.SampleSize < 0:
		return errors.New("bench: transfer count, batch size and sample size must be positive")
	case c.Zipf && c.ZipfExponent <= 1:
		return errors.New("bench: the zipf exponent must be above 1")
	}
	c.SampleSize = min(c.SampleSize, c.AccountCount)
	return nil
}

// Mismatch is one verified balance that differs from what was sent.
type Mismatch struct {
	Account   u128.U128
	Field     string
	Got, Want u128.U128
}

func (m Mismatch) String() string {
	return fmt.Sprintf("account %s: %s is %s, want %s", fmtU128(m.Account), m.Field, fmtU128(m.Got), fmtU128(m.Want))
}

// Result is what a run measured.
type Result struct {
	Config  Config
	Clients int
	Batches int
	// Created counts transfers the cluster reported created; Failed the
	// others, by status name.
	Created int
	Failed  map[string]int
	// Elapsed covers the transfer phase only, from the first batch sent to
	// the last reply, accounts excluded.
	Elapsed            time.Duration
	TransfersPerSecond float64
	LatencyP50         time.Duration
	LatencyP99         time.Duration
	LatencyMax         time.Duration
	// Verified accounts were looked up at the end; Mismatches lists the first
	// few differences, MismatchCount all of them.
	Verified      int
	Mismatches    []Mismatch
	MismatchCount int
}

// ErrVerify is wrapped by Run's error when a balance differs.
var ErrVerify = errors.New("bench: balances differ from the transfers sent")

// Run drives the load, one goroutine per client, and returns what it
// measured. The first failing request stops every client.
func Run(ctx context.Context, cfg Config, clients []Submit) (Result, error) {
	if err := cfg.defaults(); err != nil {
		return Result{}, err
	}
	if len(clients) == 0 {
		return Result{}, errors.New("bench: no clients")
	}
	r := &run{cfg: cfg, clients: clients, idHi: idHi(cfg.Seed)}
	r.rank = rand.New(rand.NewPCG(cfg.Seed, seedRanks)).Perm(cfg.AccountCount)
	r.debits = make([]atomic.Uint64, cfg.AccountCount)
	r.credits = make([]atomic.Uint64, cfg.AccountCount)

	res := Result{Config: cfg, Clients: len(clients), Failed: map[string]int{}}
	accountBatches := ceilDiv(cfg.AccountCount, cfg.BatchSize)
	if err := r.parallel(ctx, accountBatches, r.createAccounts); err != nil {
		return res, err
	}
	res.Batches = ceilDiv(cfg.TransferCount, cfg.BatchSize)
	r.stats = make([]clientStats, len(clients))
	start := time.Now()
	err := r.parallel(ctx, res.Batches, r.sendTransfers)
	res.Elapsed = time.Since(start)
	if err != nil {
		return res, err
	}
	var latencies []time.Duration
	for _, s := range r.stats {
		res.Created += s.created
		for name, n := range s.failed {
			res.Failed[name] += n
		}
		latencies = append(latencies, s.latencies...)
	}
	slices.Sort(latencies)
	res.LatencyP50 = percentile(latencies, 50)
	res.LatencyP99 = percentile(latencies, 99)
	if len(latencies) > 0 {
		res.LatencyMax = latencies[len(latencies)-1]
	}
	if res.Elapsed > 0 {
		res.TransfersPerSecond = float64(cfg.TransferCount) / res.Elapsed.Seconds()
	}
	if err := r.verify(ctx, &res); err != nil {
		return res, err
	}
	if res.MismatchCount > 0 {
		return res, fmt.Errorf("%w: %d of %d accounts checked, first: %v", ErrVerify, res.MismatchCount,
			res.Verified, res.Mismatches[0])
	}
	return res, nil
}

// Streams of the seed, so that account ranks, each batch's draws and the
// sample do not share random numbers.
const (
	seedRanks = 1 << 62
	seedIDs   = 1<<62 + 1
)

// idHi is the high word of every id the run creates: derived from the seed
// and never zero, so ids are neither zero nor collide with a small-id REPL
// session, nor with a run of another seed.
func idHi(seed uint64) uint64 {
	return rand.New(rand.NewPCG(seed, seedIDs)).Uint64() | 1
}

type run struct {
	cfg     Config
	clients []Submit
	idHi    uint64
	// rank maps a draw (0 is the hottest under zipf) to an account index,
	// so the hot accounts are spread over the id space.
	rank []int
	// debits and credits are what the created transfers should have posted
	// to each account; clients add to them concurrently.
	debits, credits []atomic.Uint64
	stats           []clientStats
}

type clientStats struct {
	created   int
	failed    map[string]int
	latencies []time.Duration
}

func (r *run) accountID(i int) u128.U128  { return u128.U128{Lo: uint64(i) + 1, Hi: r.idHi} }
func (r *run) transferID(j int) u128.U128 { return u128.U128{Lo: uint64(j) + 1, Hi: r.idHi} }

// parallel runs batches 0..n-1, batch k on client k mod C, and returns the
// first error, which cancels the rest.
func (r *run) parallel(ctx context.Context, n int, batch func(ctx context.Context, client, k int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for c := range r.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := c; k < n; k += len(r.clients) {
				if ctx.Err() != nil {
					return
				}
				if err := batch(ctx, c, k); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

func (r *run) createAccounts(ctx context.Context, client, k int) error {
	lo, hi := k*r.cfg.BatchSize, min((k+1)*r.cfg.BatchSize, r.cfg.AccountCount)
	body := make([]byte, (hi-lo)*ledger.AccountSize)
	for i := lo; i < hi; i++ {
		a := ledger.Account{ID: r.accountID(i), Ledger: r.cfg.Ledger, Code: r.cfg.Code}
		a.Encode(body[(i-lo)*ledger.AccountSize:])
	}
	reply, err := r.clients[client](ctx, vsr.Operation(ledger.OpCreateAccounts), body)
	if err != nil {
		return fmt.Errorf("create_accounts: %w", err)
	}
	if len(reply) != (hi-lo)*ledger.ResultSize {
		return fmt.Errorf("create_accounts: %d bytes of results for %d accounts", len(reply), hi-lo)
	}
	for i := 0; i < hi-lo; i++ {
		res := ledger.DecodeResult(reply[i*ledger.ResultSize:])
		switch res.Status {
		case ledger.StatusCreated:
		case ledger.AccountExists:
			return fmt.Errorf("create_accounts: account %s exists: the cluster holds a run of seed %d; use another seed",
				r.accountID(lo+i), r.cfg.Seed)
		default:
			return fmt.Errorf("create_accounts: account %s: %s", r.accountID(lo+i), ledger.AccountStatusName(res.Status))
		}
	}
	return nil
}

// batchTransfers draws batch k's transfers from its own stream, so a
// batch's content does not depend on which client sends it or when.
func (r *run) batchTransfers(k int) []ledger.Transfer {
	lo, hi := k*r.cfg.BatchSize, min((k+1)*r.cfg.BatchSize, r.cfg.TransferCount)
	rng := rand.New(rand.NewPCG(r.cfg.Seed, uint64(k)))
	n := uint64(r.cfg.AccountCount)
	draw := func() int { return r.rank[rng.Uint64N(n)] }
	if r.cfg.Zipf {
		z := rand.NewZipf(rng, r.cfg.ZipfExponent, 1, n-1)
		draw = func() int { return r.rank[z.Uint64()] }
	}
	out := make([]ledger.Transfer, hi-lo)
	for j := range out {
		d, c := draw(), draw()
		for c == d {
			c = draw()
		}
		out[j] = ledger.Transfer{
			ID: r.transferID(lo + j), DebitAccountID: r.accountID(d), CreditAccountID: r.accountID(c),
			Amount: u128.From64(1 + rng.Uint64N(amountMax)), Ledger: r.cfg.Ledger, Code: r.cfg.Code,
		}
	}
	return out
}

func (r *run) sendTransfers(ctx context.Context, client, k int) error {
	ts := r.batchTransfers(k)
	body := make([]byte, len(ts)*ledger.TransferSize)
	for j := range ts {
		ts[j].Encode(body[j*ledger.TransferSize:])
	}
	sent := time.Now()
	reply, err := r.clients[client](ctx, vsr.Operation(ledger.OpCreateTransfers), body)
	latency := time.Since(sent)
	if err != nil {
		return fmt.Errorf("create_transfers: %w", err)
	}
	if len(reply) != len(ts)*ledger.ResultSize {
		return fmt.Errorf("create_transfers: %d bytes of results for %d transfers", len(reply), len(ts))
	}
	st := &r.stats[client]
	st.latencies = append(st.latencies, latency)
	for j := range ts {
		res := ledger.DecodeResult(reply[j*ledger.ResultSize:])
		if res.Status != ledger.StatusCreated {
			if st.failed == nil {
				st.failed = map[string]int{}
			}
			st.failed[ledger.TransferStatusName(res.Status)]++
			continue
		}
		st.created++
		r.debits[ts[j].DebitAccountID.Lo-1].Add(ts[j].Amount.Lo)
		r.credits[ts[j].CreditAccountID.Lo-1].Add(ts[j].Amount.Lo)
	}
	return nil
}

// verify looks up the sample: the first accounts by rank, which under zipf
// are the hottest and under uniform draws a random set.
func (r *run) verify(ctx context.Context, res *Result) error {
	sample := r.rank[:r.cfg.SampleSize]
	for lo := 0; lo < len(sample); lo += r.cfg.BatchSize {
		part := sample[lo:min(lo+r.cfg.BatchSize, len(sample))]
		body := make([]byte, len(part)*ledger.IDSize)
		for i, a := range part {
			r.accountID(a).Put(body[i*ledger.IDSize:])
		}
		reply, err := r.clients[0](ctx, vsr.Operation(ledger.OpLookupAccounts), body)
		if err != nil {
			return fmt.Errorf("lookup_accounts: %w", err)
		}
		if len(reply)%ledger.AccountSize != 0 {
			return fmt.Errorf("lookup_accounts: a reply of %d bytes", len(reply))
		}
		found := map[u128.U128]ledger.Account{}
		for off := 0; off < len(reply); off += ledger.AccountSize {
			a := ledger.DecodeAccount(reply[off:])
			found[a.ID] = a
		}
		for _, i := range part {
			res.Verified++
			r.check(res, i, found)
		}
	}
	return nil
}

func (r *run) check(res *Result, i int, found map[u128.U128]ledger.Account) {
	id := r.accountID(i)
	a, ok := found[id]
	if !ok {
		r.mismatch(res, Mismatch{Account: id, Field: "account (missing)", Want: u128.From64(1)})
		return
	}
	for _, f := range []struct {
		name      string
		got, want u128.U128
	}{
		{"debits_posted", a.DebitsPosted, u128.From64(r.debits[i].Load())},
		{"credits_posted", a.CreditsPosted, u128.From64(r.credits[i].Load())},
		{"debits_pending", a.DebitsPending, u128.Zero},
		{"credits_pending", a.CreditsPending, u128.Zero},
	} {
		if f.got != f.want {
			r.mismatch(res, Mismatch{Account: id, Field: f.name, Got: f.got, Want: f.want})
		}
	}
}

func (r *run) mismatch(res *Result, m Mismatch) {
	res.MismatchCount++
	if len(res.Mismatches) < mismatchesKept {
		res.Mismatches = append(res.Mismatches, m)
	}
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := ceilDiv(p*len(sorted), 100)
	return sorted[max(rank, 1)-1]
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func fmtU128(v u128.U128) string {
	if v.Hi == 0 {
		return fmt.Sprint(v.Lo)
	}
	return "0x" + v.String()
}
