package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"viewstamp/replica/client/tcp"
	"viewstamp/replica/ledger"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// The ledger model checks a client history for linearizability with
// porcupine. A whole ledger is too big a state for porcupine's search
// (every interleaving of concurrent requests would copy it), so the history
// is projected onto small keys and each projection is checked on its own:
//
//   - one partition per transfer id: does it exist, with which fields.
//     A create acknowledged "created" that a later lookup does not find is
//     a lost transfer; two attempts both "created" is a duplicate.
//   - one partition per account: does it exist, its posted debits and
//     credits. A lookup whose balances no order of the acknowledged (and
//     in-doubt) creates explains is a lost or doubly applied transfer.
//
// A projection of a linearizable history is linearizable, so every failure
// is real; a multi-account batch's atomicity is not checked by the
// projections (the replica's own checkers do that in the simulator).

// opKind names what a recorded operation did.
type opKind uint8

const (
	opCreateAccounts opKind = iota
	opCreateTransfers
	opLookupAccounts
	opLookupTransfers
)

// ledgerOp is one attempt of one request as the client saw it: what it sent
// and, unless the attempt is in doubt, what came back.
type ledgerOp struct {
	kind      opKind
	accounts  []ledger.Account  // create_accounts: sent; lookup_accounts: returned
	transfers []ledger.Transfer // create_transfers: sent; lookup_transfers: returned
	ids       []u128.U128       // lookups: asked for
	statuses  []uint32          // creates: one per event; nil when in doubt
	inDoubt   bool              // no reply: it may or may not have executed
	call, ret int64             // nanoseconds since the recorder began
}

// ledgerRecorder collects a history from concurrent clients.
type ledgerRecorder struct {
	mu    sync.Mutex
	start time.Time
	ops   []ledgerOp
}

func newLedgerRecorder() *ledgerRecorder { return &ledgerRecorder{start: time.Now()} }

// opOf is the request operation of each kind.
var opOf = [...]vsr.Operation{
	opCreateAccounts:  vsr.Operation(ledger.OpCreateAccounts),
	opCreateTransfers: vsr.Operation(ledger.OpCreateTransfers),
	opLookupAccounts:  vsr.Operation(ledger.OpLookupAccounts),
	opLookupTransfers: vsr.Operation(ledger.OpLookupTransfers),
}

// A nil recorder records nothing (the tests that check balances only).
func (r *ledgerRecorder) now() int64 {
	if r == nil {
		return 0
	}
	return int64(time.Since(r.start))
}

func (r *ledgerRecorder) add(op ledgerOp) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
}

// answered records op, sent at call, as answered now by reply.
func (r *ledgerRecorder) answered(op ledgerOp, call int64, reply []byte) {
	if r == nil {
		return
	}
	op.call, op.ret = call, r.now()
	switch op.kind {
	case opCreateAccounts, opCreateTransfers:
		for off := 0; off+ledger.ResultSize <= len(reply); off += ledger.ResultSize {
			op.statuses = append(op.statuses, ledger.DecodeResult(reply[off:]).Status)
		}
	case opLookupAccounts:
		for off := 0; off+ledger.AccountSize <= len(reply); off += ledger.AccountSize {
			op.accounts = append(op.accounts, ledger.DecodeAccount(reply[off:]))
		}
	case opLookupTransfers:
		for off := 0; off+ledger.TransferSize <= len(reply); off += ledger.TransferSize {
			op.transfers = append(op.transfers, ledger.DecodeTransfer(reply[off:]))
		}
	}
	r.add(op)
}

// inDoubt records op, sent at call, as unanswered: a create may yet take
// effect; a lookup that saw nothing is left out.
func (r *ledgerRecorder) inDoubt(op ledgerOp, call int64) {
	if op.kind == opLookupAccounts || op.kind == opLookupTransfers {
		return
	}
	op.call, op.inDoubt = call, true
	r.add(op)
}

// Reads during the load: every readerPause, the balances of every account
// and readerSample acknowledged transfers, so the history has reads
// concurrent with the creates and with the kills.
const (
	readerPause  = 100 * time.Millisecond
	readerSample = 16
	// linearizableTimeout bounds porcupine's search over the whole history.
	linearizableTimeout = time.Minute
)

func accountIDs() []u128.U128 {
	ids := make([]u128.U128, accountCount)
	for i := range ids {
		ids[i] = accountID(i)
	}
	return ids
}

// runReader reads until load ends; an attempt unanswered in submitTimeout
// is given up (a read in doubt says nothing).
func runReader(load context.Context, cl *tcp.Client, h *history) {
	rng := rand.New(rand.NewPCG(0xEAD, 1))
	accounts := make([]byte, accountCount*ledger.IDSize)
	for i, id := range accountIDs() {
		id.Put(accounts[i*ledger.IDSize:])
	}
	read := func(body []byte, op ledgerOp) {
		ctx, cancel := context.WithTimeout(load, submitTimeout)
		defer cancel()
		call := h.rec.now()
		if reply, err := cl.Submit(ctx, opOf[op.kind], body); err == nil {
			h.rec.answered(op, call, reply)
		}
	}
	for sleepCtx(load, readerPause) {
		read(accounts, ledgerOp{kind: opLookupAccounts, ids: accountIDs()})
		h.mu.Lock()
		var ids []u128.U128
		for range min(readerSample, len(h.acked)) {
			ids = append(ids, h.acked[rng.IntN(len(h.acked))])
		}
		h.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		body := make([]byte, len(ids)*ledger.IDSize)
		for i, id := range ids {
			id.Put(body[i*ledger.IDSize:])
		}
		read(body, ledgerOp{kind: opLookupTransfers, ids: ids})
	}
}

// checkLinearizable fails t unless rec's history is linearizable under the
// ledger model.
func checkLinearizable(t *testing.T, rec *ledgerRecorder) {
	t.Helper()
	rec.mu.Lock()
	ops := append([]ledgerOp(nil), rec.ops...)
	rec.mu.Unlock()
	doubt := 0
	for _, op := range ops {
		if op.inDoubt {
			doubt++
		}
	}
	start := time.Now()
	res, part := checkLedgerHistory(ops, linearizableTimeout)
	if res != porcupine.Ok {
		t.Fatalf("the client history (%d operations, %d in doubt) is not linearizable (%s); the partition:\n%s", len(ops), doubt, res, part)
	}
	t.Logf("the client history is linearizable: %d operations (%d in doubt) checked in %s", len(ops), doubt, time.Since(start).Round(time.Millisecond))
}

// The partitions' operations (porcupine inputs; outputs are unused).
type (
	// transferStep is one operation projected onto one transfer id.
	transferStep struct {
		lookup  bool
		found   bool          // lookup: the id came back
		fields  transferShape // create: sent; lookup: returned
		status  uint32        // create
		inDoubt bool
	}
	// accountStep is one operation projected onto one account.
	accountStep struct {
		kind    opKind
		status  uint32 // create_accounts
		legs    []leg  // create_transfers: the transfers touching it
		found   bool   // lookup_accounts
		debits  u128.U128
		credits u128.U128
		pending bool // lookup_accounts: a pending balance is not zero
		inDoubt bool
	}
	// leg is a transfer's effect on one account.
	leg struct {
		id     u128.U128
		amount uint64
		debit  bool
		status uint32
		// tracked: the transfer was attempted more than once, so the
		// account's state must remember whether it applied (else a
		// retry and an in-doubt attempt could both be counted).
		tracked bool
	}
)

// transferShape is the part of a transfer the client chooses.
type transferShape struct {
	debit, credit, amount u128.U128
	ledger                uint32
	code                  uint16
}

func shapeOf(t ledger.Transfer) transferShape {
	return transferShape{t.DebitAccountID, t.CreditAccountID, t.Amount, t.Ledger, t.Code}
}

// ledgerState is a partition's state; comparable, so porcupine's default
// equality is right. A transfer partition uses exists and shape; an
// account partition exists, the sums and applied.
type ledgerState struct {
	exists          bool
	shape           transferShape
	debits, credits uint64
	// applied is the sorted ids (16 bytes each) of the tracked transfers
	// that touched this account.
	applied string
}

func idKey(id u128.U128) string {
	var b [16]byte
	id.Put(b[:])
	return string(b[:])
}

func (s ledgerState) hasApplied(id u128.U128) bool {
	k := idKey(id)
	for at := 0; at < len(s.applied); at += len(k) {
		if s.applied[at:at+len(k)] == k {
			return true
		}
	}
	return false
}

func (s ledgerState) withApplied(id u128.U128) ledgerState {
	keys := []string{idKey(id)}
	for at := 0; at < len(s.applied); at += 16 {
		keys = append(keys, s.applied[at:at+16])
	}
	sort.Strings(keys)
	s.applied = strings.Join(keys, "")
	return s
}

// ledgerModel is the sequential specification of the operations the
// kill -9 test issues, for ledgerPartitions' projections. Accounts and
// transfers carry no flags and the accounts exist before any transfer, so
// the model's ledger refuses nothing: any status but created or exists is
// not linearizable.
var ledgerModel = porcupine.NondeterministicModel{
	Init: func() []any { return []any{ledgerState{}} },
	Step: func(state, input, _ any) []any {
		s := state.(ledgerState)
		switch in := input.(type) {
		case transferStep:
			return stepTransfer(s, in)
		case accountStep:
			return stepAccount(s, in)
		}
		panic(fmt.Sprintf("ledger model: input %T", input))
	},
	DescribeOperation: func(input, _ any) string { return fmt.Sprintf("%+v", input) },
	DescribeState:     func(state any) string { return fmt.Sprintf("%+v", state) },
}

func stepTransfer(s ledgerState, in transferStep) []any {
	switch {
	case in.lookup:
		if in.found != s.exists || (in.found && in.fields != s.shape) {
			return nil
		}
		return []any{s}
	case in.inDoubt:
		if s.exists {
			return []any{s}
		}
		return []any{s, ledgerState{exists: true, shape: in.fields}}
	case in.status == ledger.StatusCreated && !s.exists:
		return []any{ledgerState{exists: true, shape: in.fields}}
	case in.status == ledger.TransferExists && s.exists && in.fields == s.shape:
		return []any{s}
	}
	return nil
}

func stepAccount(s ledgerState, in accountStep) []any {
	switch in.kind {
	case opCreateAccounts:
		switch {
		case in.inDoubt:
			return []any{s, ledgerState{exists: true}}
		case in.status == ledger.StatusCreated && !s.exists:
			return []any{ledgerState{exists: true}}
		case in.status == ledger.AccountExists && s.exists:
			return []any{s}
		}
		return nil
	case opLookupAccounts:
		if in.found != s.exists || (in.found && (in.pending || in.debits != u128.From64(s.debits) || in.credits != u128.From64(s.credits))) {
			return nil
		}
		return []any{s}
	}
	if !s.exists {
		return nil
	}
	if in.inDoubt {
		next := s
		for _, l := range in.legs {
			if !(l.tracked && next.hasApplied(l.id)) {
				next = next.apply(l)
			}
		}
		return []any{s, next}
	}
	for _, l := range in.legs {
		switch {
		case l.status == ledger.StatusCreated && !(l.tracked && s.hasApplied(l.id)):
			s = s.apply(l)
		case l.status == ledger.TransferExists && l.tracked && s.hasApplied(l.id):
		default:
			return nil
		}
	}
	return []any{s}
}

func (s ledgerState) apply(l leg) ledgerState {
	if l.debit {
		s.debits += l.amount
	} else {
		s.credits += l.amount
	}
	if l.tracked {
		s = s.withApplied(l.id)
	}
	return s
}

// ledgerPartitions projects a history onto its transfer ids and accounts,
// in a deterministic order. An in-doubt attempt never returned as far as
// anyone knows: it may take effect at any time after its call, so its
// return is after every other.
func ledgerPartitions(ops []ledgerOp) [][]porcupine.Operation {
	var end int64
	attempts := map[u128.U128]int{}
	for _, op := range ops {
		end = max(end, op.ret, op.call)
		if op.kind == opCreateTransfers {
			for _, t := range op.transfers {
				attempts[t.ID]++
			}
		}
	}
	never := end + 1
	byTransfer := map[u128.U128][]porcupine.Operation{}
	byAccount := map[u128.U128][]porcupine.Operation{}
	var transferOrder, accountOrder []u128.U128
	addT := func(id u128.U128, op ledgerOp, step transferStep) {
		if _, ok := byTransfer[id]; !ok {
			transferOrder = append(transferOrder, id)
		}
		byTransfer[id] = append(byTransfer[id], porcupineOp(op, never, step))
	}
	addA := func(id u128.U128, op ledgerOp, step accountStep) {
		if _, ok := byAccount[id]; !ok {
			accountOrder = append(accountOrder, id)
		}
		byAccount[id] = append(byAccount[id], porcupineOp(op, never, step))
	}
	for _, op := range ops {
		switch op.kind {
		case opCreateAccounts:
			for i, a := range op.accounts {
				addA(a.ID, op, accountStep{kind: op.kind, status: statusAt(op, i), inDoubt: op.inDoubt})
			}
		case opCreateTransfers:
			legs := map[u128.U128][]leg{}
			var touched []u128.U128
			for i, t := range op.transfers {
				addT(t.ID, op, transferStep{fields: shapeOf(t), status: statusAt(op, i), inDoubt: op.inDoubt})
				for _, side := range []struct {
					account u128.U128
					debit   bool
				}{{t.DebitAccountID, true}, {t.CreditAccountID, false}} {
					if _, ok := legs[side.account]; !ok {
						touched = append(touched, side.account)
					}
					legs[side.account] = append(legs[side.account], leg{id: t.ID, amount: t.Amount.Lo, debit: side.debit,
						status: statusAt(op, i), tracked: attempts[t.ID] > 1})
				}
			}
			for _, a := range touched {
				addA(a, op, accountStep{kind: op.kind, legs: legs[a], inDoubt: op.inDoubt})
			}
		case opLookupAccounts:
			got := indexByID(op.accounts, func(a ledger.Account) u128.U128 { return a.ID })
			for _, id := range op.ids {
				a, ok := got[id]
				addA(id, op, accountStep{kind: op.kind, found: ok, debits: a.DebitsPosted, credits: a.CreditsPosted,
					pending: !a.DebitsPending.IsZero() || !a.CreditsPending.IsZero()})
			}
		case opLookupTransfers:
			got := indexByID(op.transfers, func(t ledger.Transfer) u128.U128 { return t.ID })
			for _, id := range op.ids {
				t, ok := got[id]
				addT(id, op, transferStep{lookup: true, found: ok, fields: shapeOf(t)})
			}
		}
	}
	var parts [][]porcupine.Operation
	for _, id := range accountOrder {
		parts = append(parts, byAccount[id])
	}
	for _, id := range transferOrder {
		parts = append(parts, byTransfer[id])
	}
	return parts
}

func indexByID[T any](items []T, id func(T) u128.U128) map[u128.U128]T {
	m := make(map[u128.U128]T, len(items))
	for _, it := range items {
		m[id(it)] = it
	}
	return m
}

func statusAt(op ledgerOp, i int) uint32 {
	if op.inDoubt || i >= len(op.statuses) {
		return math.MaxUint32
	}
	return op.statuses[i]
}

func porcupineOp(op ledgerOp, never int64, step any) porcupine.Operation {
	ret := op.ret
	if op.inDoubt {
		ret = never
	}
	return porcupine.Operation{Input: step, Call: op.call, Return: ret}
}

// checkLedgerHistory checks ops with the ledger model within timeout. A
// partition is its own porcupine check, so a failure names its key.
func checkLedgerHistory(ops []ledgerOp, timeout time.Duration) (porcupine.CheckResult, string) {
	model := ledgerModel.ToModel()
	deadline := time.Now().Add(timeout)
	for _, part := range ledgerPartitions(ops) {
		left := time.Until(deadline)
		if left <= 0 {
			return porcupine.Unknown, "out of time"
		}
		res, _ := porcupine.CheckOperationsVerbose(model, part, left)
		if res != porcupine.Ok {
			return res, describePartition(part)
		}
	}
	return porcupine.Ok, ""
}

func describePartition(part []porcupine.Operation) string {
	var b strings.Builder
	for i, op := range part {
		if i == 40 {
			fmt.Fprintf(&b, "... %d more\n", len(part)-i)
			break
		}
		fmt.Fprintf(&b, "[%d, %d] %+v\n", op.Call, op.Return, op.Input)
	}
	return b.String()
}
