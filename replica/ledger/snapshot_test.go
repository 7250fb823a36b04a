package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"viewstamp/replica/checksum"
	"viewstamp/replica/u128"
)

func restoreOrFail(t testing.TB, l *Ledger) *Ledger {
	t.Helper()
	snap := l.Snapshot()
	r, err := Restore(l.cfg, snap)
	if err != nil {
		t.Fatalf("restore of a fresh snapshot: %v", err)
	}
	if again := r.Snapshot(); !bytes.Equal(again, snap) {
		t.Fatalf("snapshot of the restored ledger differs (%d vs %d bytes)", len(again), len(snap))
	}
	return r
}

// reseal recomputes a snapshot's checksum, so a test can hand Restore
// contents that are wrong yet not damaged.
func reseal(b []byte) []byte {
	putU128(b[snapOffChecksum:], checksum.Sum(b[snapOffMagic:]))
	return b
}

// snapOp is one executed operation, kept so that it can be replayed.
type snapOp struct {
	op   uint8
	ts   uint64
	body []byte
}

// buildOps drives a ledger through a workload that reaches every kind of
// state a snapshot holds: random and increasing ids (both halves of the id
// index), history accounts, pending transfers with and without timeouts,
// posts, voids, expiries, linked chains that roll back, and transient
// failures that burn ids, until nTransfers transfers are stored. It returns
// the ops and the ledger they built.
func buildOps(seed uint64, nAccounts, nTransfers, batch int) ([]snapOp, *Ledger) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	l := New(Config{BatchMax: batch})
	var ops []snapOp
	clock, last := uint64(1_700_000_000_000_000_000), uint64(0)
	exec := func(op uint8, body []byte, events int) {
		last = max(last+1, clock) + uint64(events)
		l.Execute(op, last, body)
		ops = append(ops, snapOp{op, last, body})
	}
	ids := make([]u128.U128, nAccounts)
	for start := 0; start < nAccounts; start += batch {
		n := min(batch, nAccounts-start)
		body := make([]byte, n*AccountSize)
		for i := 0; i < n; i++ {
			ids[start+i] = u128.U128{Lo: r.Uint64() | 1, Hi: r.Uint64N(4)}
			a := Account{ID: ids[start+i], Ledger: 1, Code: uint16(1 + r.IntN(3)),
				UserData64: r.Uint64N(8), UserData32: uint32(r.IntN(4))}
			switch r.IntN(16) {
			case 0, 1:
				a.Flags |= AccountHistory
			case 2:
				a.Flags |= AccountDebitsMustNotExceedCredits
			}
			a.Encode(body[i*AccountSize:])
		}
		exec(OpCreateAccounts, body, n)
	}
	var pendings []u128.U128
	nextID := uint64(0)
	for l.s.transfers.len() < nTransfers {
		n := min(batch, nTransfers-l.s.transfers.len())
		body := make([]byte, n*TransferSize)
		for i := 0; i < n; i++ {
			// Ids mostly increase, as TigerBeetle advises; one in fifty
			// lands a little behind the latest, as from a slow client.
			nextID++
			t := Transfer{ID: u128.From64(nextID << 8), Ledger: 1, Code: uint16(1 + r.IntN(3)),
				Amount: u128.From64(1 + r.Uint64N(1000)), UserData64: r.Uint64N(8)}
			if r.IntN(50) == 0 {
				t.ID = u128.From64((nextID-r.Uint64N(min(nextID, 100)))<<8 | (1 + r.Uint64N(255)))
			}
			dr := r.IntN(nAccounts)
			cr := (dr + 1 + r.IntN(nAccounts-1)) % nAccounts
			t.DebitAccountID, t.CreditAccountID = ids[dr], ids[cr]
			switch k := r.IntN(100); {
			case k < 10 && len(pendings) > 0:
				j := r.IntN(len(pendings))
				t.PendingID = pendings[j]
				pendings[j] = pendings[len(pendings)-1]
				pendings = pendings[:len(pendings)-1]
				t.DebitAccountID, t.CreditAccountID, t.Ledger, t.Code = u128.U128{}, u128.U128{}, 0, 0
				if r.IntN(2) == 0 {
					t.Flags, t.Amount = TransferPostPending, u128Max
				} else {
					t.Flags, t.Amount = TransferVoidPending, u128.U128{}
				}
			case k < 25:
				t.Flags = TransferPending
				if r.IntN(2) == 0 {
					t.Timeout = uint32(1 + r.IntN(10))
				}
				pendings = append(pendings, t.ID)
			case k < 27:
				t.CreditAccountID = u128.From64(1 << 40) // no such account: burns the id
			}
			if r.IntN(20) == 0 && i < n-1 {
				t.Flags |= TransferLinked
			}
			t.Encode(body[i*TransferSize:])
		}
		exec(OpCreateTransfers, body, n)
		clock += uint64(r.IntN(4)) * 1e9
		if l.PulseDue(max(last+1, clock)) {
			exec(OpPulse, nil, 0)
		}
	}
	return ops, l
}

func replay(ops []snapOp, batch int) *Ledger {
	l := New(Config{BatchMax: batch})
	for _, o := range ops {
		l.Execute(o.op, o.ts, o.body)
	}
	return l
}

// TestSnapshotCanonical: one state has one snapshot, whichever ledger
// (with its own maps and their own iteration orders) holds it, and however
// often it is taken or restored.
func TestSnapshotCanonical(t *testing.T) {
	ops, a := buildOps(1, 300, 6000, 500)
	b := replay(ops, 500)
	sa, sb := a.Snapshot(), b.Snapshot()
	if !bytes.Equal(sa, sb) {
		t.Fatal("two ledgers built by the same ops give different snapshots")
	}
	if a.s.failed.len() == 0 || len(a.s.expiries) == 0 || len(a.s.transferAt.rest) == 0 {
		t.Fatalf("workload misses state: %d failed ids, %d expiries, %d out-of-order ids",
			a.s.failed.len(), len(a.s.expiries), len(a.s.transferAt.rest))
	}
	hist, states := 0, map[uint8]int{}
	for i := 0; i < a.s.accounts.len(); i++ {
		hist += len(a.s.accounts.at(int32(i)).balances)
	}
	for i := 0; i < a.s.transfers.len(); i++ {
		states[a.s.transfers.at(int32(i)).state]++
	}
	if hist == 0 || states[pendingPending] == 0 || states[pendingPosted] == 0 ||
		states[pendingVoided] == 0 || states[pendingExpired] == 0 {
		t.Fatalf("workload misses state: %d balances, pending states %v", hist, states)
	}
	for i := 0; i < 3; i++ {
		if !bytes.Equal(a.Snapshot(), sa) {
			t.Fatal("snapshotting the same ledger twice gives different bytes")
		}
	}
	r := restoreOrFail(t, a)
	r = restoreOrFail(t, r)
	if r.Checksum() != a.Checksum() {
		t.Fatal("restored ledger has another checksum")
	}
	// A different state has a different snapshot.
	c := replay(ops[:len(ops)-1], 500)
	if bytes.Equal(c.Snapshot(), sa) {
		t.Fatal("a ledger one op behind has the same snapshot")
	}
}

// TestSnapshotRestoreThenContinue replays the second half of a workload on
// the original and on ledgers restored at several points: every reply,
// checksum and pulse decision agrees with the ledger never snapshotted.
func TestSnapshotRestoreThenContinue(t *testing.T) {
	ops, _ := buildOps(2, 200, 5000, 400)
	ref, cur := New(Config{BatchMax: 400}), New(Config{BatchMax: 400})
	for i, o := range ops {
		if i%3 == 0 {
			cur = restoreOrFail(t, cur)
		}
		want := append([]byte(nil), ref.Execute(o.op, o.ts, o.body)...)
		got := cur.Execute(o.op, o.ts, o.body)
		if !bytes.Equal(got, want) {
			t.Fatalf("op %d (%s): reply differs after restore", i, OperationName(o.op))
		}
		if ref.Checksum() != cur.Checksum() {
			t.Fatalf("op %d: checksum differs after restore", i)
		}
		if ts := o.ts + 5e9; ref.PulseDue(ts) != cur.PulseDue(ts) {
			t.Fatalf("op %d: pulse decision differs after restore", i)
		}
	}
}

// TestSnapshotKeepsStaleExpiries: a posted transfer's expiry stays in the
// heap until a pulse drops it, and the primary proposes that pulse; a
// restored ledger must propose it too.
func TestSnapshotKeepsStaleExpiries(t *testing.T) {
	l, next := fixture(t)
	l.Execute(OpCreateTransfers, next(2), transfersBody(
		Transfer{ID: id(10), DebitAccountID: id(2), CreditAccountID: id(1), Amount: id(5), Ledger: 1, Code: 1,
			Flags: TransferPending, Timeout: 1},
		Transfer{ID: id(11), PendingID: id(10), Amount: u128Max, Flags: TransferPostPending},
	))
	later := next(0) + 2e9
	if !l.PulseDue(later) {
		t.Fatal("the posted transfer's expiry no longer makes a pulse due")
	}
	r := restoreOrFail(t, l)
	if !r.PulseDue(later) {
		t.Fatal("the restored ledger does not propose the pulse the original does")
	}
	l.Execute(OpPulse, later, nil)
	r.Execute(OpPulse, later, nil)
	if l.Checksum() != r.Checksum() || l.PulseDue(later+1) || r.PulseDue(later+1) {
		t.Fatal("pulse after restore differs")
	}
}

// The property test's generators: small id spaces so that batches collide
// with what exists, and small field values so that queries match.
func genAccounts(t *rapid.T, initial bool) []byte {
	n := rapid.IntRange(1, 4).Draw(t, "accounts")
	if initial {
		n = 6
	}
	body := make([]byte, n*AccountSize)
	for i := 0; i < n; i++ {
		a := Account{ID: u128.From64(rapid.Uint64Range(1, 9).Draw(t, "account_id")),
			Ledger: uint32(rapid.IntRange(1, 2).Draw(t, "account_ledger")), Code: 1,
			UserData64: rapid.Uint64Range(0, 3).Draw(t, "account_ud64")}
		if rapid.IntRange(0, 2).Draw(t, "account_history") == 0 {
			a.Flags |= AccountHistory
		}
		if initial {
			a.ID, a.Ledger = u128.From64(uint64(i+1)), uint32(1+i%2)
		} else if rapid.IntRange(0, 5).Draw(t, "account_linked") == 0 {
			a.Flags |= AccountLinked
		}
		a.Encode(body[i*AccountSize:])
	}
	return body
}

func genTimestamp(t *rapid.T, seen []uint64, label string) uint64 {
	if len(seen) == 0 || rapid.Bool().Draw(t, label+"_open") {
		return 0
	}
	return seen[rapid.IntRange(0, len(seen)-1).Draw(t, label)]
}

// genSnapTransfer makes transfers that mostly succeed (rapid draws small
// values often, which genTransfer's independent flags turn into mostly
// invalid combinations): kind 0 is a plain transfer between two accounts of
// one ledger, posts and voids mostly aim at pending transfers that exist
// (so expiry entries go stale), and the last kind is genTransfer's anything.
func genSnapTransfer(t *rapid.T, next uint64, pendings []u128.U128) Transfer {
	kind := rapid.IntRange(0, 6).Draw(t, "transfer_kind")
	if kind == 6 {
		return genTransfer(t)
	}
	dr := rapid.Uint64Range(1, 6).Draw(t, "transfer_dr")
	cr := 1 + (dr-1+2*rapid.Uint64Range(1, 2).Draw(t, "transfer_cr"))%6 // same ledger as dr
	tr := Transfer{ID: u128.From64(next), DebitAccountID: u128.From64(dr), CreditAccountID: u128.From64(cr),
		Amount: u128.From64(rapid.Uint64Range(1, 100).Draw(t, "transfer_amount")), Ledger: uint32(1 + (dr-1)%2),
		Code: uint16(rapid.IntRange(1, 3).Draw(t, "transfer_code")), UserData64: rapid.Uint64Range(0, 2).Draw(t, "transfer_ud64")}
	if rapid.IntRange(0, 4).Draw(t, "transfer_id_reuse") == 4 {
		tr.ID = u128.From64(rapid.Uint64Range(1, next).Draw(t, "transfer_id"))
	}
	switch kind {
	case 1, 2:
		tr.Flags |= TransferPending
		tr.Timeout = uint32(rapid.IntRange(0, 3).Draw(t, "transfer_timeout"))
		if rapid.IntRange(0, 5).Draw(t, "transfer_closing") == 5 {
			tr.Flags |= TransferClosingDebit
		}
	case 3, 4:
		tr.Flags |= []uint16{TransferPostPending, TransferVoidPending}[kind-3]
		tr.Amount = []u128.U128{u128Max, {}}[kind-3]
		tr.DebitAccountID, tr.CreditAccountID, tr.Ledger, tr.Code = u128.U128{}, u128.U128{}, 0, 0
		tr.PendingID = u128.From64(rapid.Uint64Range(1, next).Draw(t, "transfer_pending_id"))
		if len(pendings) > 0 && rapid.IntRange(0, 3).Draw(t, "transfer_aim") < 3 {
			tr.PendingID = pendings[rapid.IntRange(0, len(pendings)-1).Draw(t, "transfer_aim_at")]
		}
	case 5:
		tr.Flags |= []uint16{TransferBalancingDebit, TransferBalancingCredit}[rapid.IntRange(0, 1).Draw(t, "transfer_balancing")]
	}
	if rapid.IntRange(0, 7).Draw(t, "transfer_linked") == 7 {
		tr.Flags |= TransferLinked
	}
	return tr
}

// genAccountFilter makes mostly valid filters, so that most select something.
func genAccountFilter(t *rapid.T, seen []uint64) []byte {
	f := AccountFilter{AccountID: u128.From64(rapid.Uint64Range(1, 7).Draw(t, "filter_account")),
		Limit: uint32(rapid.IntRange(1, 20).Draw(t, "filter_limit")), Flags: uint32(rapid.IntRange(1, 7).Draw(t, "filter_flags"))}
	if rapid.IntRange(0, 3).Draw(t, "filter_narrow") == 0 {
		f.UserData64, f.Code = rapid.Uint64Range(0, 2).Draw(t, "filter_ud64"), uint16(rapid.IntRange(0, 3).Draw(t, "filter_code"))
		f.TimestampMin, f.TimestampMax = genTimestamp(t, seen, "filter_min"), genTimestamp(t, seen, "filter_max")
	}
	if rapid.IntRange(0, 9).Draw(t, "filter_invalid") == 0 {
		f.Limit, f.Flags = 0, 0
	}
	b := make([]byte, AccountFilterSize)
	f.Encode(b)
	return b
}

func genQueryFilter(t *rapid.T, seen []uint64) []byte {
	f := QueryFilter{UserData64: rapid.Uint64Range(0, 3).Draw(t, "query_ud64"),
		Ledger: uint32(rapid.IntRange(0, 2).Draw(t, "query_ledger")), Code: uint16(rapid.IntRange(0, 3).Draw(t, "query_code")),
		TimestampMin: genTimestamp(t, seen, "query_min"), TimestampMax: genTimestamp(t, seen, "query_max"),
		Limit: uint32(rapid.IntRange(1, 20).Draw(t, "query_limit")), Flags: uint32(rapid.IntRange(0, 1).Draw(t, "query_flags"))}
	b := make([]byte, QueryFilterSize)
	f.Encode(b)
	return b
}

func genIDs(t *rapid.T, hi uint64) []byte {
	n := rapid.IntRange(1, 4).Draw(t, "lookups")
	b := make([]byte, n*IDSize)
	for i := 0; i < n; i++ {
		putU128(b[i*IDSize:], u128.From64(rapid.Uint64Range(1, hi).Draw(t, "lookup_id")))
	}
	return b
}

// TestSnapshotProperty: random batches of every operation run on a ledger
// never snapshotted (ref), one snapshotted at random points (src, which must
// not be changed by it) and one restored at those points, restored again from
// itself at each later point (dst). Every reply, prefetch list, pulse decision
// and checksum agree at every step, and so do the final snapshots.
func TestSnapshotProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := Config{BatchMax: 16}
		ref, src := New(cfg), New(cfg)
		var dst *Ledger
		clock, last := uint64(1_000_000_000), uint64(0)
		var seen []uint64
		var pendings []u128.U128
		nextID := uint64(0)
		steps := rapid.IntRange(20, 80).Draw(t, "steps")
		for i := -1; i <= steps; i++ {
			if i == steps || rapid.IntRange(0, 5).Draw(t, "cut") == 0 {
				from := src
				if dst != nil {
					from = dst
				}
				snap := from.Snapshot()
				r, err := Restore(cfg, snap)
				if err != nil {
					t.Fatalf("step %d: restore: %v", i, err)
				}
				if !bytes.Equal(r.Snapshot(), snap) {
					t.Fatalf("step %d: snapshot(restore(s)) != s", i)
				}
				dst = r
			}
			if i == steps {
				break
			}
			var op uint8
			var body []byte
			events := 0
			kind := rapid.IntRange(0, 9).Draw(t, "kind")
			if i < 0 {
				kind = 0 // start with accounts, so that most transfers can succeed
			}
			switch kind {
			case 0:
				op, body = OpCreateAccounts, genAccounts(t, i < 0)
				events = len(body) / AccountSize
			case 1, 2:
				clock += uint64(rapid.IntRange(1, 3).Draw(t, "secs")) * 1e9
				due := ref.PulseDue(max(last+1, clock))
				if src.PulseDue(max(last+1, clock)) != due || (dst != nil && dst.PulseDue(max(last+1, clock)) != due) {
					t.Fatalf("step %d: pulse decisions differ", i)
				}
				if !due {
					continue
				}
				op = OpPulse
			case 3, 4, 5:
				n := rapid.IntRange(1, 6).Draw(t, "batch")
				body = make([]byte, n*TransferSize)
				for k := 0; k < n; k++ {
					nextID++
					tr := genSnapTransfer(t, nextID, pendings)
					tr.Encode(body[k*TransferSize:])
				}
				op, events = OpCreateTransfers, n
			case 6:
				op = []uint8{OpGetAccountTransfers, OpGetAccountBalances}[rapid.IntRange(0, 1).Draw(t, "account_query")]
				body = genAccountFilter(t, seen)
			case 7:
				op = []uint8{OpQueryAccounts, OpQueryTransfers}[rapid.IntRange(0, 1).Draw(t, "query")]
				body = genQueryFilter(t, seen)
			case 8:
				op, body = OpLookupAccounts, genIDs(t, 9)
			case 9:
				op, body = OpLookupTransfers, genIDs(t, 40)
			}
			last = max(last+1, clock) + uint64(events)
			seen = append(seen, last-uint64(events)+1, last)
			wantA, wantT := ref.Prefetch(op, last, body)
			want := append([]byte(nil), ref.Execute(op, last, body)...)
			if op == OpCreateTransfers {
				for k := 0; k < len(body)/TransferSize; k++ {
					tr := DecodeTransfer(body[k*TransferSize:])
					if tr.Flags&TransferPending != 0 && DecodeResult(want[k*ResultSize:]).Status == StatusCreated {
						pendings = append(pendings, tr.ID)
					}
				}
			}
			for _, c := range []struct {
				name string
				l    *Ledger
			}{{"snapshotted", src}, {"restored", dst}} {
				name, l := c.name, c.l
				if l == nil {
					continue
				}
				gotA, gotT := l.Prefetch(op, last, body)
				if fmt.Sprint(gotA, gotT) != fmt.Sprint(wantA, wantT) {
					t.Fatalf("step %d (%s): %s ledger prefetches %v %v, want %v %v", i, OperationName(op), name, gotA, gotT, wantA, wantT)
				}
				if got := l.Execute(op, last, body); !bytes.Equal(got, want) {
					t.Fatalf("step %d (%s): %s ledger replies differently", i, OperationName(op), name)
				}
				if l.Checksum() != ref.Checksum() {
					t.Fatalf("step %d (%s): %s ledger's checksum differs", i, OperationName(op), name)
				}
			}
		}
		final := ref.Snapshot()
		if !bytes.Equal(src.Snapshot(), final) || !bytes.Equal(dst.Snapshot(), final) {
			t.Fatal("final snapshots differ")
		}
	})
}

// TestConformanceAcrossRestore runs every vector twice: once straight, once
// restoring the ledger from its own snapshot before every step. Both must
// pass, with equal checksums and snapshots after every step.
func TestConformanceAcrossRestore(t *testing.T) {
	scenarios := loadScenarios(t, conformanceDir())
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, file := range names {
		for i, sc := range scenarios[file] {
			t.Run(fmt.Sprintf("%s/%d", strings.TrimSuffix(file, ".json"), i), func(t *testing.T) {
				plain, restored := newRunner(), newRunner()
				for k, step := range sc.Steps {
					restored.l = restoreOrFail(t, restored.l)
					if err := plain.step(step); err != nil {
						t.Fatalf("%s\nstep %d (%s): %v", sc.Name, k, str(step["op"]), err)
					}
					if err := restored.step(step); err != nil {
						t.Fatalf("%s\nstep %d (%s) after a restore: %v", sc.Name, k, str(step["op"]), err)
					}
					if plain.l.Checksum() != restored.l.Checksum() {
						t.Fatalf("%s\nstep %d (%s): checksum differs after a restore", sc.Name, k, str(step["op"]))
					}
					if !bytes.Equal(plain.l.Snapshot(), restored.l.Snapshot()) {
						t.Fatalf("%s\nstep %d (%s): snapshot differs after a restore", sc.Name, k, str(step["op"]))
					}
				}
			})
		}
	}
}

func smallSnapshot(t *testing.T) []byte {
	// Seed 13 reaches burned ids, expiries, balance history and the
	// pending, voided and expired states in a few kilobytes.
	_, l := buildOps(13, 4, 24, 8)
	if l.s.failed.len() == 0 || len(l.s.expiries) == 0 || len(l.s.accounts.at(0).balances)+len(l.s.accounts.at(1).balances)+
		len(l.s.accounts.at(2).balances)+len(l.s.accounts.at(3).balances) == 0 {
		t.Fatalf("small workload misses state: %d failed, %d expiries", l.s.failed.len(), len(l.s.expiries))
	}
	return l.Snapshot()
}

// TestSnapshotCorruptionRefused: every single-byte change and every
// truncation of a snapshot is refused, and no resealed change (contents
// wrong but checksummed) makes Restore panic. Resealed changes are tried on
// every byte outside the transfer records and on every fifth byte inside
// them (each Restore allocates the store's first chunks, a few ms).
func TestSnapshotCorruptionRefused(t *testing.T) {
	good := smallSnapshot(t)
	cfg := Config{BatchMax: 8}
	if _, err := Restore(cfg, good); err != nil {
		t.Fatalf("intact snapshot refused: %v", err)
	}
	transfersAt := snapshotHeaderSize + int(le.Uint64(good[snapOffAccounts:]))*AccountSize
	transfersEnd := transfersAt + int(le.Uint64(good[snapOffTransfers:]))*TransferSize
	b := make([]byte, len(good))
	resealed := 0
	for pos := range good {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			copy(b, good)
			b[pos] ^= mask
			if _, err := Restore(cfg, b); err == nil {
				t.Fatalf("byte %d ^ %#x accepted", pos, mask)
			}
			if mask != 0xff || (pos >= transfersAt && pos < transfersEnd && pos%5 != 0) {
				continue
			}
			reseal(b)
			resealed++
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("byte %d ^ %#x, resealed: Restore panics: %v", pos, mask, p)
					}
				}()
				_, _ = Restore(cfg, b)
			}()
		}
	}
	for n := 0; n < len(good); n++ {
		if _, err := Restore(cfg, good[:n]); err == nil {
			t.Fatalf("snapshot cut to %d of %d bytes accepted", n, len(good))
		} else if n >= snapshotHeaderSize && !errors.Is(err, ErrSnapshotTruncated) {
			t.Fatalf("snapshot cut to %d bytes: %v, want truncated", n, err)
		}
	}
	if _, err := Restore(cfg, append(bytes.Clone(good), 0)); !errors.Is(err, ErrSnapshotCorrupt) {
		t.Fatalf("snapshot with a trailing byte: %v", err)
	}
	t.Logf("%d-byte snapshot: %d flips and %d truncations refused, %d resealed flips did not panic",
		len(good), 3*len(good), len(good), resealed)
}

func TestSnapshotRefusals(t *testing.T) {
	good := smallSnapshot(t)
	cfg := Config{BatchMax: 8}
	edit := func(f func(b []byte)) error {
		b := bytes.Clone(good)
		f(b)
		_, err := Restore(cfg, reseal(b))
		return err
	}
	cases := []struct {
		name string
		edit func(b []byte)
		want error
	}{
		{"magic", func(b []byte) { b[snapOffMagic] = 'X' }, ErrSnapshotMagic},
		{"version", func(b []byte) { le.PutUint32(b[snapOffVersion:], snapshotVersion+1) }, ErrSnapshotVersion},
		{"reserved", func(b []byte) { b[snapOffReserved] = 1 }, ErrSnapshotInvalid},
		{"count", func(b []byte) { le.PutUint64(b[snapOffAccounts:], 3) }, ErrSnapshotInvalid},
		{"huge count", func(b []byte) { le.PutUint64(b[snapOffTransfers:], 1<<62) }, ErrSnapshotInvalid},
		{"duplicate account", func(b []byte) {
			copy(b[snapshotHeaderSize+AccountSize:], b[snapshotHeaderSize:snapshotHeaderSize+IDSize])
		}, ErrSnapshotInvalid},
		{"account timestamps", func(b []byte) {
			le.PutUint64(b[snapshotHeaderSize+AccountSize+120:], 1)
		}, ErrSnapshotInvalid},
		{"history without balances", func(b []byte) {
			for i := 0; i < 4; i++ {
				at := snapshotHeaderSize + i*AccountSize + 118
				le.PutUint16(b[at:], le.Uint16(b[at:])^AccountHistory)
			}
		}, ErrSnapshotInvalid},
		{"transfer names no account", func(b []byte) {
			putU128(b[snapshotHeaderSize+4*AccountSize+16:], u128.From64(1<<40))
		}, ErrSnapshotInvalid},
	}
	for _, c := range cases {
		if err := edit(c.edit); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := Restore(cfg, nil); !errors.Is(err, ErrSnapshotTruncated) {
		t.Errorf("empty snapshot: %v", err)
	}
}

func TestMachineRestore(t *testing.T) {
	ops, l := buildOps(4, 10, 100, 16)
	m := &Machine{L: New(Config{BatchMax: 16})}
	for _, o := range ops[:len(ops)/2] {
		m.L.Execute(o.op, o.ts, o.body)
	}
	half := m.L
	if err := m.Restore(l.Snapshot()); err != nil {
		t.Fatal(err)
	}
	if m.L.Checksum() != l.Checksum() || !bytes.Equal(m.Snapshot(), l.Snapshot()) {
		t.Fatal("machine did not take the snapshot's ledger")
	}
	snap := l.Snapshot()
	snap[len(snap)-1] ^= 1
	m.L = half
	if err := m.Restore(snap); !errors.Is(err, ErrSnapshotCorrupt) || m.L != half {
		t.Fatalf("corrupt snapshot: %v; ledger kept: %v", err, m.L == half)
	}
}

// Snapshot and restore of 10,000 accounts and 100,000 transfers. Run with:
// go test ./replica/ledger -run '^$' -bench Snapshot -benchtime=10x
var benchSnap struct {
	l    *Ledger
	snap []byte
}

func benchSnapshotLedger(b *testing.B) (*Ledger, []byte) {
	if benchSnap.l == nil {
		_, benchSnap.l = buildOps(5, 10_000, 100_000, benchBatch)
		benchSnap.snap = benchSnap.l.Snapshot()
	}
	return benchSnap.l, benchSnap.snap
}

func reportSnapshot(b *testing.B, l *Ledger, snap []byte) {
	b.SetBytes(int64(len(snap)))
	b.ReportMetric(float64(len(snap)), "snapshot_bytes")
	b.ReportMetric(float64(len(snap))/float64(l.s.accounts.len()+l.s.transfers.len()), "bytes/object")
}

func BenchmarkSnapshot(b *testing.B) {
	l, snap := benchSnapshotLedger(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if len(l.Snapshot()) != len(snap) {
			b.Fatal("snapshot size changed")
		}
	}
	reportSnapshot(b, l, snap)
}

func BenchmarkRestore(b *testing.B) {
	l, snap := benchSnapshotLedger(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := Restore(l.cfg, snap)
		if err != nil || r.Checksum() != l.Checksum() {
			b.Fatal("restore failed", err)
		}
	}
	reportSnapshot(b, l, snap)
}

// FuzzRestore holds Restore to its promise of refusing, not panicking on,
// whatever bytes it is given; a fuzzer that keeps the checksum right is
// the resealed loop above. Run with: go test ./replica/ledger -fuzz FuzzRestore
func FuzzRestore(f *testing.F) {
	_, l := buildOps(13, 4, 24, 8)
	good := l.Snapshot()
	f.Add(good)
	f.Add(good[:snapshotHeaderSize])
	f.Fuzz(func(t *testing.T, b []byte) {
		reseal := len(b) >= snapshotHeaderSize && b[snapOffMagic] == 'V'
		if reseal {
			b = bytes.Clone(b)
			putU128(b[snapOffChecksum:], checksum.Sum(b[snapOffMagic:]))
		}
		r, err := Restore(Config{BatchMax: 8}, b)
		if err == nil && !bytes.Equal(r.Snapshot(), b) {
			t.Fatal("an accepted snapshot does not round-trip")
		}
	})
}
