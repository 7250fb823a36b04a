package sim

import (
	"bytes"
	"testing"

	"viewstamp/faults"
	rio "viewstamp/replica/io"
	"viewstamp/replica/storage/block"
	"viewstamp/replica/storage/scrub"
	"viewstamp/reports"
)

// TestScrubberRepairsLatentDamage damages grid blocks of one replica's
// checkpoint by hand (the first, middle and last the grid holds), in a
// cluster left quiet so that nothing else reads them: within one scrub
// cycle the scrubber finds them, fetches them from peers, and the disk holds
// the peers' bytes again, with every checker still passing. The quiet
// cluster committed past its checkpoint, so compaction wrote tables the
// checkpoint's roots do not name: a tour rooted only at the checkpoint read
// about half the blocks (scrub.Scrubber.Reroot).
func TestScrubberRepairsLatentDamage(t *testing.T) {
	c, referenced := quietCheckpoint(t)
	const victim, peer = quietVictim, quietPeer
	r, p := c.replicas[victim], c.replicas[peer]
	l := c.vcfg.Layout()
	victims := []uint64{referenced[0], referenced[len(referenced)/2], referenced[len(referenced)-1]}
	garbage := bytes.Repeat([]byte{0xa5}, int(l.BlockSize))
	written := 0
	for _, a := range victims {
		c.disks[victim].Write(rio.ZoneGrid, l.BlockOffset(a), garbage, func() { written++ })
	}
	before := r.ScrubStats()
	for range scrub.SimulatorCycleTicks + scrub.SimulatorCycleTicks/2 {
		c.step(false)
	}
	if c.failure != nil {
		t.Fatalf("%s: %v", c.result, c.failure)
	}
	after := r.ScrubStats()
	if written != len(victims) || after.Faults-before.Faults < uint64(len(victims)) || after.Repaired-before.Repaired < uint64(len(victims)) {
		t.Fatalf("%d damaged blocks: scrub stats %+v before, %+v after", len(victims), before, after)
	}
	mine, theirs := make([]byte, l.BlockSize), make([]byte, l.BlockSize)
	for _, a := range victims {
		c.disks[victim].Peek(rio.ZoneGrid, l.BlockOffset(a), mine)
		c.disks[peer].Peek(rio.ZoneGrid, l.BlockOffset(a), theirs)
		if !bytes.Equal(mine, theirs) {
			t.Fatalf("block %d differs from the peer's after the cycle", a)
		}
	}
	// A clean replica scrubbed the same cycle and found nothing.
	if st := p.ScrubStats(); st.Faults != 0 || st.Scrubbed == 0 {
		t.Fatalf("clean replica's scrub stats %+v", st)
	}
	if rec := c.Record(); rec.Result != reports.Pass || rec.Scrub == nil || rec.Scrub.Repaired < uint64(len(victims)) {
		t.Fatalf("record: %s, scrub %+v", rec.Result, rec.Scrub)
	}
	t.Logf("%d blocks referenced; victim's scrub stats %+v", len(referenced), after)
}

// quietVictim and quietPeer are the replicas of quietCheckpoint's cluster a
// test damages and compares with.
const quietVictim, quietPeer = 1, 2

// quietCheckpoint runs a calm three-replica cluster (no network or process
// faults, slow disks) until it goes idle with quietVictim and quietPeer at
// one checkpoint, and returns it with the grid blocks the victim's checkpoint
// references: a cluster in which nothing but the scrubber reads them. The
// storage checker compares the disks' bytes at every checkpoint, so damage
// made before the cluster is idle would (rightly) be seen by it first.
func quietCheckpoint(t *testing.T) (*Cluster, []uint64) {
	t.Helper()
	const quietTicks, quietTicksMax = 3000, 400_000
	opts := faults.Draw(12, faults.Limits{RequestsMax: 300})
	opts.ReplicaCount = 3
	opts.Network.LossProbability, opts.Network.ReplayProbability = 0, 0
	opts.Network.ClogProbability, opts.Network.PartitionProbability = 0, 0
	opts.Network.CorruptProbability = 0
	opts.Process.CrashProbability, opts.Process.PauseProbability = 0, 0
	opts.Storage.ReadLatencyMeanNs = max(opts.Storage.ReadLatencyMinNs, 30_000_000)
	opts.Storage.WriteLatencyMeanNs = max(opts.Storage.WriteLatencyMinNs, 30_000_000)
	c, err := New(opts, Config{Lite: true})
	if err != nil {
		t.Fatal(err)
	}
	c.Run()
	if c.failure != nil {
		t.Fatalf("%s: %v", c.result, c.failure)
	}
	r, p := c.replicas[quietVictim], c.replicas[quietPeer]
	for last, idle := r.CommitMax(), 0; idle < quietTicks; idle++ {
		if last != r.CommitMax() {
			last, idle = r.CommitMax(), 0
		}
		if c.sched.Tick() > quietTicksMax {
			t.Fatalf("the cluster is still committing at tick %d", c.sched.Tick())
		}
		c.step(false)
	}
	if r.DurableCheckpoint() == 0 || r.DurableCheckpoint() != p.DurableCheckpoint() {
		t.Fatalf("checkpoints %d and %d: the test needs two replicas at one checkpoint", r.DurableCheckpoint(), p.DurableCheckpoint())
	}
	var referenced []uint64
	r.CheckpointBlocks(func(a uint64) { referenced = append(referenced, a) })
	if len(referenced) < 10 {
		t.Fatalf("%d blocks referenced", len(referenced))
	}
	return c, referenced
}

// TestMisdirectedGridWriteRepaired lands one block's write on another
// block's address, the way a misdirected write does: the target holds a
// valid block of the wrong address, and the block meant to be written keeps
// what it held before (zeros here). The replica's reads must tell the
// misdirected block apart from a corrupt one, fetch both from a peer, and
// end with the peer's bytes, every checker passing.
func TestMisdirectedGridWriteRepaired(t *testing.T) {
	c, referenced := quietCheckpoint(t)
	r := c.replicas[quietVictim]
	l := c.vcfg.Layout()
	meant, landed := referenced[1], referenced[len(referenced)/2+1]
	blk := make([]byte, l.BlockSize)
	c.disks[quietVictim].Peek(rio.ZoneGrid, l.BlockOffset(meant), blk)
	c.disks[quietVictim].Poke(rio.ZoneGrid, l.BlockOffset(landed), blk)
	c.disks[quietVictim].Poke(rio.ZoneGrid, l.BlockOffset(meant), make([]byte, l.BlockSize))
	before, readsBefore := r.ScrubStats(), r.GridReads()
	for range scrub.SimulatorCycleTicks + scrub.SimulatorCycleTicks/2 {
		c.step(false)
	}
	if c.failure != nil {
		t.Fatalf("%s: %v", c.result, c.failure)
	}
	after, reads := r.ScrubStats(), r.GridReads()
	if n := reads[block.Misdirected] - readsBefore[block.Misdirected]; n == 0 {
		t.Fatalf("no read found the misdirected block: reads %v, before %v", reads, readsBefore)
	}
	if after.Repaired-before.Repaired < 2 {
		t.Fatalf("scrub stats %+v before, %+v after: both blocks should be repaired", before, after)
	}
	mine, theirs := make([]byte, l.BlockSize), make([]byte, l.BlockSize)
	for _, a := range []uint64{meant, landed} {
		c.disks[quietVictim].Peek(rio.ZoneGrid, l.BlockOffset(a), mine)
		c.disks[quietPeer].Peek(rio.ZoneGrid, l.BlockOffset(a), theirs)
		if !bytes.Equal(mine, theirs) {
			t.Fatalf("block %d differs from the peer's after the cycle", a)
		}
	}
	if rec := c.Record(); rec.Result != reports.Pass || rec.GridReads["misdirected"] == 0 || rec.Repairs == nil {
		t.Fatalf("record: %s, grid read faults %v, repairs %+v", rec.Result, rec.GridReads, rec.Repairs)
	}
}

// TestScrubTreeShadowsValueBlocks builds the scrubber checker's tour tree
// over a quiet replica's checkpoint from its disk: every value block an
// index block names has that index block as its parent, and a value block
// counts as out of the tour's reach only while its index block is among the
// damaged (seed 8801795: value block 511 under damaged index block 512).
func TestScrubTreeShadowsValueBlocks(t *testing.T) {
	c, referenced := quietCheckpoint(t)
	l, d := c.vcfg.Layout(), c.disks[quietVictim]
	var tree scrubTree
	tree.onDisk = map[uint64]block.Header{}
	var indexes []uint64
	for _, a := range referenced {
		if h, ok := gridHeader(d, l, a); ok {
			tree.onDisk[a] = h
			if h.Type == block.TypeIndex {
				indexes = append(indexes, a)
			}
		}
	}
	tree.link(d, l, referenced)
	values := 0
	for _, index := range indexes {
		for _, child := range tree.children[block.Ref{Address: index, Checksum: tree.onDisk[index].Checksum}] {
			values++
			if p, ok := tree.parent[child.Address]; !ok || p != index {
				t.Fatalf("value block %d of index block %d has parent %d (%v)", child.Address, index, p, ok)
			}
			if !tree.shadowed(child.Address, []uint64{min(index, child.Address), max(index, child.Address)}) {
				t.Fatalf("value block %d not shadowed by its damaged index block %d", child.Address, index)
			}
			if tree.shadowed(child.Address, []uint64{child.Address}) || tree.shadowed(index, []uint64{index}) {
				t.Fatalf("value block %d or index block %d shadowed by its own damage", child.Address, index)
			}
		}
	}
	if len(indexes) == 0 || values == 0 {
		t.Fatalf("%d index blocks naming %d value blocks among %d referenced", len(indexes), values, len(referenced))
	}
	t.Logf("%d index blocks name %d value blocks among %d referenced", len(indexes), values, len(referenced))
}
