package ledger

import (
	"math/bits"
	"slices"
	"sort"

	"viewstamp/replica/u128"
)

// The in-memory object store. Objects sit in slices in timestamp order, which
// every insertion preserves (cluster timestamps increase, and imported ones
// must not regress), so a position in a slice doubles as a position in time
// and every index below is a sorted list of positions.

var u128Max = u128.U128{Lo: ^uint64(0), Hi: ^uint64(0)}

func add(a, b u128.U128) (u128.U128, bool) {
	lo, c := bits.Add64(a.Lo, b.Lo, 0)
	hi, c := bits.Add64(a.Hi, b.Hi, c)
	return u128.U128{Lo: lo, Hi: hi}, c != 0
}

func sub(a, b u128.U128) u128.U128 {
	lo, c := bits.Sub64(a.Lo, b.Lo, 0)
	hi, _ := bits.Sub64(a.Hi, b.Hi, c)
	return u128.U128{Lo: lo, Hi: hi}
}

// subSat is a - b, or zero when b > a.
func subSat(a, b u128.U128) u128.U128 {
	if a.Less(b) {
		return u128.U128{}
	}
	return sub(a, b)
}

func min128(a, b u128.U128) u128.U128 {
	if b.Less(a) {
		return b
	}
	return a
}

// Pending states of a transfer, kept beside it.
const (
	pendingNone uint8 = iota
	pendingPending
	pendingPosted
	pendingVoided
	pendingExpired
)

type accountRec struct {
	Account
	// stamp is the Execute during which the account last changed, so each
	// changed account enters the state digest once per op.
	stamp uint64
	// transfers lists, in timestamp order, every transfer that debits or
	// credits this account; balances runs beside it for history accounts.
	transfers []int32
	balances  []balance
}

type transferRec struct {
	Transfer
	state uint8 // pendingNone unless the transfer is pending
}

type balance struct {
	debitsPending, debitsPosted, creditsPending, creditsPosted u128.U128
}

// fieldIndex maps each nonzero value of the queryable fields to the sorted
// positions of the objects holding it. Lists are held by pointer so that an
// append costs one map lookup, and the last list used per field is cached:
// ledger and code repeat across a batch far more often than not.
type fieldIndex struct {
	ud128  posIndex[u128.U128]
	ud64   posIndex[uint64]
	ud32   posIndex[uint32]
	ledger posIndex[uint32]
	code   posIndex[uint16]
}

type posIndex[K comparable] struct {
	m       map[K]*[]int32
	lastKey K
	last    *[]int32
}

func (x *posIndex[K]) list(k K) []int32 {
	if l, ok := x.m[k]; ok {
		return *l
	}
	return nil
}

func (x *posIndex[K]) push(k K, pos int32) {
	if x.last == nil || x.lastKey != k {
		l, ok := x.m[k]
		if !ok {
			if x.m == nil {
				x.m = map[K]*[]int32{}
			}
			l = new([]int32)
			x.m[k] = l
		}
		x.lastKey, x.last = k, l
	}
	*x.last = append(*x.last, pos)
}

// pop undoes the latest push of k, which rollback guarantees.
func (x *posIndex[K]) pop(k K) {
	l := x.m[k]
	*l = (*l)[:len(*l)-1]
	if len(*l) == 0 {
		delete(x.m, k)
		if x.last == l {
			x.last = nil
		}
	}
}

func (x *fieldIndex) insert(pos int32, ud128 u128.U128, ud64 uint64, ud32, ledger uint32, code uint16) {
	if !ud128.IsZero() {
		x.ud128.push(ud128, pos)
	}
	if ud64 != 0 {
		x.ud64.push(ud64, pos)
	}
	if ud32 != 0 {
		x.ud32.push(ud32, pos)
	}
	if ledger != 0 {
		x.ledger.push(ledger, pos)
	}
	if code != 0 {
		x.code.push(code, pos)
	}
}

func (x *fieldIndex) remove(ud128 u128.U128, ud64 uint64, ud32, ledger uint32, code uint16) {
	if !ud128.IsZero() {
		x.ud128.pop(ud128)
	}
	if ud64 != 0 {
		x.ud64.pop(ud64)
	}
	if ud32 != 0 {
		x.ud32.pop(ud32)
	}
	if ledger != 0 {
		x.ledger.pop(ledger)
	}
	if code != 0 {
		x.code.pop(code)
	}
}

// expiry is one pending transfer with a timeout, keyed by when it expires.
type expiry struct {
	expiresAt uint64
	timestamp uint64
	pos       int32
}

func (e expiry) less(f expiry) bool {
	return e.expiresAt < f.expiresAt || (e.expiresAt == f.expiresAt && e.timestamp < f.timestamp)
}

// expiryHeap is a binary min-heap. Entries go stale when their transfer is
// posted, voided or rolled back; they are recognised and dropped when they
// reach the top rather than searched for.
type expiryHeap []expiry

func (h *expiryHeap) push(e expiry) {
	*h = append(*h, e)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !s[i].less(s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *expiryHeap) pop() expiry {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && s[l].less(s[m]) {
			m = l
		}
		if r < n && s[r].less(s[m]) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// Undo records, kept only while a linked chain is open.
type undoKind uint8

const (
	undoAccountInsert undoKind = iota
	undoTransferInsert
	undoAccountUpdate
	undoPendingState
)

type undo struct {
	kind  undoKind
	pos   int32
	state uint8
	// old is the account before an update; the lengths of its lists are
	// restored from it too, since a chain only ever appends to them.
	old          Account
	oldTransfers int
	oldBalances  int
}

type store struct {
	accounts   chunks[accountRec]
	accountPos posTable
	transfers  chunks[transferRec]
	transferAt idIndex
	failed     idSet

	accountIdx  fieldIndex
	transferIdx fieldIndex
	expiries    expiryHeap

	scoped bool
	log    []undo

	// stamp counts Executes; changed lists the accounts the current one
	// created or updated.
	stamp   uint64
	changed []int32

	// onRead, when set (tests only), hears every lookup by id.
	onRead func(transfer bool, id u128.U128)

	// indexed: the store holds the whole ledger and indexes it (the
	// in-memory ledger). A forest working set (!indexed) holds one batch's
	// objects, loaded by prefetch before the objects the batch creates, and
	// leaves the indexes and the history to the grooves.
	indexed bool
	// A working set's loaded objects sit below the bases, in no order; the
	// ones the batch creates follow, in timestamp order. lastAccount and
	// lastTransfer are the ledger's newest timestamps before the batch, and
	// the loaded timestamps those of the loaded objects, for the imported
	// events' "is this timestamp taken" checks. In memory the bases are
	// zero and nothing is loaded, so every object is one the store
	// created, in order.
	accountsBase, transfersBase int
	lastAccount, lastTransfer   uint64
	loadedAccountTS             loadedTimestamps
	loadedTransferTS            loadedTimestamps
}

// loadedTimestamps are the loaded objects' timestamps, sorted, built at the
// first imported event's check after a load: only imported events ask, and
// a set kept up to date cost a map insert per loaded object.
type loadedTimestamps struct {
	ts    []uint64
	built bool
}

func (l *loadedTimestamps) has(count int, at func(int32) uint64, ts uint64) bool {
	if count == 0 {
		return false
	}
	if !l.built {
		l.ts = l.ts[:0]
		for i := range count {
			l.ts = append(l.ts, at(int32(i)))
		}
		slices.Sort(l.ts)
		l.built = true
	}
	_, found := slices.BinarySearch(l.ts, ts)
	return found
}

func newStore() *store {
	return &store{
		accountPos: newPosTable(), transferAt: newIDIndex(), failed: newIDSet(), indexed: true,
	}
}

// account and transfer are Execute's only ways to find an object by id, so
// a test can hold them to what Prefetch promised (see onRead).
func (s *store) account(id u128.U128) (int32, bool) {
	if s.onRead != nil {
		s.onRead(false, id)
	}
	return s.accountPos.get(id)
}

func (s *store) transfer(id u128.U128) (int32, bool) {
	if s.onRead != nil {
		s.onRead(true, id)
	}
	return s.transferAt.get(id)
}

func (s *store) mustTransfer(id u128.U128) int32 {
	p, ok := s.transfer(id)
	if !ok {
		panic("ledger: a stored post or void names a pending transfer that does not exist")
	}
	return p
}

func (s *store) lastAccountTimestamp() uint64 {
	if s.accounts.len() == s.accountsBase {
		return s.lastAccount
	}
	return s.accounts.at(int32(s.accounts.len() - 1)).Timestamp
}

func (s *store) lastTransferTimestamp() uint64 {
	if s.transfers.len() == s.transfersBase {
		return s.lastTransfer
	}
	return s.transfers.at(int32(s.transfers.len() - 1)).Timestamp
}

func (s *store) insertAccount(a *Account) {
	pos := s.accounts.push(accountRec{Account: *a, stamp: s.stamp})
	s.changed = append(s.changed, pos)
	s.accountPos.set(a.ID, pos)
	if s.indexed {
		s.accountIdx.insert(pos, a.UserData128, a.UserData64, a.UserData32, a.Ledger, a.Code)
	}
	if s.scoped {
		s.log = append(s.log, undo{kind: undoAccountInsert, pos: pos})
	}
}

// insertTransfer stores t and links it into both accounts' lists.
func (s *store) insertTransfer(t *Transfer, state uint8) int32 {
	pos := s.transfers.push(transferRec{Transfer: *t, state: state})
	s.transferAt.put(t.ID, pos)
	if s.indexed {
		s.transferIdx.insert(pos, t.UserData128, t.UserData64, t.UserData32, t.Ledger, t.Code)
	}
	if s.scoped {
		s.log = append(s.log, undo{kind: undoTransferInsert, pos: pos})
	}
	if state == pendingPending && t.Timeout > 0 {
		s.expiries.push(expiry{expiresAt: t.Timestamp + uint64(t.Timeout)*1e9, timestamp: t.Timestamp, pos: pos})
	}
	return pos
}

// beginUpdate remembers an account before a chain changes it, and notes it
// as changed by the current op.
func (s *store) beginUpdate(pos int32) *accountRec {
	a := s.accounts.at(pos)
	if a.stamp != s.stamp {
		a.stamp = s.stamp
		s.changed = append(s.changed, pos)
	}
	if s.scoped {
		s.log = append(s.log, undo{kind: undoAccountUpdate, pos: pos, old: a.Account,
			oldTransfers: len(a.transfers), oldBalances: len(a.balances)})
	}
	return a
}

func (s *store) setPending(pos int32, state uint8) {
	if s.scoped {
		s.log = append(s.log, undo{kind: undoPendingState, pos: pos, state: s.transfers.at(pos).state})
	}
	s.transfers.at(pos).state = state
}

func (s *store) openScope() {
	s.scoped = true
	s.log = s.log[:0]
}

func (s *store) closeScope() {
	s.scoped = false
	s.log = s.log[:0]
}

// rollback undoes everything since openScope, newest first, so that every
// list it pops from has the undone entry at its end.
func (s *store) rollback() {
	for i := len(s.log) - 1; i >= 0; i-- {
		u := &s.log[i]
		switch u.kind {
		case undoAccountInsert:
			a := s.accounts.at(u.pos)
			if s.indexed {
				s.accountIdx.remove(a.UserData128, a.UserData64, a.UserData32, a.Ledger, a.Code)
			}
			s.accountPos.remove(a.ID)
			s.accounts.truncate(int(u.pos))
		case undoTransferInsert:
			t := s.transfers.at(u.pos)
			if s.indexed {
				s.transferIdx.remove(t.UserData128, t.UserData64, t.UserData32, t.Ledger, t.Code)
			}
			s.transferAt.remove(t.ID)
			s.transfers.truncate(int(u.pos))
		case undoAccountUpdate:
			a := s.accounts.at(u.pos)
			a.Account = u.old
			a.transfers = a.transfers[:u.oldTransfers]
			a.balances = a.balances[:u.oldBalances]
		case undoPendingState:
			s.transfers.at(u.pos).state = u.state
		}
	}
	s.closeScope()
}

// nextExpiry drops stale heap entries and returns the earliest live one.
func (s *store) nextExpiry() (expiry, bool) {
	for len(s.expiries) > 0 {
		e := s.expiries[0]
		if s.live(e) {
			return e, true
		}
		s.expiries.pop()
	}
	return expiry{}, false
}

// peekExpiry is nextExpiry without dropping anything, for callers that must
// not change state (the primary asking whether a pulse is due).
func (s *store) peekExpiry() (expiry, bool) {
	if len(s.expiries) == 0 {
		return expiry{}, false
	}
	return s.expiries[0], true
}

func (s *store) live(e expiry) bool {
	return int(e.pos) < s.transfers.len() && s.transfers.at(e.pos).Timestamp == e.timestamp &&
		s.transfers.at(e.pos).state == pendingPending
}

// Accounts and transfers share one timestamp space, so an imported object
// must not take a timestamp that an object of the other kind holds.
func (s *store) accountAtTimestamp(ts uint64) bool {
	if s.loadedAccountTS.has(s.accountsBase, func(i int32) uint64 { return s.accounts.at(i).Timestamp }, ts) {
		return true
	}
	b, n := s.accountsBase, s.accounts.len()-s.accountsBase
	i := b + sort.Search(n, func(k int) bool { return s.accounts.at(int32(b+k)).Timestamp >= ts })
	return i < s.accounts.len() && s.accounts.at(int32(i)).Timestamp == ts
}

func (s *store) transferAtTimestamp(ts uint64) bool {
	if s.loadedTransferTS.has(s.transfersBase, func(i int32) uint64 { return s.transfers.at(i).Timestamp }, ts) {
		return true
	}
	b, n := s.transfersBase, s.transfers.len()-s.transfersBase
	i := b + sort.Search(n, func(k int) bool { return s.transfers.at(int32(b+k)).Timestamp >= ts })
	return i < s.transfers.len() && s.transfers.at(int32(i)).Timestamp == ts
}
