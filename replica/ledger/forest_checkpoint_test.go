package ledger

import (
	"bytes"
	"testing"

	"pgregory.net/rapid"

	rio "viewstamp/replica/io"
	"viewstamp/replica/storage"
	"viewstamp/replica/storage/grid"
	"viewstamp/replica/storage/lsm"
	"viewstamp/replica/storage/storagetest"
	"viewstamp/replica/u128"
)

var testCluster = u128.U128{Lo: 0x51, Hi: 0x52}

func newSimGrid() (*grid.Grid, *storagetest.MemStorage) {
	c := storage.SimulatorConfig()
	l := storage.MustLayout(c)
	st := storagetest.New(l.SectorSize, l.ZoneSizes())
	return grid.New(st, l, testCluster), st
}

func openForest(t fataler, g *grid.Grid, st *storagetest.MemStorage, cs *storage.CheckpointState) *forestDriver {
	m := NewForestMachine(storage.SimulatorMessageSizeMax, Bugs{}, ForestConfig{Shape: lsm.SimulatorForest, AccountCacheObjects: 64})
	var ok, opened bool
	m.Open(g, cs, func(o bool) { ok, opened = o, true })
	st.RunFIFO()
	if !opened || !ok {
		t.Fatalf("open: completed %v, ok %v", opened, ok)
	}
	return &forestDriver{t: t, m: m, drain: st.RunFIFO, op: cs.Op}
}

type recordedOp struct {
	noop     bool // an op of the replica's own (register): a beat only
	op       uint8
	ts       uint64
	body     []byte
	reply    []byte
	checksum u128.U128
}

// TestForestCheckpointOpen: ops run on a forest machine, which marks a
// checkpoint at a bar's end and writes it at the trigger a bar later, as the
// replica schedules them; a fresh machine opened from that checkpoint on
// a copy of the data file as of the checkpoint replays the ops after it and gives every reply and checksum
// of the machine that never stopped, and the same pulse decisions.
func TestForestCheckpointOpen(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		g, st := newSimGrid()
		d := openForest(t, g, st, &storage.CheckpointState{})
		ops := uint64(lsm.SimulatorForest.CompactionOps)
		checkpoint := ops*uint64(rapid.IntRange(1, 12).Draw(t, "checkpoint_bar")) - 1
		trigger := checkpoint + ops
		var cs storage.CheckpointState
		var rg *grid.Grid
		var rst *storagetest.MemStorage
		var log []recordedOp
		clock, last := uint64(1_000_000_000), uint64(0)
		var seen []uint64
		var pendings []u128.U128
		nextID := uint64(0)
		steps := int(trigger) + rapid.IntRange(1, 40).Draw(t, "after")
		for i := -1; len(log) < steps; i++ {
			var r recordedOp
			if i >= 0 && rapid.IntRange(0, 9).Draw(t, "noop") == 0 {
				r.noop = true
				d.op++
				d.compact()
			} else {
				op, body, events := genOp(t, i < 0, &nextID, pendings, seen)
				if op == OpPulse {
					clock += uint64(rapid.IntRange(1, 3).Draw(t, "secs")) * 1e9
					if !d.m.PulseDue(max(last+1, clock)) {
						continue
					}
				}
				last = max(last+1, clock) + uint64(events)
				seen = append(seen, last-uint64(events)+1, last)
				r.op, r.ts, r.body = op, last, body
				r.reply = d.execute(op, last, body)
				pendings = notePendings(op, body, r.reply, pendings)
			}
			r.checksum = d.m.Checksum()
			log = append(log, r)
			switch d.op {
			case checkpoint:
				d.m.MarkCheckpoint()
			case trigger:
				cs.Op = checkpoint
				written := false
				d.m.Checkpoint(g, &cs, func() { written = true })
				st.RunFIFO()
				freeSet := false
				g.CheckpointFreeSet(func(acquired, released storage.TrailerRef) {
					cs.FreeSetAcquired, cs.FreeSetReleased, freeSet = acquired, released, true
				})
				st.RunFIFO()
				if !written || !freeSet {
					t.Fatal("checkpoint never completed")
				}
				g.CheckpointWritten()
				// The restart's data file: this one as of the checkpoint,
				// its free set the checkpoint's.
				rst = st.Clone()
				rg = grid.New(rst, storage.MustLayout(storage.SimulatorConfig()), testCluster)
				opened := false
				rg.OpenFreeSet(cs.FreeSetAcquired, cs.FreeSetReleased, func(ok bool) { opened = ok })
				rst.RunFIFO()
				if !opened {
					t.Fatal("free set did not open")
				}
			}
		}
		// log[k] is op k+1. The checkpoint goes through its superblock
		// encoding, as a restart reads it.
		var enc [storage.CheckpointStateSize]byte
		cs.Encode(enc[:])
		decoded, err := storage.DecodeCheckpointState(enc[:])
		if err != nil {
			t.Fatalf("checkpoint state: %v", err)
		}
		r := openForest(t, rg, rst, &decoded)
		if r.m.Checksum() != log[checkpoint-1].checksum {
			t.Fatalf("opened checksum %v, want op %d's %v", r.m.Checksum(), checkpoint, log[checkpoint-1].checksum)
		}
		for _, o := range log[checkpoint:] {
			if o.noop {
				r.op++
				r.compact()
			} else if got := r.execute(o.op, o.ts, o.body); !bytes.Equal(got, o.reply) {
				t.Fatalf("op %d (%s) after open: reply %x, want %x", r.op, OperationName(o.op), got, o.reply)
			}
			if r.m.Checksum() != o.checksum {
				t.Fatalf("op %d after open: checksum differs", r.op)
			}
		}
		// Deterministic: the restarted data file holds the same grid.
		if !bytes.Equal(st.Bytes(rio.ZoneGrid), rst.Bytes(rio.ZoneGrid)) {
			a, b := st.Bytes(rio.ZoneGrid), rst.Bytes(rio.ZoneGrid)
			bs := int(storage.SimulatorBlockSize)
			for i := 0; i < len(a); i += bs {
				if !bytes.Equal(a[i:i+bs], b[i:i+bs]) {
					t.Fatalf("grids differ after the replay, first at block %d (checkpoint %d, %d ops)", i/bs+1, checkpoint, len(log))
				}
			}
		}
		for _, later := range []uint64{last + 1, last + 2e9, last + 5e9} {
			if r.m.PulseDue(later) != d.m.PulseDue(later) {
				t.Fatalf("pulse decision at %d differs after open", later)
			}
		}
	})
}
