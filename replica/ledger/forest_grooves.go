package ledger

import (
	"encoding/binary"

	"viewstamp/replica/storage/groove"
	"viewstamp/replica/u128"
)

// The ledger's grooves in the forest, over the wire layouts of Account and
// Transfer (TigerBeetle's), with tree ids after TigerBeetle's numbering.
//
//   - accounts: by timestamp and id; user_data_128/64/32, ledger and code
//     indexed for query_accounts. Balances and flags are not indexed.
//   - transfers: by timestamp and id (orphaned ids are transfers that
//     failed transiently: id_already_failed); debit and credit account id
//     for get_account_transfers, user_data, ledger and code for the
//     queries.
//   - transfers_pending: one per pending transfer, {timestamp, status,
//     expires_at}; expires_at is indexed while the status is pending, so
//     the index holds exactly the transfers a pulse may expire and its
//     first entry is the next expiry.
//   - account_events: one per transfer that touches an account with the
//     history flag: both sides' balances after it, looked up by the
//     transfer's timestamp for get_account_balances.
const (
	grooveAccounts = iota
	grooveTransfers
	groovePending
	grooveEvents
)

// Field positions in the accounts groove's descriptor.
const (
	accountFieldUserData128 = iota
	accountFieldUserData64
	accountFieldUserData32
	accountFieldLedger
	accountFieldCode
)

// Field positions in the transfers groove's descriptor.
const (
	transferFieldDebitAccountID = iota
	transferFieldCreditAccountID
	transferFieldUserData128
	transferFieldUserData64
	transferFieldUserData32
	transferFieldLedger
	transferFieldCode
)

const pendingFieldExpiresAt = 0

// Object layouts of the two grooves the wire does not define.
const (
	// pendingSize: timestamp u64, status u8, 7 zero bytes, expires_at u64
	// (timestamp + timeout; zero without a timeout).
	pendingSize      = 24
	pendingStatusOff = 8
	pendingExpiresAt = 16
	// eventSize: timestamp u64, debit and credit account ids, then each
	// side's debits_pending, debits_posted, credits_pending, credits_posted
	// after the transfer (zero for a side without history).
	eventSize  = 8 + 2*IDSize + 2*balanceBytes
	eventDebit = 8 + 2*IDSize
	// eventCredit is where the credit side's balances start.
	eventCredit  = eventDebit + balanceBytes
	balanceBytes = 4 * 16
)

// Per-op bounds of the grooves, in batches of BatchMax events. A transfer
// updates two accounts, a post or void names a pending transfer and its two
// accounts, and a batch inserts what it prefetched as absent, so each
// stash holds what its groove is named for plus what it inserts.
const (
	accountPutsPerBatch   = 2
	accountStashPerBatch  = 5
	transferStashPerBatch = 5
	pendingStashPerBatch  = 3
	// pendingPutsPerBatch sizes transfers_pending's tables for pulses: a
	// pulse expires every pending transfer due, which may be more than one
	// batch created (a backlog after a view change).
	pendingPutsPerBatch = 4
	// pulseRoundPerBatch is how many expiring transfers (in batches) a
	// pulse loads per stash round: each names up to two accounts.
	pulseRoundPerBatch = 2
)

const nsPerSecond = 1_000_000_000

func forestGrooves(batchMax, accountCache int) []groove.Config {
	accounts := groove.Config{
		Descriptor: groove.Descriptor{
			Name: "accounts", ObjectSize: AccountSize, ObjectTree: groove.TreeAccounts,
			IDTree: groove.TreeAccountsID, IDOffset: 0, TimestampOffset: 120,
			Fields: []groove.Field{
				accountFieldUserData128: groove.U128Field("user_data_128", groove.TreeAccountsUserData128, 80),
				accountFieldUserData64:  groove.U64Field("user_data_64", groove.TreeAccountsUserData64, 96),
				accountFieldUserData32:  groove.U32Field("user_data_32", groove.TreeAccountsUserData32, 104),
				accountFieldLedger:      groove.U32Field("ledger", groove.TreeAccountsLedger, 112),
				accountFieldCode:        groove.U16Field("code", groove.TreeAccountsCode, 116),
			},
		},
		PutsPerOpMax: accountPutsPerBatch * batchMax, InsertsPerOpMax: batchMax,
		CacheObjects: accountCache, StashMax: accountStashPerBatch * batchMax,
	}
	transfers := groove.Config{
		Descriptor: groove.Descriptor{
			Name: "transfers", ObjectSize: TransferSize, ObjectTree: groove.TreeTransfers,
			IDTree: groove.TreeTransfersID, IDOffset: 0, TimestampOffset: 120,
			Fields: []groove.Field{
				transferFieldDebitAccountID:  groove.U128Field("debit_account_id", groove.TreeTransfersDebitAccountID, 16),
				transferFieldCreditAccountID: groove.U128Field("credit_account_id", groove.TreeTransfersCreditAccountID, 32),
				transferFieldUserData128:     groove.U128Field("user_data_128", groove.TreeTransfersUserData128, 80),
				transferFieldUserData64:      groove.U64Field("user_data_64", groove.TreeTransfersUserData64, 96),
				transferFieldUserData32:      groove.U32Field("user_data_32", groove.TreeTransfersUserData32, 104),
				transferFieldLedger:          groove.U32Field("ledger", groove.TreeTransfersLedger, 112),
				transferFieldCode:            groove.U16Field("code", groove.TreeTransfersCode, 116),
			},
		},
		PutsPerOpMax: batchMax, StashMax: transferStashPerBatch * batchMax,
	}
	expiresAt := groove.Field{Name: "expires_at", Tree: groove.TreeTransfersExpiresAt, Width: groove.WidthU64, Mutable: true,
		Value: func(o []byte) u128.U128 {
			if o[pendingStatusOff] != pendingPending {
				return u128.U128{}
			}
			return u128.From64(binary.LittleEndian.Uint64(o[pendingExpiresAt:]))
		}}
	pending := groove.Config{
		Descriptor: groove.Descriptor{Name: "transfers_pending", ObjectSize: pendingSize,
			ObjectTree: groove.TreeTransfersPending, Fields: []groove.Field{pendingFieldExpiresAt: expiresAt}},
		PutsPerOpMax: pendingPutsPerBatch * batchMax, StashMax: pendingStashPerBatch * batchMax,
	}
	events := groove.Config{
		Descriptor: groove.Descriptor{Name: "account_events", ObjectSize: eventSize,
			ObjectTree: groove.TreeAccountEvents},
		PutsPerOpMax: batchMax, StashMax: batchMax,
	}
	return []groove.Config{grooveAccounts: accounts, grooveTransfers: transfers, groovePending: pending, grooveEvents: events}
}

// expiresAt is when a pending transfer with a timeout expires; zero without.
func expiresAt(t *Transfer) uint64 {
	if t.Timeout == 0 {
		return 0
	}
	return t.Timestamp + uint64(t.Timeout)*nsPerSecond
}

func encodePending(b []byte, ts uint64, state uint8, expires uint64) {
	clear(b[:pendingSize])
	binary.LittleEndian.PutUint64(b, ts)
	b[pendingStatusOff] = state
	binary.LittleEndian.PutUint64(b[pendingExpiresAt:], expires)
}

func putBalance(b []byte, v balance) {
	putU128(b, v.debitsPending)
	putU128(b[16:], v.debitsPosted)
	putU128(b[32:], v.creditsPending)
	putU128(b[48:], v.creditsPosted)
}

func getBalance(b []byte) balance {
	return balance{getU128(b), getU128(b[16:]), getU128(b[32:]), getU128(b[48:])}
}
