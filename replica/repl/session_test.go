package repl

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"viewstamp/replica/ledger"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// memLedger runs requests on the real ledger state machine, as a replica's
// commit would: checked first, then executed at a timestamp that advances
// by one per event as the primary's prepare timestamps do.
type memLedger struct {
	m        *ledger.Machine
	ts       uint64
	requests int
}

func newMemLedger() *memLedger {
	return &memLedger{m: ledger.NewMachine(messageSizeMax, ledger.Bugs{}), ts: 1_000}
}

// submit sends one batch as its own request, as a client's one call.
func (l *memLedger) submit(_ context.Context, op vsr.Operation, batch []byte) ([]byte, error) {
	body := ledger.EncodeBatch(uint8(op), batch)
	if r := l.m.Check(op, body); r != 0 {
		return nil, fmt.Errorf("evicted (reason %d)", r)
	}
	l.requests++
	l.ts += 1 + l.m.EventCount(op, body)
	return ledger.DecodeBatch(uint8(op), l.m.Commit(u128.Zero, uint64(l.requests), l.ts, op, body))
}

func runScript(t *testing.T, l *memLedger, interactive bool, script string) (string, error) {
	t.Helper()
	var out strings.Builder
	s := Session{In: strings.NewReader(script), Out: &out, Submit: l.submit, Interactive: interactive}
	err := s.Run(context.Background())
	return out.String(), err
}

func TestSessionAgainstLedger(t *testing.T) {
	l := newMemLedger()
	out, err := runScript(t, l, false, `
create_accounts id=1 ledger=700 code=10,
                id=2 ledger=700 code=10 flags=history,
                id=3 ledger=700 code=10 flags=debits_must_not_exceed_credits;
create_transfers id=1 debit_account_id=1 credit_account_id=2 amount=10 ledger=700 code=10,
                 id=2 debit_account_id=3 credit_account_id=2 amount=1 ledger=700 code=10;
create_transfers id=3 debit_account_id=1 credit_account_id=2 amount=5 ledger=700 code=10 flags=pending timeout=60;
lookup_accounts id=1, id=2, id=99;
lookup_transfers id=1;
get_account_transfers account_id=2;
get_account_balances account_id=2 flags=credits|reversed limit=1;
query_accounts ledger=700 code=10 limit=2 flags=reversed;
query_transfers ledger=700 limit=10;
create_accounts id=1 ledger=700 code=10;
`)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{
		// The first op commits at 1004: its three events own 1002..1004.
		"{ index=0 status=created timestamp=1002 }",
		"{ index=1 status=created timestamp=1003 }",
		"{ index=2 status=created timestamp=1004 }",
		"{ index=0 status=created timestamp=1006 }",
		"{ index=1 status=exceeds_credits timestamp=1007 }",
		"{ index=0 status=created timestamp=1009 }",
		"{ id=1 debits_pending=5 debits_posted=10 credits_pending=0 credits_posted=0 user_data_128=0 user_data_64=0 user_data_32=0 reserved=0 ledger=700 code=10 flags=none timestamp=1002 }",
		"{ id=2 debits_pending=0 debits_posted=0 credits_pending=5 credits_posted=10 user_data_128=0 user_data_64=0 user_data_32=0 reserved=0 ledger=700 code=10 flags=history timestamp=1003 }",
		"{ id=1 debit_account_id=1 credit_account_id=2 amount=10 pending_id=0 user_data_128=0 user_data_64=0 user_data_32=0 timeout=0 ledger=700 code=10 flags=none timestamp=1006 }",
		"{ id=1 debit_account_id=1 credit_account_id=2 amount=10 pending_id=0 user_data_128=0 user_data_64=0 user_data_32=0 timeout=0 ledger=700 code=10 flags=none timestamp=1006 }",
		"{ id=3 debit_account_id=1 credit_account_id=2 amount=5 pending_id=0 user_data_128=0 user_data_64=0 user_data_32=0 timeout=60 ledger=700 code=10 flags=pending timestamp=1009 }",
		"{ debits_pending=0 debits_posted=0 credits_pending=5 credits_posted=10 timestamp=1009 }",
		"{ id=3 debits_pending=0 debits_posted=0 credits_pending=0 credits_posted=0 user_data_128=0 user_data_64=0 user_data_32=0 reserved=0 ledger=700 code=10 flags=debits_must_not_exceed_credits timestamp=1004 }",
		"{ id=2 debits_pending=0 debits_posted=0 credits_pending=5 credits_posted=10 user_data_128=0 user_data_64=0 user_data_32=0 reserved=0 ledger=700 code=10 flags=history timestamp=1003 }",
		"{ id=1 debit_account_id=1 credit_account_id=2 amount=10 pending_id=0 user_data_128=0 user_data_64=0 user_data_32=0 timeout=0 ledger=700 code=10 flags=none timestamp=1006 }",
		"{ id=3 debit_account_id=1 credit_account_id=2 amount=5 pending_id=0 user_data_128=0 user_data_64=0 user_data_32=0 timeout=60 ledger=700 code=10 flags=pending timestamp=1009 }",
		"{ index=0 status=exists timestamp=1002 }",
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d:\n got %s\nwant %s", i+1, lines[i], want[i])
		}
	}
}

func TestSessionScriptStopsAtFirstError(t *testing.T) {
	l := newMemLedger()
	out, err := runScript(t, l, false, "create_accounts id=1 ledger=700 code=10;\n\ncreate_accounts id=2\n  ledgr=700;\ncreate_accounts id=3 ledger=700 code=10;\n")
	if err == nil || err.Error() != `create_accounts: field "ledgr" unknown, did you mean "ledger"? (line 4, column 3)` {
		t.Fatalf("error %v", err)
	}
	if l.requests != 1 || strings.Count(out, "created") != 1 {
		t.Errorf("%d requests, output %q: the statements after the error ran", l.requests, out)
	}
}

func TestSessionInteractive(t *testing.T) {
	l := newMemLedger()
	out, err := runScript(t, l, true, "create_accounts id=1\n ledger=700 code=10;\nlookup_accounts id=1 amount=3;\nlookup_accounts id=1; lookup_accounts id=2;\nhelp\nexit\nlookup_accounts id=1;\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"> ... { index=0 status=created timestamp=1002 }\n> ",
		`error: lookup_accounts: field "amount" unknown (line 3, column 22)` + "\n> ",
		"{ id=1 debits_pending=0",
		"no accounts\n> ",
		"create_transfers id= debit_account_id=",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Two statements on one line both ran; nothing after exit did.
	if l.requests != 3 {
		t.Errorf("%d requests, want 3", l.requests)
	}
}

func TestSessionSubmitError(t *testing.T) {
	failing := func(context.Context, vsr.Operation, []byte) ([]byte, error) {
		return nil, fmt.Errorf("no replica answered")
	}
	var out strings.Builder
	s := Session{In: strings.NewReader("lookup_accounts id=1"), Out: &out, Submit: failing}
	err := s.Run(context.Background())
	if err == nil || err.Error() != "lookup_accounts: no replica answered" {
		t.Errorf("got %v", err)
	}
}
