package groove

// Tree IDs of the ledger's grooves, TigerBeetle's numbering (its
// tigerbeetle-storage §4 table) so that a block's tree id names the same
// index in both systems. Trees beat in ID order; the numbering has gaps
// where TigerBeetle indexes what this ledger does not yet (amount, the
// derived imported/closed/closing flags, account_events' expiry indexes).
const (
	TreeAccountsID          uint16 = 1
	TreeAccountsUserData128 uint16 = 2
	TreeAccountsUserData64  uint16 = 3
	TreeAccountsUserData32  uint16 = 4
	TreeAccountsLedger      uint16 = 5
	TreeAccountsCode        uint16 = 6
	TreeAccounts            uint16 = 7 // objects by timestamp

	TreeTransfersID              uint16 = 8
	TreeTransfersDebitAccountID  uint16 = 9
	TreeTransfersCreditAccountID uint16 = 10
	TreeTransfersAmount          uint16 = 11
	TreeTransfersPendingID       uint16 = 12
	TreeTransfersUserData128     uint16 = 13
	TreeTransfersUserData64      uint16 = 14
	TreeTransfersUserData32      uint16 = 15
	TreeTransfersLedger          uint16 = 16
	TreeTransfersCode            uint16 = 17
	TreeTransfers                uint16 = 18 // objects by timestamp
	TreeTransfersExpiresAt       uint16 = 19 // derived: timestamp + timeout of a pending transfer

	TreeTransfersPending       uint16 = 20 // {timestamp, status} by timestamp
	TreeTransfersPendingStatus uint16 = 21

	TreeAccountEvents                 uint16 = 22 // one per balance change, by timestamp
	TreeAccountEventsAccountTimestamp uint16 = 27 // per side with history: get_account_balances
)
