package workload

// model is the auditor's own ledger: plain maps and slices, written from
// TigerBeetle's documented rules rather than from any ledger code, so that a
// bug in the real ledger shows up as a disagreement instead of being shared.
type model struct {
	accounts    map[U128]*mAccount
	accountList []*mAccount // in timestamp order (creation order)
	accountAt   map[uint64]bool

	// transfers holds what a later event can still name (see
	// model_window.go): the window, unresolved pending transfers and the
	// recently resolved ones.
	transfers map[U128]*mTransfer
	// transferList is the window, in timestamp (creation) order: every
	// transfer at or after horizon, which is zero until one is forgotten.
	transferList []*mTransfer
	transferAt   map[uint64]bool // the window's timestamps
	horizon      uint64
	maxTransfer  uint64          // the newest transfer's timestamp, forgotten or not
	resolvedList []resolvedEntry // the newest resolvedWindow resolutions, oldest first
	resolvedSeq  uint64

	// orphans are transfer ids burned by a transient failure, the newest
	// orphanWindow of them (orphanList, oldest first).
	orphans    map[U128]bool
	orphanList []U128
	window     windows
	// live holds pending transfers that can expire; resolved ones are
	// dropped lazily by the next pulse.
	live []*mTransfer

	// undo reverts the open linked chain, newest change first.
	undo   []func()
	scoped bool

	// deadline counts the posts and voids judged a nanosecond before, on
	// and after their pending transfer's deadline while it was still
	// pending (no pulse had expired it): the events that test the expiry
	// comparison's boundary.
	deadline [3]uint64
}

type balances struct {
	debitsPending, debitsPosted, creditsPending, creditsPosted U128
}

type mAccount struct {
	Account
	transfers []*mTransfer // every transfer debiting or crediting it, in timestamp order
}

type pendingState uint8

const (
	stateNone pendingState = iota
	statePending
	statePosted
	stateVoided
	stateExpired
)

type mTransfer struct {
	Transfer
	state pendingState
	// after holds the balances of the debit and credit accounts right
	// after this transfer, which is what get_account_balances reports: only
	// if one of them keeps history, since no other account's are ever
	// asked for.
	after *[2]balances
	// pending is the transfer a post or void resolved, which a retry is
	// compared with even once the model has forgotten it by id.
	pending *mTransfer
	// forgotten: out of the window (still named by id while pinned).
	forgotten  bool
	resolvedAt uint64 // resolvedSeq when last resolved
}

func newModel(w windows) *model {
	return &model{
		window:     w,
		accounts:   map[U128]*mAccount{},
		accountAt:  map[uint64]bool{},
		transfers:  map[U128]*mTransfer{},
		transferAt: map[uint64]bool{},
		orphans:    map[U128]bool{},
	}
}

func (a *mAccount) balances() balances {
	return balances{a.DebitsPending, a.DebitsPosted, a.CreditsPending, a.CreditsPosted}
}

func (m *model) onUndo(f func()) {
	if m.scoped {
		m.undo = append(m.undo, f)
	}
}

func (m *model) openScope() { m.scoped = true; m.undo = m.undo[:0] }

func (m *model) closeScope(persist bool) {
	if !persist {
		for i := len(m.undo) - 1; i >= 0; i-- {
			m.undo[i]()
		}
	}
	m.scoped = false
	m.undo = m.undo[:0]
}

// saveAccount records a's current value so a chain rollback restores it.
func (m *model) saveAccount(a *mAccount) {
	old := a.Account
	m.onUndo(func() { a.Account = old })
}

func (m *model) maxAccountTimestamp() uint64 {
	if n := len(m.accountList); n > 0 {
		return m.accountList[n-1].Timestamp
	}
	return 0
}

func (m *model) maxTransferTimestamp() uint64 { return m.maxTransfer }

// batchEvent is what the shared batch rules need to know of an event.
type batchEvent struct {
	linked, imported bool
	timestamp        uint64 // as sent: zero unless imported
}

// batchCodes are an operation's numbers for the shared batch statuses.
type batchCodes struct {
	linkedEventFailed, linkedEventChainOpen      uint32
	importedEventExpected, importedNotExpected   uint32
	timestampOutOfRange, timestampMustNotAdvance uint32
	timestampMustBeZero                          uint32
}

var accountCodes = batchCodes{
	AccountLinkedEventFailed, AccountLinkedEventChainOpen,
	AccountImportedEventExpected, AccountImportedEventNotExpected,
	AccountImportedEventTimestampOutOfRange, AccountImportedEventTimestampMustNotAdvance,
	AccountTimestampMustBeZero,
}

var transferCodes = batchCodes{
	TransferLinkedEventFailed, TransferLinkedEventChainOpen,
	TransferImportedEventExpected, TransferImportedEventNotExpected,
	TransferImportedEventTimestampOutOfRange, TransferImportedEventTimestampMustNotAdvance,
	TransferTimestampMustBeZero,
}

// createBatch runs the events of one create request with TigerBeetle's
// batch rules: a linked chain succeeds or fails as a whole, the first event
// decides whether the batch is imported, and event i of n takes the
// timestamp T − n + i + 1. create applies one event at timestamp ts and
// returns its status and the timestamp its result carries (the stored or
// existing object's), or zero for the event's assigned timestamp.
func (m *model) createBatch(timestamp uint64, events []batchEvent, codes batchCodes,
	create func(i int, ts uint64) (status uint32, resultTS uint64)) []CreateResult {
	n := len(events)
	results := make([]CreateResult, n)
	assigned := func(i int) uint64 { return timestamp - uint64(n) + uint64(i) + 1 }
	chainStart := -1
	broken := false
	for i, e := range events {
		if e.linked && chainStart < 0 {
			chainStart = i
			m.openScope()
		}
		var status uint32
		var resultTS uint64
		switch {
		case e.linked && i == n-1:
			status = codes.linkedEventChainOpen
		case broken:
			status = codes.linkedEventFailed
		case e.imported != events[0].imported:
			if e.imported {
				status = codes.importedNotExpected
			} else {
				status = codes.importedEventExpected
			}
		case e.imported && (e.timestamp < 1 || e.timestamp > timestampMax):
			status = codes.timestampOutOfRange
		case e.imported && e.timestamp >= timestamp:
			status = codes.timestampMustNotAdvance
		case !e.imported && e.timestamp != 0:
			status = codes.timestampMustBeZero
		case e.imported:
			status, resultTS = create(i, e.timestamp)
		default:
			status, resultTS = create(i, assigned(i))
		}
		if resultTS == 0 {
			resultTS = assigned(i)
		}
		if status != StatusCreated && chainStart >= 0 && !broken {
			broken = true
			m.closeScope(false)
			for j := chainStart; j < i; j++ {
				results[j] = CreateResult{Timestamp: assigned(j), Status: codes.linkedEventFailed}
			}
		}
		results[i] = CreateResult{Timestamp: resultTS, Status: status}
		if chainStart >= 0 && (!e.linked || status == codes.linkedEventChainOpen) {
			if !broken {
				m.closeScope(true)
			}
			chainStart = -1
			broken = false
		}
	}
	return results
}

func (m *model) createAccounts(timestamp uint64, events []Account) []CreateResult {
	be := make([]batchEvent, len(events))
	for i, a := range events {
		be[i] = batchEvent{a.Flags&AccountLinked != 0, a.Flags&AccountImported != 0, a.Timestamp}
	}
	return m.createBatch(timestamp, be, accountCodes, func(i int, ts uint64) (uint32, uint64) {
		a := events[i]
		a.Timestamp = ts
		return m.createAccount(&a)
	})
}

func (m *model) createTransfers(timestamp uint64, events []Transfer) []CreateResult {
	be := make([]batchEvent, len(events))
	for i, t := range events {
		be[i] = batchEvent{t.Flags&TransferLinked != 0, t.Flags&TransferImported != 0, t.Timestamp}
	}
	results := m.createBatch(timestamp, be, transferCodes, func(i int, ts uint64) (uint32, uint64) {
		t := events[i]
		t.Timestamp = ts
		status, resultTS := m.createTransfer(&t)
		if transient(status) {
			// Burned even when this event breaks a chain: the id is
			// remembered outside the chain's scope.
			m.addOrphan(t.ID)
		}
		return status, resultTS
	})
	m.trim()
	return results
}
