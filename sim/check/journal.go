package check

import (
	"fmt"

	rio "viewstamp/replica/io"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// Journal is the journal checker: at each checkpoint a replica makes, every
// WAL slot of an op it has committed and holds settled (its prepare known
// durable, no write in flight for it or its header-ring sector) must hold
// that op's header in both copies on disk: the prepares ring and the header
// ring. Recovery reads the two against each other (the WAL decision table),
// so a ring entry left stale or damaged by the replica's own writes (a
// sector written from a stale image, a repair that never reached disk)
// turns into a wrong verdict at the next crash: an acknowledged op read as
// another, or as never written. It reads the disks as Peek does, with
// sectors a crash tore as before the tear: faults are the disk's, not the
// replica's.
type Journal struct {
	cluster u128.U128
	slots   uint64
	sizeMax uint64
	peek    Peek
	buf     [vsr.HeaderSize]byte
}

func NewJournal(cluster u128.U128, cfg vsr.Config, peek Peek) *Journal {
	return &Journal{cluster: cluster, slots: cfg.JournalSlotCount, sizeMax: cfg.MessageSizeMax, peek: peek}
}

// Slot checks one settled slot of replica, holding header h of an op at or
// below commitMin.
func (j *Journal) Slot(replica int, commitMin, slot uint64, h *vsr.Header) error {
	if h.Op > commitMin || h.Op%j.slots != slot {
		return nil
	}
	for _, c := range []struct {
		zone   rio.Zone
		offset uint64
		what   string
	}{
		{rio.ZoneWALHeaders, slot * vsr.HeaderSize, "header ring"},
		{rio.ZoneWALPrepares, slot * j.sizeMax, "prepares ring"},
	} {
		j.peek(replica, c.zone, c.offset, j.buf[:])
		var got vsr.Header
		if err := vsr.DecodeHeader(j.buf[:], &got); err != nil {
			return fmt.Errorf("replica %d holds committed op %d (checksum %v) settled in slot %d, but its %s entry is damaged (%v)", replica, h.Op, h.Checksum, slot, c.what, err)
		}
		if got.Checksum != h.Checksum {
			return fmt.Errorf("replica %d holds committed op %d (checksum %v) settled in slot %d, but its %s entry holds %v op %d view %d (checksum %v)", replica, h.Op, h.Checksum, slot, c.what, got.Command, got.Op, got.View, got.Checksum)
		}
	}
	return nil
}
