// Package repl reads and prints the statements of TigerBeetle's REPL:
//
//	create_accounts id=1 ledger=700 code=10, id=2 ledger=700 code=10;
//	create_transfers id=1 debit_account_id=1 credit_account_id=2 amount=10 ledger=700 code=10;
//	lookup_accounts id=1, id=2;
//	get_account_transfers account_id=1 flags=debits|credits;
//	query_transfers ledger=700 limit=10;
//
// A statement is an operation and a comma-separated list of records, each a
// run of field=value pairs, ended by `;`; it may span lines. Numbers are
// decimal or 0x hexadecimal, flags are names joined by `|`. A statement
// encodes into the operation and body the ledger executes, and a reply body
// formats back into text. Session runs statements read from a stream
// against a Submit function, so the package needs no network and is tested
// against the ledger itself.
package repl

import (
	"fmt"
	"strings"

	"viewstamp/replica/ledger"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// kind is what a statement's records are.
type kind uint8

const (
	kindAccounts kind = iota
	kindTransfers
	kindIDs
	kindAccountFilter
	kindQueryFilter
)

type operation struct {
	name string
	op   uint8
	kind kind
}

// operations lists the statements in TigerBeetle's order, which help and
// errors print.
var operations = []operation{
	{"create_accounts", ledger.OpCreateAccounts, kindAccounts},
	{"create_transfers", ledger.OpCreateTransfers, kindTransfers},
	{"lookup_accounts", ledger.OpLookupAccounts, kindIDs},
	{"lookup_transfers", ledger.OpLookupTransfers, kindIDs},
	{"get_account_transfers", ledger.OpGetAccountTransfers, kindAccountFilter},
	{"get_account_balances", ledger.OpGetAccountBalances, kindAccountFilter},
	{"query_accounts", ledger.OpQueryAccounts, kindQueryFilter},
	{"query_transfers", ledger.OpQueryTransfers, kindQueryFilter},
}

func operationNamed(name string) (operation, bool) {
	for _, o := range operations {
		if o.name == name {
			return o, true
		}
	}
	return operation{}, false
}

func operationOf(op vsr.Operation) (operation, bool) {
	for _, o := range operations {
		if vsr.Operation(o.op) == op {
			return o, true
		}
	}
	return operation{}, false
}

func operationNames() string {
	names := make([]string, len(operations))
	for i, o := range operations {
		names[i] = o.name
	}
	return strings.Join(names, ", ")
}

// recordSize is the wire size of each kind's record.
var recordSize = [...]int{kindAccounts: ledger.AccountSize, kindTransfers: ledger.TransferSize,
	kindIDs: ledger.IDSize, kindAccountFilter: ledger.AccountFilterSize, kindQueryFilter: ledger.QueryFilterSize}

// Statement is one parsed statement. Exactly one of the record fields is
// used, the one Operation takes.
type Statement struct {
	Operation     vsr.Operation
	Accounts      []ledger.Account
	Transfers     []ledger.Transfer
	IDs           []u128.U128
	AccountFilter ledger.AccountFilter
	QueryFilter   ledger.QueryFilter
}

// Name is the statement's operation as typed.
func (s *Statement) Name() string {
	o, _ := operationOf(s.Operation)
	return o.name
}

// Encode returns the request body the ledger expects for the statement:
// records of the wire size, back to back, written by the ledger's encoders.
func (s *Statement) Encode() (vsr.Operation, []byte) {
	var body []byte
	switch o, _ := operationOf(s.Operation); o.kind {
	case kindAccounts:
		body = make([]byte, len(s.Accounts)*ledger.AccountSize)
		for i := range s.Accounts {
			s.Accounts[i].Encode(body[i*ledger.AccountSize:])
		}
	case kindTransfers:
		body = make([]byte, len(s.Transfers)*ledger.TransferSize)
		for i := range s.Transfers {
			s.Transfers[i].Encode(body[i*ledger.TransferSize:])
		}
	case kindIDs:
		body = make([]byte, len(s.IDs)*ledger.IDSize)
		for i, id := range s.IDs {
			id.Put(body[i*ledger.IDSize:])
		}
	case kindAccountFilter:
		body = make([]byte, ledger.AccountFilterSize)
		s.AccountFilter.Encode(body)
	case kindQueryFilter:
		body = make([]byte, ledger.QueryFilterSize)
		s.QueryFilter.Encode(body)
	}
	return s.Operation, body
}

// Decode reads a request body back into a statement, so that a request seen
// on the wire or in a log can be shown as the user would have typed it.
func Decode(op vsr.Operation, body []byte) (Statement, error) {
	o, ok := operationOf(op)
	if !ok {
		return Statement{}, fmt.Errorf("operation %d is not a statement", op)
	}
	s := Statement{Operation: op}
	size := recordSize[o.kind]
	if len(body)%size != 0 || (o.kind >= kindAccountFilter && len(body) != size) {
		return Statement{}, fmt.Errorf("%s: a body of %d bytes is not whole %d-byte records", o.name, len(body), size)
	}
	for off := 0; off < len(body); off += size {
		b := body[off:]
		switch o.kind {
		case kindAccounts:
			s.Accounts = append(s.Accounts, ledger.DecodeAccount(b))
		case kindTransfers:
			s.Transfers = append(s.Transfers, ledger.DecodeTransfer(b))
		case kindIDs:
			s.IDs = append(s.IDs, u128.Get(b))
		case kindAccountFilter:
			s.AccountFilter = ledger.DecodeAccountFilter(b)
		case kindQueryFilter:
			s.QueryFilter = ledger.DecodeQueryFilter(b)
		}
	}
	return s, nil
}

// String prints the statement in the syntax Parse reads, giving back the
// same statement: ids and a filter's limit always, other fields
// only when nonzero.
func (s Statement) String() string {
	o, _ := operationOf(s.Operation)
	var records []string
	switch o.kind {
	case kindAccounts:
		for i := range s.Accounts {
			records = append(records, formatFields(accountFields, &s.Accounts[i], "id"))
		}
	case kindTransfers:
		for i := range s.Transfers {
			records = append(records, formatFields(transferFields, &s.Transfers[i], "id"))
		}
	case kindIDs:
		for i := range s.IDs {
			records = append(records, formatFields(idFields, &s.IDs[i], "id"))
		}
	case kindAccountFilter:
		records = append(records, formatFields(accountFilterFields, &s.AccountFilter, "limit"))
	case kindQueryFilter:
		records = append(records, formatFields(queryFilterFields, &s.QueryFilter, "limit"))
	}
	if len(records) == 0 {
		return o.name + ";"
	}
	return o.name + " " + strings.Join(records, ", ") + ";"
}
