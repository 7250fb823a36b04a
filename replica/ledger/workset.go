package ledger

// A forest working set is a store holding one batch's objects: what
// prefetch loaded from the grooves, then what execute creates. Execute runs
// on it unchanged - the same rules, the same undo log for linked chains -
// and the forest machine writes the net effects back to the grooves.

func newWorkingSet() *store {
	s := newStore()
	s.indexed = false
	return s
}

// resetWorkingSet empties the set for the next batch; lastAccount and
// lastTransfer are the ledger's newest timestamps. The stamp carries on, so
// no loaded account looks changed by the coming Execute.
func (s *store) resetWorkingSet(lastAccount, lastTransfer uint64) {
	s.accounts.truncate(0)
	s.transfers.truncate(0)
	s.accountPos.reset()
	s.transferAt.run.truncate(0)
	clear(s.transferAt.rest)
	clear(s.failed.m)
	s.failed.ids = s.failed.ids[:0]
	s.expiries = s.expiries[:0]
	s.changed = s.changed[:0]
	s.loadedAccountTS.built, s.loadedTransferTS.built = false, false
	s.accountsBase, s.transfersBase = 0, 0
	s.lastAccount, s.lastTransfer = lastAccount, lastTransfer
}

// loadAccount adds a stored account, once.
func (s *store) loadAccount(a *Account) int32 {
	if pos, ok := s.accountPos.get(a.ID); ok {
		return pos
	}
	pos := s.accounts.push(accountRec{Account: *a})
	s.accountPos.set(a.ID, pos)
	return pos
}

// loadTransfer adds a stored transfer, once, with its pending state.
func (s *store) loadTransfer(t *Transfer, state uint8) int32 {
	if pos, ok := s.transferAt.get(t.ID); ok {
		return pos
	}
	pos := s.transfers.push(transferRec{Transfer: *t, state: state})
	s.transferAt.put(t.ID, pos)
	return pos
}

// sealLoaded ends the loading: what execute creates follows.
func (s *store) sealLoaded() {
	s.accountsBase, s.transfersBase = s.accounts.len(), s.transfers.len()
	s.loadedAccountTS.built, s.loadedTransferTS.built = false, false
}
