package workload

// createAccount applies one account event whose timestamp is already set,
// checking in TigerBeetle's order of precedence.
func (m *model) createAccount(a *Account) (status uint32, resultTS uint64) {
	if a.Reserved != 0 {
		return AccountReservedField, 0
	}
	if a.Flags&^accountFlagsKnown != 0 {
		return AccountReservedFlag, 0
	}
	if a.ID.IsZero() {
		return AccountIDMustNotBeZero, 0
	}
	if isMax128(a.ID) {
		return AccountIDMustNotBeIntMax, 0
	}
	if e, ok := m.accounts[a.ID]; ok {
		// Only an exact duplicate reports the stored object's timestamp, as
		// created does; a conflicting one reports when it was rejected.
		if s := accountExists(a, &e.Account); s != AccountExists {
			return s, 0
		}
		return AccountExists, e.Timestamp
	}
	if a.Flags&AccountDebitsMustNotExceedCredits != 0 && a.Flags&AccountCreditsMustNotExceedDebits != 0 {
		return AccountFlagsAreMutuallyExclusive, 0
	}
	switch {
	case !a.DebitsPending.IsZero():
		return AccountDebitsPendingMustBeZero, 0
	case !a.DebitsPosted.IsZero():
		return AccountDebitsPostedMustBeZero, 0
	case !a.CreditsPending.IsZero():
		return AccountCreditsPendingMustBeZero, 0
	case !a.CreditsPosted.IsZero():
		return AccountCreditsPostedMustBeZero, 0
	case a.Ledger == 0:
		return AccountLedgerMustNotBeZero, 0
	case a.Code == 0:
		return AccountCodeMustNotBeZero, 0
	}
	if a.Flags&AccountImported != 0 {
		// Imported timestamps may lie in the past but must keep accounts
		// in timestamp order and never collide with a transfer's.
		if a.Timestamp <= m.maxAccountTimestamp() || m.transferAt[a.Timestamp] {
			return AccountImportedEventTimestampMustNotRegress, 0
		}
	}
	m.insertAccount(*a)
	return StatusCreated, a.Timestamp
}

func accountExists(a, e *Account) uint32 {
	switch {
	case a.Flags != e.Flags:
		return AccountExistsWithDifferentFlags
	case a.UserData128 != e.UserData128:
		return AccountExistsWithDifferentUserData128
	case a.UserData64 != e.UserData64:
		return AccountExistsWithDifferentUserData64
	case a.UserData32 != e.UserData32:
		return AccountExistsWithDifferentUserData32
	case a.Ledger != e.Ledger:
		return AccountExistsWithDifferentLedger
	case a.Code != e.Code:
		return AccountExistsWithDifferentCode
	}
	return AccountExists
}

func (m *model) insertAccount(a Account) {
	ma := &mAccount{Account: a}
	m.accounts[a.ID] = ma
	m.accountList = append(m.accountList, ma)
	m.accountAt[a.Timestamp] = true
	m.onUndo(func() {
		delete(m.accounts, a.ID)
		delete(m.accountAt, a.Timestamp)
		m.accountList = m.accountList[:len(m.accountList)-1]
	})
}

// createTransfer applies one transfer event whose timestamp is already set.
func (m *model) createTransfer(t *Transfer) (status uint32, resultTS uint64) {
	if t.Flags&^transferFlagsKnown != 0 {
		return TransferReservedFlag, 0
	}
	if t.ID.IsZero() {
		return TransferIDMustNotBeZero, 0
	}
	if isMax128(t.ID) {
		return TransferIDMustNotBeIntMax, 0
	}
	if e, ok := m.transfers[t.ID]; ok {
		if s := m.transferExists(t, e); s != TransferExists {
			return s, 0
		}
		return TransferExists, e.Timestamp
	}
	if m.orphans[t.ID] {
		return TransferIDAlreadyFailed, 0
	}
	if t.Flags&(TransferPostPending|TransferVoidPending) != 0 {
		// A created post or void reports its own timestamp, which for an
		// imported one is the client's; a failure reports its slot's.
		if status := m.postOrVoid(t); status != StatusCreated {
			return status, 0
		}
		return StatusCreated, t.Timestamp
	}
	switch {
	case t.DebitAccountID.IsZero():
		return TransferDebitAccountIDMustNotBeZero, 0
	case isMax128(t.DebitAccountID):
		return TransferDebitAccountIDMustNotBeIntMax, 0
	case t.CreditAccountID.IsZero():
		return TransferCreditAccountIDMustNotBeZero, 0
	case isMax128(t.CreditAccountID):
		return TransferCreditAccountIDMustNotBeIntMax, 0
	case t.DebitAccountID == t.CreditAccountID:
		return TransferAccountsMustBeDifferent, 0
	case !t.PendingID.IsZero():
		return TransferPendingIDMustBeZero, 0
	}
	pending := t.Flags&TransferPending != 0
	if !pending {
		if t.Timeout != 0 {
			return TransferTimeoutReservedForPendingTransfer, 0
		}
		if t.Flags&(TransferClosingDebit|TransferClosingCredit) != 0 {
			return TransferClosingTransferMustBePending, 0
		}
	}
	if t.Ledger == 0 {
		return TransferLedgerMustNotBeZero, 0
	}
	if t.Code == 0 {
		return TransferCodeMustNotBeZero, 0
	}
	dr, ok := m.accounts[t.DebitAccountID]
	if !ok {
		return TransferDebitAccountNotFound, 0
	}
	cr, ok := m.accounts[t.CreditAccountID]
	if !ok {
		return TransferCreditAccountNotFound, 0
	}
	if dr.Ledger != cr.Ledger {
		return TransferAccountsMustHaveTheSameLedger, 0
	}
	if t.Ledger != dr.Ledger {
		return TransferTransferMustHaveTheSameLedgerAsAccounts, 0
	}
	if t.Flags&TransferImported != 0 {
		switch {
		case t.Timestamp <= m.maxTransferTimestamp() || m.accountAt[t.Timestamp]:
			return TransferImportedEventTimestampMustNotRegress, 0
		case t.Timestamp <= dr.Timestamp:
			return TransferImportedEventTimestampMustPostdateDebit, 0
		case t.Timestamp <= cr.Timestamp:
			return TransferImportedEventTimestampMustPostdateCredit, 0
		case t.Timeout != 0:
			return TransferImportedEventTimeoutMustBeZero, 0
		}
	}
	if dr.Flags&AccountClosed != 0 {
		return TransferDebitAccountAlreadyClosed, 0
	}
	if cr.Flags&AccountClosed != 0 {
		return TransferCreditAccountAlreadyClosed, 0
	}

	// A balancing transfer moves at most what brings the account to zero.
	amount := t.Amount
	if t.Flags&TransferBalancingDebit != 0 {
		drBalance, _ := add128(dr.DebitsPosted, dr.DebitsPending)
		amount = min128(amount, subSat128(dr.CreditsPosted, drBalance))
	}
	if t.Flags&TransferBalancingCredit != 0 {
		crBalance, _ := add128(cr.CreditsPosted, cr.CreditsPending)
		amount = min128(amount, subSat128(cr.DebitsPosted, crBalance))
	}

	if pending {
		if _, over := add128(amount, dr.DebitsPending); over {
			return TransferOverflowsDebitsPending, 0
		}
		if _, over := add128(amount, cr.CreditsPending); over {
			return TransferOverflowsCreditsPending, 0
		}
	}
	if _, over := add128(amount, dr.DebitsPosted); over {
		return TransferOverflowsDebitsPosted, 0
	}
	if _, over := add128(amount, cr.CreditsPosted); over {
		return TransferOverflowsCreditsPosted, 0
	}
	// pending + posted never overflows on its own: every transfer checks it.
	drDebits, _ := add128(dr.DebitsPending, dr.DebitsPosted)
	drDebitsAfter, over := add128(drDebits, amount)
	if over {
		return TransferOverflowsDebits, 0
	}
	crCredits, _ := add128(cr.CreditsPending, cr.CreditsPosted)
	crCreditsAfter, over := add128(crCredits, amount)
	if over {
		return TransferOverflowsCredits, 0
	}
	if uint64(t.Timeout)*nsPerSecond > timestampMax-t.Timestamp {
		return TransferOverflowsTimeout, 0
	}
	if dr.Flags&AccountDebitsMustNotExceedCredits != 0 && dr.CreditsPosted.Less(drDebitsAfter) {
		return TransferExceedsCredits, 0
	}
	if cr.Flags&AccountCreditsMustNotExceedDebits != 0 && cr.DebitsPosted.Less(crCreditsAfter) {
		return TransferExceedsDebits, 0
	}

	stored := *t
	stored.Amount = amount
	m.saveAccount(dr)
	m.saveAccount(cr)
	if pending {
		dr.DebitsPending, _ = add128(dr.DebitsPending, amount)
		cr.CreditsPending, _ = add128(cr.CreditsPending, amount)
	} else {
		dr.DebitsPosted, _ = add128(dr.DebitsPosted, amount)
		cr.CreditsPosted, _ = add128(cr.CreditsPosted, amount)
	}
	if t.Flags&TransferClosingDebit != 0 {
		dr.Flags |= AccountClosed
	}
	if t.Flags&TransferClosingCredit != 0 {
		cr.Flags |= AccountClosed
	}
	mt := &mTransfer{Transfer: stored}
	if pending {
		mt.state = statePending
	}
	m.insertTransfer(mt, dr, cr)
	return StatusCreated, t.Timestamp
}

func (m *model) insertTransfer(t *mTransfer, dr, cr *mAccount) {
	if (dr.Flags|cr.Flags)&AccountHistory != 0 {
		t.after = &[2]balances{dr.balances(), cr.balances()}
	}
	m.transfers[t.ID] = t
	m.transferList = append(m.transferList, t)
	m.transferAt[t.Timestamp] = true
	maxTransfer := m.maxTransfer
	m.maxTransfer = t.Timestamp
	dr.transfers = append(dr.transfers, t)
	cr.transfers = append(cr.transfers, t)
	canExpire := t.state == statePending && t.Timeout > 0
	if canExpire {
		m.live = append(m.live, t)
	}
	m.onUndo(func() {
		delete(m.transfers, t.ID)
		delete(m.transferAt, t.Timestamp)
		m.maxTransfer = maxTransfer
		m.transferList = m.transferList[:len(m.transferList)-1]
		dr.transfers = dr.transfers[:len(dr.transfers)-1]
		cr.transfers = cr.transfers[:len(cr.transfers)-1]
		if canExpire {
			m.live = m.live[:len(m.live)-1]
		}
	})
}

func (t *mTransfer) expiresAt() uint64 { return t.Timestamp + uint64(t.Timeout)*nsPerSecond }

// postOrVoid resolves a pending transfer (the two-phase path).
func (m *model) postOrVoid(t *Transfer) uint32 {
	post := t.Flags&TransferPostPending != 0
	void := t.Flags&TransferVoidPending != 0
	if (post && void) || t.Flags&(TransferPending|TransferBalancingDebit|TransferBalancingCredit|
		TransferClosingDebit|TransferClosingCredit) != 0 {
		return TransferFlagsAreMutuallyExclusive
	}
	switch {
	case t.PendingID.IsZero():
		return TransferPendingIDMustNotBeZero
	case isMax128(t.PendingID):
		return TransferPendingIDMustNotBeIntMax
	case t.PendingID == t.ID:
		return TransferPendingIDMustBeDifferent
	case t.Timeout != 0:
		return TransferTimeoutReservedForPendingTransfer
	}
	p, ok := m.transfers[t.PendingID]
	if !ok {
		return TransferPendingTransferNotFound
	}
	if p.Flags&TransferPending == 0 {
		return TransferPendingTransferNotPending
	}
	switch {
	case !t.DebitAccountID.IsZero() && t.DebitAccountID != p.DebitAccountID:
		return TransferPendingTransferHasDifferentDebitAccountID
	case !t.CreditAccountID.IsZero() && t.CreditAccountID != p.CreditAccountID:
		return TransferPendingTransferHasDifferentCreditAccountID
	case t.Ledger != 0 && t.Ledger != p.Ledger:
		return TransferPendingTransferHasDifferentLedger
	case t.Code != 0 && t.Code != p.Code:
		return TransferPendingTransferHasDifferentCode
	}
	// Zero voids the whole amount; u128 max posts the whole amount; zero
	// posts nothing.
	amount := t.Amount
	if void && amount.IsZero() {
		amount = p.Amount
	}
	if post && isMax128(amount) {
		amount = p.Amount
	}
	if p.Amount.Less(amount) {
		return TransferExceedsPendingTransferAmount
	}
	if void && amount.Less(p.Amount) {
		return TransferPendingTransferHasDifferentAmount
	}
	switch p.state {
	case statePosted:
		return TransferPendingTransferAlreadyPosted
	case stateVoided:
		return TransferPendingTransferAlreadyVoided
	case stateExpired:
		return TransferPendingTransferExpired
	}
	if p.Timeout > 0 && t.Timestamp+1 >= p.expiresAt() && t.Timestamp <= p.expiresAt()+1 {
		m.deadline[t.Timestamp+1-p.expiresAt()]++
	}
	// Expired by time even if no pulse has released it yet.
	if p.Timeout > 0 && p.expiresAt() <= t.Timestamp {
		return TransferPendingTransferExpired
	}
	if t.Flags&TransferImported != 0 {
		if t.Timestamp <= m.maxTransferTimestamp() || m.accountAt[t.Timestamp] {
			return TransferImportedEventTimestampMustNotRegress
		}
	}
	dr := m.accounts[p.DebitAccountID]
	cr := m.accounts[p.CreditAccountID]
	// The only movement a closed account allows is voiding a pending transfer.
	if dr.Flags&AccountClosed != 0 && !void {
		return TransferDebitAccountAlreadyClosed
	}
	if cr.Flags&AccountClosed != 0 && !void {
		return TransferCreditAccountAlreadyClosed
	}

	stored := Transfer{
		ID:              t.ID,
		DebitAccountID:  p.DebitAccountID,
		CreditAccountID: p.CreditAccountID,
		Amount:          amount,
		PendingID:       t.PendingID,
		UserData128:     t.UserData128,
		UserData64:      t.UserData64,
		UserData32:      t.UserData32,
		Ledger:          p.Ledger,
		Code:            p.Code,
		Flags:           t.Flags,
		Timestamp:       t.Timestamp,
	}
	if stored.UserData128.IsZero() {
		stored.UserData128 = p.UserData128
	}
	if stored.UserData64 == 0 {
		stored.UserData64 = p.UserData64
	}
	if stored.UserData32 == 0 {
		stored.UserData32 = p.UserData32
	}
	m.saveAccount(dr)
	m.saveAccount(cr)
	if post {
		m.setState(p, statePosted)
	} else {
		m.setState(p, stateVoided)
	}
	dr.DebitsPending = sub128(dr.DebitsPending, p.Amount)
	cr.CreditsPending = sub128(cr.CreditsPending, p.Amount)
	if post {
		dr.DebitsPosted, _ = add128(dr.DebitsPosted, amount)
		cr.CreditsPosted, _ = add128(cr.CreditsPosted, amount)
	} else {
		m.reopen(p, dr, cr)
	}
	m.insertTransfer(&mTransfer{Transfer: stored, pending: p}, dr, cr)
	return StatusCreated
}

func (m *model) setState(p *mTransfer, s pendingState) {
	old := p.state
	p.state = s
	m.onUndo(func() { p.state = old })
	m.noteResolved(p)
}

// reopen undoes what a closing pending transfer closed.
func (m *model) reopen(p *mTransfer, dr, cr *mAccount) {
	if p.Flags&TransferClosingDebit != 0 {
		dr.Flags &^= AccountClosed
	}
	if p.Flags&TransferClosingCredit != 0 {
		cr.Flags &^= AccountClosed
	}
}

// transferExists compares a retried event with the stored transfer; for a
// post/void, zero request fields stand for the pending transfer's values.
func (m *model) transferExists(t *Transfer, e *mTransfer) uint32 {
	if t.Flags != e.Flags {
		return TransferExistsWithDifferentFlags
	}
	if t.PendingID != e.PendingID {
		return TransferExistsWithDifferentPendingID
	}
	if t.Timeout != e.Timeout {
		return TransferExistsWithDifferentTimeout
	}
	if t.Flags&(TransferPostPending|TransferVoidPending) != 0 {
		return postOrVoidExists(t, &e.Transfer, &e.pending.Transfer)
	}
	switch {
	case t.DebitAccountID != e.DebitAccountID:
		return TransferExistsWithDifferentDebitAccountID
	case t.CreditAccountID != e.CreditAccountID:
		return TransferExistsWithDifferentCreditAccountID
	}
	if t.Flags&(TransferBalancingDebit|TransferBalancingCredit) != 0 {
		// The request's amount is an upper bound: any bound at least what
		// was moved is the same request.
		if t.Amount.Less(e.Amount) {
			return TransferExistsWithDifferentAmount
		}
	} else if t.Amount != e.Amount {
		return TransferExistsWithDifferentAmount
	}
	switch {
	case t.UserData128 != e.UserData128:
		return TransferExistsWithDifferentUserData128
	case t.UserData64 != e.UserData64:
		return TransferExistsWithDifferentUserData64
	case t.UserData32 != e.UserData32:
		return TransferExistsWithDifferentUserData32
	case t.Ledger != e.Ledger:
		return TransferExistsWithDifferentLedger
	case t.Code != e.Code:
		return TransferExistsWithDifferentCode
	}
	return TransferExists
}

func postOrVoidExists(t, e, p *Transfer) uint32 {
	if !t.DebitAccountID.IsZero() && t.DebitAccountID != e.DebitAccountID {
		return TransferExistsWithDifferentDebitAccountID
	}
	if !t.CreditAccountID.IsZero() && t.CreditAccountID != e.CreditAccountID {
		return TransferExistsWithDifferentCreditAccountID
	}
	void := t.Flags&TransferVoidPending != 0
	wholeAmount := (void && t.Amount.IsZero()) || (!void && isMax128(t.Amount))
	if wholeAmount && e.Amount != p.Amount || !wholeAmount && t.Amount != e.Amount {
		return TransferExistsWithDifferentAmount
	}
	inherit128 := func(req, pend U128) U128 {
		if req.IsZero() {
			return pend
		}
		return req
	}
	inherit := func(req, pend uint64) uint64 {
		if req == 0 {
			return pend
		}
		return req
	}
	switch {
	case inherit128(t.UserData128, p.UserData128) != e.UserData128:
		return TransferExistsWithDifferentUserData128
	case inherit(t.UserData64, p.UserData64) != e.UserData64:
		return TransferExistsWithDifferentUserData64
	case inherit(uint64(t.UserData32), uint64(p.UserData32)) != uint64(e.UserData32):
		return TransferExistsWithDifferentUserData32
	case t.Ledger != 0 && t.Ledger != e.Ledger:
		return TransferExistsWithDifferentLedger
	case t.Code != 0 && t.Code != e.Code:
		return TransferExistsWithDifferentCode
	}
	return TransferExists
}

// pulse expires every pending transfer due at or before timestamp, releasing
// its reservation and reopening what a closing transfer closed. Expiry adds
// no transfer, so it leaves no row in get_account_balances. Releases commute,
// so the order among due transfers does not matter here.
func (m *model) pulse(timestamp uint64) (expired int) {
	var due, keep []*mTransfer
	for _, p := range m.live {
		switch {
		case p.state != statePending:
		case p.expiresAt() <= timestamp:
			due = append(due, p)
		default:
			keep = append(keep, p)
		}
	}
	m.live = keep
	for _, p := range due {
		dr := m.accounts[p.DebitAccountID]
		cr := m.accounts[p.CreditAccountID]
		dr.DebitsPending = sub128(dr.DebitsPending, p.Amount)
		cr.CreditsPending = sub128(cr.CreditsPending, p.Amount)
		m.reopen(p, dr, cr)
		p.state = stateExpired
		m.noteResolved(p)
	}
	m.trim()
	return len(due)
}
