package ledger

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"viewstamp/replica/multibatch"
	"viewstamp/replica/storage"
	"viewstamp/replica/storage/block"
	"viewstamp/replica/storage/grid"
	"viewstamp/replica/storage/groove"
	"viewstamp/replica/storage/lsm"
	"viewstamp/replica/storage/snapshot"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// ForestMachine is the ledger state machine with its objects in an LSM
// forest on the replica's grid. Per op, Prefetch loads what the batch names
// from the grooves into a working set (a store holding one batch), Commit
// runs the ledger's one Execute on it - the same rules, replies and digest
// as the in-memory Machine - and writes the net effects back to the grooves,
// and Compact runs the forest's beat. Memory is the working set, the
// grooves' caches, stashes and memtables: bounded by the configuration, not
// by the ledger's history.
type ForestMachine struct {
	L   *Ledger
	cfg ForestConfig

	forest                               *groove.Forest
	grid                                 lsm.Grid
	roots                                []lsm.BlockRef // AppendBlockRoots' scratch
	accounts, transfers, pending, events *groove.Groove

	st       forestState
	captured forestState
	marked   bool
	keeper   snapshot.Keeper

	// gen counts Opens: a completion of an older forest's read is dropped.
	gen uint64
	// parked holds prefetch steps a block fault stopped, retried by
	// RetryParked once the replica has repaired the block.
	parked []func()

	// The batch: the op prefetched, the loaded objects as stored (by
	// working-set position), and for a pulse the next expiry after it.
	prefetched    bool
	prefetchOp    uint64
	origAccounts  []Account
	origState     []uint8
	pulseAfter    uint64
	pulseExpiring []groove.IndexEntry
	expiringPos   []int32
	failedLoaded  int

	ids  []u128.U128
	tss  []uint64
	ids2 []u128.U128
	tss2 []uint64
	buf  [2][eventSize]byte
	evs  []eventSides

	// A query op's batches: their results' timestamps back to back, and
	// where each batch's results end, so Commit loads one batch at a time.
	queryTss []uint64
	queryEnd []int
	batches  batchRunner
}

// ForestConfig is the forest machine's shape.
type ForestConfig struct {
	Shape lsm.ForestConfig
	// AccountCacheObjects is the accounts cache's capacity, a multiple of
	// groove.CacheWays: the hot accounts that prefetch finds without IO.
	AccountCacheObjects int
}

// forestState is the ledger's small in-memory state, written at each
// checkpoint as a fixed-size snapshot trailer (forestStateSize bytes, all
// little-endian): digest u128, last account timestamp, last transfer
// timestamp, next expiry (0: none), pulse scan start, forest checkpoint op.
type forestState struct {
	digest       u128.U128
	lastAccount  uint64
	lastTransfer uint64
	// expiryNext is what PulseDue compares with: the earliest expiry of
	// the pending transfers created since the last pulse (rolled back
	// ones too, as the in-memory ledger's heap keeps them) and of those
	// still pending after it.
	expiryNext uint64
	// pulseFrom is where a pulse's scan of expires_at starts: everything
	// before was due at an earlier pulse, and a new expiry always lies
	// past the op that created it.
	pulseFrom uint64
	// forestOp is the op whose beat ended the checkpoint's bar.
	forestOp uint64
}

const forestStateSize = 16 + 5*8

func (s *forestState) encode() []byte {
	b := make([]byte, forestStateSize)
	s.digest.Put(b)
	for i, v := range []uint64{s.lastAccount, s.lastTransfer, s.expiryNext, s.pulseFrom, s.forestOp} {
		binary.LittleEndian.PutUint64(b[16+8*i:], v)
	}
	return b
}

func decodeForestState(b []byte) (forestState, bool) {
	if len(b) != forestStateSize {
		return forestState{}, false
	}
	var s forestState
	s.digest = u128.Get(b)
	v := func(i int) uint64 { return binary.LittleEndian.Uint64(b[16+8*i:]) }
	s.lastAccount, s.lastTransfer, s.expiryNext, s.pulseFrom, s.forestOp = v(0), v(1), v(2), v(3), v(4)
	return s, true
}

// NewForestMachine returns a ledger state machine in the forest, for
// batches that fit messages of messageSizeMax bytes. It has no forest until
// Open (or OpenEmpty) gives it a grid.
func NewForestMachine(messageSizeMax int, bugs Bugs, cfg ForestConfig) *ForestMachine {
	return newForestMachine(Config{BatchMax: BatchMaxFor(messageSizeMax, vsr.HeaderSize), Bugs: bugs}, cfg)
}

func newForestMachine(lc Config, cfg ForestConfig) *ForestMachine {
	l := New(lc)
	l.s = newWorkingSet()
	return &ForestMachine{L: l, cfg: cfg}
}

// OpenEmpty starts an empty ledger on a fresh forest over g, the formatted
// state (tests and benchmarks use any lsm.Grid; Open is the replica's way).
func (m *ForestMachine) OpenEmpty(g lsm.Grid) error {
	if err := m.newForest(g); err != nil {
		return err
	}
	m.install(forestState{})
	return nil
}

func (m *ForestMachine) newForest(g lsm.Grid) error {
	m.gen++
	m.parked = nil
	m.prefetched = false
	f, err := groove.NewForest(g, m.cfg.Shape, forestGrooves(m.L.cfg.BatchMax, m.cfg.AccountCacheObjects))
	if err != nil {
		return err
	}
	m.forest, m.grid = f, g
	m.accounts, m.transfers = f.Groove(grooveAccounts), f.Groove(grooveTransfers)
	m.pending, m.events = f.Groove(groovePending), f.Groove(grooveEvents)
	return nil
}

func (m *ForestMachine) install(st forestState) {
	m.st = st
	m.marked = false
	m.L.digest = st.digest
	m.L.s.resetWorkingSet(st.lastAccount, st.lastTransfer)
}

// Forest is the machine's forest (tests, the run record, References).
func (m *ForestMachine) Forest() *groove.Forest { return m.forest }

func (m *ForestMachine) Check(op vsr.Operation, body []byte) vsr.EvictionReason {
	return checkReason(m.L.ValidateBody(uint8(op), body))
}

func (m *ForestMachine) EventCount(op vsr.Operation, body []byte) uint64 {
	return BodyEventCount(uint8(op), body)
}

// PulseDue is memory only: the next expiry is kept, not searched for.
func (m *ForestMachine) PulseDue(timestamp uint64) bool {
	return m.st.expiryNext != 0 && m.st.expiryNext <= timestamp
}

func (m *ForestMachine) Pulse(timestamp uint64) (vsr.Operation, bool) {
	return vsr.Operation(OpPulse), m.PulseDue(timestamp)
}

func (m *ForestMachine) Checksum() u128.U128 { return m.L.Checksum() }

// Prefetch loads what Commit of op will read into the working set and calls
// done once Commit may run: the objects the batches name by id (and by
// timestamp, for imported events), then a second stage for what the first
// stage's objects name (a post or void's pending transfer's accounts and
// status). All batches of a create or lookup load as one: a later batch
// sees what an earlier one created, as the working set holds both. Queries
// run each batch's index scan here and leave its results in the stash, for
// Commit to load batch by batch: a working set holds one query's results.
func (m *ForestMachine) Prefetch(op, timestamp uint64, operation vsr.Operation, body []byte, done func()) {
	if m.forest == nil {
		panic("ledger: prefetch before the forest machine is opened")
	}
	s := m.L.s
	s.resetWorkingSet(m.st.lastAccount, m.st.lastTransfer)
	m.origAccounts, m.origState = m.origAccounts[:0], m.origState[:0]
	m.pulseAfter, m.pulseExpiring, m.expiringPos = 0, m.pulseExpiring[:0], m.expiringPos[:0]
	m.prefetched = false
	for _, g := range []*groove.Groove{m.accounts, m.transfers, m.pending, m.events} {
		g.PrefetchSetup()
	}
	finish := func() {
		s.sealLoaded()
		m.failedLoaded = s.failed.len()
		m.prefetched, m.prefetchOp = true, op
		done()
	}
	payload := body
	if uint8(operation) != OpPulse {
		b, err := multibatch.Decode(body, EventSizeOf(uint8(operation)))
		if err != nil {
			panic("ledger: prefetch of a body Check rejects: " + err.Error())
		}
		payload = b.Payload()
		if filtered(uint8(operation)) {
			m.queryTss, m.queryEnd = m.queryTss[:0], m.queryEnd[:0]
			m.prefetchFilters(uint8(operation), b, 0, finish)
			return
		}
	}
	body = payload
	switch uint8(operation) {
	case OpCreateAccounts:
		m.prefetchCreateAccounts(body, finish)
	case OpCreateTransfers:
		m.prefetchCreateTransfers(body, finish)
	case OpPulse:
		m.prefetchPulse(timestamp, finish)
	case OpLookupAccounts:
		m.ids = m.ids[:0]
		for i := 0; i+IDSize <= len(body); i += IDSize {
			m.ids = append(m.ids, getU128(body[i:]))
		}
		m.fetch(m.accounts, m.ids, nil, func() { m.loadAccounts(m.ids, nil); finish() })
	case OpLookupTransfers:
		m.ids = m.ids[:0]
		for i := 0; i+IDSize <= len(body); i += IDSize {
			m.ids = append(m.ids, getU128(body[i:]))
		}
		m.fetch(m.transfers, m.ids, nil, func() { m.loadTransfers(m.ids, nil); finish() })
	default:
		finish()
	}
}

// prefetchFilters runs the scans of batches i.. of a query op in turn,
// each leaving its results in m.queryTss.
func (m *ForestMachine) prefetchFilters(op uint8, b multibatch.Body, i int, finish func()) {
	if i == b.Count() {
		finish()
		return
	}
	next := func() {
		m.queryTss = append(m.queryTss, m.tss...)
		m.queryEnd = append(m.queryEnd, len(m.queryTss))
		m.prefetchFilters(op, b, i+1, finish)
	}
	m.tss = m.tss[:0]
	if op == OpGetAccountTransfers || op == OpGetAccountBalances {
		m.prefetchAccountFilter(op, DecodeAccountFilter(b.Batch(i)), next)
	} else {
		m.prefetchQuery(op, DecodeQueryFilter(b.Batch(i)), next)
	}
}

// loadFilterBatch empties the working set and loads batch i of a query op
// from the stash: its account, for an account filter, and its results.
func (m *ForestMachine) loadFilterBatch(op uint8, i int, batch []byte) {
	s := m.L.s
	s.resetWorkingSet(m.st.lastAccount, m.st.lastTransfer)
	m.origAccounts, m.origState = m.origAccounts[:0], m.origState[:0]
	lo := 0
	if i > 0 {
		lo = m.queryEnd[i-1]
	}
	tss := m.queryTss[lo:m.queryEnd[i]]
	switch op {
	case OpGetAccountTransfers, OpGetAccountBalances:
		f := DecodeAccountFilter(batch)
		m.ids = append(m.ids[:0], f.AccountID)
		m.loadAccounts(m.ids, nil)
		if pos, ok := s.accountPos.get(f.AccountID); ok {
			m.loadAccountList(op, f.AccountID, pos, tss)
		}
	case OpQueryTransfers:
		m.loadTransfers(nil, tss)
	default:
		m.loadAccounts(nil, tss)
	}
	s.sealLoaded()
}

// fetch prefetches names into g and continues with then. A block fault
// parks the step, to be retried after repair; a completion of a forest
// that Open has since replaced is dropped.
func (m *ForestMachine) fetch(g *groove.Groove, ids []u128.U128, tss []uint64, then func()) {
	gen := m.gen
	g.Prefetch(ids, tss, func(err error) {
		if gen != m.gen {
			return
		}
		if err != nil {
			m.park(err, func() { m.fetch(g, ids, tss, then) })
			return
		}
		then()
	})
}

func (m *ForestMachine) park(err error, retry func()) {
	if _, ok := err.(*lsm.BlockFaultError); !ok {
		panic(fmt.Sprintf("ledger: forest read failed: %v", err))
	}
	m.parked = append(m.parked, retry)
}

// Parked reports whether a prefetch waits for a repaired block.
func (m *ForestMachine) Parked() bool { return len(m.parked) > 0 }

// RetryParked reissues the prefetch steps a block fault stopped.
func (m *ForestMachine) RetryParked() {
	parked := m.parked
	m.parked = nil
	for _, retry := range parked {
		retry()
	}
}

// loadAccounts copies the named accounts the groove holds into the working
// set, remembering each as stored.
func (m *ForestMachine) loadAccounts(ids []u128.U128, tss []uint64) {
	for _, id := range ids {
		if _, loaded := m.L.s.accountPos.get(id); loaded {
			continue // named twice (most accounts of a batch are): decoded once
		}
		if b, ok := m.accounts.GetByID(id); ok {
			m.loadAccount(b)
		}
	}
	for _, ts := range tss {
		if b, ok := m.accounts.GetByTimestamp(ts); ok {
			m.loadAccount(b)
		}
	}
}

func (m *ForestMachine) loadAccount(b []byte) int32 {
	a := DecodeAccount(b)
	n := m.L.s.accounts.len()
	pos := m.L.s.loadAccount(&a)
	if int(pos) == n {
		m.origAccounts = append(m.origAccounts, a)
	}
	return pos
}

// loadTransfers copies the named transfers into the working set; an id
// orphaned by a transient failure enters the failed set. A pending
// transfer's state is loaded by loadPendingStates.
func (m *ForestMachine) loadTransfers(ids []u128.U128, tss []uint64) {
	for _, id := range ids {
		if b, ok := m.transfers.GetByID(id); ok {
			m.loadTransfer(b, pendingNone)
		} else if m.transfers.Orphaned(id) {
			m.L.s.failed.add(id)
		}
	}
	for _, ts := range tss {
		if b, ok := m.transfers.GetByTimestamp(ts); ok {
			m.loadTransfer(b, pendingNone)
		}
	}
}

func (m *ForestMachine) loadTransfer(b []byte, state uint8) int32 {
	t := DecodeTransfer(b)
	n := m.L.s.transfers.len()
	pos := m.L.s.loadTransfer(&t, state)
	if int(pos) == n {
		m.origState = append(m.origState, state)
	}
	return pos
}

func (m *ForestMachine) prefetchCreateAccounts(body []byte, finish func()) {
	m.ids, m.tss = m.ids[:0], m.tss[:0]
	for i := 0; i+AccountSize <= len(body); i += AccountSize {
		a := DecodeAccount(body[i:])
		m.ids = append(m.ids, a.ID)
		if a.Flags&AccountImported != 0 && a.Timestamp != 0 {
			m.tss = append(m.tss, a.Timestamp) // is it a transfer's?
		}
	}
	m.fetch(m.accounts, m.ids, nil, func() {
		m.fetch(m.transfers, nil, m.tss, func() {
			m.loadAccounts(m.ids, nil)
			m.loadTransfers(nil, m.tss)
			finish()
		})
	})
}

func (m *ForestMachine) prefetchCreateTransfers(body []byte, finish func()) {
	m.ids, m.tss, m.ids2 = m.ids[:0], m.tss[:0], m.ids2[:0]
	for i := 0; i+TransferSize <= len(body); i += TransferSize {
		t := DecodeTransfer(body[i:])
		m.ids = append(m.ids, t.DebitAccountID, t.CreditAccountID)
		m.ids2 = append(m.ids2, t.ID)
		if !t.PendingID.IsZero() {
			m.ids2 = append(m.ids2, t.PendingID)
		}
		if t.Flags&TransferImported != 0 && t.Timestamp != 0 {
			m.tss = append(m.tss, t.Timestamp) // is it an account's?
		}
	}
	m.fetch(m.accounts, m.ids, m.tss, func() {
		m.fetch(m.transfers, m.ids2, nil, func() {
			m.loadAccounts(m.ids, m.tss)
			m.loadTransfers(m.ids2, nil)
			// Second stage: the accounts and status of every pending
			// transfer the batch found.
			s := m.L.s
			m.ids, m.tss2 = m.ids[:0], m.tss2[:0]
			for pos := int32(0); int(pos) < s.transfers.len(); pos++ {
				t := &s.transfers.at(pos).Transfer
				if t.Flags&TransferPending == 0 {
					continue
				}
				m.ids = append(m.ids, t.DebitAccountID, t.CreditAccountID)
				m.tss2 = append(m.tss2, t.Timestamp)
			}
			m.fetch(m.accounts, m.ids, nil, func() {
				m.fetch(m.pending, nil, m.tss2, func() {
					m.loadAccounts(m.ids, nil)
					m.loadPendingStates()
					finish()
				})
			})
		})
	})
}

// loadPendingStates sets each loaded pending transfer's state from
// transfers_pending, which prefetch has just loaded.
func (m *ForestMachine) loadPendingStates() {
	s := m.L.s
	for pos := int32(0); int(pos) < s.transfers.len(); pos++ {
		r := s.transfers.at(pos)
		if r.Flags&TransferPending == 0 {
			continue
		}
		b, ok := m.pending.GetByTimestamp(r.Timestamp)
		if !ok {
			panic(fmt.Sprintf("ledger: pending transfer %s has no status", r.ID))
		}
		r.state = b[pendingStatusOff]
		m.origState[pos] = r.state
	}
}

// prefetchPulse finds the due transfers in the expires_at index (which
// holds only pending ones) and the first expiry after them, then loads the
// due transfers and their accounts in rounds of a stash's size: the
// working set keeps them all, however many are due.
func (m *ForestMachine) prefetchPulse(timestamp uint64, finish func()) {
	gen := m.gen
	var scanNext func()
	scanDue := func() {
		if timestamp < m.st.pulseFrom {
			scanNext()
			return
		}
		m.pending.ScanIndex(pendingFieldExpiresAt, u128.From64(m.st.pulseFrom), u128.From64(timestamp), 0, false,
			func(due []groove.IndexEntry, err error) {
				if gen != m.gen {
					return
				}
				if err != nil {
					m.park(err, func() { m.prefetchPulse(timestamp, finish) })
					return
				}
				m.pulseExpiring = append(m.pulseExpiring[:0], due...)
				scanNext()
			})
	}
	scanNext = func() {
		m.pending.ScanIndex(pendingFieldExpiresAt, u128.From64(timestamp+1), u128.From64(math.MaxUint64), 1, false,
			func(next []groove.IndexEntry, err error) {
				if gen != m.gen {
					return
				}
				if err != nil {
					m.park(err, func() { m.prefetchPulse(timestamp, finish) })
					return
				}
				if len(next) > 0 {
					m.pulseAfter = next[0].Value.Lo
				}
				m.pulseRound(0, finish)
			})
	}
	scanDue()
}

func (m *ForestMachine) pulseRound(from int, finish func()) {
	s := m.L.s
	if from == len(m.pulseExpiring) {
		// In (expires_at, timestamp) order, as the in-memory heap pops.
		for i, e := range m.pulseExpiring {
			s.expiries.push(expiry{expiresAt: e.Value.Lo, timestamp: e.Timestamp, pos: m.expiringPos[i]})
		}
		finish()
		return
	}
	to := min(len(m.pulseExpiring), from+pulseRoundPerBatch*m.L.cfg.BatchMax)
	if from > 0 {
		m.transfers.PrefetchSetup()
		m.accounts.PrefetchSetup()
	}
	m.tss = m.tss[:0]
	for _, e := range m.pulseExpiring[from:to] {
		m.tss = append(m.tss, e.Timestamp)
	}
	m.fetch(m.transfers, nil, m.tss, func() {
		m.ids = m.ids[:0]
		for _, ts := range m.tss {
			b, ok := m.transfers.GetByTimestamp(ts)
			if !ok {
				panic(fmt.Sprintf("ledger: expires_at names timestamp %d, which holds no transfer", ts))
			}
			m.expiringPos = append(m.expiringPos, m.loadTransfer(b, pendingPending))
			t := DecodeTransfer(b)
			m.ids = append(m.ids, t.DebitAccountID, t.CreditAccountID)
		}
		m.fetch(m.accounts, m.ids, nil, func() {
			m.loadAccounts(m.ids, nil)
			m.pulseRound(to, finish)
		})
	})
}

// prefetchAccountFilter loads the account, then runs the filter's index
// query and loads the transfers it finds (and, for balances, their account
// events) in timestamp order, as the account's list in the working set.
func (m *ForestMachine) prefetchAccountFilter(op uint8, f AccountFilter, finish func()) {
	m.ids = append(m.ids[:0], f.AccountID)
	m.fetch(m.accounts, m.ids, nil, func() {
		b, ok := m.accounts.GetByID(f.AccountID)
		if !ok || !m.L.accountFilterValid(&f) ||
			(op == OpGetAccountBalances && DecodeAccount(b).Flags&AccountHistory == 0) {
			finish()
			return
		}
		stream := func() *groove.Stream {
			g := m.transfers
			var sides []*groove.Stream
			if f.Flags&FilterDebits != 0 {
				sides = append(sides, g.Index(transferFieldDebitAccountID, f.AccountID))
			}
			if f.Flags&FilterCredits != 0 {
				sides = append(sides, g.Index(transferFieldCreditAccountID, f.AccountID))
			}
			all := []*groove.Stream{groove.Union(sides...)}
			if !f.UserData128.IsZero() {
				all = append(all, g.Index(transferFieldUserData128, f.UserData128))
			}
			if f.UserData64 != 0 {
				all = append(all, g.Index(transferFieldUserData64, u128.From64(f.UserData64)))
			}
			if f.UserData32 != 0 {
				all = append(all, g.Index(transferFieldUserData32, u128.From64(uint64(f.UserData32))))
			}
			if f.Code != 0 {
				all = append(all, g.Index(transferFieldCode, u128.From64(uint64(f.Code))))
			}
			if len(all) == 1 {
				return all[0]
			}
			return groove.Intersect(all...)
		}
		m.query(stream, f.TimestampMin, f.TimestampMax, m.L.limit(f.Limit), f.Flags&FilterReversed != 0, func() {
			m.fetch(m.transfers, nil, m.tss, func() {
				if op == OpGetAccountBalances {
					m.fetch(m.events, nil, m.tss, finish)
				} else {
					finish()
				}
			})
		})
	})
}

// loadAccountList gives the loaded account at pos the transfers at tss (an
// account filter's results, ascending) as its list, with the balances each
// left for get_account_balances.
func (m *ForestMachine) loadAccountList(op uint8, id u128.U128, pos int32, tss []uint64) {
	a := m.L.s.accounts.at(pos)
	for _, ts := range tss {
		b, _ := m.transfers.GetByTimestamp(ts)
		tp := m.loadTransfer(b, pendingNone)
		a.transfers = append(a.transfers, tp)
		if op != OpGetAccountBalances {
			continue
		}
		e, ok := m.events.GetByTimestamp(ts)
		if !ok {
			panic(fmt.Sprintf("ledger: history transfer at %d has no account event", ts))
		}
		side := eventDebit
		if getU128(e[8+IDSize:]) == id {
			side = eventCredit
		}
		a.balances = append(a.balances, getBalance(e[side:]))
	}
}

// query runs the stream stream() builds over [lo, hi] (hi 0: unbounded)
// and leaves its results in m.tss in ascending timestamp order.
func (m *ForestMachine) query(stream func() *groove.Stream, lo, hi uint64, limit int, reversed bool, then func()) {
	if hi == 0 {
		hi = math.MaxUint64
	}
	gen := m.gen
	groove.Query(stream(), lo, hi, limit, reversed, func(tss []uint64, err error) {
		if gen != m.gen {
			return
		}
		if err != nil {
			m.park(err, func() { m.query(stream, lo, hi, limit, reversed, then) })
			return
		}
		m.tss = append(m.tss[:0], tss...)
		if reversed {
			slices.Reverse(m.tss)
		}
		then()
	})
}

func (m *ForestMachine) prefetchQuery(op uint8, f QueryFilter, finish func()) {
	if !queryFilterValid(&f) {
		finish()
		return
	}
	g, fields := m.accounts, [5]int{accountFieldUserData128, accountFieldUserData64, accountFieldUserData32, accountFieldLedger, accountFieldCode}
	if op == OpQueryTransfers {
		g, fields = m.transfers, [5]int{transferFieldUserData128, transferFieldUserData64, transferFieldUserData32, transferFieldLedger, transferFieldCode}
	}
	stream := func() *groove.Stream {
		var all []*groove.Stream
		values := [5]u128.U128{f.UserData128, u128.From64(f.UserData64), u128.From64(uint64(f.UserData32)),
			u128.From64(uint64(f.Ledger)), u128.From64(uint64(f.Code))}
		for i, v := range values {
			if !v.IsZero() {
				all = append(all, g.Index(fields[i], v))
			}
		}
		switch len(all) {
		case 0:
			return g.All()
		case 1:
			return all[0]
		}
		return groove.Intersect(all...)
	}
	m.query(stream, f.TimestampMin, f.TimestampMax, m.L.limit(f.Limit), f.Flags&QueryReversed != 0, func() {
		m.fetch(g, nil, m.tss, finish)
	})
}

// Commit executes op on the working set Prefetch loaded and writes the net
// effects to the grooves: the forest only ever sees committed work.
func (m *ForestMachine) Commit(_ u128.U128, op, timestamp uint64, operation vsr.Operation, body []byte) []byte {
	if !m.prefetched || m.prefetchOp != op {
		panic(fmt.Sprintf("ledger: commit of op %d without its prefetch", op))
	}
	m.prefetched = false
	var before func(int, []byte)
	if filtered(uint8(operation)) {
		before = func(i int, batch []byte) { m.loadFilterBatch(uint8(operation), i, batch) }
	}
	reply := append([]byte(nil), m.batches.execute(m.L, uint8(operation), timestamp, body, before)...)
	m.writeBack()
	s := m.L.s
	m.st.digest = m.L.digest
	m.st.lastAccount, m.st.lastTransfer = s.lastAccountTimestamp(), s.lastTransferTimestamp()
	if uint8(operation) == OpPulse {
		m.st.expiryNext, m.st.pulseFrom = m.pulseAfter, timestamp+1
	} else if len(s.expiries) > 0 {
		if e := s.expiries[0].expiresAt; m.st.expiryNext == 0 || e < m.st.expiryNext {
			m.st.expiryNext = e
		}
	}
	return reply
}

// eventSides collects a created transfer's account event: the balances it
// left on each side that keeps history.
type eventSides struct {
	dr, cr       balance
	hasDr, hasCr bool
}

func (m *ForestMachine) writeBack() {
	s := m.L.s
	b0, b1 := m.buf[0][:], m.buf[1][:]
	for pos := 0; pos < s.accountsBase; pos++ {
		a := &s.accounts.at(int32(pos)).Account
		if *a != m.origAccounts[pos] {
			m.origAccounts[pos].Encode(b0)
			a.Encode(b1)
			m.accounts.Replace(b0[:AccountSize], b1[:AccountSize])
		}
	}
	for pos := s.accountsBase; pos < s.accounts.len(); pos++ {
		s.accounts.at(int32(pos)).Encode(b0)
		m.accounts.Insert(b0[:AccountSize])
	}
	for pos := 0; pos < s.transfersBase; pos++ {
		r := s.transfers.at(int32(pos))
		if r.state != m.origState[pos] {
			encodePending(b0, r.Timestamp, m.origState[pos], expiresAt(&r.Transfer))
			encodePending(b1, r.Timestamp, r.state, expiresAt(&r.Transfer))
			m.pending.Replace(b0[:pendingSize], b1[:pendingSize])
		}
	}
	// The failed set adds an id once: past the loaded orphans, every id
	// is new.
	for _, id := range s.failed.ids[m.failedLoaded:] {
		m.transfers.InsertOrphan(id)
	}
	// Account events: each history account's list holds the transfers the
	// batch linked to it, with the balances they left.
	n := s.transfers.len() - s.transfersBase
	m.evs = slices.Grow(m.evs[:0], n)[:n]
	clear(m.evs)
	for pos := 0; pos < s.accounts.len(); pos++ {
		a := s.accounts.at(int32(pos))
		if a.Flags&AccountHistory == 0 {
			continue
		}
		for k, tp := range a.transfers {
			if int(tp) < s.transfersBase {
				continue
			}
			e := &m.evs[int(tp)-s.transfersBase]
			if s.transfers.at(tp).DebitAccountID == a.ID {
				e.dr, e.hasDr = a.balances[k], true
			} else {
				e.cr, e.hasCr = a.balances[k], true
			}
		}
	}
	for pos := s.transfersBase; pos < s.transfers.len(); pos++ {
		r := s.transfers.at(int32(pos))
		r.Encode(b0)
		m.transfers.Insert(b0[:TransferSize])
		if r.Flags&TransferPending != 0 {
			encodePending(b0, r.Timestamp, r.state, expiresAt(&r.Transfer))
			m.pending.Insert(b0[:pendingSize])
		}
		if e := &m.evs[pos-s.transfersBase]; e.hasDr || e.hasCr {
			clear(b0)
			binary.LittleEndian.PutUint64(b0, r.Timestamp)
			putU128(b0[8:], r.DebitAccountID)
			putU128(b0[8+IDSize:], r.CreditAccountID)
			putBalance(b0[eventDebit:], e.dr)
			putBalance(b0[eventCredit:], e.cr)
			m.events.Insert(b0[:eventSize])
		}
	}
}

// Compact runs op's compaction beat, after its Commit (every op the
// replica executes has one).
func (m *ForestMachine) Compact(op uint64, done func()) { m.forest.Beat(op, done) }

// MarkCheckpoint keeps the small state as of the op just committed (the
// checkpoint op); the forest's part is what its next bar-end checkpoint
// holds.
func (m *ForestMachine) MarkCheckpoint() {
	m.captured, m.marked = m.st, true
}

// Checkpoint writes the forest's checkpoint (its manifest, in cs.Manifest)
// and the marked small state (a snapshot trailer, in cs.Snapshot). It runs
// right after the trigger op's beat ends a bar.
func (m *ForestMachine) Checkpoint(g *grid.Grid, cs *storage.CheckpointState, done func()) {
	if !m.marked {
		panic("ledger: checkpoint without a marked state")
	}
	m.marked = false
	// Both parts acquire their blocks before Checkpoint returns (the manifest
	// flushes its open block, then the trailer reserves its own), as the
	// free set's encoding, next, requires; only their completions wait.
	st := m.captured
	st.forestOp = m.forest.OpNext() - 1
	m.keeper.Capture(st.encode())
	pending := 2
	written := func() {
		pending--
		if pending == 0 {
			done()
		}
	}
	m.forest.Checkpoint(func(refs lsm.CheckpointRefs) {
		if refs.Op != st.forestOp {
			panic(fmt.Sprintf("ledger: forest checkpoint at op %d, want %d", refs.Op, st.forestOp))
		}
		cs.Manifest = storage.ManifestRef{
			Oldest:     blockRef(refs.ManifestOldest),
			Newest:     blockRef(refs.ManifestNewest),
			BlockCount: refs.ManifestBlocks,
		}
		written()
	})
	m.keeper.Checkpoint(g, cs, written)
}

// Open discards everything held and opens the checkpoint cs names on a
// fresh forest over g (the empty ledger when cs is zero). Commits resume at
// cs.Op+1, replaying the checkpoint's bar from the WAL.
func (m *ForestMachine) Open(g *grid.Grid, cs *storage.CheckpointState, done func(ok bool)) {
	if err := m.newForest(g); err != nil {
		panic(fmt.Sprintf("ledger: forest: %v", err))
	}
	gen := m.gen
	m.keeper.Open(g, cs, func(data []byte, ok bool) {
		if gen != m.gen {
			return
		}
		if !ok {
			done(false)
			return
		}
		if data == nil {
			m.install(forestState{})
			done(true)
			return
		}
		st, ok := decodeForestState(data)
		if !ok {
			done(false)
			return
		}
		refs := lsm.CheckpointRefs{ManifestOldest: lsmRef(cs.Manifest.Oldest), ManifestNewest: lsmRef(cs.Manifest.Newest), ManifestBlocks: cs.Manifest.BlockCount, Op: st.forestOp}
		m.forest.Open(refs, func(err error) {
			if gen != m.gen {
				return
			}
			if err != nil {
				done(false)
				return
			}
			m.install(st)
			done(true)
		})
	})
}

func blockRef(r lsm.BlockRef) block.Ref { return block.Ref{Address: r.Address, Checksum: r.Checksum} }

func lsmRef(r block.Ref) lsm.BlockRef { return lsm.BlockRef{Address: r.Address, Checksum: r.Checksum} }

var _ vsr.StateMachine = (*ForestMachine)(nil)
