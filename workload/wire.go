package workload

import (
	"encoding/binary"
	"math/bits"

	"viewstamp/replica/u128"
)

// U128 is the wire's 128-bit integer.
type U128 = u128.U128

// Operations of the ledger (TigerBeetle 0.17 numbering).
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

// OperationName names an operation as the run record spells it.
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

// Sizes of the wire records.
const (
	EventSize          = 128 // Account, Transfer, AccountFilter, AccountBalance
	IDSize             = 16
	QueryFilterSize    = 64
	CreateResultSize   = 16
	DefaultBatchMax    = 8189 // 128-byte events in a 1 MiB message
	timestampMax       = uint64(1)<<63 - 1
	nsPerSecond        = uint64(1_000_000_000)
	nsPerMillisecond   = nsPerSecond / 1000
	accountFlagsKnown  = 1<<6 - 1
	transferFlagsKnown = 1<<9 - 1
)

// Account flags.
const (
	AccountLinked                     uint16 = 1 << 0
	AccountDebitsMustNotExceedCredits uint16 = 1 << 1
	AccountCreditsMustNotExceedDebits uint16 = 1 << 2
	AccountHistory                    uint16 = 1 << 3
	AccountImported                   uint16 = 1 << 4
	AccountClosed                     uint16 = 1 << 5
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
)

// AccountFilter flags.
const (
	FilterDebits   uint32 = 1 << 0
	FilterCredits  uint32 = 1 << 1
	FilterReversed uint32 = 1 << 2
)

// QueryFilterReversed is QueryFilter's only flag.
const QueryFilterReversed uint32 = 1 << 0

// Account is the 128-byte account record.
type Account struct {
	ID             U128
	DebitsPending  U128
	DebitsPosted   U128
	CreditsPending U128
	CreditsPosted  U128
	UserData128    U128
	UserData64     uint64
	UserData32     uint32
	Reserved       uint32
	Ledger         uint32
	Code           uint16
	Flags          uint16
	Timestamp      uint64
}

// Transfer is the 128-byte transfer record.
type Transfer struct {
	ID              U128
	DebitAccountID  U128
	CreditAccountID U128
	Amount          U128
	PendingID       U128
	UserData128     U128
	UserData64      uint64
	UserData32      uint32
	Timeout         uint32
	Ledger          uint32
	Code            uint16
	Flags           uint16
	Timestamp       uint64
}

// AccountFilter selects an account's transfers or balances.
type AccountFilter struct {
	AccountID    U128
	UserData128  U128
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
	UserData128  U128
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

// AccountBalance is one row of get_account_balances.
type AccountBalance struct {
	DebitsPending  U128
	DebitsPosted   U128
	CreditsPending U128
	CreditsPosted  U128
	Timestamp      uint64
}

// CreateResult is the per-event result of create_accounts/create_transfers.
type CreateResult struct {
	Timestamp uint64
	Status    uint32
	Reserved  uint32
}

var le = binary.LittleEndian

func getU128(b []byte) U128 { return u128.Get(b) }

// EncodeAccount writes a into b[0:128].
func EncodeAccount(b []byte, a *Account) {
	a.ID.Put(b[0:])
	a.DebitsPending.Put(b[16:])
	a.DebitsPosted.Put(b[32:])
	a.CreditsPending.Put(b[48:])
	a.CreditsPosted.Put(b[64:])
	a.UserData128.Put(b[80:])
	le.PutUint64(b[96:], a.UserData64)
	le.PutUint32(b[104:], a.UserData32)
	le.PutUint32(b[108:], a.Reserved)
	le.PutUint32(b[112:], a.Ledger)
	le.PutUint16(b[116:], a.Code)
	le.PutUint16(b[118:], a.Flags)
	le.PutUint64(b[120:], a.Timestamp)
}

// DecodeAccount reads an account from b[0:128].
func DecodeAccount(b []byte) Account {
	return Account{
		ID:             getU128(b[0:]),
		DebitsPending:  getU128(b[16:]),
		DebitsPosted:   getU128(b[32:]),
		CreditsPending: getU128(b[48:]),
		CreditsPosted:  getU128(b[64:]),
		UserData128:    getU128(b[80:]),
		UserData64:     le.Uint64(b[96:]),
		UserData32:     le.Uint32(b[104:]),
		Reserved:       le.Uint32(b[108:]),
		Ledger:         le.Uint32(b[112:]),
		Code:           le.Uint16(b[116:]),
		Flags:          le.Uint16(b[118:]),
		Timestamp:      le.Uint64(b[120:]),
	}
}

// EncodeTransfer writes t into b[0:128].
func EncodeTransfer(b []byte, t *Transfer) {
	t.ID.Put(b[0:])
	t.DebitAccountID.Put(b[16:])
	t.CreditAccountID.Put(b[32:])
	t.Amount.Put(b[48:])
	t.PendingID.Put(b[64:])
	t.UserData128.Put(b[80:])
	le.PutUint64(b[96:], t.UserData64)
	le.PutUint32(b[104:], t.UserData32)
	le.PutUint32(b[108:], t.Timeout)
	le.PutUint32(b[112:], t.Ledger)
	le.PutUint16(b[116:], t.Code)
	le.PutUint16(b[118:], t.Flags)
	le.PutUint64(b[120:], t.Timestamp)
}

// DecodeTransfer reads a transfer from b[0:128].
func DecodeTransfer(b []byte) Transfer {
	return Transfer{
		ID:              getU128(b[0:]),
		DebitAccountID:  getU128(b[16:]),
		CreditAccountID: getU128(b[32:]),
		Amount:          getU128(b[48:]),
		PendingID:       getU128(b[64:]),
		UserData128:     getU128(b[80:]),
		UserData64:      le.Uint64(b[96:]),
		UserData32:      le.Uint32(b[104:]),
		Timeout:         le.Uint32(b[108:]),
		Ledger:          le.Uint32(b[112:]),
		Code:            le.Uint16(b[116:]),
		Flags:           le.Uint16(b[118:]),
		Timestamp:       le.Uint64(b[120:]),
	}
}

// EncodeAccountFilter writes f into b[0:128].
func EncodeAccountFilter(b []byte, f *AccountFilter) {
	f.AccountID.Put(b[0:])
	f.UserData128.Put(b[16:])
	le.PutUint64(b[32:], f.UserData64)
	le.PutUint32(b[40:], f.UserData32)
	le.PutUint16(b[44:], f.Code)
	copy(b[46:104], f.Reserved[:])
	le.PutUint64(b[104:], f.TimestampMin)
	le.PutUint64(b[112:], f.TimestampMax)
	le.PutUint32(b[120:], f.Limit)
	le.PutUint32(b[124:], f.Flags)
}

// DecodeAccountFilter reads an account filter from b[0:128].
func DecodeAccountFilter(b []byte) AccountFilter {
	f := AccountFilter{
		AccountID:    getU128(b[0:]),
		UserData128:  getU128(b[16:]),
		UserData64:   le.Uint64(b[32:]),
		UserData32:   le.Uint32(b[40:]),
		Code:         le.Uint16(b[44:]),
		TimestampMin: le.Uint64(b[104:]),
		TimestampMax: le.Uint64(b[112:]),
		Limit:        le.Uint32(b[120:]),
		Flags:        le.Uint32(b[124:]),
	}
	copy(f.Reserved[:], b[46:104])
	return f
}

// EncodeQueryFilter writes f into b[0:64].
func EncodeQueryFilter(b []byte, f *QueryFilter) {
	f.UserData128.Put(b[0:])
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

// DecodeQueryFilter reads a query filter from b[0:64].
func DecodeQueryFilter(b []byte) QueryFilter {
	f := QueryFilter{
		UserData128:  getU128(b[0:]),
		UserData64:   le.Uint64(b[16:]),
		UserData32:   le.Uint32(b[24:]),
		Ledger:       le.Uint32(b[28:]),
		Code:         le.Uint16(b[32:]),
		TimestampMin: le.Uint64(b[40:]),
		TimestampMax: le.Uint64(b[48:]),
		Limit:        le.Uint32(b[56:]),
		Flags:        le.Uint32(b[60:]),
	}
	copy(f.Reserved[:], b[34:40])
	return f
}

// EncodeAccountBalance writes r into b[0:128]; the reserved tail is zeroed.
func EncodeAccountBalance(b []byte, r *AccountBalance) {
	r.DebitsPending.Put(b[0:])
	r.DebitsPosted.Put(b[16:])
	r.CreditsPending.Put(b[32:])
	r.CreditsPosted.Put(b[48:])
	le.PutUint64(b[64:], r.Timestamp)
	clear(b[72:128])
}

// DecodeAccountBalance reads a balance row from b[0:128].
func DecodeAccountBalance(b []byte) AccountBalance {
	return AccountBalance{
		DebitsPending:  getU128(b[0:]),
		DebitsPosted:   getU128(b[16:]),
		CreditsPending: getU128(b[32:]),
		CreditsPosted:  getU128(b[48:]),
		Timestamp:      le.Uint64(b[64:]),
	}
}

// EncodeCreateResult writes r into b[0:16].
func EncodeCreateResult(b []byte, r CreateResult) {
	le.PutUint64(b[0:], r.Timestamp)
	le.PutUint32(b[8:], r.Status)
	le.PutUint32(b[12:], r.Reserved)
}

// DecodeCreateResult reads a create result from b[0:16].
func DecodeCreateResult(b []byte) CreateResult {
	return CreateResult{Timestamp: le.Uint64(b[0:]), Status: le.Uint32(b[8:]), Reserved: le.Uint32(b[12:])}
}

// u128 arithmetic the ledger rules need. The wire type only carries values;
// keeping the arithmetic here keeps the reference model self-contained.

func add128(a, b U128) (sum U128, overflow bool) {
	lo, carry := bits.Add64(a.Lo, b.Lo, 0)
	hi, carry := bits.Add64(a.Hi, b.Hi, carry)
	return U128{Lo: lo, Hi: hi}, carry != 0
}

// sub128 assumes a >= b; callers only release what was reserved.
func sub128(a, b U128) U128 {
	lo, borrow := bits.Sub64(a.Lo, b.Lo, 0)
	hi, _ := bits.Sub64(a.Hi, b.Hi, borrow)
	return U128{Lo: lo, Hi: hi}
}

// subSat128 is a − b, or zero when b > a.
func subSat128(a, b U128) U128 {
	if a.Less(b) {
		return U128{}
	}
	return sub128(a, b)
}

func min128(a, b U128) U128 {
	if b.Less(a) {
		return b
	}
	return a
}

func isMax128(a U128) bool { return a == u128.Max }
