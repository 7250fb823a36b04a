package ledger

import (
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"viewstamp/replica/u128"
)

// The conformance vectors describe TigerBeetle 0.17's behaviour as data; see
// testdata/conformance/README.md for the format. LEDGER_CONFORMANCE points the
// runner at another directory of vectors.

type scenario struct {
	Name   string                       `json:"name"`
	Source string                       `json:"source"`
	Steps  []map[string]json.RawMessage `json:"steps"`
}

func conformanceDir() string {
	if d := os.Getenv("LEDGER_CONFORMANCE"); d != "" {
		return d
	}
	return filepath.Join("testdata", "conformance")
}

func loadScenarios(t *testing.T, dir string) map[string][]scenario {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no conformance vectors in %s (err %v)", dir, err)
	}
	out := map[string][]scenario{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var list []scenario
		if strings.HasPrefix(strings.TrimSpace(string(raw)), "[") {
			err = json.Unmarshal(raw, &list)
		} else {
			var s scenario
			err = json.Unmarshal(raw, &s)
			list = []scenario{s}
		}
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = list
	}
	return out
}

// TestConformance runs every scenario against a fresh ledger.
func TestConformance(t *testing.T) {
	runConformance(t, conformanceDir(), nil, nil)
}

// TestEveryStatusReachable holds the vectors in the repo to covering every
// create status: each one is produced by the ledger at least once, so no
// check can silently become dead code.
func TestEveryStatusReachable(t *testing.T) {
	seenA, seenT := map[uint32]bool{}, map[uint32]bool{}
	runConformance(t, filepath.Join("testdata", "conformance"), seenA, seenT)
	for _, s := range AccountStatuses() {
		if !seenA[s] {
			t.Errorf("create_accounts status %s is never produced", AccountStatusName(s))
		}
	}
	for _, s := range TransferStatuses() {
		if !seenT[s] {
			t.Errorf("create_transfers status %s is never produced", TransferStatusName(s))
		}
	}
}

func runConformance(t *testing.T, dir string, seenA, seenT map[uint32]bool) {
	runConformanceOn(t, dir, seenA, seenT, false)
}

// runConformanceOn runs the vectors on the in-memory ledger, or on the
// forest machine when forest is set.
func runConformanceOn(t *testing.T, dir string, seenA, seenT map[uint32]bool, forest bool) {
	scenarios := loadScenarios(t, dir)
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, file := range names {
		for i, sc := range scenarios[file] {
			t.Run(fmt.Sprintf("%s/%d", strings.TrimSuffix(file, ".json"), i), func(t *testing.T) {
				r := newRunner()
				if forest {
					// The simulator's block size, so a smaller batch.
					r.l = New(Config{BatchMax: forestConformanceBatch})
					r.f = newForestDriver(t, forestConformanceBatch, 0)
				}
				if seenA != nil {
					r.seenA, r.seenT = seenA, seenT
				}
				for k, step := range sc.Steps {
					if err := r.step(step); err != nil {
						t.Fatalf("%s\nstep %d (%s): %v", sc.Name, k, str(step["op"]), err)
					}
				}
			})
		}
	}
}

// TestConformanceVectorsMatchShared keeps the copy in the repo equal to the
// team's shared vectors when those are present (they are not in CI).
func TestConformanceVectorsMatchShared(t *testing.T) {
	shared := filepath.Join("..", "..", "..", "shared", "conformance", "ledger")
	if _, err := os.Stat(shared); err != nil {
		t.Skip("shared vectors not present")
	}
	files, _ := filepath.Glob(filepath.Join(shared, "*"))
	for _, f := range files {
		want, _ := os.ReadFile(f)
		got, err := os.ReadFile(filepath.Join("testdata", "conformance", filepath.Base(f)))
		if err != nil || string(got) != string(want) {
			t.Errorf("testdata/conformance/%s differs from %s: copy it again", filepath.Base(f), f)
		}
	}
}

type runner struct {
	l *Ledger
	// f, when set, runs the vectors on the forest machine instead of l.
	f      *forestDriver
	clock  uint64 // the cluster's realtime, frozen between steps
	lastTS uint64
	seenA  map[uint32]bool
	seenT  map[uint32]bool
}

func newRunner() *runner {
	return &runner{l: New(Config{BatchMax: 8189}), clock: 1_700_000_000_000_000_000,
		seenA: map[uint32]bool{}, seenT: map[uint32]bool{}}
}

// timestamp assigns the next op's timestamp as a TigerBeetle primary does.
func (r *runner) timestamp(events int) uint64 {
	r.lastTS = max(r.lastTS+1, r.clock) + uint64(events)
	return r.lastTS
}

func (r *runner) exec(op uint8, body []byte, events int) []byte {
	if v := r.l.Validate(op, body); v != Valid {
		panic("runner built an invalid request: " + v.String())
	}
	return r.execute(op, r.timestamp(events), body)
}

func (r *runner) execute(op uint8, ts uint64, body []byte) []byte {
	if r.f != nil {
		return r.f.execute(op, ts, body)
	}
	return r.l.Execute(op, ts, body)
}

func (r *runner) pulseDue(ts uint64) bool {
	if r.f != nil {
		return r.f.m.PulseDue(ts)
	}
	return r.l.PulseDue(ts)
}

// objectTS is the timestamp of the account or transfer with id.
func (r *runner) objectTS(transfer bool, id u128.U128) (uint64, bool) {
	if r.f != nil {
		return r.f.objectTimestamp(transfer, id)
	}
	if transfer {
		pos, ok := r.l.s.transfer(id)
		if !ok {
			return 0, false
		}
		return r.l.s.transfers.at(pos).Timestamp, true
	}
	pos, ok := r.l.s.account(id)
	if !ok {
		return 0, false
	}
	return r.l.s.accounts.at(pos).Timestamp, true
}

func str(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

// num decodes a vector value: a decimal string, "max" (all ones of width
// bits), or a JSON number; absent is zero.
func num(m map[string]json.RawMessage, key string, width int) u128.U128 {
	raw, ok := m[key]
	if !ok {
		return u128.U128{}
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(raw)
	}
	if s == "max" {
		if width == 128 {
			return u128Max
		}
		return u128.U128{Lo: 1<<width - 1}
	}
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(fmt.Sprintf("bad number %q for %s", s, key))
	}
	lo := new(big.Int).And(b, new(big.Int).SetUint64(^uint64(0)))
	hi := new(big.Int).Rsh(b, 64)
	return u128.U128{Lo: lo.Uint64(), Hi: hi.Uint64()}
}

func n64(m map[string]json.RawMessage, key string, width int) uint64 { return num(m, key, width).Lo }

var accountFlagNames = []string{"linked", "debits_must_not_exceed_credits", "credits_must_not_exceed_debits", "history", "imported", "closed"}
var transferFlagNames = []string{"linked", "pending", "post_pending_transfer", "void_pending_transfer", "balancing_debit", "balancing_credit", "closing_debit", "closing_credit", "imported"}
var filterFlagNames = []string{"debits", "credits", "reversed"}

func flags(m map[string]json.RawMessage, names []string) uint32 {
	var list []string
	if raw, ok := m["flags"]; ok {
		if err := json.Unmarshal(raw, &list); err != nil {
			panic(err)
		}
	}
	var f uint32
	for _, n := range list {
		i := indexOf(names, n)
		if i < 0 {
			panic("unknown flag " + n)
		}
		f |= 1 << i
	}
	return f | uint32(n64(m, "flags_padding", 32))<<len(names)
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

func objects(raw json.RawMessage) []map[string]json.RawMessage {
	var out []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &out); err != nil {
		panic(err)
	}
	return out
}

func strings_(raw json.RawMessage) []string {
	var out []string
	if err := json.Unmarshal(raw, &out); err != nil {
		panic(err)
	}
	return out
}

func vectorAccount(m map[string]json.RawMessage) Account {
	return Account{
		ID: num(m, "id", 128), DebitsPending: num(m, "debits_pending", 128), DebitsPosted: num(m, "debits_posted", 128),
		CreditsPending: num(m, "credits_pending", 128), CreditsPosted: num(m, "credits_posted", 128),
		UserData128: num(m, "user_data_128", 128), UserData64: n64(m, "user_data_64", 64),
		UserData32: uint32(n64(m, "user_data_32", 32)), Reserved: uint32(n64(m, "reserved", 32)),
		Ledger: uint32(n64(m, "ledger", 32)), Code: uint16(n64(m, "code", 16)),
		Flags: uint16(flags(m, accountFlagNames)), Timestamp: n64(m, "timestamp", 64),
	}
}

func vectorTransfer(m map[string]json.RawMessage) Transfer {
	return Transfer{
		ID: num(m, "id", 128), DebitAccountID: num(m, "debit_account_id", 128), CreditAccountID: num(m, "credit_account_id", 128),
		Amount: num(m, "amount", 128), PendingID: num(m, "pending_id", 128), UserData128: num(m, "user_data_128", 128),
		UserData64: n64(m, "user_data_64", 64), UserData32: uint32(n64(m, "user_data_32", 32)),
		Timeout: uint32(n64(m, "timeout", 32)), Ledger: uint32(n64(m, "ledger", 32)), Code: uint16(n64(m, "code", 16)),
		Flags: uint16(flags(m, transferFlagNames)), Timestamp: n64(m, "timestamp", 64),
	}
}

func (r *runner) transferTS(m map[string]json.RawMessage, key string) uint64 {
	if _, ok := m[key]; !ok {
		return 0
	}
	ts, ok := r.objectTS(true, num(m, key, 128))
	if !ok {
		panic("filter names a transfer that does not exist: " + key)
	}
	return ts
}

func (r *runner) accountTS(m map[string]json.RawMessage, key string) uint64 {
	if _, ok := m[key]; !ok {
		return 0
	}
	ts, ok := r.objectTS(false, num(m, key, 128))
	if !ok {
		panic("filter names an account that does not exist: " + key)
	}
	return ts
}

func (r *runner) step(step map[string]json.RawMessage) (err error) {
	op := str(step["op"])
	switch op {
	case "create_accounts", "create_transfers":
		events := objects(step["events"])
		body := make([]byte, len(events)*AccountSize)
		for i, e := range events {
			if op == "create_accounts" {
				a := vectorAccount(e)
				a.Encode(body[i*AccountSize:])
			} else {
				t := vectorTransfer(e)
				t.Encode(body[i*TransferSize:])
			}
		}
		code := OpCreateAccounts
		name, seen := AccountStatusName, r.seenA
		if op == "create_transfers" {
			code, name, seen = OpCreateTransfers, TransferStatusName, r.seenT
		}
		reply := r.exec(code, body, len(events))
		want := strings_(step["results"])
		if len(reply) != len(want)*ResultSize {
			return fmt.Errorf("reply has %d results, want %d", len(reply)/ResultSize, len(want))
		}
		var got []string
		for i := range want {
			res := DecodeResult(reply[i*ResultSize:])
			got = append(got, name(res.Status))
			seen[res.Status] = true
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			return fmt.Errorf("results\n got %v\nwant %v", got, want)
		}
	case "lookup_accounts", "lookup_transfers":
		ids := strings_(step["ids"])
		body := make([]byte, len(ids)*IDSize)
		for i := range ids {
			putU128(body[i*IDSize:], num(map[string]json.RawMessage{"x": json.RawMessage(fmt.Sprintf("%q", ids[i]))}, "x", 128))
		}
		code := OpLookupAccounts
		if op == "lookup_transfers" {
			code = OpLookupTransfers
		}
		reply := r.exec(code, body, 0)
		expect := objects(step["expect"])
		if len(reply) != len(expect)*AccountSize {
			return fmt.Errorf("found %d objects, want %d", len(reply)/AccountSize, len(expect))
		}
		for i, e := range expect {
			if op == "lookup_accounts" {
				if err := compareAccount(DecodeAccount(reply[i*AccountSize:]), e); err != nil {
					return fmt.Errorf("object %d: %v", i, err)
				}
			} else if err := compareTransfer(DecodeTransfer(reply[i*TransferSize:]), e); err != nil {
				return fmt.Errorf("object %d: %v", i, err)
			}
		}
	case "get_account_transfers", "get_account_balances":
		var fm map[string]json.RawMessage
		_ = json.Unmarshal(step["filter"], &fm)
		f := AccountFilter{
			AccountID: num(fm, "account_id", 128), UserData128: num(fm, "user_data_128", 128),
			UserData64: n64(fm, "user_data_64", 64), UserData32: uint32(n64(fm, "user_data_32", 32)),
			Code: uint16(n64(fm, "code", 16)), TimestampMin: n64(fm, "timestamp_min", 64), TimestampMax: n64(fm, "timestamp_max", 64),
			Limit: uint32(n64(fm, "limit", 32)), Flags: flags(fm, filterFlagNames),
		}
		if ts := r.transferTS(fm, "timestamp_min_of_transfer"); ts != 0 {
			f.TimestampMin = ts
		}
		if ts := r.transferTS(fm, "timestamp_max_of_transfer"); ts != 0 {
			f.TimestampMax = ts
		}
		body := make([]byte, AccountFilterSize)
		f.Encode(body)
		if op == "get_account_transfers" {
			reply := r.exec(OpGetAccountTransfers, body, 0)
			return compareIDs(reply, TransferSize, strings_(step["expect_ids"]), func(b []byte) u128.U128 { return getU128(b) })
		}
		reply := r.exec(OpGetAccountBalances, body, 0)
		ids := strings_(step["expect_ids"])
		balances := objects(step["expect_balances"])
		if len(reply) != len(ids)*BalanceSize || len(balances) != len(ids) {
			return fmt.Errorf("got %d balances, want %d", len(reply)/BalanceSize, len(ids))
		}
		for i, id := range ids {
			b := DecodeBalance(reply[i*BalanceSize:])
			want := r.transferTS(map[string]json.RawMessage{"x": json.RawMessage(fmt.Sprintf("%q", id))}, "x")
			if b.Timestamp != want {
				return fmt.Errorf("balance %d carries timestamp %d, want transfer %s's %d", i, b.Timestamp, id, want)
			}
			e := balances[i]
			got := []u128.U128{b.DebitsPending, b.DebitsPosted, b.CreditsPending, b.CreditsPosted}
			for j, k := range []string{"debits_pending", "debits_posted", "credits_pending", "credits_posted"} {
				if got[j] != num(e, k, 128) {
					return fmt.Errorf("balance %d %s = %v, want %v", i, k, toBig(got[j]), toBig(num(e, k, 128)))
				}
			}
		}
	case "query_accounts", "query_transfers":
		var fm map[string]json.RawMessage
		_ = json.Unmarshal(step["filter"], &fm)
		f := QueryFilter{
			UserData128: num(fm, "user_data_128", 128), UserData64: n64(fm, "user_data_64", 64),
			UserData32: uint32(n64(fm, "user_data_32", 32)), Ledger: uint32(n64(fm, "ledger", 32)),
			Code: uint16(n64(fm, "code", 16)), TimestampMin: n64(fm, "timestamp_min", 64), TimestampMax: n64(fm, "timestamp_max", 64),
			Limit: uint32(n64(fm, "limit", 32)), Flags: flags(fm, []string{"reversed"}),
		}
		code := OpQueryAccounts
		lookup := r.accountTS
		if op == "query_transfers" {
			code, lookup = OpQueryTransfers, r.transferTS
		}
		kind := strings.TrimSuffix(strings.TrimPrefix(op, "query_"), "s")
		if ts := lookup(fm, "timestamp_min_of_"+kind); ts != 0 {
			f.TimestampMin = ts
		}
		if ts := lookup(fm, "timestamp_max_of_"+kind); ts != 0 {
			f.TimestampMax = ts
		}
		body := make([]byte, QueryFilterSize)
		f.Encode(body)
		reply := r.exec(code, body, 0)
		return compareIDs(reply, AccountSize, strings_(step["expect_ids"]), func(b []byte) u128.U128 { return getU128(b) })
	case "advance_time":
		var secs uint64
		_ = json.Unmarshal(step["seconds"], &secs)
		r.clock = max(r.clock, r.lastTS) + secs*1e9
		if r.pulseDue(max(r.lastTS+1, r.clock)) {
			r.execute(OpPulse, r.timestamp(0), nil)
		}
	case "set_clock":
		r.clock = n64(step, "timestamp", 64)
		r.lastTS = r.clock
	case "set_account_balances":
		set := r.l.SetBalances
		if r.f != nil {
			set = r.f.setBalances
		}
		if !set(num(step, "id", 128), num(step, "debits_pending", 128), num(step, "debits_posted", 128),
			num(step, "credits_pending", 128), num(step, "credits_posted", 128)) {
			return fmt.Errorf("set_account_balances: no such account")
		}
	default:
		return fmt.Errorf("unknown step %q", op)
	}
	return nil
}

func toBig(v u128.U128) *big.Int {
	b := new(big.Int).SetUint64(v.Hi)
	return b.Lsh(b, 64).Or(b, new(big.Int).SetUint64(v.Lo))
}

func compareIDs(reply []byte, size int, want []string, id func([]byte) u128.U128) error {
	var got []string
	for i := 0; i+size <= len(reply); i += size {
		got = append(got, toBig(id(reply[i:])).String())
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		return fmt.Errorf("ids\n got %v\nwant %v", got, want)
	}
	return nil
}

type field struct {
	name  string
	width int
	got   u128.U128
}

func compareFields(m map[string]json.RawMessage, fs []field, gotFlags uint32, names []string) error {
	for _, f := range fs {
		if _, ok := m[f.name]; ok && num(m, f.name, f.width) != f.got {
			return fmt.Errorf("%s = %v, want %v", f.name, toBig(f.got), toBig(num(m, f.name, f.width)))
		}
	}
	if _, ok := m["flags"]; ok && flags(m, names) != gotFlags {
		return fmt.Errorf("flags = %b, want %b", gotFlags, flags(m, names))
	}
	return nil
}

func compareAccount(a Account, m map[string]json.RawMessage) error {
	return compareFields(m, []field{
		{"id", 128, a.ID}, {"debits_pending", 128, a.DebitsPending}, {"debits_posted", 128, a.DebitsPosted},
		{"credits_pending", 128, a.CreditsPending}, {"credits_posted", 128, a.CreditsPosted},
		{"user_data_128", 128, a.UserData128}, {"user_data_64", 64, u128.From64(a.UserData64)},
		{"user_data_32", 32, u128.From64(uint64(a.UserData32))}, {"reserved", 32, u128.From64(uint64(a.Reserved))},
		{"ledger", 32, u128.From64(uint64(a.Ledger))}, {"code", 16, u128.From64(uint64(a.Code))},
		{"timestamp", 64, u128.From64(a.Timestamp)},
	}, uint32(a.Flags), accountFlagNames)
}

func compareTransfer(t Transfer, m map[string]json.RawMessage) error {
	return compareFields(m, []field{
		{"id", 128, t.ID}, {"debit_account_id", 128, t.DebitAccountID}, {"credit_account_id", 128, t.CreditAccountID},
		{"amount", 128, t.Amount}, {"pending_id", 128, t.PendingID}, {"user_data_128", 128, t.UserData128},
		{"user_data_64", 64, u128.From64(t.UserData64)}, {"user_data_32", 32, u128.From64(uint64(t.UserData32))},
		{"timeout", 32, u128.From64(uint64(t.Timeout))}, {"ledger", 32, u128.From64(uint64(t.Ledger))},
		{"code", 16, u128.From64(uint64(t.Code))}, {"timestamp", 64, u128.From64(t.Timestamp)},
	}, uint32(t.Flags), transferFlagNames)
}
