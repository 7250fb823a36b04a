package ledger

import (
	"encoding/binary"
	"fmt"

	"viewstamp/replica/multibatch"
)

// A request body is a multi-batch body (package multibatch): one batch per
// client call that the client packed into the request, each executed as
// its own Execute, in order, and answered by one result batch per request
// batch. The state machines (Machine, ForestMachine) speak it; Execute
// stays one batch, so the conformance vectors run on it unchanged.

// EventSizeOf is the size of op's request elements; zero for an operation a
// client may not send.
func EventSizeOf(op uint8) int {
	switch op {
	case OpCreateAccounts, OpCreateTransfers:
		return TransferSize
	case OpLookupAccounts, OpLookupTransfers:
		return IDSize
	case OpGetAccountTransfers, OpGetAccountBalances:
		return AccountFilterSize
	case OpQueryAccounts, OpQueryTransfers:
		return QueryFilterSize
	}
	return 0
}

// ResultSizeOf is the size of op's reply elements; zero for an operation a
// client may not send.
func ResultSizeOf(op uint8) int {
	switch op {
	case OpCreateAccounts, OpCreateTransfers:
		return ResultSize
	case OpLookupAccounts, OpLookupTransfers, OpGetAccountTransfers, OpQueryAccounts, OpQueryTransfers:
		return TransferSize
	case OpGetAccountBalances:
		return BalanceSize
	}
	return 0
}

// filtered reports whether op's batches hold exactly one filter each.
func filtered(op uint8) bool {
	switch op {
	case OpGetAccountTransfers, OpGetAccountBalances, OpQueryAccounts, OpQueryTransfers:
		return true
	}
	return false
}

// Byte offsets of the limit in the two filters.
const (
	accountFilterLimitOff = 120
	queryFilterLimitOff   = 56
)

// BatchResultMax is the most results batch (one batch of op's events) may
// have in its reply: one per create event, one per looked-up id, and the
// filter's limit, capped as execution caps it, for a query. A client sizes
// its reply buffer by this, and TigerBeetle's clients abort on a reply
// batch that holds more.
func BatchResultMax(op uint8, batch []byte, batchMax int) int {
	switch op {
	case OpGetAccountTransfers, OpGetAccountBalances:
		if len(batch) != AccountFilterSize {
			return 0
		}
		return min(int(binary.LittleEndian.Uint32(batch[accountFilterLimitOff:])), batchMax)
	case OpQueryAccounts, OpQueryTransfers:
		if len(batch) != QueryFilterSize {
			return 0
		}
		return min(int(binary.LittleEndian.Uint32(batch[queryFilterLimitOff:])), batchMax)
	}
	if size := EventSizeOf(op); size > 0 {
		return len(batch) / size
	}
	return 0
}

// ValidateBody checks a multi-batch request before prepare: a well-formed
// body, one filter in each batch of a query, at most BatchMax events in
// all, and a reply that fits a message even if every batch returns all it
// may. A client that packs as TigerBeetle's do never sends more.
func (l *Ledger) ValidateBody(op uint8, body []byte) Invalid {
	size := EventSizeOf(op)
	if size == 0 {
		return InvalidOperation
	}
	b, err := multibatch.Decode(body, size)
	if err != nil {
		return InvalidBody
	}
	results := 0
	err = b.Batches(func(_ int, batch []byte) error {
		if filtered(op) && len(batch) != size {
			return multibatch.ErrMalformed
		}
		results += BatchResultMax(op, batch, l.cfg.BatchMax)
		return nil
	})
	if err != nil {
		return InvalidBody
	}
	if !RequestFits(op, b.Elements(), results, b.Count(), l.cfg.BatchMax) {
		return InvalidTooManyEvents
	}
	return Valid
}

// The largest request or reply body the ledger takes is the whole 128-byte
// records that fit the message, one of them the trailer's room
// (BatchMaxFor): a reply of BatchMax records in one batch fits.
//
// RequestFits reports whether a request of op within a ledger of batchMax
// fits: events elements in batches batches, at most batchMax in all, whose
// request body and worst-case reply (results results, BatchResultMax
// summed over the batches) both fit a message. A client packing calls into
// one request asks this before adding each.
func RequestFits(op uint8, events, results, batches, batchMax int) bool {
	bodyMax := (batchMax + 1) * TransferSize
	return events <= batchMax && batches <= multibatch.BatchCountMax &&
		multibatch.Size(EventSizeOf(op), events, batches) <= bodyMax &&
		multibatch.Size(ResultSizeOf(op), results, batches) <= bodyMax
}

// BodyEventCount is how many timestamps a multi-batch request consumes
// beyond the op's own: every create event of every batch.
func BodyEventCount(op uint8, body []byte) uint64 {
	if op != OpCreateAccounts && op != OpCreateTransfers {
		return 0
	}
	b, err := multibatch.Decode(body, TransferSize)
	if err != nil {
		return 0
	}
	return uint64(b.Elements())
}

// batchRunner executes multi-batch requests on a ledger and encodes their
// replies, reusing its buffers.
type batchRunner struct {
	enc   multibatch.Encoder
	reply []byte
}

// execute runs each batch of body with its slice of the op's timestamps -
// consecutive slices in batch order, so the last event of the last batch
// has the op's timestamp - and returns the multi-batch reply, which aliases
// a buffer the next call reuses. before, if set, runs ahead of each batch
// (the forest loads that batch's query results). A pulse has no body and
// no reply.
func (r *batchRunner) execute(l *Ledger, op uint8, timestamp uint64, body []byte, before func(i int, batch []byte)) []byte {
	if op == OpPulse {
		return l.Execute(op, timestamp, body)
	}
	b, err := multibatch.Decode(body, EventSizeOf(op))
	if err != nil {
		panic("ledger: commit of a body Check rejects: " + err.Error())
	}
	creates := op == OpCreateAccounts || op == OpCreateTransfers
	end := timestamp
	if creates {
		end -= uint64(b.Elements())
	}
	r.enc.Reset(r.reply[:0], ResultSizeOf(op))
	_ = b.Batches(func(i int, batch []byte) error {
		if creates {
			end += uint64(len(batch) / TransferSize)
		}
		if before != nil {
			before(i, batch)
		}
		r.enc.Add(l.Execute(op, end, batch))
		return nil
	})
	r.reply = r.enc.Finish()
	return r.reply
}

// EncodeBatch is the body of a request of op holding one batch: what a
// client sends for one call.
func EncodeBatch(op uint8, batch []byte) []byte {
	return multibatch.Encode(EventSizeOf(op), batch)
}

// DecodeBatch is the result batch of a reply to a request of op that held
// one batch.
func DecodeBatch(op uint8, reply []byte) ([]byte, error) {
	b, err := multibatch.Decode(reply, ResultSizeOf(op))
	if err != nil {
		return nil, err
	}
	if b.Count() != 1 {
		return nil, fmt.Errorf("%w: %d reply batches to a request of one", multibatch.ErrMalformed, b.Count())
	}
	return b.Payload(), nil
}
