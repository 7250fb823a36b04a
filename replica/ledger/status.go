package ledger

// Status values are TigerBeetle 0.17's, numbers included. Created is
// all-ones; everything else is a reason the event was not created (exists
// means an identical object is already there, which a retry treats as success).
const StatusCreated uint32 = 0xFFFF_FFFF

// create_accounts statuses.
const (
	AccountLinkedEventFailed                    uint32 = 1
	AccountLinkedEventChainOpen                 uint32 = 2
	AccountTimestampMustBeZero                  uint32 = 3
	AccountReservedField                        uint32 = 4
	AccountReservedFlag                         uint32 = 5
	AccountIDMustNotBeZero                      uint32 = 6
	AccountIDMustNotBeIntMax                    uint32 = 7
	AccountFlagsAreMutuallyExclusive            uint32 = 8
	AccountDebitsPendingMustBeZero              uint32 = 9
	AccountDebitsPostedMustBeZero               uint32 = 10
	AccountCreditsPendingMustBeZero             uint32 = 11
	AccountCreditsPostedMustBeZero              uint32 = 12
	AccountLedgerMustNotBeZero                  uint32 = 13
	AccountCodeMustNotBeZero                    uint32 = 14
	AccountExistsWithDifferentFlags             uint32 = 15
	AccountExistsWithDifferentUserData128       uint32 = 16
	AccountExistsWithDifferentUserData64        uint32 = 17
	AccountExistsWithDifferentUserData32        uint32 = 18
	AccountExistsWithDifferentLedger            uint32 = 19
	AccountExistsWithDifferentCode              uint32 = 20
	AccountExists                               uint32 = 21
	AccountImportedEventExpected                uint32 = 22
	AccountImportedEventNotExpected             uint32 = 23
	AccountImportedEventTimestampOutOfRange     uint32 = 24
	AccountImportedEventTimestampMustNotAdvance uint32 = 25
	AccountImportedEventTimestampMustNotRegress uint32 = 26
	accountStatusMax                                   = 26
)

// create_transfers statuses (18, amount_must_not_be_zero, is retired).
const (
	TransferLinkedEventFailed                          uint32 = 1
	TransferLinkedEventChainOpen                       uint32 = 2
	TransferTimestampMustBeZero                        uint32 = 3
	TransferReservedFlag                               uint32 = 4
	TransferIDMustNotBeZero                            uint32 = 5
	TransferIDMustNotBeIntMax                          uint32 = 6
	TransferFlagsAreMutuallyExclusive                  uint32 = 7
	TransferDebitAccountIDMustNotBeZero                uint32 = 8
	TransferDebitAccountIDMustNotBeIntMax              uint32 = 9
	TransferCreditAccountIDMustNotBeZero               uint32 = 10
	TransferCreditAccountIDMustNotBeIntMax             uint32 = 11
	TransferAccountsMustBeDifferent                    uint32 = 12
	TransferPendingIDMustBeZero                        uint32 = 13
	TransferPendingIDMustNotBeZero                     uint32 = 14
	TransferPendingIDMustNotBeIntMax                   uint32 = 15
	TransferPendingIDMustBeDifferent                   uint32 = 16
	TransferTimeoutReservedForPendingTransfer          uint32 = 17
	TransferLedgerMustNotBeZero                        uint32 = 19
	TransferCodeMustNotBeZero                          uint32 = 20
	TransferDebitAccountNotFound                       uint32 = 21
	TransferCreditAccountNotFound                      uint32 = 22
	TransferAccountsMustHaveTheSameLedger              uint32 = 23
	TransferTransferMustHaveTheSameLedgerAsAccounts    uint32 = 24
	TransferPendingTransferNotFound                    uint32 = 25
	TransferPendingTransferNotPending                  uint32 = 26
	TransferPendingTransferHasDifferentDebitAccountID  uint32 = 27
	TransferPendingTransferHasDifferentCreditAccountID uint32 = 28
	TransferPendingTransferHasDifferentLedger          uint32 = 29
	TransferPendingTransferHasDifferentCode            uint32 = 30
	TransferExceedsPendingTransferAmount               uint32 = 31
	TransferPendingTransferHasDifferentAmount          uint32 = 32
	TransferPendingTransferAlreadyPosted               uint32 = 33
	TransferPendingTransferAlreadyVoided               uint32 = 34
	TransferPendingTransferExpired                     uint32 = 35
	TransferExistsWithDifferentFlags                   uint32 = 36
	TransferExistsWithDifferentDebitAccountID          uint32 = 37
	TransferExistsWithDifferentCreditAccountID         uint32 = 38
	TransferExistsWithDifferentAmount                  uint32 = 39
	TransferExistsWithDifferentPendingID               uint32 = 40
	TransferExistsWithDifferentUserData128             uint32 = 41
	TransferExistsWithDifferentUserData64              uint32 = 42
	TransferExistsWithDifferentUserData32              uint32 = 43
	TransferExistsWithDifferentTimeout                 uint32 = 44
	TransferExistsWithDifferentCode                    uint32 = 45
	TransferExists                                     uint32 = 46
	TransferOverflowsDebitsPending                     uint32 = 47
	TransferOverflowsCreditsPending                    uint32 = 48
	TransferOverflowsDebitsPosted                      uint32 = 49
	TransferOverflowsCreditsPosted                     uint32 = 50
	TransferOverflowsDebits                            uint32 = 51
	TransferOverflowsCredits                           uint32 = 52
	TransferOverflowsTimeout                           uint32 = 53
	TransferExceedsCredits                             uint32 = 54
	TransferExceedsDebits                              uint32 = 55
	TransferImportedEventExpected                      uint32 = 56
	TransferImportedEventNotExpected                   uint32 = 57
	TransferImportedEventTimestampOutOfRange           uint32 = 58
	TransferImportedEventTimestampMustNotAdvance       uint32 = 59
	TransferImportedEventTimestampMustNotRegress       uint32 = 60
	TransferImportedEventTimestampMustPostdateDebit    uint32 = 61
	TransferImportedEventTimestampMustPostdateCredit   uint32 = 62
	TransferImportedEventTimeoutMustBeZero             uint32 = 63
	TransferClosingTransferMustBePending               uint32 = 64
	TransferDebitAccountAlreadyClosed                  uint32 = 65
	TransferCreditAccountAlreadyClosed                 uint32 = 66
	TransferExistsWithDifferentLedger                  uint32 = 67
	TransferIDAlreadyFailed                            uint32 = 68
	transferStatusMax                                         = 68
)

var accountStatusNames = [...]string{
	"", "linked_event_failed", "linked_event_chain_open", "timestamp_must_be_zero", "reserved_field",
	"reserved_flag", "id_must_not_be_zero", "id_must_not_be_int_max", "flags_are_mutually_exclusive",
	"debits_pending_must_be_zero", "debits_posted_must_be_zero", "credits_pending_must_be_zero",
	"credits_posted_must_be_zero", "ledger_must_not_be_zero", "code_must_not_be_zero",
	"exists_with_different_flags", "exists_with_different_user_data_128",
	"exists_with_different_user_data_64", "exists_with_different_user_data_32",
	"exists_with_different_ledger", "exists_with_different_code", "exists",
	"imported_event_expected", "imported_event_not_expected", "imported_event_timestamp_out_of_range",
	"imported_event_timestamp_must_not_advance", "imported_event_timestamp_must_not_regress",
}

var transferStatusNames = [...]string{
	"", "linked_event_failed", "linked_event_chain_open", "timestamp_must_be_zero", "reserved_flag",
	"id_must_not_be_zero", "id_must_not_be_int_max", "flags_are_mutually_exclusive",
	"debit_account_id_must_not_be_zero", "debit_account_id_must_not_be_int_max",
	"credit_account_id_must_not_be_zero", "credit_account_id_must_not_be_int_max",
	"accounts_must_be_different", "pending_id_must_be_zero", "pending_id_must_not_be_zero",
	"pending_id_must_not_be_int_max", "pending_id_must_be_different",
	"timeout_reserved_for_pending_transfer", "", "ledger_must_not_be_zero", "code_must_not_be_zero",
	"debit_account_not_found", "credit_account_not_found", "accounts_must_have_the_same_ledger",
	"transfer_must_have_the_same_ledger_as_accounts", "pending_transfer_not_found",
	"pending_transfer_not_pending", "pending_transfer_has_different_debit_account_id",
	"pending_transfer_has_different_credit_account_id", "pending_transfer_has_different_ledger",
	"pending_transfer_has_different_code", "exceeds_pending_transfer_amount",
	"pending_transfer_has_different_amount", "pending_transfer_already_posted",
	"pending_transfer_already_voided", "pending_transfer_expired", "exists_with_different_flags",
	"exists_with_different_debit_account_id", "exists_with_different_credit_account_id",
	"exists_with_different_amount", "exists_with_different_pending_id",
	"exists_with_different_user_data_128", "exists_with_different_user_data_64",
	"exists_with_different_user_data_32", "exists_with_different_timeout",
	"exists_with_different_code", "exists", "overflows_debits_pending", "overflows_credits_pending",
	"overflows_debits_posted", "overflows_credits_posted", "overflows_debits", "overflows_credits",
	"overflows_timeout", "exceeds_credits", "exceeds_debits", "imported_event_expected",
	"imported_event_not_expected", "imported_event_timestamp_out_of_range",
	"imported_event_timestamp_must_not_advance", "imported_event_timestamp_must_not_regress",
	"imported_event_timestamp_must_postdate_debit_account",
	"imported_event_timestamp_must_postdate_credit_account", "imported_event_timeout_must_be_zero",
	"closing_transfer_must_be_pending", "debit_account_already_closed", "credit_account_already_closed",
	"exists_with_different_ledger", "id_already_failed",
}

// AccountStatusName names a create_accounts status.
func AccountStatusName(s uint32) string {
	if s == StatusCreated {
		return "created"
	}
	if s < uint32(len(accountStatusNames)) && accountStatusNames[s] != "" {
		return accountStatusNames[s]
	}
	return "unknown"
}

// TransferStatusName names a create_transfers status.
func TransferStatusName(s uint32) string {
	if s == StatusCreated {
		return "created"
	}
	if s < uint32(len(transferStatusNames)) && transferStatusNames[s] != "" {
		return transferStatusNames[s]
	}
	return "unknown"
}

// AccountStatuses lists every create_accounts status, created first.
func AccountStatuses() []uint32 {
	out := []uint32{StatusCreated}
	for s := uint32(1); s <= accountStatusMax; s++ {
		out = append(out, s)
	}
	return out
}

// TransferStatuses lists every create_transfers status, created first.
func TransferStatuses() []uint32 {
	out := []uint32{StatusCreated}
	for s := uint32(1); s <= transferStatusMax; s++ {
		if transferStatusNames[s] != "" {
			out = append(out, s)
		}
	}
	return out
}

// transient statuses depend on state that may change, so TigerBeetle burns
// the id: a retry must not succeed later and surprise a client that already
// acted on the failure.
func transient(s uint32) bool {
	switch s {
	case TransferDebitAccountNotFound, TransferCreditAccountNotFound, TransferPendingTransferNotFound,
		TransferExceedsCredits, TransferExceedsDebits, TransferDebitAccountAlreadyClosed,
		TransferCreditAccountAlreadyClosed:
		return true
	}
	return false
}
