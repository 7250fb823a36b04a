package workload

import "math"

// timestampRange turns a filter's bounds (zero = unbounded) into an
// inclusive range, or reports the filter invalid.
func timestampRange(min, max uint64) (lo, hi uint64, ok bool) {
	if min == math.MaxUint64 || max == math.MaxUint64 || (max != 0 && min > max) {
		return 0, 0, false
	}
	lo, hi = min, max
	if hi == 0 {
		hi = math.MaxUint64
	}
	return lo, hi, true
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// scanOrder visits 0..n-1, or n-1..0 when reversed, until visit says stop.
func scanOrder(n int, reversed bool, visit func(i int) (more bool)) {
	for k := 0; k < n; k++ {
		i := k
		if reversed {
			i = n - 1 - k
		}
		if !visit(i) {
			return
		}
	}
}

func limitOf(limit uint32, replyMax int) int {
	if int64(limit) > int64(replyMax) {
		return replyMax
	}
	return int(limit)
}

// accountTransfers is the scan shared by get_account_transfers and
// get_account_balances; valid is false for an invalid filter.
func (m *model) accountTransfers(f *AccountFilter, replyMax int) (out []*mTransfer, valid bool) {
	lo, hi, ok := timestampRange(f.TimestampMin, f.TimestampMax)
	if !ok || f.AccountID.IsZero() || isMax128(f.AccountID) || f.Limit == 0 ||
		f.Flags&(FilterDebits|FilterCredits) == 0 || f.Flags&^(FilterDebits|FilterCredits|FilterReversed) != 0 ||
		!allZero(f.Reserved[:]) {
		return nil, false
	}
	a, ok := m.accounts[f.AccountID]
	if !ok {
		return nil, true
	}
	limit := limitOf(f.Limit, replyMax)
	scanOrder(len(a.transfers), f.Flags&FilterReversed != 0, func(i int) bool {
		t := a.transfers[i]
		side := (f.Flags&FilterDebits != 0 && t.DebitAccountID == f.AccountID) ||
			(f.Flags&FilterCredits != 0 && t.CreditAccountID == f.AccountID)
		if side && t.Timestamp >= lo && t.Timestamp <= hi &&
			(f.UserData128.IsZero() || f.UserData128 == t.UserData128) &&
			(f.UserData64 == 0 || f.UserData64 == t.UserData64) &&
			(f.UserData32 == 0 || f.UserData32 == t.UserData32) &&
			(f.Code == 0 || f.Code == t.Code) {
			out = append(out, t)
		}
		return len(out) < limit
	})
	return out, true
}

// accountBalances answers get_account_balances: the filtered account's
// balances after each matching transfer, for accounts keeping history only.
func (m *model) accountBalances(f *AccountFilter, replyMax int) (out []AccountBalance, valid bool) {
	a, ok := m.accounts[f.AccountID]
	if !ok || a.Flags&AccountHistory == 0 {
		_, valid = m.accountTransfers(f, replyMax)
		return nil, valid
	}
	ts, valid := m.accountTransfers(f, replyMax)
	for _, t := range ts {
		b := t.after[1]
		if t.DebitAccountID == f.AccountID {
			b = t.after[0]
		}
		out = append(out, AccountBalance{
			DebitsPending: b.debitsPending, DebitsPosted: b.debitsPosted,
			CreditsPending: b.creditsPending, CreditsPosted: b.creditsPosted,
			Timestamp: t.Timestamp,
		})
	}
	return out, valid
}

func queryFilterValid(f *QueryFilter) (lo, hi uint64, ok bool) {
	lo, hi, ok = timestampRange(f.TimestampMin, f.TimestampMax)
	if !ok || f.Limit == 0 || f.Flags&^QueryFilterReversed != 0 || !allZero(f.Reserved[:]) {
		return 0, 0, false
	}
	return lo, hi, true
}

// queryKeys are the fields a QueryFilter can select on.
type queryKeys struct {
	userData128 U128
	userData64  uint64
	userData32  uint32
	ledger      uint32
	code        uint16
	timestamp   uint64
}

// query scans objects in timestamp order for query_accounts and
// query_transfers; zero filter fields mean "any".
func query[T any](f *QueryFilter, replyMax int, list []T, keys func(T) queryKeys) (out []T, valid bool) {
	lo, hi, ok := queryFilterValid(f)
	if !ok {
		return nil, false
	}
	limit := limitOf(f.Limit, replyMax)
	scanOrder(len(list), f.Flags&QueryFilterReversed != 0, func(i int) bool {
		k := keys(list[i])
		if k.timestamp >= lo && k.timestamp <= hi &&
			(f.UserData128.IsZero() || f.UserData128 == k.userData128) &&
			(f.UserData64 == 0 || f.UserData64 == k.userData64) &&
			(f.UserData32 == 0 || f.UserData32 == k.userData32) &&
			(f.Ledger == 0 || f.Ledger == k.ledger) &&
			(f.Code == 0 || f.Code == k.code) {
			out = append(out, list[i])
		}
		return len(out) < limit
	})
	return out, true
}

func (m *model) queryAccounts(f *QueryFilter, replyMax int) ([]*mAccount, bool) {
	return query(f, replyMax, m.accountList, func(a *mAccount) queryKeys {
		return queryKeys{a.UserData128, a.UserData64, a.UserData32, a.Ledger, a.Code, a.Timestamp}
	})
}

func (m *model) queryTransfers(f *QueryFilter, replyMax int) ([]*mTransfer, bool) {
	return query(f, replyMax, m.transferList, func(t *mTransfer) queryKeys {
		return queryKeys{t.UserData128, t.UserData64, t.UserData32, t.Ledger, t.Code, t.Timestamp}
	})
}
