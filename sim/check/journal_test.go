package check

import (
	"strings"
	"testing"

	rio "viewstamp/replica/io"
	"viewstamp/replica/vsr"
)

// The journal checker accepts a committed, settled slot whose two copies
// hold its header, and fails one whose header-ring entry is stale (another
// prepare of the op), damaged, or whose prepare is another op's; it ignores
// ops not yet committed.
func TestJournalNeedsBothCopiesOfACommittedSlot(t *testing.T) {
	f := newFakeDisks(3)
	j := NewJournal(testCluster, f.cfg, f.peek)
	m, older := prepare(9, 3), prepare(9, 1)
	h := &m.Header
	f.write(0, m)
	if err := j.Slot(0, 9, 9, h); err != nil {
		t.Fatalf("both copies hold op 9: %v", err)
	}
	f.writeHeader(0, older)
	if err := j.Slot(0, 8, 9, h); err != nil {
		t.Fatalf("op 9 is not committed yet, so it is not judged: %v", err)
	}
	err := j.Slot(0, 9, 9, h)
	if err == nil || !strings.Contains(err.Error(), "header ring entry holds prepare op 9 view 1") {
		t.Fatalf("a stale ring entry: %v", err)
	}
	f.writeHeader(0, m)
	f.zones[0][rio.ZoneWALHeaders][9*vsr.HeaderSize+40] ^= 1
	if err := j.Slot(0, 9, 9, h); err == nil || !strings.Contains(err.Error(), "header ring entry is damaged") {
		t.Fatalf("a damaged ring entry: %v", err)
	}
	f.writeHeader(0, m)
	f.writePrepare(0, prepare(9+f.cfg.JournalSlotCount, 3))
	if err := j.Slot(0, 9, 9, h); err == nil || !strings.Contains(err.Error(), "prepares ring entry holds prepare op") {
		t.Fatalf("another op's prepare in the slot: %v", err)
	}
}
