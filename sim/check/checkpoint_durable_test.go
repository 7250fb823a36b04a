package check

import (
	"strconv"
	"strings"
	"testing"

	"viewstamp/replica/vsr"
)

// Commits up to DurableAt(c) need c on a replication quorum's disks, and the
// checker asks once per checkpoint.
func TestCheckpointDurableNeedsAQuorum(t *testing.T) {
	cfg := vsr.SimConfig(3)
	s := cfg.Schedule()
	c1 := s.Checkpoint(1)
	at, _ := s.DurableAt(c1)
	disk := []uint64{0, 0, 0}
	asked := 0
	d := NewCheckpointDurable(s, 3, 2, func(i int) (uint64, bool, bool) { asked++; return disk[i], false, true })

	for op := uint64(1); op < at; op++ {
		if err := d.Committed(op); err != nil {
			t.Fatalf("op %d, before checkpoint %d is due: %v", op, c1, err)
		}
	}
	if asked != 0 {
		t.Errorf("disks read %d times before any checkpoint was due", asked)
	}
	disk[0] = c1 // the primary alone
	err := d.Committed(at)
	if err == nil || !strings.Contains(err.Error(), "only 1 data files name it") {
		t.Fatalf("op %d committed with checkpoint %d on one disk of three: %v", at, c1, err)
	}
	disk[2] = s.Next(c1) // a synced replica holds a later one: it counts
	if err := d.Committed(at); err != nil {
		t.Fatalf("checkpoint on two disks: %v", err)
	}
	asked = 0
	for op := at + 1; op < at+s.CheckpointOps(); op++ {
		if err := d.Committed(op); err != nil {
			t.Fatalf("op %d: %v", op, err)
		}
	}
	if asked != 0 {
		t.Errorf("disks read %d times for a checkpoint already proven", asked)
	}
	c2 := s.Next(c1)
	at2, _ := s.DurableAt(c2)
	disk[2] = c1 // back to c1 is impossible in a run, but the checker must see it
	disk[0] = c2
	if err := d.Committed(at2); err == nil {
		t.Fatalf("op %d committed with checkpoint %d on one disk", at2, c2)
	}
}

// A checkpoint on a data file the simulator then wiped still counts for
// the op at which it is due, committed after the wipe; a checkpoint the
// wiped file never named does not.
func TestCheckpointDurableCountsAFileLostToAWipe(t *testing.T) {
	cfg := vsr.SimConfig(3)
	s := cfg.Schedule()
	c1 := s.Checkpoint(1)
	c2 := s.Next(c1)
	at, _ := s.DurableAt(c1)
	at2, _ := s.DurableAt(c2)
	disk := []uint64{c1, c1, 0}
	d := NewCheckpointDurable(s, 3, 2, func(i int) (uint64, bool, bool) { return disk[i], false, true })
	d.Wiped(1)
	disk[1] = 0 // reformatted: its file names no checkpoint
	if err := d.Committed(at); err != nil {
		t.Fatalf("checkpoint %d on replica 0, and on replica 1 until its wipe: %v", c1, err)
	}
	disk[0] = c2
	err := d.Committed(at2)
	if err == nil || !strings.Contains(err.Error(), "named by wiped files: [0 "+strconv.FormatUint(c1, 10)+" 0]") {
		t.Fatalf("checkpoint %d on one disk, the wiped file named only %d: %v", c2, c1, err)
	}
}

// A data file that reached the checkpoint by state sync and is still
// fetching its blocks does not count for it: they may still be only the
// writer's. Once fetched, or for an earlier checkpoint, it does.
func TestCheckpointDurableSyncedFileDoesNotCount(t *testing.T) {
	cfg := vsr.SimConfig(3)
	s := cfg.Schedule()
	c1 := s.Checkpoint(1)
	at, _ := s.DurableAt(c1)
	disk := []uint64{c1, c1, 0}
	synced := []bool{false, true, false}
	d := NewCheckpointDurable(s, 3, 2, func(i int) (uint64, bool, bool) { return disk[i], synced[i], true })
	err := d.Committed(at)
	if err == nil || !strings.Contains(err.Error(), "only 1 data files name it") || !strings.Contains(err.Error(), "fetching a synced one on replicas [1]") {
		t.Fatalf("op %d committed with checkpoint %d written by one replica and synced by another: %v", at, c1, err)
	}
	synced[1] = false // the synced replica fetched every block
	if err := d.Committed(at); err != nil {
		t.Fatalf("checkpoint %d written by two replicas: %v", c1, err)
	}
	c2 := s.Next(c1)
	at2, _ := s.DurableAt(c2)
	disk[0], disk[1], synced[1] = c2, c2, true
	d.Wiped(1) // a synced file wiped counts as it did: not for its own checkpoint
	disk[1], synced[1] = 0, false
	if err := d.Committed(at2); err == nil {
		t.Fatalf("op %d committed with checkpoint %d written by one replica, synced by a wiped one", at2, c2)
	}
}
