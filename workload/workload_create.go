package workload

// This file builds create_accounts and create_transfers requests.

func (g *Generator) createAccounts(batchMax int) []byte {
	n := g.batchSize(batchMax)
	var events []Account
	if n > 0 && g.chance(g.p.importRate) {
		events = g.importedAccounts(n)
	} else {
		for len(events) < n {
			events = append(events, g.accountEvent())
		}
		g.link(len(events), func(i int) *uint16 { return &events[i].Flags }, AccountLinked,
			func(i int) {
				if a := g.byID[events[i].ID]; a != nil && a.state == sent {
					a.state = planned // replaced before it was sent
				}
				events[i] = g.invalidAccount()
			})
	}
	body := make([]byte, len(events)*EventSize)
	for i := range events {
		EncodeAccount(body[i*EventSize:], &events[i])
		g.sentAccts.add(events[i])
	}
	return body
}

// link turns some runs of events into linked chains, sometimes with an
// invalid event planted in the middle so the chain fails and rolls back, and
// rarely leaves the batch's last event linked (an open chain).
func (g *Generator) link(n int, flags func(i int) *uint16, linked uint16, spoil func(i int)) {
	for i := 0; i+1 < n; {
		if !g.chance(g.p.chainRate) {
			i++
			continue
		}
		k := 2 + g.rng.IntN(min(4, n-i-1))
		for j := i; j < i+k-1; j++ {
			*flags(j) |= linked
		}
		if g.chance(0.25) {
			spoil(i + g.rng.IntN(k))
			for j := i; j < i+k-1; j++ {
				*flags(j) |= linked
			}
		}
		i += k
	}
	if n > 0 && g.chance(0.01) {
		*flags(n - 1) |= linked
	}
}

func (g *Generator) accountEvent() Account {
	if g.chance(g.p.invalidRate * 4) {
		return g.invalidAccount()
	}
	if !g.chance(0.1) {
		// The next planned account nobody has sent yet.
		for _, a := range g.accounts {
			if a.state == planned {
				a.state = sent
				return a.ev
			}
		}
		// A request can be lost with its client's session; send again
		// what no reply has confirmed.
		for _, a := range g.accounts {
			if a.state == sent && g.chance(0.2) {
				return a.ev
			}
		}
	}
	return g.retryAccount()
}

func (g *Generator) retryAccount() Account {
	ev, ok := g.sentAccts.pick(g.rng)
	if !ok {
		return g.invalidAccount()
	}
	ev.Flags &^= AccountLinked
	if g.chance(0.5) {
		return ev // exists, if it was created
	}
	return alteredAccount(ev, g.rng.IntN(6))
}

// alteredAccount changes field k of an account event, for the
// exists_with_different_* statuses.
func alteredAccount(ev Account, k int) Account {
	switch k {
	case 0:
		ev.Flags ^= AccountHistory
	case 1:
		ev.UserData128.Lo++
	case 2:
		ev.UserData64++
	case 3:
		ev.UserData32++
	case 4:
		ev.Ledger++
	default:
		ev.Code++
	}
	return ev
}

// invalidAccountKinds is how many kinds invalidAccountKind knows.
const invalidAccountKinds = 13

// invalidAccount makes an event meant to fail with one particular status.
func (g *Generator) invalidAccount() Account {
	return g.invalidAccountKind(g.rng.IntN(invalidAccountKinds))
}

func (g *Generator) invalidAccountKind(kind int) Account {
	r := g.rng
	a := Account{ID: g.freshAccountID(), Ledger: 1, Code: 1}
	switch kind {
	case 0:
		a.Timestamp = 1 + r.Uint64N(1<<40)
	case 1:
		a.Reserved = 1 + r.Uint32N(1000)
	case 2:
		a.Flags |= 1 << (6 + r.IntN(10))
	case 3:
		a.ID = U128{}
	case 4:
		a.ID = maxU128
	case 5:
		a.Flags |= AccountDebitsMustNotExceedCredits | AccountCreditsMustNotExceedDebits
	case 6:
		a.DebitsPending = U128{Lo: 1 + r.Uint64N(10)}
	case 7:
		a.DebitsPosted = U128{Lo: 1 + r.Uint64N(10)}
	case 8:
		a.CreditsPending = U128{Lo: 1 + r.Uint64N(10)}
	case 9:
		a.CreditsPosted = U128{Lo: 1 + r.Uint64N(10)}
	case 10:
		a.Ledger = 0
	case 11:
		a.Code = 0
	default:
		// An imported event in a batch that is not.
		a.Flags |= AccountImported
		a.Timestamp = 1 + r.Uint64N(1<<40)
	}
	return a
}

// importedAccounts creates new accounts with user-defined timestamps just
// past the newest timestamp seen, two apart so that an imported transfer can
// later try the free timestamp just before one of them.
func (g *Generator) importedAccounts(n int) []Account {
	r := g.rng
	base := g.maxSeen + 3
	events := make([]Account, n)
	for i := range events {
		a := &gAccount{ev: Account{
			ID: g.freshAccountID(), Ledger: 1, Code: uint16(1 + r.IntN(4)),
			UserData32: uint32(r.IntN(8)), Flags: AccountImported,
		}, state: sent}
		if g.chance(g.p.historyShare) {
			a.ev.Flags |= AccountHistory
		}
		g.byID[a.ev.ID] = a
		events[i] = a.ev
		events[i].Timestamp = base + 2*uint64(i)
		if i == 0 || !g.chance(g.p.invalidRate*5) {
			continue
		}
		switch r.IntN(6) {
		case 0:
			events[i].Timestamp = 0
			if r.IntN(2) == 0 {
				events[i].Timestamp = 1<<63 + r.Uint64N(1<<62)
			}
		case 1:
			events[i].Timestamp = timestampMax
		case 2:
			events[i].Timestamp = 1 + r.Uint64N(max(g.maxSeen/2, 1))
		case 3:
			// Exactly an existing object's timestamp: the boundary of
			// "must not regress", where an off-by-one would accept it.
			events[i].Timestamp = g.existingTimestamp()
		case 4:
			events[i].Timestamp = events[i-1].Timestamp // a duplicate within the batch
		default:
			events[i].Flags &^= AccountImported
			events[i].Timestamp = 0
		}
	}
	return events
}

func (g *Generator) createTransfers(batchMax int) []byte {
	n := g.batchSize(batchMax)
	var events []Transfer
	deadline, onDeadline := g.atDeadline()
	g.prunePendings()
	if onDeadline && n > 0 && g.chance(0.5) {
		events = []Transfer{deadline}
	} else if t, ok := g.postdate(); ok && n > 0 && g.chance(0.5) {
		events = []Transfer{t}
	} else if n > 0 && g.chance(g.p.importRate) {
		events = g.importedTransfers(min(n, 1+g.rng.IntN(4)))
	} else {
		for len(events) < n {
			events = append(events, g.transferEvent())
		}
		g.link(len(events), func(i int) *uint16 { return &events[i].Flags }, TransferLinked,
			func(i int) { events[i] = g.invalidTransfer() })
	}
	body := make([]byte, len(events)*EventSize)
	for i := range events {
		EncodeTransfer(body[i*EventSize:], &events[i])
		g.noteSent(events[i])
	}
	return body
}

func (g *Generator) noteSent(ev Transfer) {
	if ev.ID.IsZero() || isMax128(ev.ID) {
		return
	}
	if _, ok := g.transfers[ev.ID]; ok {
		return
	}
	t := &gTransfer{ev: ev}
	g.track(t)
	g.recent.add(t)
}

func (g *Generator) transferEvent() Transfer {
	if g.chance(g.p.invalidRate) {
		return g.invalidTransfer()
	}
	// Closed accounts refuse everything: reopen them soon, mostly by void.
	if len(g.closers) > 0 && g.chance(0.2) {
		p := g.closers[0]
		g.closers = g.closers[1:]
		if !p.resolved && !p.taken {
			p.taken = true
			if g.rng.IntN(8) == 0 {
				return g.resolve(p, TransferPostPending) // refused: posting would move a closed account
			}
			return g.resolve(p, TransferVoidPending)
		}
	}
	switch transferKind(weighted(g.rng, g.p.transferMix[:])) {
	case tkPending:
		t := g.posted()
		t.Flags |= TransferPending
		t.Timeout = g.timeout()
		return t
	case tkPost:
		if p := g.livePending(); p != nil {
			return g.resolve(p, TransferPostPending)
		}
	case tkVoid:
		if p := g.livePending(); p != nil {
			return g.resolve(p, TransferVoidPending)
		}
	case tkBalancing:
		return g.balancing()
	case tkClosing:
		return g.closing()
	case tkWhale:
		if len(g.whales) >= 2 && g.whaleBudget > 0 && (g.whalesProbed || len(g.whales) < 3) {
			g.whaleBudget--
			return g.whale()
		}
	case tkRetrySame:
		if t, ok := g.recent.pick(g.rng); ok {
			ev := t.ev
			ev.Flags &^= TransferLinked
			return ev
		}
	case tkRetryAltered:
		if t, ok := g.recent.pick(g.rng); ok && t.status == StatusCreated {
			return g.altered(t.ev)
		}
	case tkRetryFailed:
		if t, ok := g.failed.pick(g.rng); ok {
			ev := t.ev
			ev.Flags &^= TransferLinked
			return ev
		}
	case tkLateResolve:
		if p, ok := g.resolved.pick(g.rng); ok {
			return g.resolve(p, []uint16{TransferPostPending, TransferVoidPending}[g.rng.IntN(2)])
		}
	case tkLimit:
		if t, ok := g.atLimit(); ok {
			return t
		}
	}
	return g.posted()
}

// limitTries bounds the search of the pool for a limited account whose
// balances a lookup has shown.
const limitTries = 8

// atLimit aims a transfer at a limited account's headroom as last looked
// up: exactly all of it, or one unit either side, the boundary where
// exceeds_credits / exceeds_debits begins. Transfers since the lookup move
// the real limit; the model judges against the real balances either way.
func (g *Generator) atLimit() (Transfer, bool) {
	r := g.rng
	if len(g.pool) < 2 {
		return Transfer{}, false
	}
	for range limitTries {
		a := g.pool[r.IntN(len(g.pool))]
		b := a.balance
		if a.state != created || b.ID.IsZero() || b.Flags&(AccountDebitsMustNotExceedCredits|AccountCreditsMustNotExceedDebits) == 0 {
			continue
		}
		t := g.posted()
		other := g.byID[t.CreditAccountID]
		if other == nil || other == a {
			other = g.byID[t.DebitAccountID]
		}
		if other == nil || other == a || other.ev.Ledger != a.ev.Ledger {
			continue
		}
		var used, limit U128
		if b.Flags&AccountDebitsMustNotExceedCredits != 0 {
			used, _ = add128(b.DebitsPosted, b.DebitsPending)
			limit = b.CreditsPosted
			t.DebitAccountID, t.CreditAccountID = a.ev.ID, other.ev.ID
		} else {
			used, _ = add128(b.CreditsPosted, b.CreditsPending)
			limit = b.DebitsPosted
			t.DebitAccountID, t.CreditAccountID = other.ev.ID, a.ev.ID
		}
		if limit.Less(used) {
			continue
		}
		t.Ledger = a.ev.Ledger
		t.Amount = sub128(limit, used)
		switch r.IntN(3) {
		case 0:
			if !t.Amount.IsZero() {
				t.Amount = sub128(t.Amount, U128{Lo: 1})
			}
		case 1:
			t.Amount, _ = add128(t.Amount, U128{Lo: 1})
		}
		if r.IntN(4) == 0 {
			t.Flags |= TransferPending
			t.Timeout = g.timeout()
		}
		return t, true
	}
	return Transfer{}, false
}

// posted is an ordinary single-phase transfer between two hot accounts.
func (g *Generator) posted() Transfer {
	r := g.rng
	dr, cr := g.pair()
	return Transfer{
		ID:              g.freshTransferID(),
		DebitAccountID:  dr.ev.ID,
		CreditAccountID: cr.ev.ID,
		Amount:          g.amount(),
		UserData128:     U128{Lo: uint64(r.IntN(8))},
		UserData64:      uint64(r.IntN(8)),
		UserData32:      uint32(r.IntN(8)),
		Ledger:          dr.ev.Ledger,
		Code:            uint16(1 + r.IntN(4)),
	}
}

// closing closes a cold account with a pending transfer that a void or
// its expiry (1–3 s, rarely never) undoes.
func (g *Generator) closing() Transfer {
	t := g.posted()
	for _, a := range g.pool {
		if a.closedBy != nil {
			return t // one closed account at a time is plenty
		}
	}
	side := TransferClosingCredit
	switch g.rng.IntN(10) {
	case 0:
		side = TransferClosingDebit | TransferClosingCredit
	case 1, 2, 3, 4:
		side = TransferClosingDebit
	}
	t.Flags |= TransferPending | side
	if n := len(g.pool); n > 4 {
		cold := g.pool[n/2+g.rng.IntN(n-n/2)]
		if cold.state == created && cold.closedBy == nil && cold.ev.Ledger == t.Ledger {
			if side == TransferClosingCredit && cold.ev.ID != t.DebitAccountID {
				t.CreditAccountID = cold.ev.ID
			} else if side != TransferClosingCredit && cold.ev.ID != t.CreditAccountID {
				t.DebitAccountID = cold.ev.ID
			}
		}
	}
	t.Timeout = uint32(1 + g.rng.IntN(3))
	if g.rng.IntN(10) == 0 && !g.pendingsFull() {
		t.Timeout = 0
	}
	return t
}

func (g *Generator) balancing() Transfer {
	t := g.posted()
	t.Flags |= []uint16{TransferBalancingDebit, TransferBalancingCredit, TransferBalancingDebit | TransferBalancingCredit}[g.rng.IntN(3)]
	if g.rng.IntN(3) == 0 {
		t.Amount = maxU128
	}
	if g.rng.IntN(4) == 0 {
		t.Flags |= TransferPending
		t.Timeout = g.timeout()
	}
	return t
}

// whale moves about 0.3–0.45 of 2^128 between accounts kept for it, so their
// balances soon sit where each of the six overflow checks can trip.
func (g *Generator) whale() Transfer {
	r := g.rng
	i := r.IntN(len(g.whales))
	j := (i + 1 + r.IntN(len(g.whales)-1)) % len(g.whales)
	t := Transfer{
		ID:              g.freshTransferID(),
		DebitAccountID:  g.whales[i].ev.ID,
		CreditAccountID: g.whales[j].ev.ID,
		Amount:          U128{Hi: 0x4ccc_cccc_cccc_cccc + r.Uint64N(0x2666_6666_6666_6666), Lo: r.Uint64()},
		Ledger:          1,
		Code:            1,
	}
	// Even whales mostly reserve and odd ones mostly post, so that pending
	// and posted balances each grow large on some accounts before the other
	// kind of overflow blocks them, and both on a few.
	if (i%2 == 0) == (r.IntN(5) > 0) {
		t.Flags |= TransferPending
		if r.IntN(3) == 0 || g.pendingsFull() {
			t.Timeout = uint32(1 + r.IntN(5))
		}
	}
	return t
}

// livePending picks a pending transfer believed unresolved and unexpired,
// and marks it taken so that other requests do not race to resolve it.
func (g *Generator) livePending() *gTransfer {
	if len(g.pendings) == 0 {
		return nil
	}
	i := g.rng.IntN(len(g.pendings))
	p := g.pendings[i]
	g.pendings[i] = g.pendings[len(g.pendings)-1]
	g.pendings = g.pendings[:len(g.pendings)-1]
	p.taken = true
	return p
}

// resolve posts or voids p, with the variety the rules allow: the whole
// amount spelled out, as zero or u128 max, or part of it; inherited or
// repeated accounts, ledger, code and user data.
func (g *Generator) resolve(p *gTransfer, flag uint16) Transfer {
	r := g.rng
	t := Transfer{ID: g.freshTransferID(), PendingID: p.ev.ID, Flags: flag}
	if r.IntN(3) == 0 {
		t.DebitAccountID, t.CreditAccountID = p.ev.DebitAccountID, p.ev.CreditAccountID
		t.Ledger, t.Code = p.ev.Ledger, p.ev.Code
	}
	if r.IntN(3) == 0 {
		t.UserData128 = U128{Lo: uint64(r.IntN(8))}
		t.UserData64 = uint64(r.IntN(8))
		t.UserData32 = uint32(r.IntN(8))
	}
	switch k := r.IntN(4); {
	case k == 0:
		t.Amount = p.ev.Amount
	case k == 1 && flag == TransferPostPending:
		t.Amount = maxU128
	case k == 2 && flag == TransferPostPending && p.ev.Amount.Hi == 0 && p.ev.Amount.Lo > 0:
		t.Amount = U128{Lo: r.Uint64N(p.ev.Amount.Lo + 1)}
	case flag == TransferPostPending:
		t.Amount = maxU128
	}
	return t
}

// altered resends a created transfer with one field changed, for the
// exists_with_different_* statuses.
func (g *Generator) altered(ev Transfer) Transfer {
	return g.alteredKind(ev, g.rng.IntN(alteredTransferKinds))
}

const alteredTransferKinds = 11

func (g *Generator) alteredKind(ev Transfer, kind int) Transfer {
	ev.Flags &^= TransferLinked
	switch kind {
	case 0:
		ev.Flags ^= TransferBalancingCredit
	case 1:
		ev.PendingID.Lo++
	case 2:
		ev.Timeout++
	case 3:
		ev.DebitAccountID = g.hot().ev.ID
		if ev.DebitAccountID == ev.CreditAccountID || ev.DebitAccountID.IsZero() {
			ev.DebitAccountID.Lo++
		}
	case 4:
		ev.CreditAccountID = g.hot().ev.ID
		if ev.CreditAccountID == ev.DebitAccountID || ev.CreditAccountID.IsZero() {
			ev.CreditAccountID.Lo++
		}
	case 5:
		if ev.Flags&(TransferBalancingDebit|TransferBalancingCredit) != 0 {
			ev.Amount = U128{}
		} else {
			ev.Amount.Lo++
		}
	case 6:
		ev.UserData128.Lo++
	case 7:
		ev.UserData64++
	case 8:
		ev.UserData32++
	case 9:
		ev.Ledger++
	default:
		ev.Code++
	}
	return ev
}

// invalidTransfer makes an event meant to fail with one particular status
// (another, earlier check may win when the state differs from the guess).
func (g *Generator) invalidTransfer() Transfer {
	return g.invalidTransferKind(g.rng.IntN(invalidTransferKinds))
}

// invalidTransferKinds is how many kinds invalidTransferKind knows.
const invalidTransferKinds = 34

func (g *Generator) invalidTransferKind(kind int) Transfer {
	r := g.rng
	t := g.posted()
	switch kind {
	case 0:
		t.ID = U128{}
	case 1:
		t.ID = maxU128
	case 2:
		t.Flags |= 1 << (9 + r.IntN(7))
	case 3:
		t.Timestamp = 1 + r.Uint64N(1<<40)
	case 4:
		t.Flags |= []uint16{TransferPostPending | TransferVoidPending, TransferPostPending | TransferPending,
			TransferVoidPending | TransferBalancingDebit, TransferPostPending | TransferClosingCredit}[r.IntN(4)]
		t.PendingID = U128{Lo: 1}
	case 5:
		t.DebitAccountID = U128{}
	case 6:
		t.DebitAccountID = maxU128
	case 7:
		t.CreditAccountID = U128{}
	case 8:
		t.CreditAccountID = maxU128
	case 9:
		t.CreditAccountID = t.DebitAccountID
	case 10:
		t.PendingID = U128{Lo: 1 + r.Uint64N(100)}
	case 11:
		t.Flags |= TransferPostPending
	case 12:
		t.Flags |= TransferPostPending
		t.PendingID = maxU128
	case 13:
		t.Flags |= TransferVoidPending
		t.PendingID = t.ID
	case 14:
		t.Timeout = uint32(1 + r.IntN(5))
	case 15:
		if p, ok := g.recent.pick(r); ok {
			t = g.resolve(p, TransferPostPending)
		}
		t.Timeout = 1
	case 16:
		t.Flags |= TransferClosingDebit
	case 17:
		t.Ledger = 0
	case 18:
		t.Code = 0
	case 19:
		t.DebitAccountID = g.freshAccountID()
	case 20:
		t.CreditAccountID = g.freshAccountID()
	case 21:
		if len(g.ledger2) > 0 {
			t.CreditAccountID = g.ledger2[r.IntN(len(g.ledger2))].ev.ID
		}
	case 22:
		t.Ledger = 3
	case 23:
		t = Transfer{ID: t.ID, PendingID: g.freshTransferID(), Flags: TransferVoidPending}
	case 24:
		if p, ok := g.recent.pick(r); ok && p.ev.Flags&TransferPending == 0 {
			t = g.resolve(p, TransferPostPending)
		}
	case 25, 26, 27, 28:
		if p, ok := g.recent.pick(r); ok && p.ev.Flags&TransferPending != 0 {
			t = g.resolve(p, TransferPostPending)
			t.DebitAccountID, t.CreditAccountID = p.ev.DebitAccountID, p.ev.CreditAccountID
			t.Ledger, t.Code = p.ev.Ledger, p.ev.Code
			switch r.IntN(4) {
			case 0:
				t.DebitAccountID.Lo++
			case 1:
				t.CreditAccountID.Lo++
			case 2:
				t.Ledger++
			default:
				t.Code++
			}
		}
	case 29:
		if p, ok := g.recent.pick(r); ok && p.ev.Flags&TransferPending != 0 {
			t = g.resolve(p, TransferPostPending)
			t.Amount, _ = add128(p.ev.Amount, U128{Lo: 1 + r.Uint64N(10)})
		}
	case 30:
		if p, ok := g.recent.pick(r); ok && p.ev.Flags&TransferPending != 0 && !p.ev.Amount.Less(U128{Lo: 2}) {
			t = g.resolve(p, TransferVoidPending)
			t.Amount = U128{Lo: 1}
		}
	case 31:
		// Overdraw: a big amount out of an account limited by its credits,
		// or into one limited by its debits.
		t.Amount = U128{Lo: 1 << 40}
	case 32:
		t.Flags |= TransferImported
		t.Timestamp = 1 + r.Uint64N(1<<40)
	default:
		t.Timeout = ^uint32(0)
		t.Flags |= TransferPending
	}
	return t
}

// importedTransfers sends a batch with user-defined timestamps just past the
// newest timestamp seen.
func (g *Generator) importedTransfers(n int) []Transfer {
	r := g.rng
	base := g.maxSeen + 1 + r.Uint64N(3)
	events := make([]Transfer, n)
	for i := range events {
		t := g.posted()
		t.Flags |= TransferImported
		t.Timestamp = base + uint64(i)
		if r.IntN(5) == 0 && !g.pendingsFull() {
			t.Flags |= TransferPending // never expires: imported pending transfers have no timeout
		}
		if i > 0 && g.chance(g.p.invalidRate*5) {
			switch r.IntN(7) {
			case 0:
				t.Timestamp = 0
			case 1:
				t.Timestamp = timestampMax
			case 2:
				t.Timestamp = 1 + r.Uint64N(max(g.maxTransferSeen, 1))
			case 4:
				// Exactly the newest transfer's, or an account's.
				t.Timestamp = g.maxTransferSeen
				if r.IntN(2) == 0 {
					t.Timestamp = g.existingTimestamp()
				}
			case 5:
				t.Timestamp = events[i-1].Timestamp // a duplicate within the batch
			case 3:
				t.Flags |= TransferPending
				t.Timeout = uint32(1 + r.IntN(5))
			default:
				t.Flags &^= TransferImported
				t.Timestamp = 0
			}
		}
		events[i] = t
	}
	return events
}

// existingTimestamp is the timestamp of an account seen created, or the
// newest seen if none is known.
func (g *Generator) existingTimestamp() uint64 {
	if n := len(g.pool); n > 0 {
		if a := g.pool[g.rng.IntN(n)]; a.ts != 0 {
			return a.ts
		}
	}
	return g.maxSeen
}

// prunePendings retires pending transfers that have expired by the
// generator's estimate of the cluster's time (the newest timestamp seen).
func (g *Generator) prunePendings() {
	kept := g.pendings[:0]
	for _, p := range g.pendings {
		if p.expires != 0 && p.expires <= g.maxSeen {
			g.retire(p)
			continue
		}
		kept = append(kept, p)
	}
	g.pendings = kept
}

// retire records that p is resolved (posted, voided or expired), which also
// reopens what it closed.
func (g *Generator) retire(p *gTransfer) {
	p.resolved = true
	g.resolved.add(p)
	for _, id := range []U128{p.ev.DebitAccountID, p.ev.CreditAccountID} {
		if a := g.byID[id]; a != nil && a.closedBy == p {
			a.closedBy = nil
		}
	}
}

// atDeadline aims an imported post or void of a pending transfer at its
// deadline: a nanosecond before it, exactly on it, or a nanosecond after.
// Expiry is decided by comparing an event's timestamp with the deadline, and
// only such events test the comparison's boundary. Only a client can choose
// an event's timestamp, and only an imported one, which must be newer than
// every transfer and older than the cluster's clock: that window opens when
// no transfer was created during a pending transfer's timeout (a view
// change, a partition, a quiet client), so the generator tries whenever it
// sees one. It runs before prunePendings, which would retire the candidate
// as expired by the clock the generator has seen; the outcome, posted or
// expired (by the comparison, or by a pulse that ran first), is the model's
// to judge.
func (g *Generator) atDeadline() (Transfer, bool) {
	// The event is sent a little before the cluster's clock is known to
	// have passed the deadline: sent after, it would almost always find
	// the pending transfer already expired by a pulse, and the comparison
	// untested. Sent too early it fails as timestamped in the future.
	const deadlineLead = 300 * nsPerMillisecond
	if g.p.importRate == 0 {
		return Transfer{}, false
	}
	for _, p := range g.pendings {
		if p.expires == 0 || p.resolved || p.taken || p.expires-1 <= g.maxTransferSeen || g.maxSeen+deadlineLead < p.expires {
			continue
		}
		flag := TransferPostPending
		if g.rng.IntN(2) == 0 {
			flag = TransferVoidPending
		}
		p.taken = true
		t := g.resolve(p, flag)
		t.Flags |= TransferImported
		t.Timestamp = p.expires - 1 + g.rng.Uint64N(3)
		return t, true
	}
	return Transfer{}, false
}

// postdate makes an imported transfer timed just before an account that is
// newer than every transfer: it must fail as not postdating that account.
// Such accounts exist only briefly, between an account's creation and the
// next transfer's, so the generator tries whenever it sees one.
func (g *Generator) postdate() (Transfer, bool) {
	if g.p.importRate == 0 {
		return Transfer{}, false
	}
	for _, a := range g.newestAccounts.items {
		ts := a.ts - 1
		if ts <= g.maxTransferSeen || g.accountAt[ts] {
			continue
		}
		for _, other := range g.pool {
			if other == a || other.state != created || other.ts >= ts || other.ev.Ledger != a.ev.Ledger {
				continue
			}
			t := g.posted()
			t.Flags |= TransferImported
			t.Timestamp = ts
			t.Ledger = a.ev.Ledger
			t.DebitAccountID, t.CreditAccountID = a.ev.ID, other.ev.ID
			if g.rng.IntN(2) == 0 {
				t.DebitAccountID, t.CreditAccountID = other.ev.ID, a.ev.ID
			}
			return t, true
		}
	}
	return Transfer{}, false
}
