package repl

import (
	"fmt"
	"strings"

	"viewstamp/replica/ledger"
	"viewstamp/replica/u128"
)

// A field is one named member of a record the REPL reads or prints. ref
// hands back a pointer to the member, so one table serves parsing (write
// through it) and formatting (read through it).
type field[T any] struct {
	name  string
	ref   func(*T) any // *u128.U128, *uint64, *uint32 or *uint16
	flags []string     // bit names, low bit first, for a flags member
}

var accountFlagNames = []string{"linked", "debits_must_not_exceed_credits", "credits_must_not_exceed_debits",
	"history", "imported", "closed"}

var transferFlagNames = []string{"linked", "pending", "post_pending_transfer", "void_pending_transfer",
	"balancing_debit", "balancing_credit", "closing_debit", "closing_credit", "imported"}

var accountFilterFlagNames = []string{"debits", "credits", "reversed"}

var queryFilterFlagNames = []string{"reversed"}

// The tables follow the records' wire order, which is also the order the
// REPL prints them in.
var accountFields = []field[ledger.Account]{
	{name: "id", ref: func(a *ledger.Account) any { return &a.ID }},
	{name: "debits_pending", ref: func(a *ledger.Account) any { return &a.DebitsPending }},
	{name: "debits_posted", ref: func(a *ledger.Account) any { return &a.DebitsPosted }},
	{name: "credits_pending", ref: func(a *ledger.Account) any { return &a.CreditsPending }},
	{name: "credits_posted", ref: func(a *ledger.Account) any { return &a.CreditsPosted }},
	{name: "user_data_128", ref: func(a *ledger.Account) any { return &a.UserData128 }},
	{name: "user_data_64", ref: func(a *ledger.Account) any { return &a.UserData64 }},
	{name: "user_data_32", ref: func(a *ledger.Account) any { return &a.UserData32 }},
	{name: "reserved", ref: func(a *ledger.Account) any { return &a.Reserved }},
	{name: "ledger", ref: func(a *ledger.Account) any { return &a.Ledger }},
	{name: "code", ref: func(a *ledger.Account) any { return &a.Code }},
	{name: "flags", ref: func(a *ledger.Account) any { return &a.Flags }, flags: accountFlagNames},
	{name: "timestamp", ref: func(a *ledger.Account) any { return &a.Timestamp }},
}

var transferFields = []field[ledger.Transfer]{
	{name: "id", ref: func(t *ledger.Transfer) any { return &t.ID }},
	{name: "debit_account_id", ref: func(t *ledger.Transfer) any { return &t.DebitAccountID }},
	{name: "credit_account_id", ref: func(t *ledger.Transfer) any { return &t.CreditAccountID }},
	{name: "amount", ref: func(t *ledger.Transfer) any { return &t.Amount }},
	{name: "pending_id", ref: func(t *ledger.Transfer) any { return &t.PendingID }},
	{name: "user_data_128", ref: func(t *ledger.Transfer) any { return &t.UserData128 }},
	{name: "user_data_64", ref: func(t *ledger.Transfer) any { return &t.UserData64 }},
	{name: "user_data_32", ref: func(t *ledger.Transfer) any { return &t.UserData32 }},
	{name: "timeout", ref: func(t *ledger.Transfer) any { return &t.Timeout }},
	{name: "ledger", ref: func(t *ledger.Transfer) any { return &t.Ledger }},
	{name: "code", ref: func(t *ledger.Transfer) any { return &t.Code }},
	{name: "flags", ref: func(t *ledger.Transfer) any { return &t.Flags }, flags: transferFlagNames},
	{name: "timestamp", ref: func(t *ledger.Transfer) any { return &t.Timestamp }},
}

// The filters' reserved bytes are not offered: the ledger rejects any
// filter that sets them, so a field for them could only produce empty
// replies.
var accountFilterFields = []field[ledger.AccountFilter]{
	{name: "account_id", ref: func(f *ledger.AccountFilter) any { return &f.AccountID }},
	{name: "user_data_128", ref: func(f *ledger.AccountFilter) any { return &f.UserData128 }},
	{name: "user_data_64", ref: func(f *ledger.AccountFilter) any { return &f.UserData64 }},
	{name: "user_data_32", ref: func(f *ledger.AccountFilter) any { return &f.UserData32 }},
	{name: "code", ref: func(f *ledger.AccountFilter) any { return &f.Code }},
	{name: "timestamp_min", ref: func(f *ledger.AccountFilter) any { return &f.TimestampMin }},
	{name: "timestamp_max", ref: func(f *ledger.AccountFilter) any { return &f.TimestampMax }},
	{name: "limit", ref: func(f *ledger.AccountFilter) any { return &f.Limit }},
	{name: "flags", ref: func(f *ledger.AccountFilter) any { return &f.Flags }, flags: accountFilterFlagNames},
}

var queryFilterFields = []field[ledger.QueryFilter]{
	{name: "user_data_128", ref: func(f *ledger.QueryFilter) any { return &f.UserData128 }},
	{name: "user_data_64", ref: func(f *ledger.QueryFilter) any { return &f.UserData64 }},
	{name: "user_data_32", ref: func(f *ledger.QueryFilter) any { return &f.UserData32 }},
	{name: "ledger", ref: func(f *ledger.QueryFilter) any { return &f.Ledger }},
	{name: "code", ref: func(f *ledger.QueryFilter) any { return &f.Code }},
	{name: "timestamp_min", ref: func(f *ledger.QueryFilter) any { return &f.TimestampMin }},
	{name: "timestamp_max", ref: func(f *ledger.QueryFilter) any { return &f.TimestampMax }},
	{name: "limit", ref: func(f *ledger.QueryFilter) any { return &f.Limit }},
	{name: "flags", ref: func(f *ledger.QueryFilter) any { return &f.Flags }, flags: queryFilterFlagNames},
}

// idFields is the one field of a lookup's element.
var idFields = []field[u128.U128]{
	{name: "id", ref: func(id *u128.U128) any { return id }},
}

var balanceFields = []field[ledger.AccountBalance]{
	{name: "debits_pending", ref: func(b *ledger.AccountBalance) any { return &b.DebitsPending }},
	{name: "debits_posted", ref: func(b *ledger.AccountBalance) any { return &b.DebitsPosted }},
	{name: "credits_pending", ref: func(b *ledger.AccountBalance) any { return &b.CreditsPending }},
	{name: "credits_posted", ref: func(b *ledger.AccountBalance) any { return &b.CreditsPosted }},
	{name: "timestamp", ref: func(b *ledger.AccountBalance) any { return &b.Timestamp }},
}

func lookupField[T any](fields []field[T], name string) (field[T], bool) {
	for _, f := range fields {
		if f.name == name {
			return f, true
		}
	}
	return field[T]{}, false
}

// setNumber stores v in the member p points at, refusing what does not fit.
func setNumber(p any, v u128.U128) error {
	switch p := p.(type) {
	case *u128.U128:
		*p = v
		return nil
	case *uint64:
		if v.Hi != 0 {
			return errRange
		}
		*p = v.Lo
	case *uint32:
		if v.Hi != 0 || v.Lo > uint64(^uint32(0)) {
			return errRange
		}
		*p = uint32(v.Lo)
	case *uint16:
		if v.Hi != 0 || v.Lo > uint64(^uint16(0)) {
			return errRange
		}
		*p = uint16(v.Lo)
	default:
		panic(fmt.Sprintf("repl: field of type %T", p))
	}
	return nil
}

// getNumber reads the member p points at, widened.
func getNumber(p any) u128.U128 {
	switch p := p.(type) {
	case *u128.U128:
		return *p
	case *uint64:
		return u128.From64(*p)
	case *uint32:
		return u128.From64(uint64(*p))
	case *uint16:
		return u128.From64(uint64(*p))
	}
	panic(fmt.Sprintf("repl: field of type %T", p))
}

// maxValue is what `max` means for member p: TigerBeetle reads an amount of
// u128 max on a post as "the whole pending amount", so it is worth a name.
func maxValue(p any) u128.U128 {
	switch p.(type) {
	case *uint64:
		return u128.From64(^uint64(0))
	case *uint32:
		return u128.From64(uint64(^uint32(0)))
	case *uint16:
		return u128.From64(uint64(^uint16(0)))
	}
	return u128.Max
}

// flagBit finds a flag by name; a number stands for its bits, so a reply's
// unknown bits can be typed back in.
func flagBit(names []string, word string) (uint64, bool) {
	for i, n := range names {
		if n == word {
			return 1 << i, true
		}
	}
	if word == "none" {
		return 0, true
	}
	v, err := parseU128(word)
	if err != nil || v.Hi != 0 {
		return 0, false
	}
	return v.Lo, true
}

// formatFlags prints set bits by name, low bit first, any bit without a name
// as one hexadecimal number, and `none` for no bits.
func formatFlags(names []string, v uint64) string {
	if v == 0 {
		return "none"
	}
	var parts []string
	for i, n := range names {
		if v&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if unknown := v &^ (1<<len(names) - 1); unknown != 0 {
		parts = append(parts, fmt.Sprintf("0x%x", unknown))
	}
	return strings.Join(parts, "|")
}

// formatValue prints one member.
func formatValue[T any](f field[T], rec *T) string {
	v := getNumber(f.ref(rec))
	if f.flags != nil {
		return formatFlags(f.flags, v.Lo)
	}
	return formatU128(v)
}

// formatRecord prints a record as `{ name=value ... }`, every member, for
// replies: a reader should not have to know which zero fields were left out.
func formatRecord[T any](fields []field[T], rec *T) string {
	var b strings.Builder
	b.WriteString("{")
	for _, f := range fields {
		b.WriteString(" ")
		b.WriteString(f.name)
		b.WriteString("=")
		b.WriteString(formatValue(f, rec))
	}
	b.WriteString(" }")
	return b.String()
}

// formatFields prints the members a statement must carry: always those in
// keep, and the others only when nonzero, which is how a person writes them.
func formatFields[T any](fields []field[T], rec *T, keep ...string) string {
	var parts []string
	for _, f := range fields {
		if getNumber(f.ref(rec)).IsZero() && !contains(keep, f.name) {
			continue
		}
		parts = append(parts, f.name+"="+formatValue(f, rec))
	}
	return strings.Join(parts, " ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
