package workload

import (
	"strings"
	"testing"
)

func accountsBody(accounts ...Account) []byte {
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
	return b
}

func results(rs ...CreateResult) []byte {
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
	err = a.Commit(3, 300, OpLookupAccounts, ids, reply)
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
	if err := a.Commit(7, 2000, OpLookupAccounts, make([]byte, 7), nil); err == nil || !strings.Contains(err.Error(), "ids") {
		t.Fatalf("ragged body: %v", err)
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
	if _, err := a.Apply(11, OpLookupAccounts, ids); err != nil {
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
