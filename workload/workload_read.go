package workload

// This file builds the read requests and learns from replies.

func (g *Generator) lookupAccounts(batchMax int) []byte {
	n := 1 + g.rng.IntN(min(batchMax, 16))
	body := make([]byte, n*IDSize)
	for i := 0; i < n; i++ {
		id := g.hot().ev.ID
		switch k := g.rng.IntN(20); {
		case k == 0:
			id = g.freshAccountID() // missing
		case k < 4:
			id = g.accounts[g.rng.IntN(len(g.accounts))].ev.ID
		}
		id.Put(body[i*IDSize:])
	}
	return body
}

func (g *Generator) lookupTransfers(batchMax int) []byte {
	n := 1 + g.rng.IntN(min(batchMax, 16))
	body := make([]byte, n*IDSize)
	for i := 0; i < n; i++ {
		id := g.freshTransferID() // missing unless a recent one is found
		if t, ok := g.recent.pick(g.rng); ok && g.rng.IntN(8) > 0 {
			id = t.ev.ID
		}
		id.Put(body[i*IDSize:])
	}
	return body
}

// timestampBounds draws an optional timestamp range over what has been seen.
func (g *Generator) timestampBounds() (lo, hi uint64) {
	r := g.rng
	floor, recent := g.scanFloor()
	if g.maxSeen == 0 || r.IntN(4) > 0 {
		if recent {
			return floor, 0
		}
		return 0, 0
	}
	a, b := r.Uint64N(g.maxSeen+1), r.Uint64N(g.maxSeen+1)
	// Seen timestamps are far from zero; centre the range near them.
	if floor > 0 && floor < g.maxSeen {
		a = floor + r.Uint64N(g.maxSeen-floor+1)
		b = floor + r.Uint64N(g.maxSeen-floor+1)
	}
	lo, hi = min(a, b), max(a, b)
	switch r.IntN(4) {
	case 0:
		lo = 0
	case 1:
		hi = 0
	}
	return lo, hi
}

// scanFloor is where a scan's range starts: the first account seen, or,
// once the auditor may have forgotten the oldest transfers (more were sent
// than its window holds), on two scans in three the oldest recent transfer,
// so that most scans stay where the auditor checks them exactly. It draws
// nothing, so that short runs make the same requests as before the window.
func (g *Generator) scanFloor() (floor uint64, recent bool) {
	floor = g.firstSeen()
	if g.sends < transferWindow {
		return floor, false
	}
	g.scans++
	if f := g.recentFloor(); f > 0 && g.scans%3 != 0 {
		return f, true
	}
	return floor, false
}

func (g *Generator) firstSeen() uint64 {
	for _, a := range g.accounts {
		if a.ts != 0 {
			return a.ts
		}
	}
	return 0
}

func (g *Generator) limit() uint32 {
	switch k := g.rng.IntN(20); {
	case k == 0:
		return ^uint32(0) // capped by the reply's capacity
	case k < 10:
		return uint32(1 + g.rng.IntN(10))
	default:
		return uint32(1 + g.rng.IntN(200))
	}
}

// accountFilter builds get_account_transfers / get_account_balances.
func (g *Generator) accountFilter(balances bool) []byte {
	r := g.rng
	a := g.hot()
	if balances && len(g.history) > 0 && r.IntN(4) > 0 {
		a = g.history[r.IntN(len(g.history))]
	}
	f := AccountFilter{AccountID: a.ev.ID, Limit: g.limit()}
	f.Flags = []uint32{FilterDebits, FilterCredits, FilterDebits | FilterCredits}[r.IntN(3)]
	if r.IntN(2) == 0 {
		f.Flags |= FilterReversed
	}
	if r.IntN(8) == 0 {
		f.UserData128 = U128{Lo: uint64(r.IntN(8))}
	}
	if r.IntN(8) == 0 {
		f.UserData64 = uint64(r.IntN(8))
	}
	if r.IntN(8) == 0 {
		f.UserData32 = uint32(r.IntN(8))
	}
	if r.IntN(6) == 0 {
		f.Code = uint16(r.IntN(5))
	}
	f.TimestampMin, f.TimestampMax = g.timestampBounds()
	if r.IntN(30) == 0 {
		switch r.IntN(7) {
		case 0:
			f.Limit = 0
		case 1:
			f.Flags &^= FilterDebits | FilterCredits
		case 2:
			f.Flags |= 1 << (3 + r.IntN(29))
		case 3:
			f.Reserved[r.IntN(len(f.Reserved))] = 1
		case 4:
			f.TimestampMin = ^uint64(0)
		case 5:
			f.TimestampMin, f.TimestampMax = 10, 5
		default:
			f.AccountID = []U128{{}, maxU128}[r.IntN(2)]
		}
	}
	body := make([]byte, EventSize)
	EncodeAccountFilter(body, &f)
	return body
}

// queryFilter builds query_accounts / query_transfers (one shape serves both).
func (g *Generator) queryFilter() []byte {
	r := g.rng
	f := QueryFilter{Limit: g.limit()}
	if r.IntN(3) == 0 {
		f.UserData128 = U128{Lo: uint64(r.IntN(8))}
	}
	if r.IntN(5) == 0 {
		f.UserData64 = uint64(r.IntN(8))
	}
	if r.IntN(5) == 0 {
		f.UserData32 = uint32(r.IntN(8))
	}
	if r.IntN(3) == 0 {
		f.Ledger = uint32(1 + r.IntN(2))
	}
	if r.IntN(4) == 0 {
		f.Code = uint16(1 + r.IntN(4))
	}
	if r.IntN(2) == 0 {
		f.Flags |= QueryFilterReversed
	}
	f.TimestampMin, f.TimestampMax = g.timestampBounds()
	if r.IntN(30) == 0 {
		switch r.IntN(5) {
		case 0:
			f.Limit = 0
		case 1:
			f.Flags |= 1 << (1 + r.IntN(31))
		case 2:
			f.Reserved[r.IntN(len(f.Reserved))] = 1
		case 3:
			f.TimestampMax = ^uint64(0)
		default:
			f.TimestampMin, f.TimestampMax = 10, 5
		}
	}
	body := make([]byte, QueryFilterSize)
	EncodeQueryFilter(body, &f)
	return body
}

// OnReply shows the generator the reply to a request it made, so that later
// requests can build on what exists (accounts, pending transfers to resolve,
// ids to retry) and on the newest timestamps the cluster has assigned.
func (g *Generator) OnReply(client int, operation uint8, body, reply []byte) {
	_ = client
	pairBatches(operation, body, reply, func(batch, results []byte) { g.onBatchReply(operation, batch, results) })
}

// onBatchReply learns from one batch of a request and its results.
func (g *Generator) onBatchReply(operation uint8, body, reply []byte) {
	switch operation {
	case OpCreateAccounts:
		for i := 0; i+EventSize <= len(body) && (i/EventSize+1)*CreateResultSize <= len(reply); i += EventSize {
			g.accountResult(DecodeAccount(body[i:]), DecodeCreateResult(reply[i/EventSize*CreateResultSize:]))
		}
	case OpCreateTransfers:
		for i := 0; i+EventSize <= len(body) && (i/EventSize+1)*CreateResultSize <= len(reply); i += EventSize {
			g.transferResult(DecodeTransfer(body[i:]), DecodeCreateResult(reply[i/EventSize*CreateResultSize:]))
		}
	case OpLookupAccounts, OpQueryAccounts:
		for i := 0; i+EventSize <= len(reply); i += EventSize {
			acc := DecodeAccount(reply[i:])
			g.seen(acc.Timestamp)
			if a := g.byID[acc.ID]; a != nil {
				a.balance = acc
				g.accountCreated(a, acc.Timestamp)
				if acc.Flags&AccountClosed == 0 {
					a.closedBy = nil
				}
			}
		}
	case OpLookupTransfers, OpGetAccountTransfers, OpQueryTransfers:
		for i := 0; i+EventSize <= len(reply); i += EventSize {
			g.seen(DecodeTransfer(reply[i:]).Timestamp)
		}
	}
}

func (g *Generator) seen(ts uint64) {
	if ts < 1<<63 {
		g.maxSeen = max(g.maxSeen, ts)
	}
}

func (g *Generator) accountCreated(a *gAccount, ts uint64) {
	if a.state == created {
		return
	}
	a.state = created
	a.ts = ts
	g.accountAt[ts] = true
	g.newestAccounts.add(a)
}

func (g *Generator) accountResult(ev Account, r CreateResult) {
	g.seen(r.Timestamp)
	a := g.byID[ev.ID]
	if a == nil {
		return
	}
	switch r.Status {
	case StatusCreated, AccountExists, AccountExistsWithDifferentFlags, AccountExistsWithDifferentUserData128,
		AccountExistsWithDifferentUserData64, AccountExistsWithDifferentUserData32,
		AccountExistsWithDifferentLedger, AccountExistsWithDifferentCode:
		g.accountCreated(a, r.Timestamp)
	default:
		if a.state == sent {
			a.state = planned
		}
	}
}

func (g *Generator) transferResult(ev Transfer, r CreateResult) {
	g.seen(r.Timestamp)
	t := g.transfers[ev.ID]
	if t == nil {
		return
	}
	var p *gTransfer
	if ev.Flags&(TransferPostPending|TransferVoidPending) != 0 {
		p = g.transfers[ev.PendingID]
	}
	switch {
	case r.Status == StatusCreated:
		t.ev, t.status, t.ts = ev, r.Status, r.Timestamp
		g.maxTransferSeen = max(g.maxTransferSeen, r.Timestamp)
		if ev.Flags&TransferPending != 0 {
			if ev.Timeout > 0 {
				t.expires = r.Timestamp + uint64(ev.Timeout)*nsPerSecond
			}
			g.pendings = append(g.pendings, t)
			for _, id := range []U128{ev.DebitAccountID, ev.CreditAccountID} {
				closes := (id == ev.DebitAccountID && ev.Flags&TransferClosingDebit != 0) ||
					(id == ev.CreditAccountID && ev.Flags&TransferClosingCredit != 0)
				if a := g.byID[id]; a != nil && closes {
					a.closedBy = t
				}
			}
			if ev.Flags&(TransferClosingDebit|TransferClosingCredit) != 0 {
				g.closers = append(g.closers, t)
			}
		}
		if p != nil {
			p.taken = false
			if !p.resolved {
				g.retire(p)
			}
		}
	case t.status == StatusCreated:
		// A retry of a transfer that exists; nothing new.
	default:
		t.status = r.Status
		if transient(r.Status) {
			g.failed.add(t)
		}
	}
	if p != nil && p.taken && r.Status != StatusCreated {
		p.taken = false
		switch r.Status {
		case TransferPendingTransferExpired, TransferPendingTransferAlreadyPosted, TransferPendingTransferAlreadyVoided:
			if !p.resolved {
				g.retire(p)
			}
		default:
			if p.status == StatusCreated && !p.resolved {
				g.pendings = append(g.pendings, p) // still pending: try again later
				if p.ev.Flags&(TransferClosingDebit|TransferClosingCredit) != 0 {
					g.closers = append(g.closers, p)
				}
			}
		}
	}
}
