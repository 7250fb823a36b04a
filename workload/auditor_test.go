package workload

import (
	"strings"
	"testing"

	"viewstamp/replica/multibatch"
)

// accountsBody, transfersBody and results are requests and replies of one
// batch.
func accountsBody(accounts ...Account) []byte {
	return multibatch.Encode(EventSize, accountsBatch(accounts...))
}

func accountsBatch(accounts ...Account) []byte {
	b := make([]byte, len(accounts)*EventSize)
	for i := range accounts {
		EncodeAccount(b[i*EventSize:], &accounts[i])
	}
	return b
}

func transfersBody(transfers ...Transfer) []byte {
	b := make([]byte, len(transfers)*EventSize)
	for i := range transfers {
		EncodeTransfer(b[i*EventSize:], &transfers[i])
	}
	return multibatch.Encode(EventSize, b)
}

func results(rs ...CreateResult) []byte {
	return multibatch.Encode(CreateResultSize, resultsBatch(rs...))
}

func resultsBatch(rs ...CreateResult) []byte {
	b := make([]byte, len(rs)*CreateResultSize)
	for i, r := range rs {
		EncodeCreateResult(b[i*CreateResultSize:], r)
	}
	return b
}

// A ledger that lets a debit-limited account overdraw must be named with the
// op, the event and both statuses.
func TestAuditorNamesTheDifference(t *testing.T) {
	a := NewAuditor(0)
	accs := accountsBody(
		Account{ID: U128{Lo: 1}, Ledger: 1, Code: 1, Flags: AccountDebitsMustNotExceedCredits},
		Account{ID: U128{Lo: 2}, Ledger: 1, Code: 1},
	)
	if err := a.Commit(1, 100, OpCreateAccounts, accs, results(
		CreateResult{Timestamp: 99, Status: StatusCreated}, CreateResult{Timestamp: 100, Status: StatusCreated})); err != nil {
		t.Fatal(err)
	}
	body := transfersBody(
		Transfer{ID: U128{Lo: 10}, DebitAccountID: U128{Lo: 2}, CreditAccountID: U128{Lo: 1}, Amount: U128{Lo: 5}, Ledger: 1, Code: 1},
		Transfer{ID: U128{Lo: 11}, DebitAccountID: U128{Lo: 1}, CreditAccountID: U128{Lo: 2}, Amount: U128{Lo: 6}, Ledger: 1, Code: 1},
	)
	overdrawn := results(CreateResult{Timestamp: 199, Status: StatusCreated}, CreateResult{Timestamp: 200, Status: StatusCreated})
	err := a.Commit(2, 200, OpCreateTransfers, body, overdrawn)
	want := "op 2 create_transfers event 1: status expected exceeds_credits, got created"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}

	// The auditor's model went on with its own prediction; a lookup that
	// reports the overdraft is caught field by field.
	ids := make([]byte, IDSize)
	U128{Lo: 1}.Put(ids)
	reply := make([]byte, EventSize)
	EncodeAccount(reply, &Account{ID: U128{Lo: 1}, DebitsPosted: U128{Lo: 6}, CreditsPosted: U128{Lo: 5},
		Ledger: 1, Code: 1, Flags: AccountDebitsMustNotExceedCredits, Timestamp: 99})
	err = a.Commit(3, 300, OpLookupAccounts, multibatch.Encode(IDSize, ids), multibatch.Encode(EventSize, reply))
	want = "op 3 lookup_accounts result 0 (account 1): debits_posted expected 0, got 6"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}

func TestAuditorRejectsOutOfOrderCommits(t *testing.T) {
	a := NewAuditor(0)
	if err := a.Commit(5, 1000, OpPulse, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(6, 1000, OpPulse, nil, nil); err == nil || !strings.Contains(err.Error(), "does not advance") {
		t.Fatalf("repeated timestamp: %v", err)
	}
	if err := a.Commit(7, 2000, OpLookupAccounts, make([]byte, 7), nil); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("ragged body: %v", err)
	}
	if err := a.Commit(8, 3000, 150, nil, nil); err == nil || !strings.Contains(err.Error(), "unknown operation") {
		t.Fatalf("unknown operation: %v", err)
	}
}

func TestAuditorCountsByName(t *testing.T) {
	a := NewAuditor(0)
	body := accountsBody(Account{ID: U128{Lo: 1}, Ledger: 1, Code: 1}, Account{ID: U128{Lo: 1}, Ledger: 1, Code: 1},
		Account{ID: U128{Lo: 2}, Ledger: 1})
	if _, err := a.Apply(10, OpCreateAccounts, body); err != nil {
		t.Fatal(err)
	}
	ids := make([]byte, 2*IDSize)
	U128{Lo: 1}.Put(ids)
	if _, err := a.Apply(11, OpLookupAccounts, multibatch.Encode(IDSize, ids)); err != nil {
		t.Fatal(err)
	}
	c := a.Counts()
	if c["create_accounts"]["created"] != 1 || c["create_accounts"]["exists"] != 1 || c["create_accounts"]["code_must_not_be_zero"] != 1 {
		t.Fatalf("create_accounts counts %v", c["create_accounts"])
	}
	if c["lookup_accounts"]["found"] != 1 || c["lookup_accounts"]["missing"] != 1 || c["requests"]["lookup_accounts"] != 1 {
		t.Fatalf("lookup counts %v", c)
	}
}

// A multi-batch request is checked batch by batch, each on its slice of the
// op's timestamps; a reply whose shape a client would abort on is named
// before its content.
func TestAuditorChecksBatches(t *testing.T) {
	a := NewAuditor(0)
	acc := func(id uint64) Account { return Account{ID: U128{Lo: id}, Ledger: 1, Code: 1} }
	body := multibatch.Encode(EventSize, accountsBatch(acc(1), acc(2)), nil, accountsBatch(acc(3)))
	created := func(ts uint64) CreateResult { return CreateResult{Timestamp: ts, Status: StatusCreated} }
	good := multibatch.Encode(CreateResultSize, resultsBatch(created(98), created(99)), nil, resultsBatch(created(100)))
	if err := a.Commit(1, 100, OpCreateAccounts, body, good); err != nil {
		t.Fatal(err)
	}
	dup := func(id uint64) Account { return acc(id) }
	body = multibatch.Encode(EventSize, accountsBatch(dup(1)), accountsBatch(dup(4)))
	exists := CreateResult{Timestamp: 98, Status: AccountExists}
	for _, c := range []struct {
		name  string
		reply []byte
		want  string
	}{
		{"one batch", results(exists, created(200)), "reply of 1 batches to a request of 2"},
		{"malformed", []byte{1, 2, 3}, "reply: multibatch: malformed body"},
		{"too many results", multibatch.Encode(CreateResultSize, resultsBatch(exists, exists), resultsBatch(created(200))),
			"batch 0: 2 results, more than the 1 its request batch may have"},
		{"wrong timestamp slice", multibatch.Encode(CreateResultSize, resultsBatch(exists), resultsBatch(created(199))),
			"batch 1 event 0 (created): timestamp expected 200, got 199"},
	} {
		b := NewAuditor(0)
		if _, err := b.Apply(100, OpCreateAccounts, multibatch.Encode(EventSize, accountsBatch(acc(1), acc(2)), nil, accountsBatch(acc(3)))); err != nil {
			t.Fatal(err)
		}
		err := b.Commit(2, 200, OpCreateAccounts, body, c.reply)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
