package ledger

import (
	"errors"
	"fmt"
	"slices"

	"viewstamp/replica/checksum"
	"viewstamp/replica/u128"
)

// A snapshot is the whole ledger as one byte string, so that a checkpoint can
// hold it until the ledger lives in the LSM forest. It keeps what cannot be
// derived (objects, pending states, balance history, burned ids, the expiry
// heap as laid out, the state digest) and rebuilds the rest (id maps, field
// indexes, each account's transfer list) on Restore. Everything is written in
// timestamp order or sorted, so one state has exactly one snapshot, and a
// cluster's replicas agree on its bytes.
//
// Layout, all integers little-endian:
//
//	header   snapshotHeaderSize bytes, offsets below
//	accounts count × AccountSize, Account.Encode, timestamp order
//	transfers count × TransferSize, Transfer.Encode, timestamp order
//	states   one byte per transfer with the pending flag, in the same order
//	balances snapshotBalanceSize per transfer of each history account, in
//	         account order and then that account's transfer order
//	failed   IDSize per id that failed transiently, ascending
//	expiries snapshotExpirySize per heap slot, in heap order
//
// The expiry heap is stored as it is, stale entries included: PulseDue looks
// only at its top, so a restored ledger must have the same top to propose
// the same pulses.
const (
	snapshotMagic       = "VSLEDGER"
	snapshotVersion     = 1
	snapshotHeaderSize  = 104
	snapshotBalanceSize = 64
	snapshotExpirySize  = 20
)

// Header offsets. The checksum covers every byte after itself.
const (
	snapOffChecksum  = 0
	snapOffMagic     = 16
	snapOffVersion   = 24
	snapOffReserved  = 28
	snapOffSize      = 32
	snapOffDigest    = 40
	snapOffAccounts  = 56
	snapOffTransfers = 64
	snapOffStates    = 72
	snapOffBalances  = 80
	snapOffFailed    = 88
	snapOffExpiries  = 96
)

// Errors Restore wraps, so a caller can tell a damaged copy (fetch another)
// from one it cannot read at all.
var (
	ErrSnapshotTruncated = errors.New("ledger snapshot: truncated")
	ErrSnapshotMagic     = errors.New("ledger snapshot: not a ledger snapshot")
	ErrSnapshotVersion   = errors.New("ledger snapshot: unsupported version")
	ErrSnapshotCorrupt   = errors.New("ledger snapshot: checksum mismatch")
	ErrSnapshotInvalid   = errors.New("ledger snapshot: inconsistent contents")
)

// Snapshot encodes the ledger's state. It must be called between Executes;
// it does not change the ledger.
func (l *Ledger) Snapshot() []byte {
	s := l.s
	if s.scoped {
		panic("ledger: snapshot inside a linked chain")
	}
	na, nt := s.accounts.len(), s.transfers.len()
	states, balances := 0, 0
	for i := 0; i < nt; i++ {
		if s.transfers.at(int32(i)).Flags&TransferPending != 0 {
			states++
		}
	}
	for i := 0; i < na; i++ {
		a := s.accounts.at(int32(i))
		if a.Flags&AccountHistory != 0 {
			if len(a.balances) != len(a.transfers) {
				panic("ledger: a history account's balances do not run beside its transfers")
			}
			balances += len(a.balances)
		}
	}
	failed := slices.Clone(s.failed.ids)
	slices.SortFunc(failed, compareU128)
	size := snapshotHeaderSize + na*AccountSize + nt*TransferSize + states +
		balances*snapshotBalanceSize + len(failed)*IDSize + len(s.expiries)*snapshotExpirySize

	b := make([]byte, size)
	copy(b[snapOffMagic:], snapshotMagic)
	le.PutUint32(b[snapOffVersion:], snapshotVersion)
	le.PutUint64(b[snapOffSize:], uint64(size))
	putU128(b[snapOffDigest:], l.digest)
	le.PutUint64(b[snapOffAccounts:], uint64(na))
	le.PutUint64(b[snapOffTransfers:], uint64(nt))
	le.PutUint64(b[snapOffStates:], uint64(states))
	le.PutUint64(b[snapOffBalances:], uint64(balances))
	le.PutUint64(b[snapOffFailed:], uint64(len(failed)))
	le.PutUint64(b[snapOffExpiries:], uint64(len(s.expiries)))

	off := snapshotHeaderSize
	for i := 0; i < na; i++ {
		s.accounts.at(int32(i)).Encode(b[off:])
		off += AccountSize
	}
	for i := 0; i < nt; i++ {
		s.transfers.at(int32(i)).Encode(b[off:])
		off += TransferSize
	}
	for i := 0; i < nt; i++ {
		if t := s.transfers.at(int32(i)); t.Flags&TransferPending != 0 {
			b[off] = t.state
			off++
		}
	}
	for i := 0; i < na; i++ {
		a := s.accounts.at(int32(i))
		if a.Flags&AccountHistory == 0 {
			continue
		}
		for _, v := range a.balances {
			putU128(b[off:], v.debitsPending)
			putU128(b[off+16:], v.debitsPosted)
			putU128(b[off+32:], v.creditsPending)
			putU128(b[off+48:], v.creditsPosted)
			off += snapshotBalanceSize
		}
	}
	for _, id := range failed {
		putU128(b[off:], id)
		off += IDSize
	}
	for _, e := range s.expiries {
		le.PutUint64(b[off:], e.expiresAt)
		le.PutUint64(b[off+8:], e.timestamp)
		le.PutUint32(b[off+16:], uint32(e.pos))
		off += snapshotExpirySize
	}
	if off != size {
		panic("ledger: snapshot size miscounted")
	}
	putU128(b[snapOffChecksum:], checksum.Sum(b[snapOffMagic:]))
	return b
}

func compareU128(a, b u128.U128) int {
	switch {
	case a.Less(b):
		return -1
	case b.Less(a):
		return 1
	}
	return 0
}

// Restore rebuilds the ledger a snapshot was taken of. The result answers
// every query, lookup and future batch as the original would, with the same
// Checksum. A snapshot that is damaged, cut short, of another version or
// internally inconsistent is refused with an error wrapping one of the
// ErrSnapshot values; it never panics on input.
func Restore(cfg Config, b []byte) (*Ledger, error) {
	if len(b) < snapshotHeaderSize {
		return nil, fmt.Errorf("%w: %d bytes, less than the %d-byte header", ErrSnapshotTruncated, len(b), snapshotHeaderSize)
	}
	if string(b[snapOffMagic:snapOffMagic+len(snapshotMagic)]) != snapshotMagic {
		return nil, ErrSnapshotMagic
	}
	if v := le.Uint32(b[snapOffVersion:]); v != snapshotVersion {
		return nil, fmt.Errorf("%w %d (this build reads %d)", ErrSnapshotVersion, v, snapshotVersion)
	}
	if size := le.Uint64(b[snapOffSize:]); size != uint64(len(b)) {
		if size > uint64(len(b)) {
			return nil, fmt.Errorf("%w: %d bytes of %d", ErrSnapshotTruncated, len(b), size)
		}
		return nil, fmt.Errorf("%w: %d bytes, the header says %d", ErrSnapshotCorrupt, len(b), size)
	}
	if getU128(b[snapOffChecksum:]) != checksum.Sum(b[snapOffMagic:]) {
		return nil, ErrSnapshotCorrupt
	}
	if le.Uint32(b[snapOffReserved:]) != 0 {
		return nil, fmt.Errorf("%w: reserved header field is not zero", ErrSnapshotInvalid)
	}
	// Every count is at most the snapshot's length, so the sizes below
	// cannot overflow.
	var counts [6]int
	for i, at := range []int{snapOffAccounts, snapOffTransfers, snapOffStates, snapOffBalances, snapOffFailed, snapOffExpiries} {
		n := le.Uint64(b[at:])
		if n > uint64(len(b)) {
			return nil, fmt.Errorf("%w: count %d at header offset %d exceeds the snapshot", ErrSnapshotInvalid, n, at)
		}
		counts[i] = int(n)
	}
	na, nt, ns, nb, nf, ne := counts[0], counts[1], counts[2], counts[3], counts[4], counts[5]
	if want := snapshotHeaderSize + na*AccountSize + nt*TransferSize + ns + nb*snapshotBalanceSize +
		nf*IDSize + ne*snapshotExpirySize; want != len(b) {
		return nil, fmt.Errorf("%w: sections add up to %d bytes, the snapshot has %d", ErrSnapshotInvalid, want, len(b))
	}
	if na > 1<<31-1 || nt > 1<<31-1 {
		return nil, fmt.Errorf("%w: more objects than positions", ErrSnapshotInvalid)
	}

	l := New(cfg)
	d := snapshotDecoder{l: l, s: l.s, b: b, off: snapshotHeaderSize}
	l.digest = getU128(b[snapOffDigest:])
	if err := d.accounts(na); err != nil {
		return nil, err
	}
	if err := d.transfers(nt, ns); err != nil {
		return nil, err
	}
	if err := d.balances(nb); err != nil {
		return nil, err
	}
	if err := d.failed(nf); err != nil {
		return nil, err
	}
	if err := d.expiries(ne); err != nil {
		return nil, err
	}
	return l, nil
}

type snapshotDecoder struct {
	l   *Ledger
	s   *store
	b   []byte
	off int
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrSnapshotInvalid}, args...)...)
}

func (d *snapshotDecoder) accounts(n int) error {
	s := d.s
	prev := uint64(0)
	for i := 0; i < n; i++ {
		a := DecodeAccount(d.b[d.off:])
		d.off += AccountSize
		switch {
		case a.ID.IsZero() || a.ID == u128Max:
			return invalid("account %d has id %v", i, a.ID)
		case a.Timestamp <= prev || a.Timestamp > timestampMax:
			return invalid("account %d has timestamp %d after %d", i, a.Timestamp, prev)
		case a.Flags&^accountFlagsKnown != 0:
			return invalid("account %d has unknown flags %#x", i, a.Flags)
		}
		if _, dup := s.accountPos.get(a.ID); dup {
			return invalid("account id %v appears twice", a.ID)
		}
		prev = a.Timestamp
		pos := s.accounts.push(accountRec{Account: a})
		s.accountPos.set(a.ID, pos)
		s.accountIdx.insert(pos, a.UserData128, a.UserData64, a.UserData32, a.Ledger, a.Code)
	}
	return nil
}

// transfers decodes the transfers and their pending states, and links each
// into its accounts' lists as linkTransfer did.
func (d *snapshotDecoder) transfers(n, states int) error {
	s := d.s
	stateOff := d.off + n*TransferSize
	statesEnd := stateOff + states
	prev := uint64(0)
	for i := 0; i < n; i++ {
		t := DecodeTransfer(d.b[d.off:])
		d.off += TransferSize
		switch {
		case t.ID.IsZero() || t.ID == u128Max:
			return invalid("transfer %d has id %v", i, t.ID)
		case t.Timestamp <= prev || t.Timestamp > timestampMax:
			return invalid("transfer %d has timestamp %d after %d", i, t.Timestamp, prev)
		case t.Flags&^transferFlagsKnown != 0:
			return invalid("transfer %d has unknown flags %#x", i, t.Flags)
		case s.accountAtTimestamp(t.Timestamp):
			return invalid("transfer %d has an account's timestamp %d", i, t.Timestamp)
		}
		// An id above the run's last is stored nowhere yet: the rest map
		// holds only ids that were below the run's last when put, and the
		// last only grows. This spares most transfers a map lookup.
		if last, ok := s.transferAt.last(); ok && !last.Less(t.ID) {
			if _, dup := s.transferAt.get(t.ID); dup {
				return invalid("transfer id %v appears twice", t.ID)
			}
		}
		prev = t.Timestamp
		drPos, okDr := s.accountPos.get(t.DebitAccountID)
		crPos, okCr := s.accountPos.get(t.CreditAccountID)
		if !okDr || !okCr || drPos == crPos {
			return invalid("transfer %v does not name two distinct stored accounts", t.ID)
		}
		if t.Flags&(TransferPostPending|TransferVoidPending) != 0 {
			p, ok := s.transferAt.get(t.PendingID)
			if !ok || s.transfers.at(p).Flags&TransferPending == 0 {
				return invalid("transfer %v posts or voids %v, which is not a stored pending transfer", t.ID, t.PendingID)
			}
		}
		state := pendingNone
		if t.Flags&TransferPending != 0 {
			if stateOff == statesEnd {
				return invalid("fewer pending states than pending transfers")
			}
			state = d.b[stateOff]
			stateOff++
			if state < pendingPending || state > pendingExpired {
				return invalid("transfer %v has pending state %d", t.ID, state)
			}
		}
		pos := s.transfers.push(transferRec{Transfer: t, state: state})
		s.transferAt.put(t.ID, pos)
		s.transferIdx.insert(pos, t.UserData128, t.UserData64, t.UserData32, t.Ledger, t.Code)
		dr, cr := s.accounts.at(drPos), s.accounts.at(crPos)
		dr.transfers = append(dr.transfers, pos)
		cr.transfers = append(cr.transfers, pos)
	}
	if stateOff != statesEnd {
		return invalid("%d pending states for %d pending transfers", states, states-(statesEnd-stateOff))
	}
	d.off = statesEnd
	return nil
}

func (d *snapshotDecoder) balances(n int) error {
	s := d.s
	want := 0
	for i := 0; i < s.accounts.len(); i++ {
		if a := s.accounts.at(int32(i)); a.Flags&AccountHistory != 0 {
			want += len(a.transfers)
		}
	}
	if want != n {
		return invalid("%d balances for %d transfers of history accounts", n, want)
	}
	for i := 0; i < s.accounts.len(); i++ {
		a := s.accounts.at(int32(i))
		if a.Flags&AccountHistory == 0 || len(a.transfers) == 0 {
			continue
		}
		a.balances = make([]balance, len(a.transfers))
		for k := range a.balances {
			b := d.b[d.off:]
			a.balances[k] = balance{getU128(b), getU128(b[16:]), getU128(b[32:]), getU128(b[48:])}
			d.off += snapshotBalanceSize
		}
	}
	return nil
}

func (d *snapshotDecoder) failed(n int) error {
	s := d.s
	for i := 0; i < n; i++ {
		id := getU128(d.b[d.off:])
		d.off += IDSize
		if i > 0 && !s.failed.ids[i-1].Less(id) {
			return invalid("failed ids are not in ascending order at %d", i)
		}
		s.failed.add(id)
	}
	return nil
}

// expiries takes the heap as stored, after checking that it is a heap and
// that it holds exactly one live entry, due when it should be, for every
// pending transfer with a timeout: nextExpiry trusts both.
func (d *snapshotDecoder) expiries(n int) error {
	s := d.s
	if n > 0 {
		s.expiries = make(expiryHeap, n)
	}
	seen := make([]bool, s.transfers.len())
	for i := 0; i < n; i++ {
		b := d.b[d.off:]
		d.off += snapshotExpirySize
		pos := le.Uint32(b[16:])
		if pos > 1<<31-1 {
			return invalid("expiry %d names position %d", i, pos)
		}
		e := expiry{expiresAt: le.Uint64(b), timestamp: le.Uint64(b[8:]), pos: int32(pos)}
		s.expiries[i] = e
		if i > 0 && e.less(s.expiries[(i-1)/2]) {
			return invalid("expiry %d is earlier than its parent", i)
		}
		if !s.live(e) {
			continue
		}
		t := s.transfers.at(e.pos)
		if seen[e.pos] || t.Timeout == 0 || e.expiresAt != t.Timestamp+uint64(t.Timeout)*1e9 {
			return invalid("expiry %d does not match pending transfer %v", i, t.ID)
		}
		seen[e.pos] = true
	}
	for i := 0; i < s.transfers.len(); i++ {
		if t := s.transfers.at(int32(i)); t.state == pendingPending && t.Timeout > 0 && !seen[i] {
			return invalid("pending transfer %v has no expiry", t.ID)
		}
	}
	return nil
}
