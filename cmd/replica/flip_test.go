package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	rio "viewstamp/replica/io"
	"viewstamp/replica/storage"
)

const (
	// flipLoad of load before the stop: enough ops above the checkpoint
	// that the flipped slot has valid ops on either side.
	flipLoad = 3 * time.Second
	// flipBytes are flipped in the prepare's header and as many in its
	// body, so both its header checksum and its body checksum fail.
	flipBytes = 8
	// flipAttempts bounds the rounds of load needed to leave an op above
	// the checkpoint (a checkpoint may have just caught up with the WAL).
	flipAttempts = 3
)

// TestClusterRepairsFlippedWALSlot stops a backup with SIGTERM, flips bytes
// of one WAL prepare slot of its data file (an op above its checkpoint,
// which its restart must replay), checks that inspect sees the slot as
// damaged, restarts it under load, and requires that it repairs from its
// peers: it converges to the others' commit, its slot is whole again, and
// the cluster keeps every acknowledged transfer.
func TestClusterRepairsFlippedWALSlot(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	const n = 3
	c, cl, h, load := newLoadedCluster(t, ctx, n)

	l := productionConfig(n).Layout()
	var victim int
	var rep Report
	var op uint64
	for attempt := 0; ; attempt++ {
		load(flipLoad)
		victim = (c.primary() + 1) % n
		c.terminate(victim)
		rep = c.inspect(victim)
		checkpoint := rep.Superblock[bestCopy(rep.Superblock)].Checkpoint
		if rep.WAL.OpMax >= checkpoint+3 {
			// Between the checkpoint and the head, so valid ops lie
			// on both sides of the hole.
			op = checkpoint + 1 + (rep.WAL.OpMax-checkpoint-1)/2
			t.Logf("replica %d stopped: checkpoint %d, WAL ops %d..%d; flipping op %d", victim, checkpoint, rep.WAL.OpMin, rep.WAL.OpMax, op)
			break
		}
		if attempt+1 == flipAttempts {
			t.Fatalf("after %d rounds of load replica %d has no op 3 above its checkpoint %d (WAL head %d)", flipAttempts, victim, checkpoint, rep.WAL.OpMax)
		}
		c.start(victim)
	}

	slot := op % l.JournalSlotCount
	at := int64(l.Zones[rio.ZoneWALPrepares].Offset + l.WALPrepareOffset(slot))
	f, err := os.OpenFile(c.files[victim], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{64, storage.HeaderSize + 64} {
		b := make([]byte, flipBytes)
		if _, err := f.ReadAt(b, at+off); err != nil {
			t.Fatal(err)
		}
		for i := range b {
			b[i] ^= 0xFF
		}
		if _, err := f.WriteAt(b, at+off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	flipped := c.inspect(victim)
	if flipped.WAL.Present != rep.WAL.Present-1 || flipped.WAL.RingOnly != rep.WAL.RingOnly+1 {
		t.Fatalf("after flipping slot %d inspect says %d present, %d ring-only (before: %d, %d): the flip missed a live prepare",
			slot, flipped.WAL.Present, flipped.WAL.RingOnly, rep.WAL.Present, rep.WAL.RingOnly)
	}

	// Restart with the cluster idle: the replica must replay its WAL past
	// the hole, so it has to fetch op from a peer to reach their commit.
	c.start(victim)
	commit := c.waitConverged(victim)
	c.terminate(victim)
	if log, _ := os.ReadFile(c.logs[victim]); strings.Contains(string(log), "state synced to") {
		t.Fatalf("replica %d state-synced instead of repairing its WAL", victim)
	}
	repaired := c.inspect(victim)
	if repaired.WAL.Present != rep.WAL.Present || repaired.WAL.RingOnly != rep.WAL.RingOnly || repaired.WAL.Corrupt != 0 {
		t.Fatalf("replica %d converged at commit %d but its WAL is %+v (before the flip: %+v)", victim, commit, repaired.WAL, rep.WAL)
	}
	t.Logf("replica %d repaired op %d (slot %d) and converged at commit %d; WAL ops %d..%d whole",
		victim, op, slot, commit, repaired.WAL.OpMin, repaired.WAL.OpMax)

	// And it serves on: more load with it back, then every acknowledged
	// transfer.
	c.start(victim)
	load(flipLoad)
	t.Logf("%d transfers acknowledged in %d requests; checking", h.count(), h.requests)
	verify(t, ctx, cl, h)
	c.waitConverged(victim)
}

// waitConverged waits until every replica names the same commit as
// replica r in its debug line, and returns it.
func (c *testCluster) waitConverged(r int) uint64 {
	c.t.Helper()
	n := c.procs.Len()
	commits := make([]uint64, n)
	deadline := time.Now().Add(convergeTimeout)
	for {
		same := true
		for i := range n {
			commits[i] = c.debugCommit(i)
			same = same && commits[i] == commits[r]
		}
		if same {
			return commits[r]
		}
		if time.Now().After(deadline) || !sleepCtx(c.ctx, 200*time.Millisecond) {
			c.t.Fatalf("replicas did not converge in %s: commits %v (replica %d is the one under test)", convergeTimeout, commits, r)
		}
	}
}

// inspect runs `replica inspect --json` on replica i's (stopped) data file.
func (c *testCluster) inspect(i int) Report {
	c.t.Helper()
	out, err := exec.CommandContext(c.ctx, c.bin, "inspect", "--json", c.files[i]).Output()
	if err != nil {
		c.t.Fatalf("inspect %s: %v", c.files[i], err)
	}
	var rep Report
	if err := json.Unmarshal(out, &rep); err != nil {
		c.t.Fatalf("inspect --json %s: %v", c.files[i], err)
	}
	return rep
}
