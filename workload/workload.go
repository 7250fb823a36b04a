package workload

import (
	"math/bits"
	"math/rand/v2"

	"viewstamp/replica/u128"
)

// Generator produces the ledger requests of a run's clients, driven only by
// its seed and by the replies it is shown (OnReply); it never consults the
// auditor, so a wrong reply cannot steer it into agreeing with a bug.
//
// A seed draws the character of a run: 2–128 accounts (some limited by
// credits or debits, some keeping history, a few on a second ledger, and on
// most seeds 2–4 "whales" reserved for balances near 2^128), a power law (u^k, k in 2..6)
// over which accounts are hot, the weights of the request kinds and of the
// transfer kinds, the batch sizes, the rate of invalid events (~1%) and of
// linked chains, and whether imported events are sent at all (two seeds in
// three). Transfers are single-phase, pending (timeouts 0 or 1–5 s) then
// posted (whole, partial, zero or u128 max) or voided or left to expire,
// balancing, closing (then voided or expired), retries of earlier ids
// (identical, with one field altered, or after a transient failure) and
// invalid events of every kind the checks know. Early in every run it also
// sends a few scripted probes (see workload_probe.go), so that even a swarm
// of short runs reaches the statuses random traffic finds late or rarely.
//
// Every create_accounts status is designed to appear, and every
// create_transfers status except:
//   - overflows_timeout: it needs an event timestamp above
//     2^63 − 1 − (2^32 − 1)·10^9 ns (year 2126). The generator does send
//     pending transfers with the largest timeout, so the status appears if
//     the simulator's clock starts that high; at present-day clocks those
//     transfers are simply created (and never expire).
//
// Statuses that depend on timing are produced often but not in every run:
// the imported_* ones, because the generator can only aim its user-defined
// timestamps just past the newest timestamp it has seen (other clients'
// requests may commit in between), and pending_transfer_expired, which
// needs its estimate of the cluster's time.
type Generator struct {
	rng *rand.Rand
	p   params

	// brng draws how requests are packed into batches, and only that.
	brng    *rand.Rand
	batches batchPlan

	accountHi, transferHi uint64 // high words of generated ids, per seed

	accounts []*gAccount // planned accounts in hotness order (hottest first)
	byID     map[U128]*gAccount
	pool     []*gAccount // accounts for ordinary transfers, hottest first
	history  []*gAccount
	whales   []*gAccount  // accounts reserved for balances near 2^128
	ledger2  []*gAccount  // accounts not on ledger 1
	skew     int          // hotness power: see hot
	closers  []*gTransfer // created closing transfers believed pending

	probes       []probe    // scripted sequences still to send
	queueA       []Account  // events of the current probe not sent yet
	queueT       []Transfer //
	whalesProbed bool       // random whale traffic waits for the whale probe
	whaleBudget  int        // whale transfers left: once saturated they only overflow

	nextAccount  uint64 // id sequences
	nextTransfer uint64

	transfers map[U128]*gTransfer // what may still be named (workload_window.go)
	sentOrder []*gTransfer        // transfers' entries, in order of first send
	sends     uint64              // transfers sent for the first time
	sweepAt   int
	mark      uint64
	scans     uint64           // scans drawn since the auditor's window may be full
	recent    ring[*gTransfer] // recently sent transfers (retries, lookups)
	failed    ring[*gTransfer] // transfers that failed transiently
	resolved  ring[*gTransfer] // pending transfers known posted, voided or expired
	sentAccts ring[Account]    // recently sent account events (retries)
	pendings  []*gTransfer     // pending transfers believed unresolved

	// Timestamps the replies revealed: the newest of anything, of
	// transfers, and the newest accounts (candidates for imported
	// transfers that must postdate them).
	maxSeen, maxTransferSeen uint64
	newestAccounts           ring[*gAccount]
	accountAt                map[uint64]bool
}

// Options shape a workload. Zero fields are drawn from the seed.
type Options struct {
	// Accounts is how many accounts the workload creates (2..128 drawn
	// uniformly when zero).
	Accounts int
	// BatchSeed seeds the draws of how requests pack batches (see
	// batches.go), apart from the generator's other draws.
	BatchSeed uint64
}

// params are the knobs a seed draws once, so that seeds differ in character
// (mostly reads or mostly writes, big or small batches, many or few
// invalid events) rather than only in detail.
type params struct {
	mix            [requestKinds]int
	transferMix    [transferKinds]int
	batchMean      int
	invalidRate    float64 // per event
	chainRate      float64 // per batch
	importRate     float64 // per create request; zero on some seeds
	closedAvoid    float64 // chance to steer away from an account believed closed
	ledger2Share   float64
	limitShare     float64
	historyShare   float64
	timeoutMaxRate float64
}

type requestKind int

const (
	reqCreateAccounts requestKind = iota
	reqCreateTransfers
	reqLookupAccounts
	reqLookupTransfers
	reqGetAccountTransfers
	reqGetAccountBalances
	reqQueryAccounts
	reqQueryTransfers
	requestKinds
)

type transferKind int

const (
	tkPosted transferKind = iota
	tkPending
	tkPost
	tkVoid
	tkBalancing
	tkClosing
	tkWhale
	tkRetrySame
	tkRetryAltered
	tkRetryFailed
	tkLateResolve
	tkLimit
	transferKinds
)

type accountState uint8

const (
	planned accountState = iota
	sent
	created
)

type gAccount struct {
	ev       Account // as planned
	state    accountState
	ts       uint64
	closedBy *gTransfer // the closing pending transfer believed to hold it closed
	whale    bool
	// balance is the account as a lookup last returned it (zero ID: never
	// looked up), from which a transfer can aim exactly at its limit.
	balance Account
}

type gTransfer struct {
	ev       Transfer // as sent
	status   uint32   // latest status seen; zero before any reply
	ts       uint64   // timestamp of the created transfer
	expires  uint64   // for pending transfers with a timeout
	resolved bool     // known posted, voided or expired
	taken    bool     // a post or void of it is in flight
	sentAt   uint64   // sends when first sent
	mark     uint64   // kept by the sweep of this number
}

// ring keeps the last few items for sampling; old ones fall out.
type ring[T any] struct {
	items []T
	next  int
}

const ringSize = 512

func (r *ring[T]) add(v T) {
	if len(r.items) < ringSize {
		r.items = append(r.items, v)
		return
	}
	r.items[r.next] = v
	r.next = (r.next + 1) % ringSize
}

func (r *ring[T]) pick(rng *rand.Rand) (v T, ok bool) {
	if len(r.items) == 0 {
		return v, false
	}
	return r.items[rng.IntN(len(r.items))], true
}

// New returns a generator whose every decision comes from rng.
func New(rng *rand.Rand, opts Options) *Generator {
	g := &Generator{
		rng:       rng,
		byID:      map[U128]*gAccount{},
		transfers: map[U128]*gTransfer{},
		accountAt: map[uint64]bool{},
		brng:      rand.New(rand.NewPCG(opts.BatchSeed, batchStream)),
	}
	g.batches = drawBatchPlan(g.brng)
	g.drawParams()
	// Ids sometimes use the high word, so that a ledger mixing up the
	// halves of a u128 is caught.
	if rng.IntN(2) == 0 {
		g.accountHi = rng.Uint64N(1 << 62)
		g.transferHi = rng.Uint64N(1 << 62)
	}
	n := opts.Accounts
	if n <= 0 {
		n = 2 + rng.IntN(127)
	}
	g.planAccounts(n)
	g.whaleBudget = 10 + rng.IntN(50)
	g.planProbes()
	return g
}

func (g *Generator) drawParams() {
	r := g.rng
	p := &g.p
	p.mix = [requestKinds]int{
		reqCreateAccounts:      1 + r.IntN(6),
		reqCreateTransfers:     20 + r.IntN(60),
		reqLookupAccounts:      1 + r.IntN(12),
		reqLookupTransfers:     1 + r.IntN(12),
		reqGetAccountTransfers: r.IntN(8),
		reqGetAccountBalances:  r.IntN(8),
		reqQueryAccounts:       r.IntN(5),
		reqQueryTransfers:      r.IntN(5),
	}
	p.transferMix = [transferKinds]int{
		tkPosted:       20 + r.IntN(40),
		tkPending:      5 + r.IntN(20),
		tkPost:         5 + r.IntN(15),
		tkVoid:         2 + r.IntN(8),
		tkBalancing:    1 + r.IntN(6),
		tkClosing:      r.IntN(3),
		tkWhale:        1 + r.IntN(3),
		tkRetrySame:    1 + r.IntN(4),
		tkRetryAltered: 1 + r.IntN(4),
		tkRetryFailed:  r.IntN(3),
		tkLateResolve:  r.IntN(4),
		tkLimit:        1 + r.IntN(4),
	}
	p.batchMean = 1 + r.IntN(24)
	// Each product is rounded before the addition so that no CPU fuses the
	// two into an FMA and draws a rate one ulp away from the others.
	p.invalidRate = 0.003 + float64(r.Float64()*0.015)
	p.chainRate = r.Float64() * 0.1
	if r.IntN(3) > 0 {
		p.importRate = 0.01 + float64(r.Float64()*0.04)
	}
	p.closedAvoid = 0.95 + float64(r.Float64()*0.049)
	p.ledger2Share = r.Float64() * 0.3
	p.limitShare = r.Float64() * 0.6
	p.historyShare = r.Float64() * 0.6
	p.timeoutMaxRate = r.Float64() * 0.002
}

func (g *Generator) planAccounts(n int) {
	r := g.rng
	whales := 0
	if n >= 6 {
		whales = 2 + r.IntN(3)
	}
	for i := 0; i < n; i++ {
		g.nextAccount++
		a := &gAccount{ev: Account{
			ID:          U128{Lo: g.nextAccount, Hi: g.accountHi},
			UserData128: U128{Lo: uint64(r.IntN(8))},
			UserData64:  uint64(r.IntN(8)),
			UserData32:  uint32(r.IntN(8)),
			Ledger:      1,
			Code:        uint16(1 + r.IntN(4)),
		}}
		if i >= n-whales && i > 1 {
			// Whales have no limits: overflows are what they are for.
			a.whale = true
			g.whales = append(g.whales, a)
		} else {
			if r.Float64() < g.p.ledger2Share && i > 1 {
				a.ev.Ledger = 2
				g.ledger2 = append(g.ledger2, a)
			}
			if r.Float64() < g.p.limitShare {
				if r.IntN(3) == 0 {
					a.ev.Flags |= AccountCreditsMustNotExceedDebits
				} else {
					a.ev.Flags |= AccountDebitsMustNotExceedCredits
				}
			}
			g.pool = append(g.pool, a)
		}
		if r.Float64() < g.p.historyShare {
			a.ev.Flags |= AccountHistory
			g.history = append(g.history, a)
		}
		g.accounts = append(g.accounts, a)
		g.byID[a.ev.ID] = a
	}
	if len(g.ledger2) == 1 {
		g.ledger2[0].ev.Ledger = 1
		g.ledger2 = nil
	}
	// Hotness follows a Zipf law over a seed-shuffled order.
	r.Shuffle(len(g.pool), func(i, j int) { g.pool[i], g.pool[j] = g.pool[j], g.pool[i] })
	g.skew = hotSkewMin + r.IntN(hotSkewMax-hotSkewMin+1)
}

// The hotness law's power is drawn per seed from this range: see hot.
const (
	hotSkewMin = 2
	hotSkewMax = 6
)

// Next returns the next request of client: an operation and its
// multi-batch body of at most batchMax events in all (ids for lookups; one
// filter per batch for scans).
func (g *Generator) Next(client int, batchMax int) (operation uint8, body []byte) {
	_ = client // clients share one workload; the reply order already interleaves them
	if batchMax < 1 {
		batchMax = 1
	}
	if g.createdAtLeast(2) {
		if op, batch, ok := g.nextProbe(batchMax); ok {
			return op, oneBatch(op, batch)
		}
	}
	kind := g.pickRequest()
	return g.request(kind, g.batchCount(), batchMax)
}

func (g *Generator) pickRequest() requestKind {
	// Until a pair of accounts exists, transfers could only fail.
	if !g.createdAtLeast(2) && g.rng.IntN(4) > 0 {
		return reqCreateAccounts
	}
	return requestKind(weighted(g.rng, g.p.mix[:]))
}

func (g *Generator) createdAtLeast(n int) bool {
	for _, a := range g.accounts {
		if a.state == created {
			if n--; n == 0 {
				return true
			}
		}
	}
	return false
}

// weighted picks index i with probability w[i] / sum(w).
func weighted(r *rand.Rand, w []int) int {
	total := 0
	for _, x := range w {
		total += x
	}
	k := r.IntN(total)
	for i, x := range w {
		if k < x {
			return i
		}
		k -= x
	}
	return len(w) - 1
}

func (g *Generator) chance(p float64) bool { return g.rng.Float64() < p }

// batchSize draws how many events a create request carries: mostly around
// the seed's mean, sometimes one, rarely empty or as full as allowed.
func (g *Generator) batchSize(batchMax int) int {
	r := g.rng
	var n int
	switch k := r.IntN(1000); {
	case k < 5:
		n = 0
	case k == 5:
		n = batchMax
	case k < 200:
		n = 1
	default:
		n = 1 + r.IntN(2*g.p.batchMean)
	}
	return min(n, batchMax)
}

func (g *Generator) freshAccountID() U128 {
	g.nextAccount++
	return U128{Lo: g.nextAccount, Hi: g.accountHi}
}

func (g *Generator) freshTransferID() U128 {
	g.nextTransfer++
	return U128{Lo: g.nextTransfer, Hi: g.transferHi}
}

// hot picks an ordinary account by a power law over the hotness order: rank
// = n·u^k for u uniform in [0, 1), so P(rank < x) = (x/n)^(1/k), and the
// hottest tenth of the pool takes 10^(-1/k) of the picks (k = 3: 46%). It
// replaces math/rand's Zipf, whose draws go through math.Exp and math.Log,
// whose last bit differs between CPUs: u^k is taken in 64-bit fixed point with
// exact integer products, so a seed picks the same accounts on every machine.
func (g *Generator) hot() *gAccount {
	if len(g.pool) == 0 {
		return g.accounts[g.rng.IntN(len(g.accounts))]
	}
	u := g.rng.Uint64()
	x := u
	for range g.skew - 1 {
		x, _ = bits.Mul64(x, u)
	}
	rank, _ := bits.Mul64(x, uint64(len(g.pool)))
	return g.pool[rank]
}

// usable picks a hot account that is created and believed open, except on
// the seed's small share of careless picks, which reach accounts that do not
// exist yet or are closed.
func (g *Generator) usable() *gAccount {
	ok := func(a *gAccount) bool { return a.state == created && a.closedBy == nil }
	if !g.chance(g.p.closedAvoid) {
		return g.hot()
	}
	for try := 0; try < 8; try++ {
		if a := g.hot(); ok(a) {
			return a
		}
	}
	if n := len(g.pool); n > 0 {
		start := g.rng.IntN(n)
		for k := 0; k < n; k++ {
			if a := g.pool[(start+k)%n]; ok(a) {
				return a
			}
		}
	}
	return g.hot()
}

// pair picks two distinct accounts on one ledger for an ordinary transfer.
func (g *Generator) pair() (dr, cr *gAccount) {
	dr = g.usable()
	for try := 0; try < 8; try++ {
		cr = g.usable()
		if cr != dr && cr.ev.Ledger == dr.ev.Ledger {
			return dr, cr
		}
	}
	for _, a := range g.accounts {
		if a != dr && a.ev.Ledger == dr.ev.Ledger && !a.whale {
			return dr, a
		}
	}
	return dr, cr
}

func (g *Generator) amount() U128 {
	r := g.rng
	switch k := r.IntN(20); {
	case k == 0:
		return U128{}
	case k < 15:
		return U128{Lo: 1 + r.Uint64N(100)}
	default:
		return U128{Lo: 1 + r.Uint64N(100_000)}
	}
}

// timeout is 0 (never expires) or 1..5 seconds: with simulated time
// advancing 10 ms a tick, runs see many expire.
func (g *Generator) timeout() uint32 {
	if g.chance(g.p.timeoutMaxRate) && !g.pendingsFull() {
		return ^uint32(0)
	}
	if g.rng.IntN(4) == 0 && !g.pendingsFull() {
		return 0
	}
	return uint32(1 + g.rng.IntN(5))
}

var maxU128 = u128.Max
