package check

import (
	"fmt"

	"viewstamp/replica/storage"
)

// CheckpointDurable checks the promise of the checkpoint schedule
// (storage.Schedule.DurableAt): by the time an op at DurableAt(c) commits, a
// replication quorum's data files name checkpoint c or a later one. Replicas
// act on that promise without asking: each frees the blocks released before
// c as it commits DurableAt(c), and a primary prepares past the slots of the
// ops before c. If fewer replicas held c, losing them would leave the cluster
// with neither the old blocks nor the new checkpoint. The replica keeps the
// promise by acknowledging no op past AckMax of its durable checkpoint; the
// checker reads the disks, so an acknowledgement made too early is caught at
// the commit it enabled, not only when a crash and a sync later hit the hole.
//
// A data file that reached c by state sync does not count for c until its
// replica has fetched every block c references (the caller says which are
// still fetching): until then a fault at the one writer could take the only
// intact copy of a block (seed 8802260 --clock-faults --storage-faults).
// TigerBeetle's syncing replicas do not count towards their checkpoint's
// replication quorum either.
type CheckpointDurable struct {
	schedule storage.Schedule
	replicas int
	quorum   int
	// checkpoint is the op of the checkpoint replica's data file names,
	// and whether it was reached by state sync and its blocks are still
	// being fetched (ok false: none yet, e.g. not formatted).
	checkpoint func(replica int) (op uint64, synced, ok bool)
	proven     uint64 // the newest checkpoint already seen on a quorum
	// wiped is, per replica, the newest checkpoint its data file named
	// before the simulator wiped it (Wiped).
	wiped []uint64
}

func NewCheckpointDurable(schedule storage.Schedule, replicas, quorum int, checkpoint func(replica int) (uint64, bool, bool)) *CheckpointDurable {
	return &CheckpointDurable{schedule: schedule, replicas: replicas, quorum: quorum, checkpoint: checkpoint, wiped: make([]uint64, replicas)}
}

// Wiped notes, just before replica's data file is wiped (a disk replaced),
// the checkpoint it names. Replicas may have acted on that copy while it
// existed (acknowledged past the ops it covers), and the op at which it
// counts durable may enter the committed history only after the wipe: the
// copy counts as it was. The reformatted replica is faulty everywhere (the
// fault atlas), so the replication quorum that made the checkpoint durable
// still protects it within the faults the cluster survives.
func (d *CheckpointDurable) Wiped(replica int) {
	op, synced, ok := d.checkpoint(replica)
	if ok && synced && op > 0 {
		// It counted for every checkpoint below its synced one, not for
		// that one.
		op--
	}
	if ok {
		d.wiped[replica] = max(d.wiped[replica], op)
	}
}

// Committed checks op as it enters the committed history.
func (d *CheckpointDurable) Committed(op uint64) error {
	c := d.due(op)
	if c <= d.proven {
		return nil
	}
	held := 0
	var ops, wiped, synced []uint64
	for i := range d.replicas {
		got, sync, ok := d.checkpoint(i)
		ops = append(ops, got)
		if ok && sync {
			synced = append(synced, uint64(i))
		}
		if ok && (got > c || got == c && !sync) || d.wiped[i] >= c {
			held++
		}
		wiped = append(wiped, d.wiped[i])
	}
	if held < d.quorum {
		return fmt.Errorf("op %d committed, at or past the op at which checkpoint %d counts durable, while only %d data files name it or a later one, fewer than the replication quorum %d (checkpoints on disk by replica: %v, still fetching a synced one on replicas %v, which do not count for it; named by wiped files: %v)", op, c, held, d.quorum, ops, synced, wiped)
	}
	d.proven = c
	return nil
}

// due is the newest checkpoint that must be durable once op has committed.
func (d *CheckpointDurable) due(op uint64) uint64 {
	s := d.schedule
	for c := s.CheckpointBefore(op); c > 0; {
		if at, _ := s.DurableAt(c); at <= op {
			return c
		}
		if c < s.CheckpointOps() {
			return 0
		}
		c -= s.CheckpointOps()
	}
	return 0
}
