package main

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// recoverLoad is the load before the disk is lost and after each step:
// enough for ops above a checkpoint, so the recovered replica must fetch
// both a checkpoint's blocks and WAL ops.
const recoverLoad = 3 * time.Second

// TestClusterRecoversAReplacedDataFile loses a backup's data file under
// load (SIGKILL, the file removed: a disk replaced), makes a new one with
// `replica recover`, and starts it. The recovered replica must rejoin and
// converge with its peers; then the primary is killed, so that the two
// replicas left, the recovered one among them, must form the quorum that
// serves on. Every acknowledged transfer must be present at the end.
func TestClusterRecoversAReplacedDataFile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	const n = 3
	c, cl, h, load := newLoadedCluster(t, ctx, n)

	load(recoverLoad)
	victim := (c.primary() + 1) % n
	c.kill(victim)
	if err := os.Remove(c.files[victim]); err != nil {
		t.Fatal(err)
	}
	// format would make a replica that believes it never promised anything;
	// recover marks the file reformatted.
	out, err := exec.CommandContext(ctx, c.bin, "recover", "--cluster", formatU128(c.cluster),
		"--replica", strconv.Itoa(victim), "--replica-count", strconv.Itoa(n), "--io", c.io, c.files[victim]).CombinedOutput()
	if err != nil {
		t.Fatalf("recover: %v: %s", err, out)
	}
	fresh := c.inspect(victim)
	if !fresh.Superblock[bestCopy(fresh.Superblock)].Reformatted {
		t.Fatalf("recover made a data file not marked reformatted: %+v", fresh.Superblock)
	}
	load(recoverLoad)

	c.start(victim)
	commit := c.waitConverged(victim)
	t.Logf("recovered replica %d converged at commit %d", victim, commit)
	load(recoverLoad)

	// Kill the primary, or, if the recovered replica became primary, the
	// other backup: either way the recovered replica is one of the two left.
	other := c.primary()
	if other == victim {
		other = (victim + 1) % n
	}
	c.kill(other)
	t.Logf("SIGKILL replica %d: replicas %d (recovered) and %d must serve", other, victim, n-victim-other)
	before := h.count()
	load(recoverLoad)
	if h.count() <= before {
		t.Fatalf("no transfer acknowledged with replica %d down and the recovered replica %d up", other, victim)
	}
	c.start(other)
	verify(t, ctx, cl, h)
	c.waitConverged(victim)

	c.terminate(victim)
	rep := c.inspect(victim)
	if best := rep.Superblock[bestCopy(rep.Superblock)]; best.Reformatted && best.ReformatHead == 0 {
		t.Fatalf("the recovered replica never learned its view: %+v", best)
	}
	t.Logf("%d transfers acknowledged in %d requests, all present", h.count(), h.requests)
}

// TestRecoverRefusesSmallClusters: a one- or two-replica cluster cannot
// recover a lost data file (the peers left cannot form a view-change
// quorum), and recover says so rather than making a file that waits
// forever.
func TestRecoverRefusesSmallClusters(t *testing.T) {
	for _, count := range []string{"1", "2"} {
		path := t.TempDir() + "/data"
		var stdout, stderr strings.Builder
		root := newRoot()
		root.SetOut(&stdout)
		root.SetErr(&stderr)
		root.SetArgs([]string{"recover", "--cluster", "0", "--replica", "0", "--replica-count", count, "--io", "sync", path})
		err := root.Execute()
		if err == nil || !strings.Contains(err.Error(), "3 or more replicas") {
			t.Fatalf("recover --replica-count %s: %v", count, err)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Fatalf("recover --replica-count %s left a file: %v", count, err)
		}
	}
}
