package repl

import (
	"errors"
	"math/big"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"viewstamp/replica/ledger"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// Every statement, every field of its record at least once, flags single
// and joined, hex, `max` and records spanning lines.
var roundTrips = []string{
	"create_accounts id=1 ledger=700 code=10, id=2 ledger=700 code=10;",
	`create_accounts id=0x10 debits_pending=1 debits_posted=2 credits_pending=3 credits_posted=4
	   user_data_128=340282366920938463463374607431768211455 user_data_64=18446744073709551615
	   user_data_32=4294967295 reserved=7 ledger=700 code=65535
	   flags=linked|debits_must_not_exceed_credits|credits_must_not_exceed_debits|history|imported|closed
	   timestamp=123,
	 id=max ledger=1 code=1 flags=history;`,
	"create_transfers id=1 debit_account_id=1 credit_account_id=2 amount=10 ledger=700 code=10;",
	`create_transfers id=2 debit_account_id=1 credit_account_id=2 amount=0xff pending_id=9
	   user_data_128=1_000_000 user_data_64=5 user_data_32=6 timeout=60 ledger=700 code=10
	   flags=linked | pending | post_pending_transfer | void_pending_transfer | balancing_debit
	   timestamp=99,
	 id=3 flags=balancing_credit|closing_debit|closing_credit|imported amount=max;`,
	"lookup_accounts id=1, id=2;",
	"lookup_transfers id=1;",
	"lookup_accounts;",
	"get_account_transfers account_id=1 flags=debits|credits;",
	`get_account_transfers account_id=7 user_data_128=1 user_data_64=2 user_data_32=3 code=4
	   timestamp_min=5 timestamp_max=6 limit=7 flags=debits|reversed;`,
	"get_account_balances account_id=1 flags=credits limit=3;",
	"query_accounts ledger=700 limit=10;",
	`query_accounts user_data_128=1 user_data_64=2 user_data_32=3 ledger=4 code=5
	   timestamp_min=6 timestamp_max=7 limit=8 flags=reversed;`,
	"query_transfers ledger=700 limit=10;",
	"query_transfers;",
}

func TestRoundTrip(t *testing.T) {
	for _, src := range roundTrips {
		s, err := ParseOne(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		text := s.String()
		again, err := ParseOne(text)
		if err != nil {
			t.Fatalf("%s: printed as %q, which does not parse: %v", src, text, err)
		}
		if !reflect.DeepEqual(normal(s), normal(again)) {
			t.Errorf("%s: printed as %q, read back as %+v, want %+v", src, text, again, s)
		}
		if again.String() != text {
			t.Errorf("%s: printing is not stable: %q then %q", src, text, again.String())
		}
		op, body := s.Encode()
		if got := ledger.NewMachine(messageSizeMax, ledger.Bugs{}).Check(op, ledger.EncodeBatch(uint8(op), body)); got != 0 {
			t.Errorf("%s: the ledger refuses the encoding: eviction %d", src, got)
		}
		decoded, err := Decode(op, body)
		if err != nil {
			t.Fatalf("%s: decode: %v", src, err)
		}
		if !reflect.DeepEqual(normal(decoded), normal(s)) {
			t.Errorf("%s: decoded %+v, want %+v", src, decoded, s)
		}
	}
}

// normal treats an empty list and no list alike.
func normal(s Statement) Statement {
	if len(s.Accounts) == 0 {
		s.Accounts = nil
	}
	if len(s.Transfers) == 0 {
		s.Transfers = nil
	}
	if len(s.IDs) == 0 {
		s.IDs = nil
	}
	return s
}

func TestParseValues(t *testing.T) {
	s, err := ParseOne(roundTrips[3])
	if err != nil {
		t.Fatal(err)
	}
	if s.Operation != vsr.Operation(ledger.OpCreateTransfers) || len(s.Transfers) != 2 {
		t.Fatalf("got %+v", s)
	}
	a, b := s.Transfers[0], s.Transfers[1]
	want := ledger.Transfer{ID: u128.From64(2), DebitAccountID: u128.From64(1), CreditAccountID: u128.From64(2),
		Amount: u128.From64(255), PendingID: u128.From64(9), UserData128: u128.From64(1_000_000), UserData64: 5,
		UserData32: 6, Timeout: 60, Ledger: 700, Code: 10, Timestamp: 99,
		Flags: ledger.TransferLinked | ledger.TransferPending | ledger.TransferPostPending |
			ledger.TransferVoidPending | ledger.TransferBalancingDebit}
	if a != want {
		t.Errorf("first transfer %+v, want %+v", a, want)
	}
	if b.Amount != u128.Max || b.Flags != ledger.TransferBalancingCredit|ledger.TransferClosingDebit|
		ledger.TransferClosingCredit|ledger.TransferImported {
		t.Errorf("second transfer %+v", b)
	}
	// The wire bytes are the ledger's layout: amount at 48, flags at 118.
	_, body := s.Encode()
	if body[48] != 0xff || body[118] != 0x1f || len(body) != 2*ledger.TransferSize {
		t.Errorf("encoding: amount byte %#x, flags byte %#x, %d bytes", body[48], body[118], len(body))
	}

	f, err := ParseOne("get_account_transfers account_id=1;")
	if err != nil {
		t.Fatal(err)
	}
	if f.AccountFilter.Limit != uint32(BatchMax) || f.AccountFilter.Flags != ledger.FilterDebits|ledger.FilterCredits {
		t.Errorf("defaults: limit %d flags %b", f.AccountFilter.Limit, f.AccountFilter.Flags)
	}
	q, err := ParseOne("query_transfers limit=0 flags=reversed;")
	if err != nil {
		t.Fatal(err)
	}
	if q.QueryFilter.Limit != 0 || q.QueryFilter.Flags != ledger.QueryReversed {
		t.Errorf("explicit limit 0 and reversed: %+v", q.QueryFilter)
	}
	all, err := Parse("lookup_accounts id=1; # a comment; with a semicolon\n;; lookup_transfers id=2")
	if err != nil || len(all) != 2 || all[1].IDs[0] != u128.From64(2) {
		t.Errorf("two statements, a comment, empty statements and no final ';': %+v, %v", all, err)
	}
}

func TestNumbers(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 10_000; i++ {
		v := u128.U128{Lo: rng.Uint64(), Hi: rng.Uint64() >> rng.UintN(65)}
		if i%3 == 0 {
			v.Hi = 0
		}
		want := new(big.Int).Lsh(new(big.Int).SetUint64(v.Hi), 64)
		want.Or(want, new(big.Int).SetUint64(v.Lo))
		s := formatU128(v)
		if s != want.String() {
			t.Fatalf("format %v: %s, want %s", v, s, want)
		}
		back, err := parseU128(s)
		if err != nil || back != v {
			t.Fatalf("parse %s: %v %v", s, back, err)
		}
		back, err = parseU128("0x" + want.Text(16))
		if err != nil || back != v {
			t.Fatalf("parse hex %s: %v %v", want.Text(16), back, err)
		}
	}
	for _, bad := range []string{"", "-1", "1.5", "0x", "_", "12a", "0xg"} {
		if _, err := parseU128(bad); !errors.Is(err, errNotNumber) {
			t.Errorf("parse %q: %v, want not a number", bad, err)
		}
	}
	if _, err := parseU128("340282366920938463463374607431768211456"); !errors.Is(err, errRange) {
		t.Errorf("2^128: %v, want out of range", err)
	}
	if _, err := parseU128("0x1" + strings.Repeat("0", 32)); !errors.Is(err, errRange) {
		t.Errorf("hex 2^128: %v, want out of range", err)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{"create_accounts id=1 ledgr=700 code=10;",
			`create_accounts: field "ledgr" unknown, did you mean "ledger"? (line 1, column 22)`},
		{"create_transfers id=1 amount=ten;", `create_transfers: amount: "ten" is not a number (line 1, column 30)`},
		{"create_transfers id=1\n  amount=-5;", `create_transfers: amount: "-5" is not a number (line 2, column 10)`},
		{"create_accounts id=1 code=65536;", `create_accounts: code: 65536 is out of range (max 65535)`},
		{"create_accounts id=1 ledger=4294967296;", `create_accounts: ledger: 4294967296 is out of range (max 4294967295)`},
		{"create_accounts id=1 flags=linked|histroy;", `create_accounts: flags: "histroy" is not a flag (one of linked,`},
		{"create_transfers id=1 flags=history;", `create_transfers: flags: "history" is not a flag`},
		{"create_accounts id=1 id=2;", `create_accounts: field "id" given twice`},
		{"create_accounts id 1;", `create_accounts: id: expected "=" after the field, found "1"`},
		{"create_accounts id=;", `create_accounts: id: expected a value, found ";"`},
		{"create_accounts id=1,;", `create_accounts: expected a field, found ";"`},
		{"create_accounts id=1 amount=1|2;", `create_accounts: field "amount" unknown`},
		{"create_transfers id=1 amount=1|2;", `create_transfers: amount: takes one number, not flags joined by "|"`},
		{"create_acounts id=1;", `"create_acounts" is not an operation (one of create_accounts, create_transfers,`},
		{"lookup_accounts id=1 ledger=700;", `lookup_accounts: field "ledger" unknown`},
		{"lookup_accounts id=1, id=2 = 3;", `lookup_accounts: expected a field, found "="`},
		{"get_account_transfers account_id=1, account_id=2;", `get_account_transfers: takes one filter, found 2 (line 1, column 37)`},
		{"get_account_balances limit=5;", `get_account_balances: field "account_id" is required`},
		{"query_transfers ledger=700 reversed=1;", `query_transfers: field "reversed" unknown`},
		{"query_accounts flags=debits;", `query_accounts: flags: "debits" is not a flag (one of reversed)`},
		{"= 5;", `expected an operation, found "=" (line 1, column 1)`},
	}
	for _, c := range cases {
		_, err := Parse(c.src)
		if err == nil {
			t.Errorf("%q: no error, want %q", c.src, c.want)
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%q: %T, want a *ParseError", c.src, err)
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %q\nwant %q", c.src, err, c.want)
		}
	}
}

func TestBatchLimit(t *testing.T) {
	src := "lookup_accounts " + strings.Repeat("id=1, ", BatchMax) + "id=1;"
	_, err := Parse(src)
	if err == nil || !strings.Contains(err.Error(), "8190 records exceed the batch limit of 8189") {
		t.Errorf("got %v", err)
	}
	if _, err := Parse("lookup_accounts " + strings.Repeat("id=1, ", BatchMax-1) + "id=1;"); err != nil {
		t.Errorf("a full batch: %v", err)
	}
}

func TestFormatReply(t *testing.T) {
	res := make([]byte, 2*ledger.ResultSize)
	le := func(b []byte, v uint64, n int) {
		for i := 0; i < n; i++ {
			b[i] = byte(v >> (8 * i))
		}
	}
	le(res[0:], 17, 8)
	le(res[8:], uint64(ledger.StatusCreated), 4)
	le(res[16:], 18, 8)
	le(res[24:], uint64(ledger.TransferExceedsCredits), 4)
	got, err := FormatReply(vsr.Operation(ledger.OpCreateTransfers), res)
	want := "{ index=0 status=created timestamp=17 }\n{ index=1 status=exceeds_credits timestamp=18 }\n"
	if err != nil || got != want {
		t.Errorf("create results: %q %v, want %q", got, err, want)
	}
	a := ledger.Account{ID: u128.From64(1), DebitsPosted: u128.From64(10), Ledger: 700, Code: 10,
		Flags: ledger.AccountHistory | 1<<12, Timestamp: 5}
	body := make([]byte, ledger.AccountSize)
	a.Encode(body)
	got, err = FormatReply(vsr.Operation(ledger.OpLookupAccounts), body)
	want = "{ id=1 debits_pending=0 debits_posted=10 credits_pending=0 credits_posted=0 user_data_128=0" +
		" user_data_64=0 user_data_32=0 reserved=0 ledger=700 code=10 flags=history|0x1000 timestamp=5 }\n"
	if err != nil || got != want {
		t.Errorf("account:\n got %q\nwant %q (%v)", got, want, err)
	}
	// The printed account reads back as a create_accounts record, unknown
	// flag bits included.
	back, err := ParseOne("create_accounts " + strings.Trim(strings.TrimSpace(got), "{} ") + ";")
	if err != nil || back.Accounts[0] != a {
		t.Errorf("printed account read back as %+v, %v", back.Accounts, err)
	}
	if got, _ := FormatReply(vsr.Operation(ledger.OpQueryTransfers), nil); got != "no transfers\n" {
		t.Errorf("empty: %q", got)
	}
	if _, err := FormatReply(vsr.Operation(ledger.OpLookupTransfers), make([]byte, 100)); err == nil {
		t.Error("a torn reply formats without error")
	}
}
