package check

// The state checker's history is bounded by a margin behind the replicas'
// checkpoints rather than kept from op 1: a replica names an op only from
// its checkpoint on (it opens the checkpoint and executes what follows) or
// in its journal, which ends at most a journal behind its head, so an op far
// below every replica's newest checkpoint is never named again. A replica
// that names one anyway opened a checkpoint older than all of theirs by
// more than the margin, which State reports. The entries of ops whose reply
// a client has yet to accept are kept past the window (a client may get its
// reply long after the op, from a session's reply slot).
type window struct {
	keep      uint64   // the margin; zero keeps everything
	floor     []uint64 // per replica: its newest checkpoint, opened or durable
	unreplied map[uint64]Committed
}

// windowSlack is how far the history may run past its bound before a trim
// moves it, so that trimming costs little per op.
const windowSlack = 1024

// Keep bounds the history to ops at most keep below every replica's newest
// checkpoint.
func (s *State) Keep(keep uint64) { s.window.keep = keep }

// Checkpointed tells the checker replica made its checkpoint at op durable.
func (s *State) Checkpointed(replica int, op uint64) { s.window.checkpointed(replica, op) }

func (w *window) checkpointed(replica int, op uint64) {
	if w.floor == nil {
		return
	}
	// Set, not raised: a replica that syncs may open a checkpoint below
	// the one it had.
	w.floor[replica] = op
}

func (s *State) trim() {
	w := &s.window
	if w.keep == 0 {
		return
	}
	low := s.CommitMax()
	for _, f := range w.floor {
		low = min(low, f)
	}
	if low < w.keep+windowSlack || low-w.keep < s.base+windowSlack {
		return
	}
	base := low - w.keep
	for op := s.base; op < base; op++ {
		c := s.history[op-s.base]
		if !c.Client.IsZero() && s.replyDropped[op/64]&(1<<(op%64)) == 0 {
			if w.unreplied == nil {
				w.unreplied = map[uint64]Committed{}
			}
			w.unreplied[op] = c
		}
	}
	clear(s.history[:base-s.base])
	s.history = s.history[base-s.base:]
	s.base = base
}

func (s *State) dropReply(op uint64) {
	if op >= s.base {
		s.history[op-s.base].Reply = nil
		return
	}
	delete(s.window.unreplied, op)
}
