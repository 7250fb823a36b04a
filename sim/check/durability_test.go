package check

import (
	"testing"

	rio "viewstamp/replica/io"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

var testCluster = u128.U128{Lo: 7, Hi: 9}

// fakeDisks are the WAL zones of a few replicas, written directly.
type fakeDisks struct {
	cfg   vsr.Config
	zones [][rio.ZoneCount][]byte
}

func newFakeDisks(replicas uint8) *fakeDisks {
	cfg := vsr.SimConfig(replicas)
	cfg.JournalSlotCount = 64
	f := &fakeDisks{cfg: cfg, zones: make([][rio.ZoneCount][]byte, replicas)}
	for i := range f.zones {
		sizes := cfg.Layout().ZoneSizes()
		f.zones[i][rio.ZoneWALHeaders] = make([]byte, sizes[rio.ZoneWALHeaders])
		f.zones[i][rio.ZoneWALPrepares] = make([]byte, sizes[rio.ZoneWALPrepares])
	}
	return f
}

func (f *fakeDisks) peek(replica int, zone rio.Zone, offset uint64, buf []byte) {
	copy(buf, f.zones[replica][zone][offset:])
}

func (f *fakeDisks) checker() *Durability { return NewDurability(testCluster, f.cfg, f.peek) }

// prepare builds the sealed prepare for op in view, with a body.
func prepare(op uint64, view uint32) *vsr.Message {
	m := &vsr.Message{Header: vsr.Header{Cluster: testCluster, Command: vsr.CommandPrepare, Op: op, View: view, Operation: vsr.OperationStateMachineMin}, Body: []byte("transfers")}
	m.Encode()
	return m
}

func (f *fakeDisks) writePrepare(replica int, m *vsr.Message) {
	copy(f.zones[replica][rio.ZoneWALPrepares][(m.Header.Op%f.cfg.JournalSlotCount)*f.cfg.MessageSizeMax:], m.Bytes())
}

func (f *fakeDisks) writeHeader(replica int, m *vsr.Message) {
	copy(f.zones[replica][rio.ZoneWALHeaders][(m.Header.Op%f.cfg.JournalSlotCount)*vsr.HeaderSize:], m.Bytes()[:vsr.HeaderSize])
}

// write is a completed journal write: prepare first, then its header.
func (f *fakeDisks) write(replica int, m *vsr.Message) {
	f.writePrepare(replica, m)
	f.writeHeader(replica, m)
}

func TestDurabilityAckNeedsPrepareThenHeader(t *testing.T) {
	f := newFakeDisks(3)
	d := f.checker()
	m := prepare(5, 2)
	sum := m.Header.Checksum
	wantErr(t, d.Acked(1, 5, sum), "replica 1 sent prepare_ok for op 5 (checksum "+sum.String()+") before it was durable: its WAL slot holds nothing")

	// The prepare landed, its header-ring write did not yet.
	f.writePrepare(1, m)
	wantErr(t, d.Acked(1, 5, sum), "before its header was durable: the prepare is in its WAL slot but its header ring entry holds nothing")
	if err := d.Acked(0, 5, sum); err == nil {
		t.Fatal("replica 0's disk holds nothing, yet its prepare_ok passed")
	}

	f.writeHeader(1, m)
	if err := d.Acked(1, 5, sum); err != nil {
		t.Fatalf("prepare and header durable: %v", err)
	}
}

func TestDurabilityAckSeesTornAndOtherPrepares(t *testing.T) {
	f := newFakeDisks(3)
	d := f.checker()
	old, m := prepare(5, 1), prepare(5, 2)
	// A lagging replica holds an older view's prepare at that op.
	f.write(2, old)
	wantErr(t, d.Acked(2, 5, m.Header.Checksum), "its WAL slot holds prepare op 5 view 1 checksum "+old.Header.Checksum.String())

	// A crash tore the write of m: one sector of its body is garbage.
	f.write(2, m)
	f.zones[2][rio.ZoneWALPrepares][(5%f.cfg.JournalSlotCount)*f.cfg.MessageSizeMax+vsr.HeaderSize] ^= 1
	wantErr(t, d.Acked(2, 5, m.Header.Checksum), "view 2 checksum "+m.Header.Checksum.String()+" with a torn body")

	// A torn header.
	f.zones[2][rio.ZoneWALPrepares][(5%f.cfg.JournalSlotCount)*f.cfg.MessageSizeMax+20] ^= 1
	wantErr(t, d.Acked(2, 5, m.Header.Checksum), "its WAL slot holds a torn header")
}

func TestDurabilityAckAfterRecoveryTrustsThePreparesRing(t *testing.T) {
	f := newFakeDisks(3)
	d := f.checker()
	// Before a crash the prepare landed but its header-ring write was lost:
	// recovery counts it durable, and may acknowledge it at once.
	early, late := prepare(3, 1), prepare(4, 1)
	f.writePrepare(0, early)
	d.Opened(0)
	if err := d.Acked(0, 3, early.Header.Checksum); err != nil {
		t.Fatalf("prepare on disk when the journal opened: %v", err)
	}
	// A prepare written by the new process still needs its header.
	f.writePrepare(0, late)
	wantErr(t, d.Acked(0, 4, late.Header.Checksum), "before its header was durable")
	// A later restart sees it on disk.
	d.Opened(0)
	if err := d.Acked(0, 4, late.Header.Checksum); err != nil {
		t.Fatalf("after a second restart: %v", err)
	}
	// The snapshot is per replica.
	f.writePrepare(1, early)
	wantErr(t, d.Acked(1, 3, early.Header.Checksum), "replica 1 sent prepare_ok for op 3")
}

func TestDurabilityCommitNeedsAReplicationQuorum(t *testing.T) {
	f := newFakeDisks(3) // replication quorum 2
	d := f.checker()
	old, m := prepare(9, 1), prepare(9, 3)
	sum := m.Header.Checksum
	f.write(0, m)
	f.write(1, old)
	wantErr(t, d.Committed(9, sum), "op 9 (checksum "+sum.String()+") committed while only replicas [0] hold it durably, fewer than the replication quorum 2 (replica 1 holds prepare op 9 view 1 checksum "+old.Header.Checksum.String()+"; replica 2 holds nothing)")

	// The header ring is not needed: recovery trusts the prepares ring.
	f.writePrepare(2, m)
	if err := d.Committed(9, sum); err != nil {
		t.Fatalf("held by replicas 0 and 2: %v", err)
	}
}

func TestDurabilityCommitQuorumBySize(t *testing.T) {
	for _, c := range []struct {
		replicas uint8
		quorum   int
	}{{1, 1}, {2, 2}, {4, 2}, {5, 3}, {6, 3}} {
		f := newFakeDisks(c.replicas)
		d := f.checker()
		m := prepare(1, 0)
		for i := 0; i < c.quorum; i++ {
			if d.Committed(1, m.Header.Checksum) == nil {
				t.Fatalf("%d replicas: committed on %d disks passed, quorum is %d", c.replicas, i, c.quorum)
			}
			f.write(i, m)
		}
		if err := d.Committed(1, m.Header.Checksum); err != nil {
			t.Fatalf("%d replicas, on %d disks: %v", c.replicas, c.quorum, err)
		}
	}
}

// A copy destroyed by a wipe (a disk replaced while its replica was down)
// still counts for an op first executed afterwards: the primary may have
// decided on that replica's acknowledgement. Only the copy the disk held
// when wiped counts, not one it never had.
func TestDurabilityCommitCountsACopyLostToAWipe(t *testing.T) {
	f := newFakeDisks(3) // replication quorum 2
	d := f.checker()
	m, other := prepare(9, 1), prepare(10, 1)
	sum := m.Header.Checksum
	f.write(0, m)
	f.write(1, m)
	f.write(2, other)
	for _, i := range []int{1, 2} {
		d.Wiped(i)
		f.zones[i][rio.ZoneWALHeaders] = make([]byte, len(f.zones[i][rio.ZoneWALHeaders]))
		f.zones[i][rio.ZoneWALPrepares] = make([]byte, len(f.zones[i][rio.ZoneWALPrepares]))
	}
	if err := d.Committed(9, sum); err != nil {
		t.Fatalf("held by replica 0, and by replica 1 until its wipe: %v", err)
	}
	// Replica 1 wiped again with nothing in the slot keeps the first wipe's copy.
	d.Wiped(1)
	if err := d.Committed(9, sum); err != nil {
		t.Fatalf("after a second wipe: %v", err)
	}
	wantErr(t, d.Committed(10, other.Header.Checksum), "op 10 (checksum "+other.Header.Checksum.String()+") committed while only replicas [2] hold it durably, fewer than the replication quorum 2 (replica 0 holds nothing; replica 1 holds nothing; replica 2 held it when wiped)")
}
