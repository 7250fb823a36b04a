// Package ledger is the replicated double-entry ledger: TigerBeetle 0.17's
// accounts and transfers, with the same 128-byte records, the same checks in
// the same order and the same result codes.
//
// The package has two halves. Prefetch names the objects a batch will touch,
// so that a storage engine can load them before execution; Execute applies a
// batch to objects already in memory, synchronously and without IO. Until the
// LSM arrives every object lives in memory (see store.go) and Prefetch only
// reports what it would load.
package ledger

import (
	"encoding/binary"

	"viewstamp/replica/u128"
)

// Operation numbers are TigerBeetle's, so a wire-compatible client needs no
// translation table.
const (
	OpPulse               uint8 = 128
	OpLookupAccounts      uint8 = 140
	OpLookupTransfers     uint8 = 141
	OpGetAccountTransfers uint8 = 142
	OpGetAccountBalances  uint8 = 143
	OpQueryAccounts       uint8 = 144
	OpQueryTransfers      uint8 = 145
	OpCreateAccounts      uint8 = 146
	OpCreateTransfers     uint8 = 147
)

// OperationName names an operation for logs and run records.
func OperationName(op uint8) string {
	switch op {
	case OpPulse:
		return "pulse"
	case OpLookupAccounts:
		return "lookup_accounts"
	case OpLookupTransfers:
		return "lookup_transfers"
	case OpGetAccountTransfers:
		return "get_account_transfers"
	case OpGetAccountBalances:
		return "get_account_balances"
	case OpQueryAccounts:
		return "query_accounts"
	case OpQueryTransfers:
		return "query_transfers"
	case OpCreateAccounts:
		return "create_accounts"
	case OpCreateTransfers:
		return "create_transfers"
	}
	return "unknown"
}

// Record sizes on the wire.
const (
	AccountSize       = 128
	TransferSize      = 128
	AccountFilterSize = 128
	QueryFilterSize   = 64
	BalanceSize       = 128
	ResultSize        = 16
	IDSize            = 16
)

// Account flags (bit positions are TigerBeetle's).
const (
	AccountLinked                     uint16 = 1 << 0
	AccountDebitsMustNotExceedCredits uint16 = 1 << 1
	AccountCreditsMustNotExceedDebits uint16 = 1 << 2
	AccountHistory                    uint16 = 1 << 3
	AccountImported                   uint16 = 1 << 4
	AccountClosed                     uint16 = 1 << 5
	accountFlagsKnown                 uint16 = 1<<6 - 1
)

// Transfer flags.
const (
	TransferLinked          uint16 = 1 << 0
	TransferPending         uint16 = 1 << 1
	TransferPostPending     uint16 = 1 << 2
	TransferVoidPending     uint16 = 1 << 3
	TransferBalancingDebit  uint16 = 1 << 4
	TransferBalancingCredit uint16 = 1 << 5
	TransferClosingDebit    uint16 = 1 << 6
	TransferClosingCredit   uint16 = 1 << 7
	TransferImported        uint16 = 1 << 8
	transferFlagsKnown      uint16 = 1<<9 - 1
)

// AccountFilter flags.
const (
	FilterDebits   uint32 = 1 << 0
	FilterCredits  uint32 = 1 << 1
	FilterReversed uint32 = 1 << 2
)

// QueryFilter flags: only the order, so reversed is bit 0 here.
const QueryReversed uint32 = 1 << 0

// Account is one ledger account, laid out as TigerBeetle's.
type Account struct {
	ID             u128.U128
	DebitsPending  u128.U128
	DebitsPosted   u128.U128
	CreditsPending u128.U128
	CreditsPosted  u128.U128
	UserData128    u128.U128
	UserData64     uint64
	UserData32     uint32
	Reserved       uint32
	Ledger         uint32
	Code           uint16
	Flags          uint16
	Timestamp      uint64
}

// Transfer moves amount from a debit account to a credit account, or
// reserves, posts or voids such a move.
type Transfer struct {
	ID              u128.U128
	DebitAccountID  u128.U128
	CreditAccountID u128.U128
	Amount          u128.U128
	PendingID       u128.U128
	UserData128     u128.U128
	UserData64      uint64
	UserData32      uint32
	Timeout         uint32
	Ledger          uint32
	Code            uint16
	Flags           uint16
	Timestamp       uint64
}

// AccountFilter selects one account's transfers or balances.
type AccountFilter struct {
	AccountID    u128.U128
	UserData128  u128.U128
	UserData64   uint64
	UserData32   uint32
	Code         uint16
	Reserved     [58]byte
	TimestampMin uint64
	TimestampMax uint64
	Limit        uint32
	Flags        uint32
}

// QueryFilter selects accounts or transfers by their indexed fields.
type QueryFilter struct {
	UserData128  u128.U128
	UserData64   uint64
	UserData32   uint32
	Ledger       uint32
	Code         uint16
	Reserved     [6]byte
	TimestampMin uint64
	TimestampMax uint64
	Limit        uint32
	Flags        uint32
}

// AccountBalance is an account's balances right after one of its transfers.
type AccountBalance struct {
	DebitsPending  u128.U128
	DebitsPosted   u128.U128
	CreditsPending u128.U128
	CreditsPosted  u128.U128
	Timestamp      uint64
}

// Result is the outcome of one create event.
type Result struct {
	Timestamp uint64
	Status    uint32
}

var le = binary.LittleEndian

func getU128(b []byte) u128.U128 { return u128.U128{Lo: le.Uint64(b), Hi: le.Uint64(b[8:])} }
func putU128(b []byte, v u128.U128) {
	le.PutUint64(b, v.Lo)
	le.PutUint64(b[8:], v.Hi)
}

// DecodeAccount reads an Account from 128 bytes.
func DecodeAccount(b []byte) Account {
	_ = b[AccountSize-1]
	return Account{
		ID: getU128(b[0:]), DebitsPending: getU128(b[16:]), DebitsPosted: getU128(b[32:]),
		CreditsPending: getU128(b[48:]), CreditsPosted: getU128(b[64:]), UserData128: getU128(b[80:]),
		UserData64: le.Uint64(b[96:]), UserData32: le.Uint32(b[104:]), Reserved: le.Uint32(b[108:]),
		Ledger: le.Uint32(b[112:]), Code: le.Uint16(b[116:]), Flags: le.Uint16(b[118:]),
		Timestamp: le.Uint64(b[120:]),
	}
}

// Encode writes the account into 128 bytes.
func (a *Account) Encode(b []byte) {
	_ = b[AccountSize-1]
	putU128(b[0:], a.ID)
	putU128(b[16:], a.DebitsPending)
	putU128(b[32:], a.DebitsPosted)
	putU128(b[48:], a.CreditsPending)
	putU128(b[64:], a.CreditsPosted)
	putU128(b[80:], a.UserData128)
	le.PutUint64(b[96:], a.UserData64)
	le.PutUint32(b[104:], a.UserData32)
	le.PutUint32(b[108:], a.Reserved)
	le.PutUint32(b[112:], a.Ledger)
	le.PutUint16(b[116:], a.Code)
	le.PutUint16(b[118:], a.Flags)
	le.PutUint64(b[120:], a.Timestamp)
}

// DecodeTransfer reads a Transfer from 128 bytes.
func DecodeTransfer(b []byte) Transfer {
	_ = b[TransferSize-1]
	return Transfer{
		ID: getU128(b[0:]), DebitAccountID: getU128(b[16:]), CreditAccountID: getU128(b[32:]),
		Amount: getU128(b[48:]), PendingID: getU128(b[64:]), UserData128: getU128(b[80:]),
		UserData64: le.Uint64(b[96:]), UserData32: le.Uint32(b[104:]), Timeout: le.Uint32(b[108:]),
		Ledger: le.Uint32(b[112:]), Code: le.Uint16(b[116:]), Flags: le.Uint16(b[118:]),
		Timestamp: le.Uint64(b[120:]),
	}
}

// Encode writes the transfer into 128 bytes.
func (t *Transfer) Encode(b []byte) {
	_ = b[TransferSize-1]
	putU128(b[0:], t.ID)
	putU128(b[16:], t.DebitAccountID)
	putU128(b[32:], t.CreditAccountID)
	putU128(b[48:], t.Amount)
	putU128(b[64:], t.PendingID)
	putU128(b[80:], t.UserData128)
	le.PutUint64(b[96:], t.UserData64)
	le.PutUint32(b[104:], t.UserData32)
	le.PutUint32(b[108:], t.Timeout)
	le.PutUint32(b[112:], t.Ledger)
	le.PutUint16(b[116:], t.Code)
	le.PutUint16(b[118:], t.Flags)
	le.PutUint64(b[120:], t.Timestamp)
}

// DecodeAccountFilter reads an AccountFilter from 128 bytes.
func DecodeAccountFilter(b []byte) AccountFilter {
	_ = b[AccountFilterSize-1]
	f := AccountFilter{
		AccountID: getU128(b[0:]), UserData128: getU128(b[16:]), UserData64: le.Uint64(b[32:]),
		UserData32: le.Uint32(b[40:]), Code: le.Uint16(b[44:]),
		TimestampMin: le.Uint64(b[104:]), TimestampMax: le.Uint64(b[112:]),
		Limit: le.Uint32(b[120:]), Flags: le.Uint32(b[124:]),
	}
	copy(f.Reserved[:], b[46:104])
	return f
}

// Encode writes the filter into 128 bytes.
func (f *AccountFilter) Encode(b []byte) {
	_ = b[AccountFilterSize-1]
	putU128(b[0:], f.AccountID)
	putU128(b[16:], f.UserData128)
	le.PutUint64(b[32:], f.UserData64)
	le.PutUint32(b[40:], f.UserData32)
	le.PutUint16(b[44:], f.Code)
	copy(b[46:104], f.Reserved[:])
	le.PutUint64(b[104:], f.TimestampMin)
	le.PutUint64(b[112:], f.TimestampMax)
	le.PutUint32(b[120:], f.Limit)
	le.PutUint32(b[124:], f.Flags)
}

// DecodeQueryFilter reads a QueryFilter from 64 bytes.
func DecodeQueryFilter(b []byte) QueryFilter {
	_ = b[QueryFilterSize-1]
	f := QueryFilter{
		UserData128: getU128(b[0:]), UserData64: le.Uint64(b[16:]), UserData32: le.Uint32(b[24:]),
		Ledger: le.Uint32(b[28:]), Code: le.Uint16(b[32:]),
		TimestampMin: le.Uint64(b[40:]), TimestampMax: le.Uint64(b[48:]),
		Limit: le.Uint32(b[56:]), Flags: le.Uint32(b[60:]),
	}
	copy(f.Reserved[:], b[34:40])
	return f
}

// Encode writes the filter into 64 bytes.
func (f *QueryFilter) Encode(b []byte) {
	_ = b[QueryFilterSize-1]
	putU128(b[0:], f.UserData128)
	le.PutUint64(b[16:], f.UserData64)
	le.PutUint32(b[24:], f.UserData32)
	le.PutUint32(b[28:], f.Ledger)
	le.PutUint16(b[32:], f.Code)
	copy(b[34:40], f.Reserved[:])
	le.PutUint64(b[40:], f.TimestampMin)
	le.PutUint64(b[48:], f.TimestampMax)
	le.PutUint32(b[56:], f.Limit)
	le.PutUint32(b[60:], f.Flags)
}

// DecodeBalance reads an AccountBalance from 128 bytes.
func DecodeBalance(b []byte) AccountBalance {
	_ = b[BalanceSize-1]
	return AccountBalance{
		DebitsPending: getU128(b[0:]), DebitsPosted: getU128(b[16:]),
		CreditsPending: getU128(b[32:]), CreditsPosted: getU128(b[48:]), Timestamp: le.Uint64(b[64:]),
	}
}

// Encode writes the balance into 128 bytes, the reserved tail zeroed.
func (a *AccountBalance) Encode(b []byte) {
	_ = b[BalanceSize-1]
	putU128(b[0:], a.DebitsPending)
	putU128(b[16:], a.DebitsPosted)
	putU128(b[32:], a.CreditsPending)
	putU128(b[48:], a.CreditsPosted)
	le.PutUint64(b[64:], a.Timestamp)
	clear(b[72:BalanceSize])
}

// DecodeResult reads one create result.
func DecodeResult(b []byte) Result {
	return Result{Timestamp: le.Uint64(b), Status: le.Uint32(b[8:])}
}

func (r Result) encode(b []byte) {
	le.PutUint64(b, r.Timestamp)
	le.PutUint32(b[8:], r.Status)
	le.PutUint32(b[12:], 0)
}
