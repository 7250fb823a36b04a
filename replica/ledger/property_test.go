package ledger

import (
	"math/big"
	"testing"

	"pgregory.net/rapid"

	"viewstamp/replica/u128"
)

// Property tests: whatever a client sends, the ledger keeps double entry,
// honours balance limits and never reuses a timestamp.

func genAmount(t *rapid.T, label string) u128.U128 {
	switch rapid.IntRange(0, 9).Draw(t, label+"_kind") {
	case 0:
		return u128Max
	case 1:
		return u128.U128{Hi: rapid.Uint64Range(1<<62, 1<<63).Draw(t, label+"_hi")}
	default:
		return u128.From64(rapid.Uint64Range(0, 200).Draw(t, label))
	}
}

func genTransfer(t *rapid.T) Transfer {
	flagBits := []uint16{TransferLinked, TransferPending, TransferPostPending, TransferVoidPending,
		TransferBalancingDebit, TransferBalancingCredit, TransferClosingDebit, TransferClosingCredit}
	var flags uint16
	for _, f := range flagBits {
		if rapid.IntRange(0, 5).Draw(t, "flag") == 0 {
			flags |= f
		}
	}
	tr := Transfer{
		ID:              u128.From64(rapid.Uint64Range(1, 40).Draw(t, "id")),
		DebitAccountID:  u128.From64(rapid.Uint64Range(0, 7).Draw(t, "dr")),
		CreditAccountID: u128.From64(rapid.Uint64Range(0, 7).Draw(t, "cr")),
		Amount:          genAmount(t, "amount"),
		Ledger:          uint32(rapid.IntRange(1, 2).Draw(t, "ledger")),
		Code:            uint16(rapid.IntRange(1, 3).Draw(t, "code")),
		Flags:           flags,
	}
	if flags&(TransferPostPending|TransferVoidPending) != 0 {
		tr.PendingID = u128.From64(rapid.Uint64Range(1, 40).Draw(t, "pending_id"))
		if rapid.Bool().Draw(t, "inherit") {
			tr.DebitAccountID, tr.CreditAccountID, tr.Ledger, tr.Code = u128.U128{}, u128.U128{}, 0, 0
		}
	}
	if flags&TransferPending != 0 && rapid.Bool().Draw(t, "timeout") {
		tr.Timeout = uint32(rapid.IntRange(1, 3).Draw(t, "timeout_s"))
	}
	return tr
}

func TestLedgerInvariants(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		l := New(Config{BatchMax: 16})
		now := uint64(1_000_000_000)
		last := uint64(0)
		next := func(events int) uint64 {
			last = max(last+1, now) + uint64(events)
			return last
		}
		// Accounts 1..6 on two ledgers with mixed limit and history flags.
		var body []byte
		for id := uint64(1); id <= 6; id++ {
			a := Account{ID: u128.From64(id), Ledger: uint32(1 + id%2), Code: 1}
			switch rapid.IntRange(0, 3).Draw(t, "limit") {
			case 1:
				a.Flags |= AccountDebitsMustNotExceedCredits
			case 2:
				a.Flags |= AccountCreditsMustNotExceedDebits
			}
			if rapid.Bool().Draw(t, "history") {
				a.Flags |= AccountHistory
			}
			buf := make([]byte, AccountSize)
			a.Encode(buf)
			body = append(body, buf...)
		}
		l.Execute(OpCreateAccounts, next(6), body)

		steps := rapid.IntRange(1, 40).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			if rapid.IntRange(0, 4).Draw(t, "advance") == 0 {
				now += uint64(rapid.IntRange(1, 3).Draw(t, "secs")) * 1e9
				if ts := max(last+1, now); l.PulseDue(ts) {
					l.Execute(OpPulse, next(0), nil)
				}
				continue
			}
			n := rapid.IntRange(1, 6).Draw(t, "batch")
			body := make([]byte, n*TransferSize)
			for k := 0; k < n; k++ {
				tr := genTransfer(t)
				tr.Encode(body[k*TransferSize:])
			}
			reply := l.Execute(OpCreateTransfers, next(n), body)
			if len(reply) != n*ResultSize {
				t.Fatalf("%d results for %d events", len(reply)/ResultSize, n)
			}
			checkInvariants(t, l)
		}
	})
}

func toBigInt(v u128.U128) *big.Int { return toBig(v) }

func checkInvariants(t *rapid.T, l *Ledger) {
	sums := make([]*big.Int, 4)
	for i := range sums {
		sums[i] = new(big.Int)
	}
	seen := map[uint64]bool{}
	prev := uint64(0)
	for i := int32(0); int(i) < l.s.accounts.len(); i++ {
		a := &l.s.accounts.at(i).Account
		sums[0].Add(sums[0], toBigInt(a.DebitsPending))
		sums[1].Add(sums[1], toBigInt(a.DebitsPosted))
		sums[2].Add(sums[2], toBigInt(a.CreditsPending))
		sums[3].Add(sums[3], toBigInt(a.CreditsPosted))
		if a.Flags&AccountDebitsMustNotExceedCredits != 0 {
			d := new(big.Int).Add(toBigInt(a.DebitsPending), toBigInt(a.DebitsPosted))
			if d.Cmp(toBigInt(a.CreditsPosted)) > 0 {
				t.Fatalf("account %v: debits %v exceed credits_posted %v", a.ID, d, toBigInt(a.CreditsPosted))
			}
		}
		if a.Flags&AccountCreditsMustNotExceedDebits != 0 {
			c := new(big.Int).Add(toBigInt(a.CreditsPending), toBigInt(a.CreditsPosted))
			if c.Cmp(toBigInt(a.DebitsPosted)) > 0 {
				t.Fatalf("account %v: credits %v exceed debits_posted %v", a.ID, c, toBigInt(a.DebitsPosted))
			}
		}
		if a.Timestamp <= prev || seen[a.Timestamp] {
			t.Fatalf("account timestamp %d repeats or goes back", a.Timestamp)
		}
		prev = a.Timestamp
		seen[a.Timestamp] = true
	}
	if sums[0].Cmp(sums[2]) != 0 || sums[1].Cmp(sums[3]) != 0 {
		t.Fatalf("double entry broken: debits pending %v posted %v, credits pending %v posted %v", sums[0], sums[1], sums[2], sums[3])
	}
	prev = 0
	for i := int32(0); int(i) < l.s.transfers.len(); i++ {
		ts := l.s.transfers.at(i).Timestamp
		if ts <= prev || seen[ts] {
			t.Fatalf("transfer timestamp %d repeats or goes back", ts)
		}
		prev = ts
		seen[ts] = true
	}
}
