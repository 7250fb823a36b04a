package vsr

import "testing"

// A replica running from a checkpoint it synced acknowledges no op that
// would count it as holding that checkpoint (past AckMax of the one before)
// while it still fetches the checkpoint's blocks, unless commit_max already
// shows the checkpoint durable; once every block is fetched it counts.
func TestSyncedCheckpointAcksWithheldUntilFetched(t *testing.T) {
	st, _ := walWithOp1(t)
	r, _ := openReplica(t, 3, 1, st, false)
	s := r.schedule()
	c := s.Checkpoint(1)
	durable, _ := s.DurableAt(c)
	r.checkpoint.Op, r.syncOp = c, c
	r.sync.target.Op = c // still syncing: blocks not all fetched
	r.commitMax = c
	if got := r.ackMax(); got != durable-1 {
		t.Fatalf("synced checkpoint %d still fetching: ack_max %d, want %d (AckMax of the checkpoint before)", c, got, durable-1)
	}
	r.commitMax = durable
	if got := r.ackMax(); got != s.AckMax(c) {
		t.Fatalf("synced checkpoint %d known durable: ack_max %d, want %d", c, got, s.AckMax(c))
	}
	r.commitMax = c
	r.sync.target.Op = 0 // the open that ends the sync fetched every block
	if got := r.ackMax(); got != s.AckMax(c) {
		t.Fatalf("synced checkpoint %d fetched: ack_max %d, want %d", c, got, s.AckMax(c))
	}
}
