package workload

import (
	"math/rand/v2"

	"viewstamp/replica/multibatch"
)

// Requests and replies are TigerBeetle 0.17 multi-batch bodies (package
// multibatch): a client packs several calls of one operation into one
// request, each a batch, and the ledger answers one result batch per
// request batch. On a third of the seeds the generator packs too - a share
// of requests carry 2 to batchesMax batches, empty ones among them - so the
// swarm runs the ledger's multi-batch path and the auditor checks it batch
// by batch.

const (
	// batchesMax is the most batches a generated request carries: enough
	// to cross batch boundaries often, and far below the 63 batches whose
	// trailer would outgrow one 128-byte element.
	batchesMax = 8
	// emptyBatchShare of the extra batches of a create or lookup request
	// are empty, as a client call with no events sends.
	emptyBatchShare = 0.15
	// batchStream names the PCG stream of the batch draws.
	batchStream = 0xba7c
)

// batchPlan is a seed's packing: the share of requests that carry several
// batches (zero on most seeds) and how many at most.
type batchPlan struct {
	share float64
	max   int
}

// drawBatchPlan draws the seed's packing from the batch stream, which
// nothing else reads: the other draws of a seed that sends single batches
// are what they would be without packing.
func drawBatchPlan(r *rand.Rand) batchPlan {
	if r.IntN(3) > 0 {
		return batchPlan{}
	}
	return batchPlan{share: 0.2 + float64(r.Float64()*0.6), max: 2 + r.IntN(batchesMax-1)}
}

// batchCount draws how many batches the next request carries.
func (g *Generator) batchCount() int {
	if g.batches.share == 0 || g.brng.Float64() >= g.batches.share {
		return 1
	}
	return 2 + g.brng.IntN(g.batches.max-1)
}

// EventSizeOf is the size of operation's request elements (zero for a
// pulse or an unknown operation).
func EventSizeOf(operation uint8) int {
	switch operation {
	case OpCreateAccounts, OpCreateTransfers, OpGetAccountTransfers, OpGetAccountBalances:
		return EventSize
	case OpLookupAccounts, OpLookupTransfers:
		return IDSize
	case OpQueryAccounts, OpQueryTransfers:
		return QueryFilterSize
	}
	return 0
}

// ResultSizeOf is the size of operation's reply elements (zero for a
// pulse or an unknown operation).
func ResultSizeOf(operation uint8) int {
	switch operation {
	case OpCreateAccounts, OpCreateTransfers:
		return CreateResultSize
	case OpPulse:
		return 0
	}
	if EventSizeOf(operation) == 0 {
		return 0
	}
	return EventSize
}

// filterOp reports whether operation's batches hold one filter each.
func filterOp(operation uint8) bool {
	switch operation {
	case OpGetAccountTransfers, OpGetAccountBalances, OpQueryAccounts, OpQueryTransfers:
		return true
	}
	return false
}

// resultMax is the most results a batch of operation may be answered with:
// one per create event, one per id, a filter's limit capped at replyMax.
func resultMax(operation uint8, batch []byte, replyMax int) int {
	switch operation {
	case OpGetAccountTransfers, OpGetAccountBalances:
		f := DecodeAccountFilter(batch)
		return min(int(f.Limit), replyMax)
	case OpQueryAccounts, OpQueryTransfers:
		f := DecodeQueryFilter(batch)
		return min(int(f.Limit), replyMax)
	}
	return len(batch) / EventSizeOf(operation)
}

// request builds a request of count batches of kind, within batchMax events
// in all and a worst-case reply of batchMax objects: a filter that would
// overflow the reply ends the request early.
func (g *Generator) request(kind requestKind, count, batchMax int) (uint8, []byte) {
	op := kindOperation[kind]
	enc := multibatch.NewEncoder(nil, EventSizeOf(op))
	budget := batchMax
	for i := range count {
		if i > 0 && !filterOp(op) && (budget == 0 || g.brng.Float64() < emptyBatchShare) {
			enc.Add(nil)
			continue
		}
		batch := g.batch(kind, budget)
		cost := resultMax(op, batch, batchMax)
		if i > 0 && cost > budget {
			break
		}
		enc.Add(batch)
		budget -= cost
	}
	return op, enc.Finish()
}

var kindOperation = [requestKinds]uint8{
	reqCreateAccounts: OpCreateAccounts, reqCreateTransfers: OpCreateTransfers,
	reqLookupAccounts: OpLookupAccounts, reqLookupTransfers: OpLookupTransfers,
	reqGetAccountTransfers: OpGetAccountTransfers, reqGetAccountBalances: OpGetAccountBalances,
	reqQueryAccounts: OpQueryAccounts, reqQueryTransfers: OpQueryTransfers,
}

// batch is one call's events of kind, at most batchMax of them.
func (g *Generator) batch(kind requestKind, batchMax int) []byte {
	switch kind {
	case reqCreateAccounts:
		return g.createAccounts(batchMax)
	case reqCreateTransfers:
		return g.createTransfers(batchMax)
	case reqLookupAccounts:
		return g.lookupAccounts(batchMax)
	case reqLookupTransfers:
		return g.lookupTransfers(batchMax)
	case reqGetAccountTransfers:
		return g.accountFilter(false)
	case reqGetAccountBalances:
		return g.accountFilter(true)
	case reqQueryAccounts:
		return g.queryFilter()
	}
	return g.queryFilter()
}

// oneBatch is the body of a request of one batch.
func oneBatch(operation uint8, batch []byte) []byte {
	return multibatch.Encode(EventSizeOf(operation), batch)
}

// pairBatches decodes a request and its reply and calls fn with each
// request batch and its result batch; it reports false, calling fn for
// none, if either is malformed or their batch counts differ (the auditor
// reports those).
func pairBatches(operation uint8, body, reply []byte, fn func(batch, results []byte)) bool {
	if EventSizeOf(operation) == 0 {
		return false
	}
	req, err := multibatch.Decode(body, EventSizeOf(operation))
	if err != nil {
		return false
	}
	rep, err := multibatch.Decode(reply, ResultSizeOf(operation))
	if err != nil || rep.Count() != req.Count() {
		return false
	}
	at := 0
	_ = req.Batches(func(i int, batch []byte) error {
		n := rep.Len(i) * ResultSizeOf(operation)
		fn(batch, rep.Payload()[at:at+n])
		at += n
		return nil
	})
	return true
}
