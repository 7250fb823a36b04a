package ledger

import (
	"testing"
	"viewstamp/replica/multibatch"

	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

func accountsBody(as ...Account) []byte {
	b := make([]byte, len(as)*AccountSize)
	for i := range as {
		as[i].Encode(b[i*AccountSize:])
	}
	return b
}

func transfersBody(ts ...Transfer) []byte {
	b := make([]byte, len(ts)*TransferSize)
	for i := range ts {
		ts[i].Encode(b[i*TransferSize:])
	}
	return b
}

func statuses(reply []byte) []uint32 {
	var out []uint32
	for i := 0; i+ResultSize <= len(reply); i += ResultSize {
		out = append(out, DecodeResult(reply[i:]).Status)
	}
	return out
}

func id(v uint64) u128.U128 { return u128.From64(v) }

// fixture is a ledger with accounts 1 (debits limited by credits) and 2.
func fixture(t *testing.T) (*Ledger, func(int) uint64) {
	t.Helper()
	l := New(Config{BatchMax: 64})
	ts := uint64(1000)
	next := func(n int) uint64 { ts += uint64(n) + 1; return ts }
	r := l.Execute(OpCreateAccounts, next(2), accountsBody(
		Account{ID: id(1), Ledger: 1, Code: 1, Flags: AccountDebitsMustNotExceedCredits},
		Account{ID: id(2), Ledger: 1, Code: 1},
	))
	if s := statuses(r); s[0] != StatusCreated || s[1] != StatusCreated {
		t.Fatalf("fixture accounts: %v", s)
	}
	return l, next
}

func TestFailedChainLeavesNoTrace(t *testing.T) {
	l, next := fixture(t)
	before := l.s.accounts.len()
	r := l.Execute(OpCreateTransfers, next(3), transfersBody(
		Transfer{ID: id(10), DebitAccountID: id(2), CreditAccountID: id(1), Amount: id(5), Ledger: 1, Code: 1, Flags: TransferLinked},
		Transfer{ID: id(11), DebitAccountID: id(1), CreditAccountID: id(2), Amount: id(5), Ledger: 1, Code: 1, Flags: TransferLinked},
		Transfer{ID: id(12), DebitAccountID: id(1), CreditAccountID: id(2), Amount: id(1), Ledger: 1, Code: 1},
	))
	want := []uint32{TransferLinkedEventFailed, TransferLinkedEventFailed, TransferExceedsCredits}
	if got := statuses(r); got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	if l.s.transfers.len() != 0 || l.s.accounts.len() != before {
		t.Fatalf("rolled-back chain left %d transfers", l.s.transfers.len())
	}
	a := l.s.accounts.at(l.s.accountPos.lookup(id(1)))
	if !a.CreditsPosted.IsZero() || !a.DebitsPosted.IsZero() || len(a.transfers) != 0 {
		t.Fatalf("rolled-back chain left balances %+v", a.Account)
	}
	// The chain's breaking event failed transiently: its id is burned, the
	// others' are free again.
	r = l.Execute(OpCreateTransfers, next(2), transfersBody(
		Transfer{ID: id(12), DebitAccountID: id(2), CreditAccountID: id(1), Amount: id(1), Ledger: 1, Code: 1},
		Transfer{ID: id(10), DebitAccountID: id(2), CreditAccountID: id(1), Amount: id(1), Ledger: 1, Code: 1},
	))
	if got := statuses(r); got[0] != TransferIDAlreadyFailed || got[1] != StatusCreated {
		t.Fatalf("retries after the chain: %v", got)
	}
}

func TestPulseExpiresAndReleases(t *testing.T) {
	l, next := fixture(t)
	l.Execute(OpCreateTransfers, next(1), transfersBody(
		Transfer{ID: id(20), DebitAccountID: id(2), CreditAccountID: id(1), Amount: id(7), Ledger: 1, Code: 1,
			Flags: TransferPending | TransferClosingCredit, Timeout: 1},
	))
	created := l.s.transfers.at(0).Timestamp
	if l.PulseDue(created + 999_999_999) {
		t.Fatal("pulse due before the timeout")
	}
	if !l.PulseDue(created + 1_000_000_000) {
		t.Fatal("pulse not due at the timeout")
	}
	if l.s.accounts.at(l.s.accountPos.lookup(id(1))).Flags&AccountClosed == 0 {
		t.Fatal("closing transfer did not close the account")
	}
	l.Execute(OpPulse, created+1_000_000_000, nil)
	a := l.s.accounts.at(l.s.accountPos.lookup(id(1)))
	if !a.CreditsPending.IsZero() || a.Flags&AccountClosed != 0 {
		t.Fatalf("after expiry: credits_pending %v, flags %b", a.CreditsPending, a.Flags)
	}
	if l.PulseDue(^uint64(0) >> 1) {
		t.Fatal("pulse still due with nothing pending")
	}
	r := l.Execute(OpCreateTransfers, next(1), transfersBody(
		Transfer{ID: id(21), PendingID: id(20), Flags: TransferPostPending, Amount: u128Max},
	))
	if got := statuses(r); got[0] != TransferPendingTransferExpired {
		t.Fatalf("post after expiry: %s", TransferStatusName(got[0]))
	}
}

func TestBadBodiesAreRefusedBeforePrepare(t *testing.T) {
	m := NewMachine(4096, Bugs{})
	max := BatchMaxFor(4096, vsr.HeaderSize)
	filter := func(limit uint32) []byte {
		b := make([]byte, QueryFilterSize)
		f := QueryFilter{Limit: limit}
		f.Encode(b)
		return b
	}
	accountFilter := func(limit uint32) []byte {
		b := make([]byte, AccountFilterSize)
		f := AccountFilter{AccountID: u128.From64(1), Limit: limit, Flags: FilterDebits}
		f.Encode(b)
		return b
	}
	events := func(n int) []byte { return make([]byte, n*TransferSize) }
	ids := func(n int) []byte { return make([]byte, n*IDSize) }
	torn := multibatch.Encode(TransferSize, events(1))
	torn[len(torn)-4] = 2 // batch 0 claims two events
	cases := []struct {
		name string
		op   uint8
		body []byte
		want vsr.EvictionReason
	}{
		{"good batch", OpCreateTransfers, multibatch.Encode(TransferSize, events(max)), 0},
		{"empty batch", OpCreateAccounts, multibatch.Encode(AccountSize, nil), 0},
		{"batches of 2, 0 and 1", OpCreateAccounts, multibatch.Encode(AccountSize, events(2), nil, events(1)), 0},
		{"full request in two batches", OpCreateTransfers, multibatch.Encode(TransferSize, events(max-3), events(3)), 0},
		{"no trailer", OpCreateTransfers, events(1), vsr.EvictionInvalidRequestBody},
		{"no body", OpCreateAccounts, nil, vsr.EvictionInvalidRequestBody},
		{"counts disagree with the payload", OpCreateTransfers, torn, vsr.EvictionInvalidRequestBody},
		{"one event too many", OpCreateTransfers, multibatch.Encode(TransferSize, events(max+1)), vsr.EvictionInvalidRequestBodySize},
		{"one event too many in all", OpCreateTransfers, multibatch.Encode(TransferSize, events(max), events(1)), vsr.EvictionInvalidRequestBodySize},
		{"one id too many in all", OpLookupAccounts, multibatch.Encode(IDSize, ids(max-1), ids(2)), vsr.EvictionInvalidRequestBodySize},
		{"lookups whose reply needs a second trailer element", OpLookupAccounts,
			multibatch.Encode(IDSize, append([][]byte{ids(max)}, make([][]byte, 63)...)...), vsr.EvictionInvalidRequestBodySize},
		{"two filters in one batch", OpQueryAccounts, multibatch.Encode(QueryFilterSize, append(filter(1), filter(1)...)), vsr.EvictionInvalidRequestBody},
		{"an empty filter batch", OpGetAccountTransfers, multibatch.Encode(AccountFilterSize, accountFilter(1), nil), vsr.EvictionInvalidRequestBody},
		{"a filter per batch", OpQueryAccounts, multibatch.Encode(QueryFilterSize, filter(10), filter(uint32(max-10))), 0},
		{"a full limit capped", OpQueryTransfers, multibatch.Encode(QueryFilterSize, filter(^uint32(0))), 0},
		{"limits whose replies may not fit", OpGetAccountBalances,
			multibatch.Encode(AccountFilterSize, accountFilter(10), accountFilter(uint32(max-9))), vsr.EvictionInvalidRequestBodySize},
		{"unknown operation", 150, nil, vsr.EvictionInvalidRequestOperation},
		{"client pulse", OpPulse, nil, vsr.EvictionInvalidRequestOperation},
	}
	for _, c := range cases {
		if got := m.Check(vsr.Operation(c.op), c.body); got != c.want {
			t.Errorf("%s: eviction %d, want %d", c.name, got, c.want)
		}
	}
	if max != 29 || BatchMaxFor(1<<20, vsr.HeaderSize) != 8189 {
		t.Errorf("batch max %d for 4 KiB, %d for 1 MiB; want 29 and 8189", max, BatchMaxFor(1<<20, vsr.HeaderSize))
	}
}

// The reply a replica caches in a client session must survive later ops.
func TestMachineRepliesAreOwned(t *testing.T) {
	m := NewMachine(4096, Bugs{})
	r1 := m.Commit(u128.U128{}, 1, 100, vsr.Operation(OpCreateAccounts), oneBatch(OpCreateAccounts, accountsBody(Account{ID: id(1), Ledger: 1, Code: 1})))
	keep := append([]byte(nil), r1...)
	m.Commit(u128.U128{}, 2, 200, vsr.Operation(OpCreateAccounts), oneBatch(OpCreateAccounts, accountsBody(Account{ID: id(2)})))
	if string(r1) != string(keep) {
		t.Fatal("a later commit overwrote an earlier reply")
	}
}

func TestChecksumFollowsState(t *testing.T) {
	a, nextA := fixture(t)
	b, nextB := fixture(t)
	if a.Checksum() != b.Checksum() {
		t.Fatal("same ops, different checksums")
	}
	a.Execute(OpCreateTransfers, nextA(1), transfersBody(Transfer{ID: id(30), DebitAccountID: id(2), CreditAccountID: id(1), Amount: id(3), Ledger: 1, Code: 1}))
	b.Execute(OpCreateTransfers, nextB(1), transfersBody(Transfer{ID: id(30), DebitAccountID: id(2), CreditAccountID: id(1), Amount: id(4), Ledger: 1, Code: 1}))
	if a.Checksum() == b.Checksum() {
		t.Fatal("different amounts moved, same checksum")
	}
}

// lookup is get for a test that knows the id is stored.
func (t *posTable) lookup(id u128.U128) int32 {
	p, _ := t.get(id)
	return p
}
