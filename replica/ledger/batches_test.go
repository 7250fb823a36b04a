package ledger

import (
	"bytes"
	"testing"

	"viewstamp/replica/multibatch"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// multiMachine is what TestMultiBatchRequests runs requests on: the
// in-memory machine or the forest machine.
type multiMachine func(op uint8, ts uint64, body []byte) []byte

func TestMultiBatchRequests(t *testing.T) {
	const batchMax = 16
	mem := &Machine{L: New(Config{BatchMax: batchMax})}
	d := newForestDriver(t, batchMax, 3)
	machines := map[string]multiMachine{
		"memory": func(op uint8, ts uint64, body []byte) []byte {
			return mem.Commit(u128.U128{}, 0, ts, vsr.Operation(op), body)
		},
		"forest": d.executeBody,
	}
	var replies [2][]byte
	for k, name := range []string{"memory", "forest"} {
		replies[k] = runMultiBatch(t, name, machines[name])
	}
	if !bytes.Equal(replies[0], replies[1]) || mem.Checksum() != d.m.Checksum() {
		t.Fatal("the machines disagree")
	}
}

// runMultiBatch runs a script of multi-batch requests and checks each
// reply's batches; it returns every reply, back to back.
func runMultiBatch(t *testing.T, name string, run multiMachine) []byte {
	var all []byte
	batches := func(op uint8, reply []byte, want ...int) multibatch.Body {
		t.Helper()
		all = append(all, reply...)
		b, err := multibatch.Decode(reply, ResultSizeOf(op))
		if err != nil || b.Count() != len(want) {
			t.Fatalf("%s: %s reply %x (%v), want %d batches", name, OperationName(op), reply, err, len(want))
		}
		for i, n := range want {
			if b.Len(i) != n {
				t.Fatalf("%s: %s reply batch %d holds %d results, want %d", name, OperationName(op), i, b.Len(i), n)
			}
		}
		return b
	}
	result := func(b multibatch.Body, batch, i int) Result { return DecodeResult(b.Batch(batch)[i*ResultSize:]) }
	account := func(n uint64) Account { return Account{ID: id(n), Ledger: 1, Code: 1, Flags: AccountHistory} }

	// Accounts in batches of 2, 0 and 1 at T: the batches take consecutive
	// timestamps ending at T, an empty batch none.
	T := uint64(1_000_000)
	req := multibatch.Encode(AccountSize, accountsBody(account(1), account(2)), nil, accountsBody(account(3)))
	b := batches(OpCreateAccounts, run(OpCreateAccounts, T, req), 2, 0, 1)
	for i, w := range []struct {
		batch, i int
		ts       uint64
	}{{0, 0, T - 2}, {0, 1, T - 1}, {2, 0, T}} {
		if r := result(b, w.batch, w.i); r.Status != StatusCreated || r.Timestamp != w.ts {
			t.Fatalf("%s: account %d: %s at %d, want created at %d", name, i+1, AccountStatusName(r.Status), r.Timestamp, w.ts)
		}
	}

	// A later batch sees what an earlier one did: a pending transfer, then
	// its post, then a retry of the first batch's transfer.
	T += 10
	pending := Transfer{ID: id(10), DebitAccountID: id(1), CreditAccountID: id(2), Amount: id(5), Ledger: 1, Code: 1, Flags: TransferPending}
	post := Transfer{ID: id(11), PendingID: id(10), Amount: u128Max, Flags: TransferPostPending}
	req = multibatch.Encode(TransferSize, transfersBody(pending), transfersBody(post), transfersBody(pending))
	b = batches(OpCreateTransfers, run(OpCreateTransfers, T, req), 1, 1, 1)
	for k, want := range []struct {
		status uint32
		ts     uint64
	}{{StatusCreated, T - 2}, {StatusCreated, T - 1}, {TransferExists, T - 2}} {
		if r := result(b, k, 0); r.Status != want.status || r.Timestamp != want.ts {
			t.Fatalf("%s: transfer batch %d: %s at %d, want %s at %d", name, k, TransferStatusName(r.Status), r.Timestamp,
				TransferStatusName(want.status), want.ts)
		}
	}

	// Lookups per batch, missing ids skipped.
	T += 10
	ids := func(ns ...uint64) []byte {
		out := make([]byte, len(ns)*IDSize)
		for i, n := range ns {
			putU128(out[i*IDSize:], id(n))
		}
		return out
	}
	b = batches(OpLookupAccounts, run(OpLookupAccounts, T, multibatch.Encode(IDSize, ids(2, 9), nil, ids(1, 3, 1))), 1, 0, 3)
	if a := DecodeAccount(b.Batch(0)); a.ID != id(2) || a.CreditsPosted != id(5) {
		t.Fatalf("%s: lookup batch 0 found account %v with credits posted %v", name, a.ID, a.CreditsPosted)
	}

	// One filter per batch, each its own query; an invalid filter answers
	// an empty batch.
	T += 10
	filter := func(account uint64, limit uint32) []byte {
		f := AccountFilter{AccountID: id(account), Limit: limit, Flags: FilterDebits | FilterCredits}
		out := make([]byte, AccountFilterSize)
		f.Encode(out)
		return out
	}
	req = multibatch.Encode(AccountFilterSize, filter(1, 10), filter(3, 10), filter(2, 0), filter(2, 1))
	b = batches(OpGetAccountTransfers, run(OpGetAccountTransfers, T, req), 2, 0, 0, 1)
	if tr := DecodeTransfer(b.Batch(3)); tr.ID != id(10) {
		t.Fatalf("%s: account 2's first transfer is %v", name, tr.ID)
	}
	b = batches(OpGetAccountBalances, run(OpGetAccountBalances, T+1, multibatch.Encode(AccountFilterSize, filter(2, 10), filter(1, 1))), 2, 1)
	// The second row is after the post: credits_pending 32, credits_posted 48.
	if row := b.Batch(0)[BalanceSize:]; getU128(row[48:]) != id(5) || !getU128(row[32:]).IsZero() {
		t.Fatalf("%s: account 2's balance after the post: %x", name, row)
	}
	q := func(code uint16, limit uint32) []byte {
		f := QueryFilter{Code: code, Limit: limit}
		out := make([]byte, QueryFilterSize)
		f.Encode(out)
		return out
	}
	batches(OpQueryAccounts, run(OpQueryAccounts, T+2, multibatch.Encode(QueryFilterSize, q(1, 2), q(2, 5), q(1, 5))), 2, 0, 3)
	batches(OpQueryTransfers, run(OpQueryTransfers, T+3, multibatch.Encode(QueryFilterSize, q(1, 1), q(1, 5))), 1, 2)
	return all
}
