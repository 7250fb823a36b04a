package workload

import (
	"fmt"
	"math/big"

	"viewstamp/replica/multibatch"
)

// Auditor is the reference ledger that checks a run: fed every committed
// ledger operation in commit order (pulses included) exactly once, it applies
// the operation to its own model and requires the ledger's reply to be
// exactly the reply it predicts, byte for byte.
type Auditor struct {
	m        *model
	replyMax int

	ops           uint64 // operations applied
	lastOp        uint64
	lastTimestamp uint64

	counts counters
	// partials holds, per batch of the op being applied, the scan whose
	// range reaches behind the model's horizon (nil for the others): its
	// reply diffBatch cannot judge alone.
	partials []*partialScan
}

// NewAuditor returns an auditor for an empty ledger. replyMax is how many
// 128-byte objects one reply holds (the batch max, 8189 for 1 MiB messages);
// query limits are capped at it. Zero means DefaultBatchMax.
func NewAuditor(replyMax int) *Auditor {
	if replyMax <= 0 {
		replyMax = DefaultBatchMax
	}
	return &Auditor{m: newModel(windowsFor(replyMax)), replyMax: replyMax}
}

// Commit applies committed operation op (prepared at timestamp) and checks
// the ledger's reply. The error names the op, the operation, the event or
// result index, the field, and the expected and actual values.
func (a *Auditor) Commit(op, timestamp uint64, operation uint8, body, reply []byte) error {
	if a.ops > 0 && op <= a.lastOp {
		return fmt.Errorf("op %d %s: committed after op %d", op, OperationName(operation), a.lastOp)
	}
	a.lastOp = op
	want, err := a.Apply(timestamp, operation, body)
	if err != nil {
		return fmt.Errorf("op %d %w", op, err)
	}
	if err := a.diffReply(operation, body, want, reply); err != nil {
		return fmt.Errorf("op %d %s%w", op, OperationName(operation), err)
	}
	return nil
}

// Apply applies one committed operation, a multi-batch body, to the model
// and returns the reply the ledger must give: each batch applied in order
// on its slice of the op's timestamps (consecutive, the last event of the
// last batch at timestamp), one result batch each. It is Commit without
// the comparison, for harnesses that use the model as the ledger itself
// (generator tests).
func (a *Auditor) Apply(timestamp uint64, operation uint8, body []byte) ([]byte, error) {
	if operation == OpPulse {
		return a.ApplyBatch(timestamp, operation, body)
	}
	name := OperationName(operation)
	if EventSizeOf(operation) == 0 {
		return nil, fmt.Errorf("unknown operation %d", operation)
	}
	req, err := multibatch.Decode(body, EventSizeOf(operation))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := a.validRequest(operation, req); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := a.advance(timestamp, operation, req.Elements()); err != nil {
		return nil, err
	}
	end := timestamp
	creates := operation == OpCreateAccounts || operation == OpCreateTransfers
	if creates {
		end -= uint64(req.Elements())
	}
	if req.Count() > 1 {
		a.counts.packed++
		a.counts.packedBatches += uint64(req.Count())
	}
	a.partials = a.partials[:0]
	enc := multibatch.NewEncoder(nil, ResultSizeOf(operation))
	err = req.Batches(func(i int, batch []byte) error {
		if len(batch) == 0 {
			a.counts.emptyBatches++
		}
		if err := a.validBody(operation, batch); err != nil {
			return fmt.Errorf("%s batch %d: %w", name, i, err)
		}
		if creates {
			end += uint64(len(batch) / EventSize)
		}
		a.partials = append(a.partials, nil)
		enc.Add(a.apply(end, operation, batch))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return enc.Finish(), nil
}

// ApplyBatch applies one operation of a single batch, not multi-batch
// encoded, and returns its results: the conformance vectors' form.
func (a *Auditor) ApplyBatch(timestamp uint64, operation uint8, body []byte) ([]byte, error) {
	name := OperationName(operation)
	if err := a.validBody(operation, body); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	events := 0
	if operation == OpCreateAccounts || operation == OpCreateTransfers {
		events = len(body) / EventSize
	}
	if err := a.advance(timestamp, operation, events); err != nil {
		return nil, err
	}
	a.partials = append(a.partials[:0], nil)
	return a.apply(timestamp, operation, body), nil
}

// advance checks that an op at timestamp with events create events may
// follow the last, and counts it.
func (a *Auditor) advance(timestamp uint64, operation uint8, events int) error {
	name := OperationName(operation)
	if a.ops > 0 && timestamp <= a.lastTimestamp {
		return fmt.Errorf("%s: timestamp %d does not advance past %d", name, timestamp, a.lastTimestamp)
	}
	if operation == OpCreateAccounts || operation == OpCreateTransfers {
		if n := uint64(events); n >= timestamp {
			return fmt.Errorf("%s: timestamp %d too small for %d events", name, timestamp, n)
		}
	}
	a.ops++
	a.lastTimestamp = timestamp
	a.counts.requests[operation]++
	return nil
}

// validRequest holds the ledger's rules for a whole request: at most
// replyMax events (or filters) in all, one filter per batch of a scan, and
// a request and a reply that fit a message even if every batch returns all
// it may.
func (a *Auditor) validRequest(operation uint8, req multibatch.Body) error {
	// The ledger's body max: replyMax records and one for the trailer.
	bodyMax := (a.replyMax + 1) * EventSize
	if req.Elements() > a.replyMax {
		return fmt.Errorf("%d events in all, more than %d", req.Elements(), a.replyMax)
	}
	if size := multibatch.Size(EventSizeOf(operation), req.Elements(), req.Count()); size > bodyMax {
		return fmt.Errorf("a request of %d bytes, more than %d", size, bodyMax)
	}
	results := 0
	err := req.Batches(func(i int, batch []byte) error {
		if filterOp(operation) && len(batch) != EventSizeOf(operation) {
			return fmt.Errorf("batch %d of %d bytes, want one filter", i, len(batch))
		}
		results += resultMax(operation, batch, a.replyMax)
		return nil
	})
	if err != nil {
		return err
	}
	if size := multibatch.Size(ResultSizeOf(operation), results, req.Count()); size > bodyMax {
		return fmt.Errorf("a reply of up to %d results in %d batches (%d bytes) may not fit a message", results, req.Count(), size)
	}
	return nil
}

func (a *Auditor) validBody(operation uint8, body []byte) error {
	switch operation {
	case OpPulse:
		if len(body) != 0 {
			return fmt.Errorf("body of %d bytes, want none", len(body))
		}
	case OpCreateAccounts, OpCreateTransfers:
		if len(body)%EventSize != 0 || len(body)/EventSize > a.replyMax {
			return fmt.Errorf("body of %d bytes is not at most %d events of %d bytes", len(body), a.replyMax, EventSize)
		}
	case OpLookupAccounts, OpLookupTransfers:
		if len(body)%IDSize != 0 || len(body)/IDSize > a.replyMax {
			return fmt.Errorf("body of %d bytes is not at most %d ids", len(body), a.replyMax)
		}
	case OpGetAccountTransfers, OpGetAccountBalances:
		if len(body) != EventSize {
			return fmt.Errorf("body of %d bytes, want one %d-byte account filter", len(body), EventSize)
		}
	case OpQueryAccounts, OpQueryTransfers:
		if len(body) != QueryFilterSize {
			return fmt.Errorf("body of %d bytes, want one %d-byte query filter", len(body), QueryFilterSize)
		}
	default:
		return fmt.Errorf("unknown operation %d", operation)
	}
	return nil
}

func (a *Auditor) apply(timestamp uint64, operation uint8, body []byte) []byte {
	m := a.m
	switch operation {
	case OpPulse:
		a.counts.expired += uint64(m.pulse(timestamp))
		return []byte{}
	case OpCreateAccounts:
		events := make([]Account, len(body)/EventSize)
		for i := range events {
			events[i] = DecodeAccount(body[i*EventSize:])
		}
		return a.encodeResults(&a.counts.accountStatus, m.createAccounts(timestamp, events))
	case OpCreateTransfers:
		events := make([]Transfer, len(body)/EventSize)
		for i := range events {
			events[i] = DecodeTransfer(body[i*EventSize:])
		}
		return a.encodeResults(&a.counts.transferStatus, m.createTransfers(timestamp, events))
	case OpLookupAccounts:
		out := []byte{}
		for i := 0; i < len(body); i += IDSize {
			if acc, ok := m.accounts[getU128(body[i:])]; ok {
				out = appendAccount(out, &acc.Account)
				a.counts.query[operation].found++
			} else {
				a.counts.query[operation].missing++
			}
		}
		return out
	case OpLookupTransfers:
		out := []byte{}
		for i := 0; i < len(body); i += IDSize {
			if t, ok := m.transfers[getU128(body[i:])]; ok {
				out = appendTransfer(out, &t.Transfer)
				a.counts.query[operation].found++
			} else {
				a.counts.query[operation].missing++
			}
		}
		return out
	case OpGetAccountTransfers:
		f := DecodeAccountFilter(body)
		ts, valid := m.accountTransfers(&f, a.replyMax)
		out := []byte{}
		for _, t := range ts {
			out = appendTransfer(out, &t.Transfer)
		}
		a.counts.query[operation].add(len(ts), valid)
		a.setPartial(operation, m.accountScan(&f, a.replyMax, len(ts), valid, false))
		return out
	case OpGetAccountBalances:
		f := DecodeAccountFilter(body)
		rows, valid := m.accountBalances(&f, a.replyMax)
		out := make([]byte, len(rows)*EventSize)
		for i := range rows {
			EncodeAccountBalance(out[i*EventSize:], &rows[i])
		}
		a.counts.query[operation].add(len(rows), valid)
		a.setPartial(operation, m.accountScan(&f, a.replyMax, len(rows), valid, true))
		return out
	case OpQueryAccounts:
		f := DecodeQueryFilter(body)
		accs, valid := m.queryAccounts(&f, a.replyMax)
		out := []byte{}
		for _, acc := range accs {
			out = appendAccount(out, &acc.Account)
		}
		a.counts.query[operation].add(len(accs), valid)
		return out
	case OpQueryTransfers:
		f := DecodeQueryFilter(body)
		ts, valid := m.queryTransfers(&f, a.replyMax)
		out := []byte{}
		for _, t := range ts {
			out = appendTransfer(out, &t.Transfer)
		}
		a.counts.query[operation].add(len(ts), valid)
		a.setPartial(operation, m.transferQueryScan(&f, a.replyMax, len(ts), valid))
		return out
	}
	panic("unreachable: validBody accepted an unknown operation")
}

func (a *Auditor) encodeResults(counts *[statusCount + 1]uint64, results []CreateResult) []byte {
	out := make([]byte, len(results)*CreateResultSize)
	for i, r := range results {
		EncodeCreateResult(out[i*CreateResultSize:], r)
		if r.Status == StatusCreated {
			counts[statusCount]++
		} else {
			counts[r.Status]++
		}
	}
	return out
}

func appendAccount(out []byte, a *Account) []byte {
	out = append(out, make([]byte, EventSize)...)
	EncodeAccount(out[len(out)-EventSize:], a)
	return out
}

func appendTransfer(out []byte, t *Transfer) []byte {
	out = append(out, make([]byte, EventSize)...)
	EncodeTransfer(out[len(out)-EventSize:], t)
	return out
}

// setAccountBalances is the conformance vectors' test backdoor: it overwrites
// an account's balances without a transfer, history entry or timestamp.
func (a *Auditor) setAccountBalances(id U128, b balances) bool {
	acc, ok := a.m.accounts[id]
	if !ok {
		return false
	}
	acc.DebitsPending, acc.DebitsPosted = b.debitsPending, b.debitsPosted
	acc.CreditsPending, acc.CreditsPosted = b.creditsPending, b.creditsPosted
	return true
}

// counters are kept in arrays indexed by number, not maps, so that reading
// them never depends on map order.
type counters struct {
	requests       [256]uint64
	accountStatus  [statusCount + 1]uint64 // [statusCount] counts created
	transferStatus [statusCount + 1]uint64
	query          [256]queryCount
	expired        uint64
	// Requests of several batches, their batches, and the empty ones.
	packed, packedBatches, emptyBatches uint64
}

type queryCount struct {
	found, missing                uint64 // lookups
	results, empty, invalidFilter uint64 // scans
	behindHorizon                 uint64 // scans checked in part by shape
}

func (q *queryCount) add(n int, valid bool) {
	q.results += uint64(n)
	switch {
	case !valid:
		q.invalidFilter++
	case n == 0:
		q.empty++
	}
}

// Counts summarises the run for its record: per create operation the number
// of events per result status (by name), per lookup the ids found and
// missing, per scan the objects returned and the replies that were empty or
// answered an invalid filter, the pending transfers expired by pulses, and
// under "requests" the operations applied per operation name, and under
// "multi_batch" the requests of several batches, their batches and the empty
// batches of any request. Zero counts are left out.
func (a *Auditor) Counts() map[string]map[string]uint64 {
	out := map[string]map[string]uint64{}
	put := func(group, key string, v uint64) {
		if v == 0 {
			return
		}
		if out[group] == nil {
			out[group] = map[string]uint64{}
		}
		out[group][key] = v
	}
	c := &a.counts
	for _, op := range allOperations {
		put("requests", OperationName(op), c.requests[op])
	}
	for s := uint32(0); s <= statusCount; s++ {
		code := s
		if s == statusCount {
			code = StatusCreated
		}
		put("create_accounts", AccountStatusName(code), c.accountStatus[s])
		put("create_transfers", TransferStatusName(code), c.transferStatus[s])
	}
	for _, op := range []uint8{OpLookupAccounts, OpLookupTransfers} {
		put(OperationName(op), "found", c.query[op].found)
		put(OperationName(op), "missing", c.query[op].missing)
	}
	for _, op := range []uint8{OpGetAccountTransfers, OpGetAccountBalances, OpQueryAccounts, OpQueryTransfers} {
		put(OperationName(op), "results", c.query[op].results)
		put(OperationName(op), "empty", c.query[op].empty)
		put(OperationName(op), "invalid_filter", c.query[op].invalidFilter)
		put(OperationName(op), "behind_horizon", c.query[op].behindHorizon)
	}
	put("pulse", "expired", c.expired)
	for i, at := range []string{"before", "on", "after"} {
		put("deadline", at, a.m.deadline[i])
	}
	put("multi_batch", "requests", c.packed)
	put("multi_batch", "batches", c.packedBatches)
	put("multi_batch", "empty_batches", c.emptyBatches)
	return out
}

var allOperations = []uint8{
	OpPulse, OpLookupAccounts, OpLookupTransfers, OpGetAccountTransfers, OpGetAccountBalances,
	OpQueryAccounts, OpQueryTransfers, OpCreateAccounts, OpCreateTransfers,
}

// diffReply explains the first difference between the predicted and the
// actual reply, or returns nil when they are equal. Before any content it
// checks what makes TigerBeetle's clients abort: a malformed reply, a batch
// count other than the request's, or a batch holding more results than
// its request batch may have.
func (a *Auditor) diffReply(operation uint8, body, want, got []byte) error {
	if operation == OpPulse {
		if len(got) != 0 {
			return fmt.Errorf(": expected an empty reply, got %d bytes", len(got))
		}
		return nil
	}
	req, err := multibatch.Decode(body, EventSizeOf(operation))
	if err != nil {
		return fmt.Errorf(": request: %w", err)
	}
	rep, err := multibatch.Decode(got, ResultSizeOf(operation))
	if err != nil {
		return fmt.Errorf(": reply: %w", err)
	}
	if rep.Count() != req.Count() {
		return fmt.Errorf(": reply of %d batches to a request of %d", rep.Count(), req.Count())
	}
	exp, err := multibatch.Decode(want, ResultSizeOf(operation))
	if err != nil {
		panic("workload: the auditor encoded a malformed reply: " + err.Error())
	}
	return req.Batches(func(i int, batch []byte) error {
		g := rep.Batch(i)
		if n, most := len(g)/ResultSizeOf(operation), resultMax(operation, batch, a.replyMax); n > most {
			return fmt.Errorf(" batch %d: %d results, more than the %d its request batch may have", i, n, most)
		}
		diff := func() error { return diffBatch(operation, exp.Batch(i), g) }
		if i < len(a.partials) && a.partials[i] != nil {
			diff = func() error { return a.partials[i].diff(scanKind(operation), exp.Batch(i), g, scanFields(operation)) }
		}
		if err := diff(); err != nil {
			if req.Count() == 1 {
				return err
			}
			return fmt.Errorf(" batch %d%w", i, err)
		}
		return nil
	})
}

// diffBatch explains the first difference between a predicted and an
// actual result batch.
func diffBatch(operation uint8, want, got []byte) error {
	switch operation {
	case OpCreateAccounts, OpCreateTransfers:
		return diffResults(operation, want, got)
	case OpLookupAccounts, OpQueryAccounts:
		return diffRecords("account", want, got, accountFields)
	case OpLookupTransfers, OpGetAccountTransfers, OpQueryTransfers:
		return diffRecords("transfer", want, got, transferFields)
	case OpGetAccountBalances:
		return diffRecords("balance", want, got, balanceFields)
	}
	return fmt.Errorf(": unknown operation")
}

func diffResults(operation uint8, want, got []byte) error {
	if len(got)%CreateResultSize != 0 || len(got) != len(want) {
		return fmt.Errorf(": expected %d results (%d bytes), got %d bytes",
			len(want)/CreateResultSize, len(want), len(got))
	}
	for i := 0; i < len(want)/CreateResultSize; i++ {
		w := DecodeCreateResult(want[i*CreateResultSize:])
		g := DecodeCreateResult(got[i*CreateResultSize:])
		switch {
		case w.Status != g.Status:
			return fmt.Errorf(" event %d: status expected %s, got %s", i, StatusName(operation, w.Status), StatusName(operation, g.Status))
		case w.Timestamp != g.Timestamp:
			return fmt.Errorf(" event %d (%s): timestamp expected %d, got %d", i, StatusName(operation, w.Status), w.Timestamp, g.Timestamp)
		case w.Reserved != g.Reserved:
			return fmt.Errorf(" event %d: reserved expected %d, got %d", i, w.Reserved, g.Reserved)
		}
	}
	return nil
}

type field struct{ name, value string }

func diffRecords(kind string, want, got []byte, fields func([]byte) []field) error {
	if len(got)%EventSize != 0 {
		return fmt.Errorf(": reply of %d bytes is not whole %d-byte records", len(got), EventSize)
	}
	nw, ng := len(want)/EventSize, len(got)/EventSize
	for i := 0; i < nw && i < ng; i++ {
		wf, gf := fields(want[i*EventSize:]), fields(got[i*EventSize:])
		for k := range wf {
			if wf[k].value != gf[k].value {
				return fmt.Errorf(" result %d (%s %s): %s expected %s, got %s",
					i, kind, wf[0].value, wf[k].name, wf[k].value, gf[k].value)
			}
		}
		if string(want[i*EventSize:(i+1)*EventSize]) != string(got[i*EventSize:(i+1)*EventSize]) {
			return fmt.Errorf(" result %d (%s %s): reserved bytes differ", i, kind, wf[0].value)
		}
	}
	switch {
	case nw > ng:
		return fmt.Errorf(": expected %d results, got %d (first missing: %s %s)", nw, ng, kind, fields(want[ng*EventSize:])[0].value)
	case ng > nw:
		return fmt.Errorf(": expected %d results, got %d (first extra: %s %s)", nw, ng, kind, fields(got[nw*EventSize:])[0].value)
	}
	return nil
}

func dec(v U128) string {
	if v.Hi == 0 {
		return uitoa(v.Lo)
	}
	n := new(big.Int).SetUint64(v.Hi)
	n.Lsh(n, 64)
	n.Or(n, new(big.Int).SetUint64(v.Lo))
	return n.String()
}

func accountFields(b []byte) []field {
	a := DecodeAccount(b)
	return []field{
		{"id", dec(a.ID)},
		{"debits_pending", dec(a.DebitsPending)}, {"debits_posted", dec(a.DebitsPosted)},
		{"credits_pending", dec(a.CreditsPending)}, {"credits_posted", dec(a.CreditsPosted)},
		{"user_data_128", dec(a.UserData128)}, {"user_data_64", uitoa(a.UserData64)},
		{"user_data_32", uitoa(uint64(a.UserData32))}, {"reserved", uitoa(uint64(a.Reserved))},
		{"ledger", uitoa(uint64(a.Ledger))}, {"code", uitoa(uint64(a.Code))},
		{"flags", fmt.Sprintf("%#x", a.Flags)}, {"timestamp", uitoa(a.Timestamp)},
	}
}

func transferFields(b []byte) []field {
	t := DecodeTransfer(b)
	return []field{
		{"id", dec(t.ID)},
		{"debit_account_id", dec(t.DebitAccountID)}, {"credit_account_id", dec(t.CreditAccountID)},
		{"amount", dec(t.Amount)}, {"pending_id", dec(t.PendingID)},
		{"user_data_128", dec(t.UserData128)}, {"user_data_64", uitoa(t.UserData64)},
		{"user_data_32", uitoa(uint64(t.UserData32))}, {"timeout", uitoa(uint64(t.Timeout))},
		{"ledger", uitoa(uint64(t.Ledger))}, {"code", uitoa(uint64(t.Code))},
		{"flags", fmt.Sprintf("%#x", t.Flags)}, {"timestamp", uitoa(t.Timestamp)},
	}
}

func balanceFields(b []byte) []field {
	r := DecodeAccountBalance(b)
	return []field{
		{"timestamp", uitoa(r.Timestamp)},
		{"debits_pending", dec(r.DebitsPending)}, {"debits_posted", dec(r.DebitsPosted)},
		{"credits_pending", dec(r.CreditsPending)}, {"credits_posted", dec(r.CreditsPosted)},
	}
}
