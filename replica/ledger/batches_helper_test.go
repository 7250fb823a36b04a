package ledger

// oneBatch is the body a client sends for one call of op (a pulse has no
// body).
func oneBatch(op uint8, batch []byte) []byte {
	if op == OpPulse {
		return batch
	}
	return EncodeBatch(op, batch)
}

// replyBatch is the only batch of a reply to a one-batch body.
func replyBatch(t fataler, op uint8, reply []byte) []byte {
	if op == OpPulse {
		return reply
	}
	b, err := DecodeBatch(op, reply)
	if err != nil {
		t.Fatalf("%s reply %x: %v", OperationName(op), reply, err)
	}
	return b
}
