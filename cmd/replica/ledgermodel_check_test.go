package main

import (
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"viewstamp/replica/ledger"
	"viewstamp/replica/u128"
)

// A hand-written history, one operation per line of the case, times in
// steps; each case is checked as the kill -9 test checks its history.
type historyCase struct {
	name string
	ops  []ledgerOp
	want porcupine.CheckResult
}

const checkTimeout = 10 * time.Second

func TestLedgerModelChecksHistories(t *testing.T) {
	a, b := accountID(0), accountID(1)
	tr := ledger.Transfer{ID: u128.U128{Lo: 1, Hi: 1}, DebitAccountID: a, CreditAccountID: b, Amount: u128.From64(10), Ledger: testLedger, Code: testCode}
	created, exists := ledger.StatusCreated, ledger.TransferExists
	accounts := ledgerOp{kind: opCreateAccounts, accounts: []ledger.Account{{ID: a}, {ID: b}},
		statuses: []uint32{created, created}, call: 0, ret: 1}
	create := func(call, ret int64, status uint32) ledgerOp {
		return ledgerOp{kind: opCreateTransfers, transfers: []ledger.Transfer{tr}, statuses: []uint32{status}, call: call, ret: ret}
	}
	inDoubt := func(call int64) ledgerOp {
		return ledgerOp{kind: opCreateTransfers, transfers: []ledger.Transfer{tr}, inDoubt: true, call: call}
	}
	lookupT := func(call, ret int64, found bool) ledgerOp {
		op := ledgerOp{kind: opLookupTransfers, ids: []u128.U128{tr.ID}, call: call, ret: ret}
		if found {
			op.transfers = []ledger.Transfer{tr}
		}
		return op
	}
	// balances: a lookup of both accounts after moves of tr's amount.
	balances := func(call, ret int64, moves uint64) ledgerOp {
		amount := u128.From64(moves * tr.Amount.Lo)
		return ledgerOp{kind: opLookupAccounts, ids: []u128.U128{a, b}, call: call, ret: ret,
			accounts: []ledger.Account{{ID: a, DebitsPosted: amount}, {ID: b, CreditsPosted: amount}}}
	}
	for _, c := range []historyCase{
		{"acknowledged, found, counted once", []ledgerOp{accounts, create(2, 3, created), lookupT(4, 5, true), balances(4, 5, 1)}, porcupine.Ok},
		{"a lookup concurrent with the create may miss it", []ledgerOp{accounts, create(2, 5, created), lookupT(3, 4, false), balances(3, 4, 0)}, porcupine.Ok},
		{"a lookup concurrent with the create may see it", []ledgerOp{accounts, create(2, 5, created), lookupT(3, 4, true), balances(3, 4, 1)}, porcupine.Ok},
		{"an in-doubt attempt executed; its retry says exists", []ledgerOp{accounts, inDoubt(2), create(3, 4, exists), lookupT(5, 6, true), balances(5, 6, 1)}, porcupine.Ok},
		{"an in-doubt attempt did not execute; its retry created it", []ledgerOp{accounts, inDoubt(2), create(3, 4, created), balances(5, 6, 1)}, porcupine.Ok},
		{"an in-doubt attempt may execute after a later read", []ledgerOp{accounts, inDoubt(2), balances(3, 4, 0), balances(5, 6, 1)}, porcupine.Ok},

		{"lost: acknowledged, then not found", []ledgerOp{accounts, create(2, 3, created), lookupT(4, 5, false)}, porcupine.Illegal},
		{"lost: acknowledged, then not in the balances", []ledgerOp{accounts, create(2, 3, created), balances(4, 5, 0)}, porcupine.Illegal},
		{"lost: seen, then gone", []ledgerOp{accounts, inDoubt(2), balances(3, 4, 1), balances(5, 6, 0)}, porcupine.Illegal},
		{"duplicate: two attempts both created", []ledgerOp{accounts, create(2, 3, created), create(4, 5, created)}, porcupine.Illegal},
		{"duplicate: an in-doubt attempt and its retry both applied", []ledgerOp{accounts, inDoubt(2), create(3, 4, created), balances(5, 6, 2)}, porcupine.Illegal},
		{"duplicate: counted twice without a retry", []ledgerOp{accounts, create(2, 3, created), balances(4, 5, 2)}, porcupine.Illegal},
		{"exists for a transfer never created", []ledgerOp{accounts, create(2, 3, exists)}, porcupine.Illegal},
		{"a retry's exists before any attempt could have executed", []ledgerOp{accounts, create(2, 3, exists), inDoubt(4)}, porcupine.Illegal},
		{"stored with other fields", []ledgerOp{accounts, create(2, 3, created),
			{kind: opLookupTransfers, ids: []u128.U128{tr.ID}, transfers: []ledger.Transfer{{ID: tr.ID, DebitAccountID: b, CreditAccountID: a, Amount: tr.Amount}}, call: 4, ret: 5}}, porcupine.Illegal},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, part := checkLedgerHistory(c.ops, checkTimeout)
			if got != c.want {
				t.Fatalf("checker says %s, want %s; partition:\n%s", got, c.want, part)
			}
		})
	}
}

// The kill -9 test's history is thousands of concurrent requests with
// in-doubt attempts among them: the partitions keep the check fast, and a
// single lost acknowledgement among them is still found.
func TestLedgerModelScales(t *testing.T) {
	const workers, batches = 4, 400
	ops := []ledgerOp{{kind: opCreateAccounts, call: 0, ret: 1}}
	for i := range accountCount {
		ops[0].accounts = append(ops[0].accounts, ledger.Account{ID: accountID(i)})
		ops[0].statuses = append(ops[0].statuses, ledger.StatusCreated)
	}
	var debits, credits [accountCount]uint64
	now := int64(2)
	var lostAt int
	for seq := range batches {
		for w := range workers {
			op := ledgerOp{kind: opCreateTransfers, call: now, ret: now + 3}
			for i := range transfersPerReq {
				dr := (seq + w + i) % accountCount
				cr := (dr + 1 + i%(accountCount-1)) % accountCount
				tr := ledger.Transfer{ID: u128.U128{Lo: uint64(seq*transfersPerReq + i + 1), Hi: uint64(w) + 1},
					DebitAccountID: accountID(dr), CreditAccountID: accountID(cr), Amount: u128.From64(uint64(i + 1))}
				op.transfers = append(op.transfers, tr)
				op.statuses = append(op.statuses, ledger.StatusCreated)
				debits[dr] += tr.Amount.Lo
				credits[cr] += tr.Amount.Lo
			}
			if seq%97 == 5 {
				// In doubt, then retried: the retry finds them.
				doubt := op
				doubt.inDoubt, doubt.statuses = true, nil
				ops = append(ops, doubt)
				op.call, op.ret = now+1, now+4
				op.statuses = make([]uint32, len(op.transfers))
				for i := range op.statuses {
					op.statuses[i] = ledger.TransferExists
				}
			}
			ops = append(ops, op)
			now++
		}
		if seq%50 == 0 {
			lostAt = len(ops)
		}
	}
	final := ledgerOp{kind: opLookupAccounts, call: now + 10, ret: now + 11}
	for i := range accountCount {
		final.ids = append(final.ids, accountID(i))
		final.accounts = append(final.accounts, ledger.Account{ID: accountID(i), DebitsPosted: u128.From64(debits[i]), CreditsPosted: u128.From64(credits[i])})
	}
	ops = append(ops, final)

	start := time.Now()
	if got, part := checkLedgerHistory(ops, time.Minute); got != porcupine.Ok {
		t.Fatalf("a linearizable history of %d operations: %s\n%s", len(ops), got, part)
	}
	t.Logf("%d operations checked in %s", len(ops), time.Since(start))

	// The same history with one acknowledged batch's transfer missing from
	// the balances it moved.
	lost := append([]ledgerOp(nil), ops...)
	lost[lostAt-1].statuses = append([]uint32(nil), lost[lostAt-1].statuses...)
	lost[lostAt-1].transfers = lost[lostAt-1].transfers[1:]
	lost[lostAt-1].statuses = lost[lostAt-1].statuses[1:]
	if got, _ := checkLedgerHistory(lost, time.Minute); got != porcupine.Illegal {
		t.Fatalf("a history with a lost transfer: %s, want Illegal", got)
	}
}
