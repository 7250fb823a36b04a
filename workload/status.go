package workload

// StatusCreated is the create result of an event that took effect.
const StatusCreated uint32 = 0xFFFFFFFF

// create_accounts statuses (TigerBeetle's numbers).
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
)

// create_transfers statuses (TigerBeetle's numbers; 18 is unused).
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
)

// statusCount bounds the status numbers of both create operations.
const statusCount = 69

var accountStatusNames = [statusCount]string{
	1:  "linked_event_failed",
	2:  "linked_event_chain_open",
	3:  "timestamp_must_be_zero",
	4:  "reserved_field",
	5:  "reserved_flag",
	6:  "id_must_not_be_zero",
	7:  "id_must_not_be_int_max",
	8:  "flags_are_mutually_exclusive",
	9:  "debits_pending_must_be_zero",
	10: "debits_posted_must_be_zero",
	11: "credits_pending_must_be_zero",
	12: "credits_posted_must_be_zero",
	13: "ledger_must_not_be_zero",
	14: "code_must_not_be_zero",
	15: "exists_with_different_flags",
	16: "exists_with_different_user_data_128",
	17: "exists_with_different_user_data_64",
	18: "exists_with_different_user_data_32",
	19: "exists_with_different_ledger",
	20: "exists_with_different_code",
	21: "exists",
	22: "imported_event_expected",
	23: "imported_event_not_expected",
	24: "imported_event_timestamp_out_of_range",
	25: "imported_event_timestamp_must_not_advance",
	26: "imported_event_timestamp_must_not_regress",
}

var transferStatusNames = [statusCount]string{
	1:  "linked_event_failed",
	2:  "linked_event_chain_open",
	3:  "timestamp_must_be_zero",
	4:  "reserved_flag",
	5:  "id_must_not_be_zero",
	6:  "id_must_not_be_int_max",
	7:  "flags_are_mutually_exclusive",
	8:  "debit_account_id_must_not_be_zero",
	9:  "debit_account_id_must_not_be_int_max",
	10: "credit_account_id_must_not_be_zero",
	11: "credit_account_id_must_not_be_int_max",
	12: "accounts_must_be_different",
	13: "pending_id_must_be_zero",
	14: "pending_id_must_not_be_zero",
	15: "pending_id_must_not_be_int_max",
	16: "pending_id_must_be_different",
	17: "timeout_reserved_for_pending_transfer",
	19: "ledger_must_not_be_zero",
	20: "code_must_not_be_zero",
	21: "debit_account_not_found",
	22: "credit_account_not_found",
	23: "accounts_must_have_the_same_ledger",
	24: "transfer_must_have_the_same_ledger_as_accounts",
	25: "pending_transfer_not_found",
	26: "pending_transfer_not_pending",
	27: "pending_transfer_has_different_debit_account_id",
	28: "pending_transfer_has_different_credit_account_id",
	29: "pending_transfer_has_different_ledger",
	30: "pending_transfer_has_different_code",
	31: "exceeds_pending_transfer_amount",
	32: "pending_transfer_has_different_amount",
	33: "pending_transfer_already_posted",
	34: "pending_transfer_already_voided",
	35: "pending_transfer_expired",
	36: "exists_with_different_flags",
	37: "exists_with_different_debit_account_id",
	38: "exists_with_different_credit_account_id",
	39: "exists_with_different_amount",
	40: "exists_with_different_pending_id",
	41: "exists_with_different_user_data_128",
	42: "exists_with_different_user_data_64",
	43: "exists_with_different_user_data_32",
	44: "exists_with_different_timeout",
	45: "exists_with_different_code",
	46: "exists",
	47: "overflows_debits_pending",
	48: "overflows_credits_pending",
	49: "overflows_debits_posted",
	50: "overflows_credits_posted",
	51: "overflows_debits",
	52: "overflows_credits",
	53: "overflows_timeout",
	54: "exceeds_credits",
	55: "exceeds_debits",
	56: "imported_event_expected",
	57: "imported_event_not_expected",
	58: "imported_event_timestamp_out_of_range",
	59: "imported_event_timestamp_must_not_advance",
	60: "imported_event_timestamp_must_not_regress",
	61: "imported_event_timestamp_must_postdate_debit_account",
	62: "imported_event_timestamp_must_postdate_credit_account",
	63: "imported_event_timeout_must_be_zero",
	64: "closing_transfer_must_be_pending",
	65: "debit_account_already_closed",
	66: "credit_account_already_closed",
	67: "exists_with_different_ledger",
	68: "id_already_failed",
}

// AccountStatusName names a create_accounts status; unknown numbers are
// spelled out so that a ledger's bad status shows up readably in an error.
func AccountStatusName(s uint32) string { return statusName(&accountStatusNames, s) }

// TransferStatusName names a create_transfers status.
func TransferStatusName(s uint32) string { return statusName(&transferStatusNames, s) }

// StatusName names a status of a create operation.
func StatusName(operation uint8, s uint32) string {
	if operation == OpCreateAccounts {
		return AccountStatusName(s)
	}
	return TransferStatusName(s)
}

func statusName(names *[statusCount]string, s uint32) string {
	if s == StatusCreated {
		return "created"
	}
	if s < statusCount && names[s] != "" {
		return names[s]
	}
	return "status_" + uitoa(uint64(s))
}

// AccountStatuses lists every create_accounts status name, created first
// then in numeric order.
func AccountStatuses() []string { return statusList(&accountStatusNames) }

// TransferStatuses lists every create_transfers status name.
func TransferStatuses() []string { return statusList(&transferStatusNames) }

func statusList(names *[statusCount]string) []string {
	out := []string{"created"}
	for _, n := range names {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

// transient statuses burn the transfer id: a retry gets id_already_failed.
func transient(s uint32) bool {
	switch s {
	case TransferDebitAccountNotFound, TransferCreditAccountNotFound, TransferPendingTransferNotFound,
		TransferExceedsCredits, TransferExceedsDebits,
		TransferDebitAccountAlreadyClosed, TransferCreditAccountAlreadyClosed:
		return true
	}
	return false
}

func uitoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}
