package ledger

import "viewstamp/replica/multibatch"

// oneBatch is the body a client sends for one call of op: a multi-batch
// body of one batch (a pulse has no body).
func oneBatch(op uint8, batch []byte) []byte {
	if op == OpPulse {
		return batch
	}
	return multibatch.Encode(EventSizeOf(op), batch)
}

// replyBatch is the only batch of a reply to a one-batch body.
func replyBatch(t fataler, op uint8, reply []byte) []byte {
	if op == OpPulse {
		return reply
	}
	b, err := multibatch.Decode(reply, ResultSizeOf(op))
	if err != nil || b.Count() != 1 {
		t.Fatalf("%s reply %x: %v, want one batch", OperationName(op), reply, err)
	}
	return b.Batch(0)
}
