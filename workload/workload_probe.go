package workload

// Probes are short scripted sequences of create events, each aimed at a
// group of statuses that random traffic reaches only rarely or late (the
// overflows, the imported_* timestamp checks, one of each invalid kind, one
// of each altered retry). Every run sends each probe once, in a
// seed-shuffled order, early on, so that a swarm of short runs still covers
// every designed status; random traffic then goes on exercising the same
// checks in less scripted states.

type probe func() (accounts []Account, transfers []Transfer)

func (g *Generator) planProbes() {
	g.probes = []probe{g.probeInvalidAccounts, g.probeInvalidTransfers, g.probeRetries}
	if len(g.whales) >= 3 {
		g.probes = append(g.probes, g.probeWhales)
	}
	if g.p.importRate > 0 {
		g.probes = append(g.probes, g.probeImportedAccounts, g.probeImportedTransfers)
	}
	g.rng.Shuffle(len(g.probes), func(i, j int) { g.probes[i], g.probes[j] = g.probes[j], g.probes[i] })
}

// nextProbe sends queued probe events, batchMax at a time, and now and then
// starts the next probe.
func (g *Generator) nextProbe(batchMax int) (operation uint8, body []byte, ok bool) {
	if len(g.queueA) == 0 && len(g.queueT) == 0 {
		if len(g.probes) == 0 || !g.chance(0.15) {
			return 0, nil, false
		}
		p := g.probes[0]
		g.probes = g.probes[1:]
		g.queueA, g.queueT = p()
	}
	if len(g.queueA) > 0 {
		n := min(batchMax, len(g.queueA))
		body = make([]byte, n*EventSize)
		for i := 0; i < n; i++ {
			EncodeAccount(body[i*EventSize:], &g.queueA[i])
			g.sentAccts.add(g.queueA[i])
		}
		g.queueA = g.queueA[n:]
		return OpCreateAccounts, body, true
	}
	n := min(batchMax, len(g.queueT))
	body = make([]byte, n*EventSize)
	for i := 0; i < n; i++ {
		EncodeTransfer(body[i*EventSize:], &g.queueT[i])
		g.noteSent(g.queueT[i])
	}
	g.queueT = g.queueT[n:]
	return OpCreateTransfers, body, true
}

// probeInvalidAccounts sends one event of each invalid kind, a chain that
// fails in its middle, and leaves the batch's last event linked.
func (g *Generator) probeInvalidAccounts() ([]Account, []Transfer) {
	var events []Account
	for k := 0; k < invalidAccountKinds; k++ {
		events = append(events, g.invalidAccountKind(k))
	}
	ok := Account{ID: g.freshAccountID(), Ledger: 1, Code: 1, Flags: AccountLinked}
	bad := g.invalidAccountKind(10)
	bad.Flags |= AccountLinked
	last := Account{ID: g.freshAccountID(), Ledger: 1, Code: 1, Flags: AccountLinked}
	return append(events, ok, bad, Account{ID: g.freshAccountID(), Ledger: 1, Code: 1}, last), nil
}

// probeInvalidTransfers sends one transfer of each invalid kind and ends
// with an open chain.
func (g *Generator) probeInvalidTransfers() ([]Account, []Transfer) {
	var events []Transfer
	for k := 0; k < invalidTransferKinds; k++ {
		events = append(events, g.invalidTransferKind(k))
	}
	last := g.posted()
	last.Flags |= TransferLinked
	return nil, append(events, last)
}

// probeRetries resends created objects identically and with each field
// altered in turn, and resends transfers that failed transiently.
func (g *Generator) probeRetries() ([]Account, []Transfer) {
	var accounts []Account
	if a := g.usable(); a.state == created {
		ev := a.ev
		accounts = append(accounts, ev)
		for k := 0; k < 6; k++ {
			accounts = append(accounts, alteredAccount(ev, k))
		}
	}
	var transfers []Transfer
	for try := 0; try < 8; try++ {
		t, ok := g.recent.pick(g.rng)
		if !ok || t.status != StatusCreated {
			continue
		}
		ev := t.ev
		ev.Flags &^= TransferLinked
		transfers = append(transfers, ev)
		for k := 0; k < alteredTransferKinds; k++ {
			transfers = append(transfers, g.alteredKind(t.ev, k))
		}
		break
	}
	if t, ok := g.failed.pick(g.rng); ok {
		ev := t.ev
		ev.Flags &^= TransferLinked
		transfers = append(transfers, ev)
	}
	return accounts, transfers
}

// probeWhales walks three whales through each overflow check in turn, with
// amounts of 0.4·2^128 (h): two reservations fill a debit, a third
// overflows it, and so on for credits, posted balances and their sums.
func (g *Generator) probeWhales() ([]Account, []Transfer) {
	for _, w := range g.whales[:3] {
		if w.state != created {
			g.probes = append(g.probes, g.probeWhales) // not yet: try again later
			return nil, nil
		}
	}
	g.whalesProbed = true
	g.whaleBudget = max(g.whaleBudget-12, 0)
	w0, w1, w2 := g.whales[0].ev.ID, g.whales[1].ev.ID, g.whales[2].ev.ID
	h := U128{Hi: 0x6666_6666_6666_6666, Lo: 0x6666_6666_6666_6666}
	step := func(dr, cr U128, pending bool) Transfer {
		t := Transfer{ID: g.freshTransferID(), DebitAccountID: dr, CreditAccountID: cr, Amount: h, Ledger: 1, Code: 1}
		if pending {
			t.Flags |= TransferPending
		}
		return t
	}
	return nil, []Transfer{
		step(w0, w1, true),  // w0 debits pending h, w1 credits pending h
		step(w0, w2, true),  // w0 debits pending 2h
		step(w0, w1, true),  // overflows_debits_pending
		step(w2, w1, true),  // w1 credits pending 2h
		step(w2, w1, false), // overflows_credits: w1 pending 2h + h
		step(w2, w1, true),  // overflows_credits_pending
		step(w1, w0, false), // w1 debits posted h
		step(w1, w2, false), // w1 debits posted 2h
		step(w1, w0, false), // overflows_debits_posted
		step(w2, w0, false), // w0 credits posted 2h
		step(w2, w0, false), // overflows_credits_posted
		step(w2, w1, false), // overflows_debits: w2 pending h + posted h + h
	}
}

// probeImportedAccounts sends a valid imported account, then one of each
// imported-timestamp failure and a non-imported event in the imported batch.
func (g *Generator) probeImportedAccounts() ([]Account, []Transfer) {
	events := g.importedAccounts(6)
	events[1].Timestamp = 0
	events[2].Timestamp = 1<<63 + 1
	events[3].Timestamp = timestampMax
	events[4].Timestamp = 1
	events[5].Flags &^= AccountImported
	events[5].Timestamp = 0
	return events, nil
}

// probeImportedTransfers does the same for transfers, including a pending
// imported transfer with a timeout.
func (g *Generator) probeImportedTransfers() ([]Account, []Transfer) {
	events := g.importedTransfers(7)
	for i := range events {
		events[i].Flags &^= TransferPending
		events[i].Timeout = 0
	}
	events[1].Timestamp = 0
	events[2].Timestamp = 1<<63 + 1
	events[3].Timestamp = timestampMax
	events[4].Timestamp = 1
	events[5].Flags |= TransferPending
	events[5].Timeout = 1
	events[5].Timestamp = events[0].Timestamp + 5
	events[6].Flags &^= TransferImported
	events[6].Timestamp = 0
	return nil, events
}
