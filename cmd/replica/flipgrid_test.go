package main

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"viewstamp/replica/client/tcp"
	rio "viewstamp/replica/io"
	"viewstamp/replica/ledger"
	"viewstamp/replica/storage/block"
	"viewstamp/replica/u128"
)

// gridFlipHeads are the checkpoint blocks the grid flip test damages: one
// of the grid's own trailers and the forest's manifest, both read by the
// checkpoint's open, so the restart cannot complete without repairing them.
var gridFlipHeads = []string{"client_sessions", "manifest"}

// TestClusterRepairsFlippedGridBlocks stops a backup with SIGTERM, flips
// bytes of blocks its checkpoint references (found through inspect), checks
// that they no longer verify against the references their parents hold,
// restarts it with the cluster idle, and requires that it repairs them from
// its peers rather than state-syncing: it converges, the blocks verify again
// (byte for byte as before, if its checkpoint did not move on), and the
// cluster keeps every acknowledged transfer under more load.
func TestClusterRepairsFlippedGridBlocks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	const n = 3
	c, cl, h, load := newLoadedCluster(t, ctx, n)

	var victim int
	var rep Report
	var heads []BlockHead
	for attempt := 0; ; attempt++ {
		load(flipLoad)
		victim = (c.primary() + 1) % n
		c.terminate(victim)
		rep = c.inspect(victim)
		heads = pickHeads(rep)
		if len(heads) == len(gridFlipHeads) {
			break
		}
		if attempt+1 == flipAttempts {
			t.Fatalf("after %d rounds of load replica %d's checkpoint %d has none of the blocks %v: %+v",
				flipAttempts, victim, rep.Superblock[bestCopy(rep.Superblock)].Checkpoint, gridFlipHeads, rep.Grid)
		}
		c.start(victim)
	}
	checkpoint := rep.Superblock[bestCopy(rep.Superblock)].Checkpoint

	l := productionConfig(n).Layout()
	f, err := os.OpenFile(c.files[victim], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	// readBlock reads head's block off the file and verifies it against the
	// reference the checkpoint holds, as the replica's read does.
	readBlock := func(head BlockHead) ([]byte, block.Result) {
		t.Helper()
		buf := make([]byte, l.BlockSize)
		if _, err := f.ReadAt(buf, int64(l.Zones[rio.ZoneGrid].Offset+l.BlockOffset(head.Address))); err != nil {
			t.Fatal(err)
		}
		return buf, block.Verify(buf, l.SectorSize, c.cluster, headRef(t, head))
	}
	originals := make([][]byte, len(heads))
	for i, head := range heads {
		var res block.Result
		if originals[i], res = readBlock(head); res != block.Valid {
			t.Fatalf("%s block %d of the stopped replica does not verify before the flip: %s", head.Name, head.Address, res)
		}
		size := int64(block.DecodeHeader(originals[i]).Size)
		// The first block's header and body, the others' body only, so
		// that both the header's and the body's checksum are put to work.
		at := int64(l.Zones[rio.ZoneGrid].Offset + l.BlockOffset(head.Address))
		offs := []int64{min(block.HeaderSize+64, size-flipBytes)}
		if i == 0 {
			offs = append(offs, 64)
		}
		for _, off := range offs {
			b := append([]byte(nil), originals[i][off:off+flipBytes]...)
			for j := range b {
				b[j] ^= 0xFF
			}
			if _, err := f.WriteAt(b, at+off); err != nil {
				t.Fatal(err)
			}
		}
		if _, res := readBlock(head); res == block.Valid {
			t.Fatalf("%s block %d still verifies after the flip", head.Name, head.Address)
		} else {
			t.Logf("replica %d checkpoint %d: flipped %s block %d (%d bytes): it reads as %s", victim, checkpoint, head.Name, head.Address, size, res)
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}

	// The restart's open reads both blocks, finds them damaged, and can
	// go on only with its peers' copies.
	logged, _ := os.ReadFile(c.logs[victim])
	c.start(victim)
	commit := c.waitConverged(victim)
	c.terminate(victim)
	if log, _ := os.ReadFile(c.logs[victim]); strings.Contains(string(log[len(logged):]), "state sync") {
		t.Fatalf("replica %d state-synced instead of repairing its blocks", victim)
	}
	after := c.inspect(victim)
	same := after.Superblock[bestCopy(after.Superblock)].Checkpoint == checkpoint
	for i, head := range heads {
		got, res := readBlock(head)
		if res != block.Valid {
			t.Fatalf("replica %d converged at commit %d but its %s block %d reads as %s", victim, commit, head.Name, head.Address, res)
		}
		if same && !bytes.Equal(got, originals[i]) {
			t.Fatalf("%s block %d verifies but differs from the block before the flip", head.Name, head.Address)
		}
	}
	if after.Grid == nil {
		t.Fatalf("replica %d's checkpoint does not open after the repair: %s", victim, after.Unopened)
	}
	t.Logf("replica %d repaired %d blocks from its peers and converged at commit %d (checkpoint %d, then %d)",
		victim, len(heads), commit, checkpoint, after.Superblock[bestCopy(after.Superblock)].Checkpoint)

	c.start(victim)
	load(flipLoad)
	t.Logf("%d transfers acknowledged in %d requests; checking", h.count(), h.requests)
	verify(t, ctx, cl, h)
	c.waitConverged(victim)
}

// newLoadedCluster starts n replicas (stopped when the test ends), connects
// a client and creates the accounts; load runs workers for a while, each round with workers (so ids)
// of its own, and fails the test now if a worker failed.
func newLoadedCluster(t *testing.T, ctx context.Context, n int) (*testCluster, *tcp.Client, *history, func(time.Duration)) {
	t.Helper()
	c := newTestCluster(t, ctx, n)
	cl, err := tcp.Dial(c.cluster, c.addrs, tcp.Options{RequestTicks: 20})
	if err != nil {
		c.stopAll()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cl.Close()
		c.stopAll()
	})
	createAccounts(t, ctx, cl)
	h := &history{byID: map[u128.U128]ledger.Transfer{}}
	rounds := 0
	load := func(d time.Duration) {
		loadCtx, stop := context.WithTimeout(ctx, d)
		defer stop()
		var wg sync.WaitGroup
		// Each round's workers make their own transfer ids: read the round
		// before the goroutines start, not as each one starts.
		first := rounds * clusterWorkers
		rounds++
		for w := range clusterWorkers {
			wg.Go(func() { runWorker(t, ctx, loadCtx, cl, first+w, h) })
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
	}
	return c, cl, h, load
}

// pickHeads returns the blocks of gridFlipHeads that rep's checkpoint has.
func pickHeads(rep Report) []BlockHead {
	if rep.Grid == nil {
		return nil
	}
	var heads []BlockHead
	for _, name := range gridFlipHeads {
		for _, h := range rep.Grid.Heads {
			if h.Name == name {
				heads = append(heads, h)
			}
		}
	}
	return heads
}

// headRef parses inspect's checksum (u128's String: Hi, then Lo, in hex).
func headRef(t *testing.T, h BlockHead) block.Ref {
	t.Helper()
	hi, err1 := strconv.ParseUint(h.Checksum[:16], 16, 64)
	lo, err2 := strconv.ParseUint(h.Checksum[16:], 16, 64)
	if len(h.Checksum) != 32 || err1 != nil || err2 != nil {
		t.Fatalf("inspect's checksum %q of block %d", h.Checksum, h.Address)
	}
	return block.Ref{Address: h.Address, Checksum: u128.U128{Hi: hi, Lo: lo}}
}
