package workload

import "fmt"

// partialScan is a scan whose range reaches behind the model's horizon,
// where the ledger still holds transfers the model has forgotten (see
// model_window.go). Its reply is the model's window part, exact, with the
// ledger's older matches before it (in timestamp order) or after it
// (reversed); those older records are checked by shape only: in order,
// behind the horizon, inside the range and the filter, and equal to the
// model's record when it still holds that transfer by id.
type partialScan struct {
	reversed bool
	lo, hi   uint64 // the range, inclusive
	horizon  uint64
	limit    int
	// old decodes a record behind the horizon: its timestamp, whether it
	// fits the filter, and the model's encoding of it if known (else nil).
	old func(b []byte) (ts uint64, fits bool, known []byte)
}

// accountScan is the partialScan of get_account_transfers or
// get_account_balances, or nil when the model's answer is exact.
func (m *model) accountScan(f *AccountFilter, replyMax, found int, valid, balances bool) *partialScan {
	a, ok := m.accounts[f.AccountID]
	if !valid || !ok || balances && a.Flags&AccountHistory == 0 {
		return nil
	}
	lo, hi, _ := timestampRange(f.TimestampMin, f.TimestampMax)
	s := m.scanBehind(lo, hi, limitOf(f.Limit, replyMax), found, f.Flags&FilterReversed != 0)
	if s == nil {
		return nil
	}
	s.old = func(b []byte) (uint64, bool, []byte) {
		if balances {
			return DecodeAccountBalance(b).Timestamp, true, nil
		}
		t := DecodeTransfer(b)
		side := (f.Flags&FilterDebits != 0 && t.DebitAccountID == f.AccountID) ||
			(f.Flags&FilterCredits != 0 && t.CreditAccountID == f.AccountID)
		fits := side && (f.UserData128.IsZero() || f.UserData128 == t.UserData128) &&
			(f.UserData64 == 0 || f.UserData64 == t.UserData64) &&
			(f.UserData32 == 0 || f.UserData32 == t.UserData32) &&
			(f.Code == 0 || f.Code == t.Code)
		return t.Timestamp, fits, m.knownTransfer(t.ID)
	}
	return s
}

// transferQueryScan is the partialScan of query_transfers, or nil.
func (m *model) transferQueryScan(f *QueryFilter, replyMax, found int, valid bool) *partialScan {
	if !valid {
		return nil
	}
	lo, hi, _ := timestampRange(f.TimestampMin, f.TimestampMax)
	s := m.scanBehind(lo, hi, limitOf(f.Limit, replyMax), found, f.Flags&QueryFilterReversed != 0)
	if s == nil {
		return nil
	}
	s.old = func(b []byte) (uint64, bool, []byte) {
		t := DecodeTransfer(b)
		fits := (f.UserData128.IsZero() || f.UserData128 == t.UserData128) &&
			(f.UserData64 == 0 || f.UserData64 == t.UserData64) &&
			(f.UserData32 == 0 || f.UserData32 == t.UserData32) &&
			(f.Ledger == 0 || f.Ledger == t.Ledger) &&
			(f.Code == 0 || f.Code == t.Code)
		return t.Timestamp, fits, m.knownTransfer(t.ID)
	}
	return s
}

// scanBehind returns a partialScan when the ledger may hold matches the
// model forgot that belong in the reply: the range starts behind the
// horizon, and the scan either starts there (oldest first) or did not fill
// its limit from the window (newest first).
func (m *model) scanBehind(lo, hi uint64, limit, found int, reversed bool) *partialScan {
	if m.horizon == 0 || lo >= m.horizon || reversed && found >= limit {
		return nil
	}
	return &partialScan{reversed: reversed, lo: lo, hi: hi, horizon: m.horizon, limit: limit}
}

func (m *model) knownTransfer(id U128) []byte {
	t, ok := m.transfers[id]
	if !ok {
		return nil
	}
	b := make([]byte, EventSize)
	EncodeTransfer(b, &t.Transfer)
	return b
}

// diff explains the first way got is not a reply the scan allows, given
// want, the model's matches in the window (at most the limit).
func (s *partialScan) diff(kind string, want, got []byte, fields func([]byte) []field) error {
	if len(got)%EventSize != 0 {
		return fmt.Errorf(": reply of %d bytes is not whole %d-byte records", len(got), EventSize)
	}
	n, nw := len(got)/EventSize, len(want)/EventSize
	if n > s.limit {
		return fmt.Errorf(": %d results exceed the limit of %d", n, s.limit)
	}
	var first, end int // the records behind the horizon
	if s.reversed {
		// The window's matches come first, all of them: the scan did not
		// reach the limit inside the window.
		if err := diffRecords(kind, want, got[:min(n, nw)*EventSize], fields); err != nil {
			return err
		}
		first, end = nw, n
	} else {
		for end < n && s.ts(got, end) < s.horizon {
			end++
		}
		rest := n - end
		if rest < nw && n == s.limit {
			want = want[:rest*EventSize] // the limit cut the window's part short
		}
		if err := diffRecords(kind, want, got[end*EventSize:], fields); err != nil {
			return fmt.Errorf(" (after %d results behind the model's horizon)%w", end, err)
		}
	}
	for i := first; i < end; i++ {
		b := got[i*EventSize : (i+1)*EventSize]
		ts, fits, known := s.old(b)
		id := fields(b)[0].value
		switch {
		case ts >= s.horizon || ts < s.lo || ts > s.hi:
			return fmt.Errorf(" result %d (%s %s): timestamp %d outside [%d, %d] behind the model's horizon %d",
				i, kind, id, ts, s.lo, s.hi, s.horizon)
		case !fits:
			return fmt.Errorf(" result %d (%s %s): does not match the filter", i, kind, id)
		case i > first && (s.reversed && ts >= s.ts(got, i-1) || !s.reversed && ts <= s.ts(got, i-1)):
			return fmt.Errorf(" result %d (%s %s): timestamp %d out of order after %d", i, kind, id, ts, s.ts(got, i-1))
		case known != nil && string(known) != string(b):
			return fmt.Errorf(" (behind the model's horizon, result %d)%w", i, diffRecords(kind, known, b, fields))
		}
	}
	return nil
}

func (s *partialScan) ts(b []byte, i int) uint64 {
	ts, _, _ := s.old(b[i*EventSize : (i+1)*EventSize])
	return ts
}

// setPartial records s for the batch being applied.
func (a *Auditor) setPartial(operation uint8, s *partialScan) {
	if n := len(a.partials); n > 0 {
		a.partials[n-1] = s
	}
	if s != nil {
		a.counts.query[operation].behindHorizon++
	}
}

func scanKind(operation uint8) string {
	if operation == OpGetAccountBalances {
		return "balance"
	}
	return "transfer"
}

func scanFields(operation uint8) func([]byte) []field {
	if operation == OpGetAccountBalances {
		return balanceFields
	}
	return transferFields
}
