package workload

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The vectors live once in the repo, beside the ledger that must also pass
// them; LEDGER_CONFORMANCE points at another copy.
func conformanceDir() string {
	if d := os.Getenv("LEDGER_CONFORMANCE"); d != "" {
		return d
	}
	return filepath.Join("..", "replica", "ledger", "testdata", "conformance")
}

// TestAuditorConformance runs every conformance scenario with the auditor's
// model as the ledger: this is what shows the auditor's predictions are
// TigerBeetle's.
func TestAuditorConformance(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(conformanceDir(), "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no conformance vectors in %s (%v)", conformanceDir(), err)
	}
	scenarios := 0
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var list []scenario
		raw = bytes.TrimSpace(raw)
		if len(raw) > 0 && raw[0] == '[' {
			err = decodeJSON(raw, &list)
		} else {
			var s scenario
			err = decodeJSON(raw, &s)
			list = []scenario{s}
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for i, s := range list {
			scenarios++
			t.Run(fmt.Sprintf("%s/%d", strings.TrimSuffix(filepath.Base(file), ".json"), i), func(t *testing.T) {
				runScenario(t, s)
			})
		}
	}
	t.Logf("%d scenarios from %d files in %s", scenarios, len(files), conformanceDir())
}

type scenario struct {
	Name  string           `json:"name"`
	Steps []map[string]any `json:"steps"`
}

func decodeJSON(raw []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	return d.Decode(v)
}

// driver plays the cluster around the model with the vectors' time model.
type driver struct {
	t    *testing.T
	a    *Auditor
	now  uint64 // the clock
	last uint64 // the latest prepare timestamp
}

func (d *driver) current() uint64 { return max(d.now, d.last) }

func (d *driver) request(operation uint8, body []byte, events int) []byte {
	d.t.Helper()
	ts := d.current() + 1 + uint64(events)
	d.last = ts
	reply, err := d.a.ApplyBatch(ts, operation, body)
	if err != nil {
		d.t.Fatal(err)
	}
	return reply
}

func runScenario(t *testing.T, s scenario) {
	// An arbitrary present-day realtime, as the vectors allow.
	d := &driver{t: t, a: NewAuditor(0), now: 1_750_000_000 * nsPerSecond}
	for k, step := range s.Steps {
		op, _ := step["op"].(string)
		where := fmt.Sprintf("%q step %d (%s)", s.Name, k, op)
		switch op {
		case "set_clock":
			d.now = num64(step["timestamp"])
			if d.now < d.last {
				t.Fatalf("%s: clock moves back", where)
			}
		case "advance_time":
			d.now = d.current() + num64(step["seconds"])*nsPerSecond
			// The cluster expires pending transfers as soon as they are due.
			d.request(OpPulse, nil, 0)
		case "set_account_balances":
			b := balances{num128(step["debits_pending"]), num128(step["debits_posted"]),
				num128(step["credits_pending"]), num128(step["credits_posted"])}
			if !d.a.setAccountBalances(num128(step["id"]), b) {
				t.Fatalf("%s: no such account", where)
			}
		case "create_accounts", "create_transfers":
			events := step["events"].([]any)
			body := make([]byte, len(events)*EventSize)
			operation := OpCreateAccounts
			for i, e := range events {
				if op == "create_accounts" {
					a := accountOf(e.(map[string]any))
					EncodeAccount(body[i*EventSize:], &a)
				} else {
					operation = OpCreateTransfers
					tr := transferOf(e.(map[string]any))
					EncodeTransfer(body[i*EventSize:], &tr)
				}
			}
			reply := d.request(operation, body, len(events))
			var got []string
			for i := 0; i < len(reply); i += CreateResultSize {
				got = append(got, StatusName(operation, DecodeCreateResult(reply[i:]).Status))
			}
			want := strs(step["results"])
			if !slices.Equal(got, want) {
				t.Fatalf("%s: results\n got %v\nwant %v", where, got, want)
			}
		case "lookup_accounts", "lookup_transfers":
			ids := step["ids"].([]any)
			body := make([]byte, len(ids)*IDSize)
			for i, id := range ids {
				num128(id).Put(body[i*IDSize:])
			}
			operation := OpLookupAccounts
			fields := accountFields
			if op == "lookup_transfers" {
				operation, fields = OpLookupTransfers, transferFields
			}
			reply := d.request(operation, body, 0)
			expect := step["expect"].([]any)
			if len(reply) != len(expect)*EventSize {
				t.Fatalf("%s: %d objects, want %d", where, len(reply)/EventSize, len(expect))
			}
			for i, e := range expect {
				checkObject(t, where, i, fields(reply[i*EventSize:]), e.(map[string]any), op == "lookup_accounts")
			}
		case "get_account_transfers", "get_account_balances":
			f := d.accountFilter(step["filter"].(map[string]any))
			body := make([]byte, EventSize)
			EncodeAccountFilter(body, &f)
			if op == "get_account_transfers" {
				reply := d.request(OpGetAccountTransfers, body, 0)
				d.checkIDs(where, reply, step["expect_ids"])
				break
			}
			reply := d.request(OpGetAccountBalances, body, 0)
			ids := step["expect_ids"].([]any)
			bals := step["expect_balances"].([]any)
			if len(reply) != len(ids)*EventSize || len(bals) != len(ids) {
				t.Fatalf("%s: %d balances, want %d", where, len(reply)/EventSize, len(ids))
			}
			for i := range ids {
				r := DecodeAccountBalance(reply[i*EventSize:])
				if want := d.transferTimestamp(ids[i]); r.Timestamp != want {
					t.Fatalf("%s: balance %d has timestamp %d, want transfer %v's %d", where, i, r.Timestamp, ids[i], want)
				}
				checkObject(t, where, i, balanceFields(reply[i*EventSize:]), bals[i].(map[string]any), false)
			}
		case "query_accounts", "query_transfers":
			f := d.queryFilter(step["filter"].(map[string]any))
			body := make([]byte, QueryFilterSize)
			EncodeQueryFilter(body, &f)
			operation := OpQueryAccounts
			if op == "query_transfers" {
				operation = OpQueryTransfers
			}
			d.checkIDs(where, d.request(operation, body, 0), step["expect_ids"])
		default:
			t.Fatalf("%s: unknown step", where)
		}
	}
}

func (d *driver) checkIDs(where string, reply []byte, expect any) {
	d.t.Helper()
	var got, want []string
	for i := 0; i+EventSize <= len(reply); i += EventSize {
		got = append(got, dec(getU128(reply[i:])))
	}
	for _, id := range expect.([]any) {
		want = append(want, dec(num128(id)))
	}
	if !slices.Equal(got, want) {
		d.t.Fatalf("%s: ids\n got %v\nwant %v", where, got, want)
	}
}

func (d *driver) transferTimestamp(id any) uint64 {
	t, ok := d.a.m.transfers[num128(id)]
	if !ok {
		d.t.Fatalf("no transfer %v", id)
	}
	return t.Timestamp
}

func (d *driver) accountTimestamp(id any) uint64 {
	a, ok := d.a.m.accounts[num128(id)]
	if !ok {
		d.t.Fatalf("no account %v", id)
	}
	return a.Timestamp
}

// checkObject compares the fields an expected object names; flags are the
// exact set. Cluster-assigned timestamps are never asserted by the vectors.
func checkObject(t *testing.T, where string, i int, got []field, want map[string]any, account bool) {
	t.Helper()
	for _, f := range got {
		w, ok := want[f.name]
		if !ok {
			continue
		}
		var ws string
		switch f.name {
		case "flags":
			names := accountFlagNames
			if !account {
				names = transferFlagNames
			}
			ws = fmt.Sprintf("%#x", flagsOf(w, names))
		case "user_data_32", "reserved", "ledger", "code", "timeout":
			ws = uitoa(num64(w))
		case "timestamp", "user_data_64":
			ws = uitoa(num64(w))
		default:
			ws = dec(num128(w))
		}
		if ws != f.value {
			t.Fatalf("%s: object %d field %s = %s, want %s", where, i, f.name, f.value, ws)
		}
	}
}

var accountFlagNames = []string{"linked", "debits_must_not_exceed_credits", "credits_must_not_exceed_debits", "history", "imported", "closed"}

var transferFlagNames = []string{"linked", "pending", "post_pending_transfer", "void_pending_transfer",
	"balancing_debit", "balancing_credit", "closing_debit", "closing_credit", "imported"}

func flagsOf(v any, names []string) uint16 {
	var f uint16
	for _, n := range strs(v) {
		i := slices.Index(names, n)
		if i < 0 {
			panic("unknown flag " + n)
		}
		f |= 1 << i
	}
	return f
}

func accountOf(m map[string]any) Account {
	return Account{
		ID:             num128(m["id"]),
		DebitsPending:  num128(m["debits_pending"]),
		DebitsPosted:   num128(m["debits_posted"]),
		CreditsPending: num128(m["credits_pending"]),
		CreditsPosted:  num128(m["credits_posted"]),
		UserData128:    num128(m["user_data_128"]),
		UserData64:     num64(m["user_data_64"]),
		UserData32:     uint32(numW(m["user_data_32"], 32)),
		Reserved:       uint32(numW(m["reserved"], 32)),
		Ledger:         uint32(numW(m["ledger"], 32)),
		Code:           uint16(numW(m["code"], 16)),
		Flags:          flagsOf(m["flags"], accountFlagNames) | uint16(num64(m["flags_padding"]))<<6,
		Timestamp:      num64(m["timestamp"]),
	}
}

func transferOf(m map[string]any) Transfer {
	return Transfer{
		ID:              num128(m["id"]),
		DebitAccountID:  num128(m["debit_account_id"]),
		CreditAccountID: num128(m["credit_account_id"]),
		Amount:          num128(m["amount"]),
		PendingID:       num128(m["pending_id"]),
		UserData128:     num128(m["user_data_128"]),
		UserData64:      num64(m["user_data_64"]),
		UserData32:      uint32(numW(m["user_data_32"], 32)),
		Timeout:         uint32(numW(m["timeout"], 32)),
		Ledger:          uint32(numW(m["ledger"], 32)),
		Code:            uint16(numW(m["code"], 16)),
		Flags:           flagsOf(m["flags"], transferFlagNames) | uint16(num64(m["flags_padding"]))<<9,
		Timestamp:       num64(m["timestamp"]),
	}
}

var accountFilterFlagNames = []string{"debits", "credits", "reversed"}

func (d *driver) accountFilter(m map[string]any) AccountFilter {
	f := AccountFilter{
		AccountID:    num128(m["account_id"]),
		UserData128:  num128(m["user_data_128"]),
		UserData64:   num64(m["user_data_64"]),
		UserData32:   uint32(numW(m["user_data_32"], 32)),
		Code:         uint16(numW(m["code"], 16)),
		TimestampMin: num64(m["timestamp_min"]),
		TimestampMax: num64(m["timestamp_max"]),
		Limit:        uint32(numW(m["limit"], 32)),
		Flags:        uint32(flagsOf(m["flags"], accountFilterFlagNames)),
	}
	if id, ok := m["timestamp_min_of_transfer"]; ok {
		f.TimestampMin = d.transferTimestamp(id)
	}
	if id, ok := m["timestamp_max_of_transfer"]; ok {
		f.TimestampMax = d.transferTimestamp(id)
	}
	return f
}

func (d *driver) queryFilter(m map[string]any) QueryFilter {
	f := QueryFilter{
		UserData128:  num128(m["user_data_128"]),
		UserData64:   num64(m["user_data_64"]),
		UserData32:   uint32(numW(m["user_data_32"], 32)),
		Ledger:       uint32(numW(m["ledger"], 32)),
		Code:         uint16(numW(m["code"], 16)),
		TimestampMin: num64(m["timestamp_min"]),
		TimestampMax: num64(m["timestamp_max"]),
		Limit:        uint32(numW(m["limit"], 32)),
		Flags:        uint32(flagsOf(m["flags"], []string{"reversed"})),
	}
	for key, set := range map[string]*uint64{
		"timestamp_min_of_transfer": &f.TimestampMin, "timestamp_max_of_transfer": &f.TimestampMax,
	} {
		if id, ok := m[key]; ok {
			*set = d.transferTimestamp(id)
		}
	}
	for key, set := range map[string]*uint64{
		"timestamp_min_of_account": &f.TimestampMin, "timestamp_max_of_account": &f.TimestampMax,
	} {
		if id, ok := m[key]; ok {
			*set = d.accountTimestamp(id)
		}
	}
	return f
}

func strs(v any) []string {
	out := []string{}
	if v == nil {
		return out
	}
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

// bigOf reads a JSON integer, a decimal string, or "max" (all ones of width bits).
func bigOf(v any, width uint) *big.Int {
	var s string
	switch x := v.(type) {
	case nil:
		return new(big.Int)
	case json.Number:
		s = x.String()
	case string:
		s = x
	default:
		panic(fmt.Sprintf("not a number: %#v", v))
	}
	if s == "max" {
		n := new(big.Int).Lsh(big.NewInt(1), width)
		return n.Sub(n, big.NewInt(1))
	}
	n, ok := new(big.Int).SetString(s, 10)
	if !ok || n.Sign() < 0 || n.BitLen() > int(width) {
		panic(fmt.Sprintf("bad %d-bit number %q", width, s))
	}
	return n
}

func num128(v any) U128 {
	n := bigOf(v, 128)
	lo := new(big.Int).And(n, new(big.Int).SetUint64(^uint64(0))).Uint64()
	return U128{Lo: lo, Hi: new(big.Int).Rsh(n, 64).Uint64()}
}

func num64(v any) uint64 { return bigOf(v, 64).Uint64() }

func numW(v any, width uint) uint64 { return bigOf(v, width).Uint64() }
