package storage

// Schedule is the checkpoint arithmetic of a Config. A checkpoint C is the
// state after committing op C; checkpoints fall on the last op of a bar so
// compaction is at rest. The WAL must hold every op after the newest durable
// checkpoint, which is what bounds the interval:
//
//	CheckpointOps = slots - bar - bar*ceil(2*pipeline/bar)
//
// One bar of ops passes between a checkpoint and its trigger (the op whose
// commit writes it, after that bar's compaction), and two pipelines of room
// past the trigger let the primary keep preparing while the checkpoint is
// written and becomes durable.
type Schedule struct {
	slots, bar, pipeline uint64
}

// Schedule returns c's checkpoint arithmetic. c must be valid.
func (c Config) Schedule() Schedule {
	return Schedule{slots: c.JournalSlotCount, bar: c.CompactionOps, pipeline: c.PipelineMax}
}

func (c Config) checkpointOps() uint64 { return c.Schedule().CheckpointOps() }

// CheckpointOps is how many ops separate two checkpoints.
func (s Schedule) CheckpointOps() uint64 {
	return s.slots - s.bar - s.bar*ceilDiv(2*s.pipeline, s.bar)
}

// Checkpoint is the op of checkpoint number n: 0 is the formatted state, and
// the rest end a bar.
func (s Schedule) Checkpoint(n uint64) uint64 {
	if n == 0 {
		return 0
	}
	return n*s.CheckpointOps() - 1
}

// IsCheckpoint reports whether op is a checkpoint.
func (s Schedule) IsCheckpoint(op uint64) bool {
	return op == 0 || (op+1)%s.CheckpointOps() == 0
}

// Next is the checkpoint after checkpoint c.
func (s Schedule) Next(c uint64) uint64 {
	s.mustBeCheckpoint(c)
	if c == 0 {
		return s.CheckpointOps() - 1
	}
	return c + s.CheckpointOps()
}

// Trigger is the op whose commit writes checkpoint c: the end of the bar
// after c. Checkpoint 0 is written by format and has no trigger (ok false).
func (s Schedule) Trigger(c uint64) (op uint64, ok bool) {
	s.mustBeCheckpoint(c)
	if c == 0 {
		return 0, false
	}
	return c + s.bar, true
}

// PrepareMax is the highest op a replica may write to its WAL once c is
// written: past it the ring would overwrite an op not yet checkpointed.
// For checkpoint 0 it is the last slot of the first wrap.
func (s Schedule) PrepareMax(c uint64) uint64 {
	trigger, _ := s.Trigger(s.Next(c))
	return trigger + 2*s.pipeline
}

// AckMax is the highest op a replica at checkpoint c acknowledges: a
// replication quorum of acks past it could make the cluster overwrite the
// previous wrap before enough replicas hold the next checkpoint.
func (s Schedule) AckMax(c uint64) uint64 {
	trigger, _ := s.Trigger(s.Next(c))
	return trigger + s.pipeline
}

// DurableAt is the commit at which checkpoint c counts as durable: by then a
// replication quorum has prepared past its trigger and so has written it. The
// free set frees the blocks released before c at this commit, on every
// replica alike. Checkpoint 0 is durable from the start (ok false).
func (s Schedule) DurableAt(c uint64) (commit uint64, ok bool) {
	trigger, ok := s.Trigger(c)
	if !ok {
		return 0, false
	}
	return trigger + s.pipeline + 1, true
}

// CheckpointBefore is the newest checkpoint at or below op.
func (s Schedule) CheckpointBefore(op uint64) uint64 {
	ops := s.CheckpointOps()
	if op+1 < ops {
		return 0
	}
	return (op+1)/ops*ops - 1
}

func (s Schedule) mustBeCheckpoint(c uint64) {
	if !s.IsCheckpoint(c) {
		panic("storage: op is not a checkpoint")
	}
}
