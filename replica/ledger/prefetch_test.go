package ledger

import (
	"testing"

	"pgregory.net/rapid"

	"viewstamp/replica/u128"
)

// TestExecuteReadsOnlyWhatPrefetchListed holds Execute to the prefetch
// contract the storage engine will rely on: every object Execute looks up by
// id was named by Prefetch for that batch, so an LSM that loads exactly
// those objects first can run Execute without IO.
func TestExecuteReadsOnlyWhatPrefetchListed(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		l := New(Config{BatchMax: 16})
		now, last := uint64(1_000_000_000), uint64(0)
		next := func(events int) uint64 {
			last = max(last+1, now) + uint64(events)
			return last
		}
		check := func(op uint8, ts uint64, body []byte) {
			accounts, transfers := l.Prefetch(op, ts, body)
			listed := map[u128.U128]bool{}
			for _, id := range accounts {
				listed[id] = true
			}
			listedT := map[u128.U128]bool{}
			for _, id := range transfers {
				listedT[id] = true
			}
			l.s.onRead = func(transfer bool, id u128.U128) {
				if transfer && !listedT[id] || !transfer && !listed[id] {
					t.Fatalf("%s read %v (transfer %v), which Prefetch did not list", OperationName(op), id, transfer)
				}
			}
			l.Execute(op, ts, body)
			l.s.onRead = nil
		}
		var accounts []byte
		for id := uint64(1); id <= 5; id++ {
			a := Account{ID: u128.From64(id), Ledger: 1, Code: 1, Flags: AccountHistory}
			buf := make([]byte, AccountSize)
			a.Encode(buf)
			accounts = append(accounts, buf...)
		}
		check(OpCreateAccounts, next(5), accounts)
		for i, steps := 0, rapid.IntRange(1, 30).Draw(t, "steps"); i < steps; i++ {
			switch rapid.IntRange(0, 5).Draw(t, "op") {
			case 0:
				now += uint64(rapid.IntRange(1, 3).Draw(t, "secs")) * 1e9
				check(OpPulse, next(0), nil)
			case 1:
				body := make([]byte, 2*IDSize)
				putU128(body, u128.From64(rapid.Uint64Range(1, 40).Draw(t, "lookup")))
				putU128(body[IDSize:], u128.From64(rapid.Uint64Range(1, 6).Draw(t, "lookup_account")))
				check(OpLookupTransfers, next(0), body[:IDSize])
				check(OpLookupAccounts, next(0), body[IDSize:])
			case 2:
				f := AccountFilter{AccountID: u128.From64(rapid.Uint64Range(1, 6).Draw(t, "filter")), Limit: 10, Flags: FilterDebits | FilterCredits}
				body := make([]byte, AccountFilterSize)
				f.Encode(body)
				check(OpGetAccountBalances, next(0), body)
			default:
				n := rapid.IntRange(1, 6).Draw(t, "batch")
				body := make([]byte, n*TransferSize)
				for k := 0; k < n; k++ {
					tr := genTransfer(t)
					tr.Encode(body[k*TransferSize:])
				}
				check(OpCreateTransfers, next(n), body)
			}
		}
	})
}
