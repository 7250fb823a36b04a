package storage

import (
	"fmt"

	rio "viewstamp/replica/io"
)

// Zone is one region of the data file, in absolute bytes. io.Storage is
// addressed relative to a zone's Offset.
type Zone struct {
	Offset uint64
	Size   uint64
}

// End is the first byte after the zone.
func (z Zone) End() uint64 { return z.Offset + z.Size }

// Layout is where everything lies in a data file built from a Config. Zones
// follow one another in io.Zone order; only the grid is preceded by padding,
// so that every block is block-aligned in the file (and so on the device).
type Layout struct {
	Config

	// SuperblockCopySize is one copy: a sector-rounded area for the fields
	// and the checkpoint state, then sector-rounded view headers.
	SuperblockCopySize uint64
	Zones              [rio.ZoneCount]Zone
	// GridPadding is the gap between the client replies zone and the grid.
	GridPadding uint64
	// Size is the whole data file with every grid block present.
	Size uint64
}

// NewLayout validates c and computes its layout.
func NewLayout(c Config) (Layout, error) {
	if err := c.Validate(); err != nil {
		return Layout{}, err
	}
	return c.layout(), nil
}

// MustLayout is NewLayout for the presets and tests, whose configs are known
// to be valid.
func MustLayout(c Config) Layout {
	l, err := NewLayout(c)
	if err != nil {
		panic(err)
	}
	return l
}

// layout computes without validating; Validate itself uses it for the total.
func (c Config) layout() Layout {
	l := Layout{Config: c}
	l.SuperblockCopySize = c.SectorCeil(SuperblockFieldsSize) + c.SectorCeil(c.ViewHeadersMax()*HeaderSize)
	sizes := [rio.ZoneCount]uint64{
		rio.ZoneSuperblock:    SuperblockCopies * l.SuperblockCopySize,
		rio.ZoneWALHeaders:    c.JournalSlotCount * HeaderSize,
		rio.ZoneWALPrepares:   c.JournalSlotCount * c.MessageSizeMax,
		rio.ZoneClientReplies: c.ClientsMax * c.MessageSizeMax,
		rio.ZoneGrid:          c.GridBlockCount * c.BlockSize,
	}
	var at uint64
	for z := range rio.ZoneCount {
		if z == rio.ZoneGrid {
			aligned := ceilDiv(at, c.BlockSize) * c.BlockSize
			l.GridPadding = aligned - at
			at = aligned
		}
		l.Zones[z] = Zone{Offset: at, Size: sizes[z]}
		at += sizes[z]
	}
	l.Size = at
	return l
}

// ZoneSizes is what a simulated or real device needs to back each zone.
func (l Layout) ZoneSizes() [rio.ZoneCount]uint64 {
	var s [rio.ZoneCount]uint64
	for z := range rio.ZoneCount {
		s[z] = l.Zones[z].Size
	}
	return s
}

// SuperblockCopyOffset is copy i's offset within the superblock zone.
func (l Layout) SuperblockCopyOffset(i uint64) uint64 {
	if i >= SuperblockCopies {
		panic(fmt.Sprintf("storage: superblock copy %d of %d", i, SuperblockCopies))
	}
	return i * l.SuperblockCopySize
}

// WALHeadersPerSector is how many WAL headers one sector of the header ring holds.
func (l Layout) WALHeadersPerSector() uint64 { return l.SectorSize / HeaderSize }

// WALPrepareOffset is slot's offset within the WAL prepares zone.
func (l Layout) WALPrepareOffset(slot uint64) uint64 {
	if slot >= l.JournalSlotCount {
		panic(fmt.Sprintf("storage: WAL slot %d of %d", slot, l.JournalSlotCount))
	}
	return slot * l.MessageSizeMax
}

// ClientReplyOffset is session slot's offset within the client replies zone.
func (l Layout) ClientReplyOffset(slot uint64) uint64 {
	if slot >= l.ClientsMax {
		panic(fmt.Sprintf("storage: client reply slot %d of %d", slot, l.ClientsMax))
	}
	return slot * l.MessageSizeMax
}

// BlockOffset is address's offset within the grid zone. Address 0 is the
// null reference and never has a place.
func (l Layout) BlockOffset(address uint64) uint64 {
	if address == 0 || address > l.GridBlockCount {
		panic(fmt.Sprintf("storage: block address %d outside [1, %d]", address, l.GridBlockCount))
	}
	return (address - 1) * l.BlockSize
}

// StorageSize is how much of the data file a grid whose highest acquired
// block is highestAddress occupies: the file could be truncated there.
func (l Layout) StorageSize(highestAddress uint64) uint64 {
	if highestAddress > l.GridBlockCount {
		panic(fmt.Sprintf("storage: block address %d beyond %d", highestAddress, l.GridBlockCount))
	}
	return l.Zones[rio.ZoneGrid].Offset + highestAddress*l.BlockSize
}
