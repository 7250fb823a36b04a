package ledger

import (
	"bytes"
	"testing"

	"pgregory.net/rapid"

	"viewstamp/replica/multibatch"
	"viewstamp/replica/storage/lsm"
	"viewstamp/replica/storage/lsm/lsmtest"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// forestConformanceBatch is the largest batch whose trees fit the
// simulator's blocks, above any vector's batch.
const forestConformanceBatch = 64

// simBlockBody is the simulator's 4 KiB block less its header.
const simBlockBody = 4<<10 - 256

// forestDriver runs a ForestMachine over an in-memory grid the way a
// replica does: prefetch, commit, compact, one op after another, each step
// driven to completion.
// fataler is what the driver needs of testing.TB and rapid.T alike.
type fataler interface {
	Fatalf(format string, args ...any)
	Fatal(args ...any)
}

type forestDriver struct {
	t     fataler
	m     *ForestMachine
	grid  *lsmtest.Grid // nil over a grid.Grid
	drain func()
	op    uint64
}

func newForestDriver(t fataler, batchMax int, shuffle uint64) *forestDriver {
	g := lsmtest.New(simBlockBody)
	if shuffle != 0 {
		g.Shuffle(shuffle)
	}
	m := newForestMachine(Config{BatchMax: batchMax}, ForestConfig{Shape: lsm.SimulatorForest, AccountCacheObjects: 64})
	if err := m.OpenEmpty(g); err != nil {
		t.Fatal(err)
	}
	return &forestDriver{t: t, m: m, grid: g, drain: g.Drain}
}

func (d *forestDriver) prefetch(op uint8, ts uint64, body []byte) {
	ready := false
	d.m.Prefetch(d.op, ts, vsr.Operation(op), body, func() { ready = true })
	d.drain()
	if !ready {
		d.t.Fatalf("op %d (%s): prefetch never completed", d.op, OperationName(op))
	}
}

func (d *forestDriver) compact() {
	done := false
	d.m.Compact(d.op, func() { done = true })
	d.drain()
	if !done {
		d.t.Fatalf("op %d: beat never completed", d.op)
	}
}

// execute runs one state-machine op of one batch at timestamp and returns
// its reply's batch.
func (d *forestDriver) execute(op uint8, ts uint64, batch []byte) []byte {
	return replyBatch(d.t, op, d.executeBody(op, ts, oneBatch(op, batch)))
}

// executeBody runs one state-machine op at timestamp and returns its reply.
func (d *forestDriver) executeBody(op uint8, ts uint64, body []byte) []byte {
	d.op++
	d.prefetch(op, ts, body)
	reply := d.m.Commit(u128.U128{}, d.op, ts, vsr.Operation(op), body)
	d.compact()
	return reply
}

// TestForestMatchesMemory: random requests of every operation, split into
// random batches (empty ones too), run on the in-memory machine and on the
// forest machine (over a grid completing IO in a shuffled order): every
// reply, pulse decision and checksum agree.
func TestForestMatchesMemory(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := Config{BatchMax: 16}
		ref := &Machine{L: New(cfg)}
		d := newForestDriver(t, cfg.BatchMax, rapid.Uint64Range(0, 1<<20).Draw(t, "shuffle"))
		clock, last := uint64(1_000_000_000), uint64(0)
		var seen []uint64
		var pendings []u128.U128
		nextID := uint64(0)
		steps := rapid.IntRange(20, 120).Draw(t, "steps")
		for i := -1; i < steps; i++ {
			op, body, events := genOp(t, i < 0, &nextID, pendings, seen)
			if op == OpPulse {
				clock += uint64(rapid.IntRange(1, 3).Draw(t, "secs")) * 1e9
				due := ref.L.PulseDue(max(last+1, clock))
				if d.m.PulseDue(max(last+1, clock)) != due {
					t.Fatalf("step %d: pulse decisions differ", i)
				}
				if !due {
					continue
				}
			}
			req := genBatches(t, op, body, seen)
			if filtered(op) && ref.Check(vsr.Operation(op), req) != 0 {
				req = oneBatch(op, body) // the filters' replies may not fit
			}
			last = max(last+1, clock) + uint64(events)
			seen = append(seen, last-uint64(events)+1, last)
			want := append([]byte(nil), ref.Commit(u128.U128{}, 0, last, vsr.Operation(op), req)...)
			if op != OpPulse {
				reqB, _ := multibatch.Decode(req, EventSizeOf(op))
				wantB, err := multibatch.Decode(want, ResultSizeOf(op))
				if err != nil || wantB.Count() != reqB.Count() {
					t.Fatalf("step %d (%s): reply of %d batches (%v) to %d", i, OperationName(op), wantB.Count(), err, reqB.Count())
				}
				pendings = notePendings(op, reqB.Payload(), wantB.Payload(), pendings)
			}
			if got := d.executeBody(op, last, req); !bytes.Equal(got, want) {
				t.Fatalf("step %d (%s): forest replies %x, want %x", i, OperationName(op), got, want)
			}
			if d.m.Checksum() != ref.Checksum() {
				t.Fatalf("step %d (%s): checksums differ", i, OperationName(op))
			}
		}
	})
}

// genBatches splits body, the events of op, into 1-4 batches at random
// points, or for a filter op adds up to two more filters of the same kind.
func genBatches(t *rapid.T, op uint8, body []byte, seen []uint64) []byte {
	if op == OpPulse {
		return body
	}
	n := rapid.IntRange(1, 4).Draw(t, "batches")
	size := EventSizeOf(op)
	batches := [][]byte{body}
	if filtered(op) {
		for range min(n, 3) - 1 {
			if op == OpGetAccountTransfers || op == OpGetAccountBalances {
				batches = append(batches, genAccountFilter(t, seen))
			} else {
				batches = append(batches, genQueryFilter(t, seen))
			}
		}
		return multibatch.Encode(size, batches...)
	}
	batches = batches[:0]
	events := len(body) / size
	at := 0
	for k := range n {
		cut := events
		if k < n-1 {
			cut = rapid.IntRange(at, events).Draw(t, "cut")
		}
		batches = append(batches, body[at*size:cut*size])
		at = cut
	}
	return multibatch.Encode(size, batches...)
}

// genOp draws one operation as TestSnapshotProperty does (OpPulse: the
// caller decides whether one is due).
func genOp(t *rapid.T, first bool, nextID *uint64, pendings []u128.U128, seen []uint64) (op uint8, body []byte, events int) {
	kind := rapid.IntRange(0, 9).Draw(t, "kind")
	if first {
		kind = 0
	}
	switch kind {
	case 0:
		body = genAccounts(t, first)
		return OpCreateAccounts, body, len(body) / AccountSize
	case 1, 2:
		return OpPulse, nil, 0
	case 3, 4, 5:
		n := rapid.IntRange(1, 6).Draw(t, "batch")
		body = make([]byte, n*TransferSize)
		for k := 0; k < n; k++ {
			*nextID++
			tr := genSnapTransfer(t, *nextID, pendings)
			tr.Encode(body[k*TransferSize:])
		}
		return OpCreateTransfers, body, n
	case 6:
		op = []uint8{OpGetAccountTransfers, OpGetAccountBalances}[rapid.IntRange(0, 1).Draw(t, "account_query")]
		return op, genAccountFilter(t, seen), 0
	case 7:
		op = []uint8{OpQueryAccounts, OpQueryTransfers}[rapid.IntRange(0, 1).Draw(t, "query")]
		return op, genQueryFilter(t, seen), 0
	case 8:
		return OpLookupAccounts, genIDs(t, 9), 0
	}
	return OpLookupTransfers, genIDs(t, 40), 0
}

func notePendings(op uint8, body, reply []byte, pendings []u128.U128) []u128.U128 {
	if op != OpCreateTransfers {
		return pendings
	}
	for k := 0; k < len(body)/TransferSize; k++ {
		tr := DecodeTransfer(body[k*TransferSize:])
		if tr.Flags&TransferPending != 0 && DecodeResult(reply[k*ResultSize:]).Status == StatusCreated {
			pendings = append(pendings, tr.ID)
		}
	}
	return pendings
}

// objectTimestamp looks an account or transfer up between ops, as a test's
// view of the forest.
func (d *forestDriver) objectTimestamp(transfer bool, id u128.U128) (uint64, bool) {
	g := d.m.accounts
	if transfer {
		g = d.m.transfers
	}
	g.PrefetchSetup()
	ready := false
	d.m.fetch(g, []u128.U128{id}, nil, func() { ready = true })
	d.drain()
	if !ready {
		d.t.Fatal("lookup never completed")
	}
	b, ok := g.GetByID(id)
	if !ok {
		return 0, false
	}
	return le.Uint64(b[120:]), true
}

// setBalances is Ledger.SetBalances on the forest: the conformance
// scenarios' way to start from given balances.
func (d *forestDriver) setBalances(id, dp, dpo, cp, cpo u128.U128) bool {
	g := d.m.accounts
	if _, ok := d.objectTimestamp(false, id); !ok {
		return false
	}
	old, _ := g.GetByID(id)
	a := DecodeAccount(old)
	a.DebitsPending, a.DebitsPosted, a.CreditsPending, a.CreditsPosted = dp, dpo, cp, cpo
	next := make([]byte, AccountSize)
	a.Encode(next)
	g.Replace(append([]byte(nil), old...), next)
	return true
}

// TestForestConformance runs the conformance vectors on the forest machine.
func TestForestConformance(t *testing.T) {
	runConformanceOn(t, conformanceDir(), nil, nil, true)
}

// TestForestPrefetchParksOnBlockFault: a prefetch whose reads fail waits,
// parked, instead of failing the commit; once the blocks read again,
// RetryParked completes it and the op replies as the in-memory ledger does.
func TestForestPrefetchParksOnBlockFault(t *testing.T) {
	const batch = 16
	ref := New(Config{BatchMax: batch})
	d := newForestDriver(t, batch, 0)
	ts := uint64(1_000_000_000)
	// Enough accounts, in enough ops, that most sit in tables on disk and
	// out of the 64-object cache.
	for start := uint64(1); start <= 20*batch; start += batch {
		body := make([]byte, batch*AccountSize)
		for i := range uint64(batch) {
			a := Account{ID: u128.From64(start + i), Ledger: 1, Code: 1}
			a.Encode(body[i*AccountSize:])
		}
		ts += batch + 1
		want := append([]byte(nil), ref.Execute(OpCreateAccounts, ts, body)...)
		if got := d.execute(OpCreateAccounts, ts, body); !bytes.Equal(got, want) {
			t.Fatal("create_accounts replies differ")
		}
	}
	body := make([]byte, 4*IDSize)
	for i, id := range []uint64{1, 2, 3, 4} {
		putU128(body[i*IDSize:], u128.From64(id))
	}
	for _, w := range d.grid.Writes {
		d.grid.SetFaulty(w.Address, true)
	}
	ts++
	d.op++
	ready := false
	req := oneBatch(OpLookupAccounts, body)
	d.m.Prefetch(d.op, ts, vsr.Operation(OpLookupAccounts), req, func() { ready = true })
	d.drain()
	if ready || !d.m.Parked() {
		t.Fatalf("prefetch over faulty blocks: ready %v, parked %v", ready, d.m.Parked())
	}
	for _, w := range d.grid.Writes {
		d.grid.SetFaulty(w.Address, false)
	}
	d.m.RetryParked()
	d.drain()
	if !ready || d.m.Parked() {
		t.Fatalf("after repair: ready %v, parked %v", ready, d.m.Parked())
	}
	want := ref.Execute(OpLookupAccounts, ts, body)
	if got := replyBatch(t, OpLookupAccounts, d.m.Commit(u128.U128{}, d.op, ts, vsr.Operation(OpLookupAccounts), req)); !bytes.Equal(got, want) {
		t.Fatal("lookup after repair replies differently")
	}
	d.compact()
	if d.m.Checksum() != ref.Checksum() {
		t.Fatal("checksums differ")
	}
}

// TestForestPulseBacklog: one pulse expires many batches' worth of pending
// transfers (more than one stash round loads), some posted or voided
// first, and the forest machine expires exactly what the in-memory ledger
// does, in the same order, with the same next expiry.
func TestForestPulseBacklog(t *testing.T) {
	const batch = 4
	ref := New(Config{BatchMax: batch})
	d := newForestDriver(t, batch, 7)
	ts := uint64(1_000_000_000)
	run := func(op uint8, body []byte, events int) {
		t.Helper()
		ts += uint64(events) + 1
		want := append([]byte(nil), ref.Execute(op, ts, body)...)
		if got := d.execute(op, ts, body); !bytes.Equal(got, want) {
			t.Fatalf("%s at %d: forest replies %x, want %x", OperationName(op), ts, got, want)
		}
		if d.m.Checksum() != ref.Checksum() {
			t.Fatalf("%s at %d: checksums differ", OperationName(op), ts)
		}
	}
	accounts := make([]byte, 4*AccountSize)
	for i := range 4 {
		a := Account{ID: u128.From64(uint64(i + 1)), Ledger: 1, Code: 1, Flags: AccountHistory}
		a.Encode(accounts[i*AccountSize:])
	}
	run(OpCreateAccounts, accounts, 4)
	id := uint64(100)
	for op := range 12 {
		body := make([]byte, batch*TransferSize)
		for k := range batch {
			id++
			tr := Transfer{ID: u128.From64(id), DebitAccountID: u128.From64(uint64(1 + k%4)),
				CreditAccountID: u128.From64(uint64(1 + (k+1)%4)), Amount: u128.From64(uint64(k + 1)),
				Ledger: 1, Code: 1, Flags: TransferPending, Timeout: uint32(1 + (op+k)%3)}
			if op%4 == 3 && k < 2 {
				// Resolve two earlier pending transfers instead.
				tr = Transfer{ID: u128.From64(id), PendingID: u128.From64(id - batch*2),
					Flags: []uint16{TransferPostPending, TransferVoidPending}[k], Amount: u128Max}
				if k == 1 {
					tr.Amount = u128.U128{}
				}
			}
			tr.Encode(body[k*TransferSize:])
		}
		run(OpCreateTransfers, body, batch)
	}
	ts += 10 * nsPerSecond
	if !ref.PulseDue(ts+1) || !d.m.PulseDue(ts+1) {
		t.Fatal("no pulse due after the timeouts")
	}
	run(OpPulse, nil, 0)
	if len(d.m.pulseExpiring) <= pulseRoundPerBatch*batch {
		t.Fatalf("the pulse expired %d transfers: not more than one round", len(d.m.pulseExpiring))
	}
	for _, later := range []uint64{ts + 1, ts + 5*nsPerSecond} {
		if ref.PulseDue(later) != d.m.PulseDue(later) {
			t.Fatalf("pulse decisions at %d differ", later)
		}
	}
	f := AccountFilter{AccountID: u128.From64(1), Limit: 100, Flags: FilterDebits | FilterCredits}
	body := make([]byte, AccountFilterSize)
	f.Encode(body)
	run(OpGetAccountBalances, body, 0)
	run(OpGetAccountTransfers, body, 0)
}
