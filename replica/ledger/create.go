package ledger

import "viewstamp/replica/u128"

// timestampMax is the largest valid timestamp: TigerBeetle keeps the top bit
// free, so expiry arithmetic on u64 cannot overflow silently.
const timestampMax uint64 = 1<<63 - 1

// Both create operations share the linked-chain protocol: a chain is every
// event up to and including the first one without the linked flag; the first
// failure in a chain rolls back the events before it, and every other event
// of the chain reports linked_event_failed. The two statuses involved have
// the same numbers for accounts and transfers.
const (
	statusLinkedEventFailed    uint32 = 1
	statusLinkedEventChainOpen uint32 = 2
)

// createBatch runs n events of size bytes through create, which returns an
// event's status and result timestamp, and writes the results to out.
func (l *Ledger) createBatch(body []byte, size int, linkedFlag uint16, timestamp uint64, out []byte,
	create func(event []byte, ts uint64) (uint32, uint64)) []byte {
	n := len(body) / size
	out = grow(out, n*ResultSize)
	chain, broken := -1, false
	for i := 0; i < n; i++ {
		event := body[i*size : (i+1)*size]
		ts := timestamp - uint64(n) + uint64(i) + 1
		linked := le.Uint16(event[118:])&linkedFlag != 0
		if linked && chain < 0 {
			chain, broken = i, false
			l.s.openScope()
		}
		status, resTS := statusLinkedEventFailed, ts
		switch {
		case linked && i == n-1:
			status = statusLinkedEventChainOpen
		case chain >= 0 && broken:
		default:
			status, resTS = create(event, ts)
		}
		if chain >= 0 && status != StatusCreated && !broken {
			broken = true
			if l.cfg.Bugs.SkipChainRollback {
				l.s.closeScope()
			} else {
				l.s.rollback()
			}
			for j := chain; j < i; j++ {
				r := Result{Timestamp: timestamp - uint64(n) + uint64(j) + 1, Status: statusLinkedEventFailed}
				r.encode(out[j*ResultSize:])
			}
		}
		Result{Timestamp: resTS, Status: status}.encode(out[i*ResultSize:])
		if chain >= 0 && (!linked || i == n-1) {
			if !broken {
				l.s.closeScope()
			}
			chain = -1
		}
	}
	return out
}

func (l *Ledger) createAccounts(body []byte, timestamp uint64, out []byte) []byte {
	batchImported := len(body) >= AccountSize && le.Uint16(body[118:])&AccountImported != 0
	return l.createBatch(body, AccountSize, AccountLinked, timestamp, out, func(event []byte, ts uint64) (uint32, uint64) {
		a := DecodeAccount(event)
		status := l.createAccount(&a, ts, timestamp, batchImported)
		switch status {
		case StatusCreated:
			pos, _ := l.s.account(a.ID)
			return status, l.s.accounts.at(pos).Timestamp
		case AccountExists:
			pos, _ := l.s.account(a.ID)
			return status, l.s.accounts.at(pos).Timestamp
		}
		return status, ts
	})
}

func (l *Ledger) createAccount(a *Account, ts, batchTS uint64, batchImported bool) uint32 {
	imported := a.Flags&AccountImported != 0
	if imported != batchImported {
		if batchImported {
			return AccountImportedEventExpected
		}
		return AccountImportedEventNotExpected
	}
	if imported {
		if a.Timestamp == 0 || a.Timestamp > timestampMax {
			return AccountImportedEventTimestampOutOfRange
		}
		if a.Timestamp >= batchTS {
			return AccountImportedEventTimestampMustNotAdvance
		}
	} else if a.Timestamp != 0 {
		return AccountTimestampMustBeZero
	}
	if a.Reserved != 0 {
		return AccountReservedField
	}
	if a.Flags&^accountFlagsKnown != 0 {
		return AccountReservedFlag
	}
	if a.ID.IsZero() {
		return AccountIDMustNotBeZero
	}
	if a.ID == u128Max {
		return AccountIDMustNotBeIntMax
	}
	if pos, ok := l.s.account(a.ID); ok {
		e := l.s.accounts.at(pos)
		switch {
		case e.Flags != a.Flags:
			return AccountExistsWithDifferentFlags
		case e.UserData128 != a.UserData128:
			return AccountExistsWithDifferentUserData128
		case e.UserData64 != a.UserData64:
			return AccountExistsWithDifferentUserData64
		case e.UserData32 != a.UserData32:
			return AccountExistsWithDifferentUserData32
		case e.Ledger != a.Ledger:
			return AccountExistsWithDifferentLedger
		case e.Code != a.Code:
			return AccountExistsWithDifferentCode
		}
		return AccountExists
	}
	if a.Flags&AccountDebitsMustNotExceedCredits != 0 && a.Flags&AccountCreditsMustNotExceedDebits != 0 {
		return AccountFlagsAreMutuallyExclusive
	}
	switch {
	case !a.DebitsPending.IsZero():
		return AccountDebitsPendingMustBeZero
	case !a.DebitsPosted.IsZero():
		return AccountDebitsPostedMustBeZero
	case !a.CreditsPending.IsZero():
		return AccountCreditsPendingMustBeZero
	case !a.CreditsPosted.IsZero():
		return AccountCreditsPostedMustBeZero
	case a.Ledger == 0:
		return AccountLedgerMustNotBeZero
	case a.Code == 0:
		return AccountCodeMustNotBeZero
	}
	if imported {
		if a.Timestamp <= l.s.lastAccountTimestamp() || l.s.transferAtTimestamp(a.Timestamp) {
			return AccountImportedEventTimestampMustNotRegress
		}
	} else {
		a.Timestamp = ts
	}
	l.s.insertAccount(a)
	return StatusCreated
}

func (l *Ledger) createTransfers(body []byte, timestamp uint64, out []byte) []byte {
	batchImported := len(body) >= TransferSize && le.Uint16(body[118:])&TransferImported != 0
	return l.createBatch(body, TransferSize, TransferLinked, timestamp, out, func(event []byte, ts uint64) (uint32, uint64) {
		t := DecodeTransfer(event)
		status, resTS := l.createTransfer(&t, ts, timestamp, batchImported)
		// A transient failure burns the id even when it broke a chain: the
		// client saw the failure, so the same id must never succeed later.
		if transient(status) {
			l.s.failed.add(t.ID)
		}
		return status, resTS
	})
}

// createTransfer validates t and applies it. It returns the status and the
// result timestamp: the stored object's for created and exists, else ts.
func (l *Ledger) createTransfer(t *Transfer, ts, batchTS uint64, batchImported bool) (uint32, uint64) {
	imported := t.Flags&TransferImported != 0
	if imported != batchImported {
		if batchImported {
			return TransferImportedEventExpected, ts
		}
		return TransferImportedEventNotExpected, ts
	}
	if imported {
		if t.Timestamp == 0 || t.Timestamp > timestampMax {
			return TransferImportedEventTimestampOutOfRange, ts
		}
		if t.Timestamp >= batchTS {
			return TransferImportedEventTimestampMustNotAdvance, ts
		}
	} else if t.Timestamp != 0 {
		return TransferTimestampMustBeZero, ts
	}
	if t.Flags&^transferFlagsKnown != 0 {
		return TransferReservedFlag, ts
	}
	if t.ID.IsZero() {
		return TransferIDMustNotBeZero, ts
	}
	if t.ID == u128Max {
		return TransferIDMustNotBeIntMax, ts
	}
	if pos, ok := l.s.transfer(t.ID); ok {
		// Only an exact duplicate reports the stored transfer's timestamp,
		// as created would have; a conflicting one reports when it was
		// rejected.
		e := &l.s.transfers.at(pos).Transfer
		if status := l.transferExists(t, e); status != TransferExists {
			return status, ts
		}
		return TransferExists, e.Timestamp
	}
	if l.s.failed.has(t.ID) {
		return TransferIDAlreadyFailed, ts
	}
	if !imported {
		t.Timestamp = ts
	}
	if t.Flags&(TransferPostPending|TransferVoidPending) != 0 {
		// Expiry is judged at the event's own timestamp, the client's for
		// an imported event; a failure reports its slot's timestamp like
		// every other failure, a created transfer its own.
		if status := l.postOrVoid(t, t.Timestamp); status != StatusCreated {
			return status, ts
		}
		return StatusCreated, t.Timestamp
	}

	switch {
	case t.DebitAccountID.IsZero():
		return TransferDebitAccountIDMustNotBeZero, ts
	case t.DebitAccountID == u128Max:
		return TransferDebitAccountIDMustNotBeIntMax, ts
	case t.CreditAccountID.IsZero():
		return TransferCreditAccountIDMustNotBeZero, ts
	case t.CreditAccountID == u128Max:
		return TransferCreditAccountIDMustNotBeIntMax, ts
	case t.DebitAccountID == t.CreditAccountID:
		return TransferAccountsMustBeDifferent, ts
	case !t.PendingID.IsZero():
		return TransferPendingIDMustBeZero, ts
	}
	if t.Flags&TransferPending == 0 {
		if t.Timeout != 0 {
			return TransferTimeoutReservedForPendingTransfer, ts
		}
		if t.Flags&(TransferClosingDebit|TransferClosingCredit) != 0 {
			return TransferClosingTransferMustBePending, ts
		}
	}
	if t.Ledger == 0 {
		return TransferLedgerMustNotBeZero, ts
	}
	if t.Code == 0 {
		return TransferCodeMustNotBeZero, ts
	}
	drPos, ok := l.s.account(t.DebitAccountID)
	if !ok {
		return TransferDebitAccountNotFound, ts
	}
	crPos, ok := l.s.account(t.CreditAccountID)
	if !ok {
		return TransferCreditAccountNotFound, ts
	}
	dr, cr := &l.s.accounts.at(drPos).Account, &l.s.accounts.at(crPos).Account
	if dr.Ledger != cr.Ledger {
		return TransferAccountsMustHaveTheSameLedger, ts
	}
	if t.Ledger != dr.Ledger {
		return TransferTransferMustHaveTheSameLedgerAsAccounts, ts
	}
	if imported {
		switch {
		case t.Timestamp <= l.s.lastTransferTimestamp() || l.s.accountAtTimestamp(t.Timestamp):
			return TransferImportedEventTimestampMustNotRegress, ts
		case t.Timestamp <= dr.Timestamp:
			return TransferImportedEventTimestampMustPostdateDebit, ts
		case t.Timestamp <= cr.Timestamp:
			return TransferImportedEventTimestampMustPostdateCredit, ts
		case t.Timeout != 0:
			return TransferImportedEventTimeoutMustBeZero, ts
		}
	}
	if dr.Flags&AccountClosed != 0 {
		return TransferDebitAccountAlreadyClosed, ts
	}
	if cr.Flags&AccountClosed != 0 {
		return TransferCreditAccountAlreadyClosed, ts
	}

	amount := t.Amount
	if t.Flags&TransferBalancingDebit != 0 {
		drBalance, _ := add(dr.DebitsPosted, dr.DebitsPending)
		amount = min128(amount, subSat(dr.CreditsPosted, drBalance))
	}
	if t.Flags&TransferBalancingCredit != 0 {
		crBalance, _ := add(cr.CreditsPosted, cr.CreditsPending)
		amount = min128(amount, subSat(cr.DebitsPosted, crBalance))
	}
	pending := t.Flags&TransferPending != 0
	if pending {
		if _, o := add(dr.DebitsPending, amount); o {
			return TransferOverflowsDebitsPending, ts
		}
		if _, o := add(cr.CreditsPending, amount); o {
			return TransferOverflowsCreditsPending, ts
		}
	}
	if _, o := add(dr.DebitsPosted, amount); o {
		return TransferOverflowsDebitsPosted, ts
	}
	if _, o := add(cr.CreditsPosted, amount); o {
		return TransferOverflowsCreditsPosted, ts
	}
	if d, o := add(dr.DebitsPending, dr.DebitsPosted); o {
		return TransferOverflowsDebits, ts
	} else if _, o := add(d, amount); o {
		return TransferOverflowsDebits, ts
	}
	if c, o := add(cr.CreditsPending, cr.CreditsPosted); o {
		return TransferOverflowsCredits, ts
	} else if _, o := add(c, amount); o {
		return TransferOverflowsCredits, ts
	}
	if t.Timestamp+uint64(t.Timeout)*1e9 > timestampMax {
		return TransferOverflowsTimeout, ts
	}
	if dr.Flags&AccountDebitsMustNotExceedCredits != 0 && !l.cfg.Bugs.SkipDebitLimit && exceeds(dr.DebitsPending, dr.DebitsPosted, amount, dr.CreditsPosted) {
		return TransferExceedsCredits, ts
	}
	if cr.Flags&AccountCreditsMustNotExceedDebits != 0 && exceeds(cr.CreditsPending, cr.CreditsPosted, amount, cr.DebitsPosted) {
		return TransferExceedsDebits, ts
	}

	t.Amount = amount
	state := pendingNone
	if pending {
		state = pendingPending
	}
	pos := l.s.insertTransfer(t, state)
	d := l.s.beginUpdate(drPos)
	c := l.s.beginUpdate(crPos)
	if pending {
		d.DebitsPending, _ = add(d.DebitsPending, amount)
		c.CreditsPending, _ = add(c.CreditsPending, amount)
	} else {
		d.DebitsPosted, _ = add(d.DebitsPosted, amount)
		c.CreditsPosted, _ = add(c.CreditsPosted, amount)
	}
	if t.Flags&TransferClosingDebit != 0 {
		d.Flags |= AccountClosed
	}
	if t.Flags&TransferClosingCredit != 0 {
		c.Flags |= AccountClosed
	}
	l.linkTransfer(pos, d, c)
	return StatusCreated, t.Timestamp
}

// exceeds reports whether pending + posted + amount > limit, without
// overflow (the overflow checks ran first, so the sum fits).
func exceeds(pending, posted, amount, limit u128.U128) bool {
	s, _ := add(pending, posted)
	s, _ = add(s, amount)
	return limit.Less(s)
}

func (l *Ledger) postOrVoid(t *Transfer, ts uint64) uint32 {
	post := t.Flags&TransferPostPending != 0
	void := t.Flags&TransferVoidPending != 0
	if (post && void) || t.Flags&(TransferPending|TransferBalancingDebit|TransferBalancingCredit|
		TransferClosingDebit|TransferClosingCredit) != 0 {
		return TransferFlagsAreMutuallyExclusive
	}
	switch {
	case t.PendingID.IsZero():
		return TransferPendingIDMustNotBeZero
	case t.PendingID == u128Max:
		return TransferPendingIDMustNotBeIntMax
	case t.PendingID == t.ID:
		return TransferPendingIDMustBeDifferent
	case t.Timeout != 0:
		return TransferTimeoutReservedForPendingTransfer
	}
	ppos, ok := l.s.transfer(t.PendingID)
	if !ok {
		return TransferPendingTransferNotFound
	}
	p := &l.s.transfers.at(ppos).Transfer
	if p.Flags&TransferPending == 0 {
		return TransferPendingTransferNotPending
	}
	drPos, _ := l.s.account(p.DebitAccountID)
	crPos, _ := l.s.account(p.CreditAccountID)
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
	amount := resolvedAmount(t, p)
	if p.Amount.Less(amount) {
		return TransferExceedsPendingTransferAmount
	}
	if void && amount.Less(p.Amount) {
		return TransferPendingTransferHasDifferentAmount
	}
	switch l.s.transfers.at(ppos).state {
	case pendingPosted:
		return TransferPendingTransferAlreadyPosted
	case pendingVoided:
		return TransferPendingTransferAlreadyVoided
	case pendingExpired:
		return TransferPendingTransferExpired
	}
	if p.Timeout > 0 && p.Timestamp+uint64(p.Timeout)*1e9 <= ts {
		return TransferPendingTransferExpired
	}
	if t.Flags&TransferImported != 0 && (t.Timestamp <= l.s.lastTransferTimestamp() || l.s.accountAtTimestamp(t.Timestamp)) {
		return TransferImportedEventTimestampMustNotRegress
	}
	dr, cr := l.s.accounts.at(drPos), l.s.accounts.at(crPos)
	if !void {
		if dr.Flags&AccountClosed != 0 {
			return TransferDebitAccountAlreadyClosed
		}
		if cr.Flags&AccountClosed != 0 {
			return TransferCreditAccountAlreadyClosed
		}
	}

	stored := *t
	stored.DebitAccountID, stored.CreditAccountID = p.DebitAccountID, p.CreditAccountID
	stored.Ledger, stored.Code = p.Ledger, p.Code
	stored.Amount = amount
	if stored.UserData128.IsZero() {
		stored.UserData128 = p.UserData128
	}
	if stored.UserData64 == 0 {
		stored.UserData64 = p.UserData64
	}
	if stored.UserData32 == 0 {
		stored.UserData32 = p.UserData32
	}
	pAmount, pFlags := p.Amount, p.Flags
	pos := l.s.insertTransfer(&stored, pendingNone)
	d := l.s.beginUpdate(drPos)
	c := l.s.beginUpdate(crPos)
	d.DebitsPending = sub(d.DebitsPending, pAmount)
	c.CreditsPending = sub(c.CreditsPending, pAmount)
	if post {
		d.DebitsPosted, _ = add(d.DebitsPosted, amount)
		c.CreditsPosted, _ = add(c.CreditsPosted, amount)
		l.s.setPending(ppos, pendingPosted)
	} else {
		l.s.setPending(ppos, pendingVoided)
		if pFlags&TransferClosingDebit != 0 {
			d.Flags &^= AccountClosed
		}
		if pFlags&TransferClosingCredit != 0 {
			c.Flags &^= AccountClosed
		}
	}
	*t = stored
	l.linkTransfer(pos, d, c)
	return StatusCreated
}

// resolvedAmount is what a post or void moves: a void of 0 and a post of
// u128 max both mean the whole pending amount.
func resolvedAmount(t, p *Transfer) u128.U128 {
	if t.Flags&TransferVoidPending != 0 && t.Amount.IsZero() {
		return p.Amount
	}
	if t.Flags&TransferPostPending != 0 && t.Amount == u128Max {
		return p.Amount
	}
	return t.Amount
}

// linkTransfer appends the new transfer to both accounts' lists and, for
// history accounts, the balances it left behind.
// A working set keeps only the history accounts' lists: the batch's account
// events are built from them, and the grooves index the rest.
func (l *Ledger) linkTransfer(pos int32, d, c *accountRec) {
	if d.Flags&AccountHistory != 0 {
		d.transfers = append(d.transfers, pos)
		d.balances = append(d.balances, balanceOf(&d.Account))
	} else if l.s.indexed {
		d.transfers = append(d.transfers, pos)
	}
	if c.Flags&AccountHistory != 0 {
		c.transfers = append(c.transfers, pos)
		c.balances = append(c.balances, balanceOf(&c.Account))
	} else if l.s.indexed {
		c.transfers = append(c.transfers, pos)
	}
	l.digestTransfer(pos)
}

func balanceOf(a *Account) balance {
	return balance{a.DebitsPending, a.DebitsPosted, a.CreditsPending, a.CreditsPosted}
}

// transferExists compares a retried transfer with the stored one. For a
// post or void, fields left zero in the retry stand for the pending
// transfer's values, as they did when the original was created.
func (l *Ledger) transferExists(t, e *Transfer) uint32 {
	if t.Flags != e.Flags {
		return TransferExistsWithDifferentFlags
	}
	if t.PendingID != e.PendingID {
		return TransferExistsWithDifferentPendingID
	}
	if t.Timeout != e.Timeout {
		return TransferExistsWithDifferentTimeout
	}
	if e.Flags&(TransferPostPending|TransferVoidPending) == 0 {
		switch {
		case t.DebitAccountID != e.DebitAccountID:
			return TransferExistsWithDifferentDebitAccountID
		case t.CreditAccountID != e.CreditAccountID:
			return TransferExistsWithDifferentCreditAccountID
		}
		if e.Flags&(TransferBalancingDebit|TransferBalancingCredit) != 0 {
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
	p := &l.s.transfers.at(l.s.mustTransfer(e.PendingID)).Transfer
	switch {
	case !t.DebitAccountID.IsZero() && t.DebitAccountID != e.DebitAccountID:
		return TransferExistsWithDifferentDebitAccountID
	case !t.CreditAccountID.IsZero() && t.CreditAccountID != e.CreditAccountID:
		return TransferExistsWithDifferentCreditAccountID
	case resolvedAmount(t, p) != e.Amount:
		return TransferExistsWithDifferentAmount
	case or128(t.UserData128, p.UserData128) != e.UserData128:
		return TransferExistsWithDifferentUserData128
	case or64(t.UserData64, p.UserData64) != e.UserData64:
		return TransferExistsWithDifferentUserData64
	case or32(t.UserData32, p.UserData32) != e.UserData32:
		return TransferExistsWithDifferentUserData32
	case t.Ledger != 0 && t.Ledger != e.Ledger:
		return TransferExistsWithDifferentLedger
	case t.Code != 0 && t.Code != e.Code:
		return TransferExistsWithDifferentCode
	}
	return TransferExists
}

func or128(v, dflt u128.U128) u128.U128 {
	if v.IsZero() {
		return dflt
	}
	return v
}

func or64(v, dflt uint64) uint64 {
	if v == 0 {
		return dflt
	}
	return v
}

func or32(v, dflt uint32) uint32 {
	if v == 0 {
		return dflt
	}
	return v
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}
