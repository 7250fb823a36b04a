package ledger

import (
	"encoding/binary"

	"viewstamp/replica/checksum"
	"viewstamp/replica/multibatch"
	"viewstamp/replica/u128"
)

// Config bounds what a request may carry.
type Config struct {
	// BatchMax is the most events (or ids) one request may hold, in all its
	// batches, and the most objects one batch of a reply may return.
	BatchMax int
	// Bugs plants known defects, so tests can prove the simulator's auditor
	// catches them. Always zero outside those tests.
	Bugs Bugs
}

// Bugs are deliberate defects, off by default.
type Bugs struct {
	// SkipDebitLimit forgets the debits_must_not_exceed_credits check.
	SkipDebitLimit bool
	// SkipChainRollback leaves the effects of a failed linked chain in place.
	SkipChainRollback bool
}

// BatchMaxFor is the event limit of one request for a message size: the
// 128-byte events that fit beside a one-batch trailer, TigerBeetle's
// client's event_max (8189 events in a 1 MiB message). A lookup's ids are
// smaller, but its reply of accounts or transfers is bound the same way.
func BatchMaxFor(messageSizeMax, headerSize int) int {
	return (messageSizeMax - headerSize - multibatch.TrailerSize(TransferSize, 1)) / TransferSize
}

// Ledger is the state machine: every replica runs one and applies the same
// committed batches with the same timestamps.
type Ledger struct {
	cfg Config
	s   *store

	// digest chains every commit's effects: the objects it wrote and the
	// reply it produced, so replicas whose hidden state diverges disagree on
	// the checksum at the op that diverged, not at some later query.
	digest u128.U128
	stream checksum.Stream
	buf    [AccountSize]byte
	reply  []byte
}

// New returns an empty ledger.
func New(cfg Config) *Ledger {
	if cfg.BatchMax <= 0 {
		panic("ledger: BatchMax must be positive")
	}
	return &Ledger{cfg: cfg, s: newStore()}
}

// BatchMax is the configured batch limit.
func (l *Ledger) BatchMax() int { return l.cfg.BatchMax }

// Invalid says why a request body is unacceptable; zero means it is fine.
type Invalid uint8

const (
	Valid Invalid = iota
	InvalidOperation
	InvalidBody
	InvalidTooManyEvents
)

func (v Invalid) String() string {
	return [...]string{"valid", "unknown or internal operation", "body is not a whole number of events or filters", "too many events, or a reply that may not fit a message"}[v]
}

// Validate checks a request before prepare, so nothing invalid is ever
// replicated.
func (l *Ledger) Validate(op uint8, body []byte) Invalid {
	size := 0
	switch op {
	case OpCreateAccounts, OpCreateTransfers:
		size = AccountSize
	case OpLookupAccounts, OpLookupTransfers:
		size = IDSize
	case OpGetAccountTransfers, OpGetAccountBalances:
		if len(body) != AccountFilterSize {
			return InvalidBody
		}
		return Valid
	case OpQueryAccounts, OpQueryTransfers:
		if len(body) != QueryFilterSize {
			return InvalidBody
		}
		return Valid
	default: // pulse included: only the cluster prepares pulses
		return InvalidOperation
	}
	if len(body)%size != 0 {
		return InvalidBody
	}
	if len(body)/size > l.cfg.BatchMax {
		return InvalidTooManyEvents
	}
	return Valid
}

// EventCount is how many timestamps op consumes beyond the op's own: one per
// created object, so every object's timestamp is unique.
func (l *Ledger) EventCount(op uint8, body []byte) uint64 {
	if op == OpCreateAccounts || op == OpCreateTransfers {
		return uint64(len(body) / TransferSize)
	}
	return 0
}

// PulseDue reports whether a pulse prepared at timestamp would expire
// something. It does not change state: only the primary asks.
func (l *Ledger) PulseDue(timestamp uint64) bool {
	e, ok := l.s.peekExpiry()
	return ok && e.expiresAt <= timestamp
}

// Prefetch lists the objects a batch will read, so that a storage engine can
// load them before Execute. The in-memory store already holds everything;
// the list is the contract the LSM will implement against.
func (l *Ledger) Prefetch(op uint8, timestamp uint64, body []byte) (accounts, transfers []u128.U128) {
	switch op {
	case OpCreateAccounts:
		for i := 0; i+AccountSize <= len(body); i += AccountSize {
			accounts = append(accounts, getU128(body[i:]))
		}
	case OpCreateTransfers:
		for i := 0; i+TransferSize <= len(body); i += TransferSize {
			t := DecodeTransfer(body[i:])
			transfers = append(transfers, t.ID)
			accounts = append(accounts, t.DebitAccountID, t.CreditAccountID)
			if t.PendingID.IsZero() {
				continue
			}
			// A post or void moves the pending transfer's accounts, which
			// only the pending transfer names: the second stage of the
			// prefetch, after the first has loaded it. A pending transfer
			// created earlier in this same batch names accounts the batch
			// already lists.
			transfers = append(transfers, t.PendingID)
			if pos, ok := l.s.transfer(t.PendingID); ok {
				p := l.s.transfers.at(pos)
				accounts = append(accounts, p.DebitAccountID, p.CreditAccountID)
			}
		}
	case OpPulse:
		// The expiring transfers come from the expiry index, in heap
		// order: every entry due by timestamp has only due ancestors.
		var walk func(i int)
		walk = func(i int) {
			h := l.s.expiries
			if i >= len(h) || h[i].expiresAt > timestamp {
				return
			}
			if l.s.live(h[i]) {
				p := l.s.transfers.at(h[i].pos)
				transfers = append(transfers, p.ID)
				accounts = append(accounts, p.DebitAccountID, p.CreditAccountID)
			}
			walk(2*i + 1)
			walk(2*i + 2)
		}
		walk(0)
	case OpLookupAccounts:
		for i := 0; i+IDSize <= len(body); i += IDSize {
			accounts = append(accounts, getU128(body[i:]))
		}
	case OpLookupTransfers:
		for i := 0; i+IDSize <= len(body); i += IDSize {
			transfers = append(transfers, getU128(body[i:]))
		}
	case OpGetAccountTransfers, OpGetAccountBalances:
		if len(body) == AccountFilterSize {
			accounts = append(accounts, getU128(body))
		}
	}
	return accounts, transfers
}

// Execute applies one committed operation at timestamp (the op's highest;
// create events own timestamp-n+1 .. timestamp) and returns the reply body.
// The reply aliases a buffer that the next Execute reuses.
func (l *Ledger) Execute(op uint8, timestamp uint64, body []byte) []byte {
	l.stream.Reset()
	var hdr [32]byte
	putU128(hdr[:], l.digest)
	binary.LittleEndian.PutUint64(hdr[16:], timestamp)
	hdr[24] = op
	l.stream.Write(hdr[:])
	l.stream.Write(body)
	l.s.stamp++
	l.s.changed = l.s.changed[:0]

	out := l.reply[:0]
	switch op {
	case OpCreateAccounts:
		out = l.createAccounts(body, timestamp, out)
	case OpCreateTransfers:
		out = l.createTransfers(body, timestamp, out)
	case OpLookupAccounts:
		out = l.lookupAccounts(body, out)
	case OpLookupTransfers:
		out = l.lookupTransfers(body, out)
	case OpGetAccountTransfers:
		out = l.getAccountTransfers(DecodeAccountFilter(body), out)
	case OpGetAccountBalances:
		out = l.getAccountBalances(DecodeAccountFilter(body), out)
	case OpQueryAccounts:
		out = l.queryAccounts(DecodeQueryFilter(body), out)
	case OpQueryTransfers:
		out = l.queryTransfers(DecodeQueryFilter(body), out)
	case OpPulse:
		l.expire(timestamp)
	default:
		panic("ledger: execute of an operation Validate rejects")
	}
	l.reply = out
	l.stream.Write(out)
	for _, pos := range l.s.changed {
		l.digestAccountRec(l.s.accounts.at(pos))
	}
	l.digest = l.stream.Sum()
	return out
}

// expire ends every pending transfer whose timeout has passed by timestamp:
// the reservation goes back, and an account its closing transfer closed
// opens again. Balances history is not touched: an expiry is not a transfer.
func (l *Ledger) expire(timestamp uint64) {
	for {
		e, ok := l.s.nextExpiry()
		if !ok || e.expiresAt > timestamp {
			return
		}
		l.s.expiries.pop()
		p := l.s.transfers.at(e.pos)
		drPos, _ := l.s.account(p.DebitAccountID)
		crPos, _ := l.s.account(p.CreditAccountID)
		dr, cr := l.s.accounts.at(drPos), l.s.accounts.at(crPos)
		dr.DebitsPending = sub(dr.DebitsPending, p.Amount)
		cr.CreditsPending = sub(cr.CreditsPending, p.Amount)
		if p.Flags&TransferClosingDebit != 0 {
			dr.Flags &^= AccountClosed
		}
		if p.Flags&TransferClosingCredit != 0 {
			cr.Flags &^= AccountClosed
		}
		l.s.transfers.at(e.pos).state = pendingExpired
		l.s.beginUpdate(drPos)
		l.s.beginUpdate(crPos)
	}
}

// Checksum summarizes the state after the latest Execute: a chain over every
// op's request, reply, transfer amounts and the accounts it changed.
func (l *Ledger) Checksum() u128.U128 { return l.digest }

func (l *Ledger) digestAccountRec(a *accountRec) {
	a.Encode(l.buf[:])
	l.stream.Write(l.buf[:])
}

// digestTransfer records what a created transfer did beyond what the
// request body (digested whole) says: the amount it really moved. Its
// effect on the accounts enters the digest when the op ends.
func (l *Ledger) digestTransfer(pos int32) {
	t := l.s.transfers.at(pos)
	putU128(l.buf[:], t.Amount)
	le.PutUint64(l.buf[16:], t.Timestamp)
	l.stream.Write(l.buf[:24])
}

// SetBalances overwrites an account's four balances, bypassing every check.
// It exists for conformance scenarios that start from given balances; the
// replicated path never calls it.
func (l *Ledger) SetBalances(id u128.U128, dp, dpo, cp, cpo u128.U128) bool {
	pos, ok := l.s.account(id)
	if !ok {
		return false
	}
	a := l.s.accounts.at(pos)
	a.DebitsPending, a.DebitsPosted, a.CreditsPending, a.CreditsPosted = dp, dpo, cp, cpo
	return true
}
