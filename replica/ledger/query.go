package ledger

import (
	"sort"

	"viewstamp/replica/u128"
)

func (l *Ledger) lookupAccounts(body []byte, out []byte) []byte {
	for i := 0; i+IDSize <= len(body); i += IDSize {
		if pos, ok := l.s.account(getU128(body[i:])); ok {
			out = append(out, make([]byte, AccountSize)...)
			l.s.accounts.at(pos).Encode(out[len(out)-AccountSize:])
		}
	}
	return out
}

func (l *Ledger) lookupTransfers(body []byte, out []byte) []byte {
	for i := 0; i+IDSize <= len(body); i += IDSize {
		if pos, ok := l.s.transfer(getU128(body[i:])); ok {
			out = append(out, make([]byte, TransferSize)...)
			l.s.transfers.at(pos).Encode(out[len(out)-TransferSize:])
		}
	}
	return out
}

// validRange holds for a timestamp range that can match something: u64 max
// is not a timestamp, and a max of zero means unbounded.
func validRange(lo, hi uint64) bool {
	return lo != ^uint64(0) && hi != ^uint64(0) && (hi == 0 || lo <= hi)
}

func (l *Ledger) accountFilterValid(f *AccountFilter) bool {
	return !f.AccountID.IsZero() && f.AccountID != u128Max && f.Reserved == [58]byte{} &&
		validRange(f.TimestampMin, f.TimestampMax) && f.Limit != 0 &&
		f.Flags&(FilterDebits|FilterCredits) != 0 && f.Flags&^(FilterDebits|FilterCredits|FilterReversed) == 0
}

// scanAccount calls emit for each of the filtered account's transfers that
// the filter selects, in the filter's order, until emit returns false. It
// visits only transfers inside the timestamp range.
func (l *Ledger) scanAccount(f *AccountFilter, emit func(k int, t *Transfer) bool) *accountRec {
	if !l.accountFilterValid(f) {
		return nil
	}
	pos, ok := l.s.account(f.AccountID)
	if !ok {
		return nil
	}
	a := l.s.accounts.at(pos)
	lo, hi := l.transferRange(a.transfers, f.TimestampMin, f.TimestampMax)
	match := func(k int) bool {
		t := l.s.transfers.at(a.transfers[k])
		side := (f.Flags&FilterDebits != 0 && t.DebitAccountID == f.AccountID) ||
			(f.Flags&FilterCredits != 0 && t.CreditAccountID == f.AccountID)
		return side && (f.UserData128.IsZero() || t.UserData128 == f.UserData128) &&
			(f.UserData64 == 0 || t.UserData64 == f.UserData64) &&
			(f.UserData32 == 0 || t.UserData32 == f.UserData32) &&
			(f.Code == 0 || t.Code == f.Code)
	}
	if f.Flags&FilterReversed != 0 {
		for k := hi - 1; k >= lo; k-- {
			if match(k) && !emit(k, &l.s.transfers.at(a.transfers[k]).Transfer) {
				break
			}
		}
	} else {
		for k := lo; k < hi; k++ {
			if match(k) && !emit(k, &l.s.transfers.at(a.transfers[k]).Transfer) {
				break
			}
		}
	}
	return a
}

// transferRange finds the part of a sorted position list whose transfers'
// timestamps lie in [min, max] (max 0 = unbounded).
func (l *Ledger) transferRange(list []int32, min, max uint64) (int, int) {
	lo := sort.Search(len(list), func(k int) bool { return l.s.transfers.at(list[k]).Timestamp >= min })
	hi := len(list)
	if max != 0 {
		hi = sort.Search(len(list), func(k int) bool { return l.s.transfers.at(list[k]).Timestamp > max })
	}
	return lo, max0(lo, hi)
}

func max0(lo, hi int) int {
	if hi < lo {
		return lo
	}
	return hi
}

func (l *Ledger) limit(n uint32) int {
	return min(int(n), l.cfg.BatchMax)
}

func (l *Ledger) getAccountTransfers(f AccountFilter, out []byte) []byte {
	n := l.limit(f.Limit)
	l.scanAccount(&f, func(_ int, t *Transfer) bool {
		out = append(out, make([]byte, TransferSize)...)
		t.Encode(out[len(out)-TransferSize:])
		n--
		return n > 0
	})
	return out
}

func (l *Ledger) getAccountBalances(f AccountFilter, out []byte) []byte {
	pos, ok := l.s.account(f.AccountID)
	if !ok || l.s.accounts.at(pos).Flags&AccountHistory == 0 {
		return out
	}
	a := l.s.accounts.at(pos)
	n := l.limit(f.Limit)
	l.scanAccount(&f, func(k int, t *Transfer) bool {
		b := a.balances[k]
		ab := AccountBalance{DebitsPending: b.debitsPending, DebitsPosted: b.debitsPosted,
			CreditsPending: b.creditsPending, CreditsPosted: b.creditsPosted, Timestamp: t.Timestamp}
		out = append(out, make([]byte, BalanceSize)...)
		ab.Encode(out[len(out)-BalanceSize:])
		n--
		return n > 0
	})
	return out
}

func queryFilterValid(f *QueryFilter) bool {
	return f.Reserved == [6]byte{} && validRange(f.TimestampMin, f.TimestampMax) && f.Limit != 0 &&
		f.Flags&^QueryReversed == 0
}

// candidates picks the shortest index list among the filter's set fields;
// nil, all=true means no field is set and every object is a candidate.
func candidates(x *fieldIndex, f *QueryFilter) (list []int32, all bool) {
	best := -1
	consider := func(l []int32) {
		if best < 0 || len(l) < best {
			list, best = l, len(l)
		}
	}
	if !f.UserData128.IsZero() {
		consider(x.ud128.list(f.UserData128))
	}
	if f.UserData64 != 0 {
		consider(x.ud64.list(f.UserData64))
	}
	if f.UserData32 != 0 {
		consider(x.ud32.list(f.UserData32))
	}
	if f.Ledger != 0 {
		consider(x.ledger.list(f.Ledger))
	}
	if f.Code != 0 {
		consider(x.code.list(f.Code))
	}
	return list, best < 0
}

type queryable struct {
	ud128  u128.U128
	ud64   uint64
	ud32   uint32
	ledger uint32
	code   uint16
	ts     uint64
}

func (f *QueryFilter) matches(o queryable) bool {
	return (f.UserData128.IsZero() || o.ud128 == f.UserData128) &&
		(f.UserData64 == 0 || o.ud64 == f.UserData64) &&
		(f.UserData32 == 0 || o.ud32 == f.UserData32) &&
		(f.Ledger == 0 || o.ledger == f.Ledger) &&
		(f.Code == 0 || o.code == f.Code)
}

// query walks candidate positions in timestamp order (or reversed) within
// the filter's range, emitting matches until the limit.
func (l *Ledger) query(f *QueryFilter, x *fieldIndex, count int, get func(pos int32) queryable, emit func(pos int32)) {
	if !queryFilterValid(f) {
		return
	}
	list, all := candidates(x, f)
	if !l.s.indexed {
		// A working set holds exactly the groove query's results, in
		// timestamp order.
		list, all = nil, true
	}
	at := func(k int) int32 {
		if all {
			return int32(k)
		}
		return list[k]
	}
	size := len(list)
	if all {
		size = count
	}
	lo := sort.Search(size, func(k int) bool { return get(at(k)).ts >= f.TimestampMin })
	hi := size
	if f.TimestampMax != 0 {
		hi = sort.Search(size, func(k int) bool { return get(at(k)).ts > f.TimestampMax })
	}
	n := l.limit(f.Limit)
	step, k, end := 1, lo, max0(lo, hi)
	if f.Flags&QueryReversed != 0 {
		step, k, end = -1, max0(lo, hi)-1, lo-1
	}
	for ; k != end && n > 0; k += step {
		pos := at(k)
		if f.matches(get(pos)) {
			emit(pos)
			n--
		}
	}
}

func (l *Ledger) queryAccounts(f QueryFilter, out []byte) []byte {
	l.query(&f, &l.s.accountIdx, l.s.accounts.len(), func(pos int32) queryable {
		a := l.s.accounts.at(pos)
		return queryable{a.UserData128, a.UserData64, a.UserData32, a.Ledger, a.Code, a.Timestamp}
	}, func(pos int32) {
		out = append(out, make([]byte, AccountSize)...)
		l.s.accounts.at(pos).Encode(out[len(out)-AccountSize:])
	})
	return out
}

func (l *Ledger) queryTransfers(f QueryFilter, out []byte) []byte {
	l.query(&f, &l.s.transferIdx, l.s.transfers.len(), func(pos int32) queryable {
		t := l.s.transfers.at(pos)
		return queryable{t.UserData128, t.UserData64, t.UserData32, t.Ledger, t.Code, t.Timestamp}
	}, func(pos int32) {
		out = append(out, make([]byte, TransferSize)...)
		l.s.transfers.at(pos).Encode(out[len(out)-TransferSize:])
	})
	return out
}
