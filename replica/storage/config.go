// Package storage describes a replica's data file: the sizes that shape it
// (Config), where each zone lies (Layout), when checkpoints happen (Schedule)
// and what the superblock records about a checkpoint (CheckpointState).
//
// The grid of blocks and its free set live in the subpackages block, freeset
// and grid; the superblock and the WAL are still in replica/vsr. The drawing
// of the whole file is docs/data-file.md.
package storage

import (
	"errors"
	"fmt"
)

// HeaderSize is the size of a message header, a WAL header slot and a grid
// block header alike, so a block can travel as a `block` message unchanged.
const HeaderSize = 256

// SuperblockCopies is how many copies of the superblock the data file holds
// (replica/vsr writes them; the zone is sized here).
const SuperblockCopies = 4

// SuperblockFieldsSize is the part of a superblock copy before its view
// headers: the VSR fields (at most SuperblockVSRFieldsSize) followed by the
// CheckpointState.
const SuperblockFieldsSize = SuperblockVSRFieldsSize + CheckpointStateSize

// SuperblockVSRFieldsSize bounds the superblock's own fields: checksum, copy,
// sequence, parent, cluster, replica, view, log view, commit_max, sync range
// and the count of view headers.
const SuperblockVSRFieldsSize = 512

// ViewHeadersHooks is how many headers a superblock keeps beyond the log
// suffix (pipeline+1 headers from the head): the "hook" headers at checkpoint
// triggers that let a syncing replica check the chain (TigerBeetle: 11 view
// headers in all for a pipeline of 8).
const ViewHeadersHooks = 2

// Limits that Validate enforces.
const (
	SectorSizeMin = 512
	SectorSizeMax = 64 << 10
	// BlockSizeMin leaves a block body large enough for a trailer chunk and
	// the LSM's smallest table entries.
	BlockSizeMin = 4 << 10
	// StorageSizeMax is TigerBeetle's largest data file (64 TiB).
	StorageSizeMax = 64 << 40
	// PipelineMaxLimit matches the protocol's bitsets of pipeline+1 bits.
	PipelineMaxLimit = 63
)

// Config holds the sizes that production and the simulator choose differently.
// Every replica of a cluster must use the same Config: checkpoints and the
// grid's contents depend on it.
type Config struct {
	SectorSize       uint64 // every IO is a whole number of sectors
	JournalSlotCount uint64 // WAL ring slots; op o lives in slot o % JournalSlotCount
	MessageSizeMax   uint64 // a WAL prepare slot and a client reply slot are this large
	ClientsMax       uint64 // client sessions, one reply slot each
	PipelineMax      uint64 // prepares in flight at the primary
	CompactionOps    uint64 // ops per LSM bar (one compaction beat per op)
	BlockSize        uint64 // grid block, header included
	GridBlockCount   uint64 // grid capacity in blocks (addresses 1..GridBlockCount)
	// GridReadsMax and GridWritesMax bound the grid's IO in flight; more
	// waits in the grid's queue, so the device queue and the read buffers
	// stay bounded whatever the callers ask.
	GridReadsMax  uint64
	GridWritesMax uint64
}

// Production preset, TigerBeetle's production constants.
const (
	ProductionSectorSize       = 4096
	ProductionJournalSlotCount = 1024
	ProductionMessageSizeMax   = 1 << 20
	ProductionClientsMax       = 64
	ProductionPipelineMax      = 8
	ProductionCompactionOps    = 32
	ProductionBlockSize        = 512 << 10
	// ProductionGridBlockCount is 16 TiB of blocks, TigerBeetle's default
	// storage limit.
	ProductionGridBlockCount = (16 << 40) / ProductionBlockSize
	ProductionGridReadsMax   = 32
	ProductionGridWritesMax  = 32
)

// Simulator preset, like TigerBeetle's test_min configuration: a WAL of 32
// slots wraps every 20 ops, so one seed crosses many checkpoints.
const (
	SimulatorSectorSize       = 4096
	SimulatorJournalSlotCount = 32
	SimulatorMessageSizeMax   = 4 << 10
	SimulatorClientsMax       = 7
	SimulatorPipelineMax      = 4
	SimulatorCompactionOps    = 4
	SimulatorBlockSize        = 4 << 10
	// SimulatorGridBlockCount is 256 MiB of blocks per replica, of which
	// the simulated disk holds only what the live forest occupies (sim/disk
	// gives freed memory back). The forest grows with the ledger: seed
	// 9600004 held 7,878 blocks at 5,000 requests and 29,842 at 20,000
	// (about 1.5 a request), so the grid has room for some 40,000 requests
	// of such a mix; past that, the forest's next block finds the grid full
	// and the run crashes saying so.
	SimulatorGridBlockCount = 1 << 16
	SimulatorGridReadsMax   = 8
	SimulatorGridWritesMax  = 8
)

// SimulatorJournalSlotCountMax is the largest WAL the simulator preset may
// be tuned to: beyond it a seed would wrap the WAL too rarely.
const SimulatorJournalSlotCountMax = 64

// ProductionConfig returns TigerBeetle's production sizes.
func ProductionConfig() Config {
	return Config{
		SectorSize:       ProductionSectorSize,
		JournalSlotCount: ProductionJournalSlotCount,
		MessageSizeMax:   ProductionMessageSizeMax,
		ClientsMax:       ProductionClientsMax,
		PipelineMax:      ProductionPipelineMax,
		CompactionOps:    ProductionCompactionOps,
		BlockSize:        ProductionBlockSize,
		GridBlockCount:   ProductionGridBlockCount,
		GridReadsMax:     ProductionGridReadsMax,
		GridWritesMax:    ProductionGridWritesMax,
	}
}

// SimulatorConfig returns the simulator's small sizes.
func SimulatorConfig() Config {
	return Config{
		SectorSize:       SimulatorSectorSize,
		JournalSlotCount: SimulatorJournalSlotCount,
		MessageSizeMax:   SimulatorMessageSizeMax,
		ClientsMax:       SimulatorClientsMax,
		PipelineMax:      SimulatorPipelineMax,
		CompactionOps:    SimulatorCompactionOps,
		BlockSize:        SimulatorBlockSize,
		GridBlockCount:   SimulatorGridBlockCount,
		GridReadsMax:     SimulatorGridReadsMax,
		GridWritesMax:    SimulatorGridWritesMax,
	}
}

// ErrConfig wraps every reason Validate refuses a Config.
var ErrConfig = errors.New("storage config")

func configError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

func isPowerOfTwo(v uint64) bool { return v != 0 && v&(v-1) == 0 }

// Validate reports the first size the data file cannot be built from.
func (c Config) Validate() error {
	switch {
	case !isPowerOfTwo(c.SectorSize) || c.SectorSize < SectorSizeMin || c.SectorSize > SectorSizeMax:
		return configError("sector size %d is not a power of two in [%d, %d]", c.SectorSize, SectorSizeMin, SectorSizeMax)
	case c.SectorSize%HeaderSize != 0:
		return configError("sector size %d is not a multiple of the header size %d", c.SectorSize, HeaderSize)
	case c.MessageSizeMax <= HeaderSize || c.MessageSizeMax%c.SectorSize != 0:
		return configError("message size max %d is not a multiple of the sector size %d above one header", c.MessageSizeMax, c.SectorSize)
	case c.PipelineMax < 1 || c.PipelineMax > PipelineMaxLimit:
		return configError("pipeline max %d outside [1, %d]", c.PipelineMax, PipelineMaxLimit)
	case c.CompactionOps < 2 || c.CompactionOps%2 != 0:
		// A bar is two half-bars of compaction.
		return configError("compaction ops %d is not an even number of at least 2", c.CompactionOps)
	case c.JournalSlotCount == 0 || c.JournalSlotCount%(c.SectorSize/HeaderSize) != 0:
		return configError("journal slot count %d is not a whole number of header sectors (%d headers each)", c.JournalSlotCount, c.SectorSize/HeaderSize)
	case c.JournalSlotCount <= c.CompactionOps*(1+ceilDiv(2*c.PipelineMax, c.CompactionOps)):
		return configError("journal slot count %d leaves no ops between checkpoints (compaction ops %d, pipeline %d)", c.JournalSlotCount, c.CompactionOps, c.PipelineMax)
	case c.checkpointOps()%c.CompactionOps != 0:
		// Checkpoints must fall on the last op of a bar, when compaction is at rest.
		return configError("checkpoint interval %d ops is not a whole number of bars of %d ops", c.checkpointOps(), c.CompactionOps)
	case c.checkpointOps() <= c.PipelineMax+1:
		// A checkpoint is durable pipeline+1 ops after its trigger; it must
		// be so before the next checkpoint is written.
		return configError("checkpoint interval %d ops is not longer than pipeline max + 1 (%d)", c.checkpointOps(), c.PipelineMax+1)
	case c.ClientsMax < 1:
		return configError("clients max must be at least 1")
	case !isPowerOfTwo(c.BlockSize) || c.BlockSize < BlockSizeMin || c.BlockSize < c.SectorSize:
		return configError("block size %d is not a power of two of at least %d and one sector", c.BlockSize, BlockSizeMin)
	case c.BlockSize > c.MessageSizeMax:
		// Blocks travel to peers as `block` messages, header and all.
		return configError("block size %d exceeds the message size max %d", c.BlockSize, c.MessageSizeMax)
	case c.GridReadsMax < 1 || c.GridWritesMax < 1:
		return configError("grid reads max %d and writes max %d must be at least 1", c.GridReadsMax, c.GridWritesMax)
	case c.GridBlockCount < 1:
		return configError("grid block count must be at least 1")
	case c.GridBlockCount > StorageSizeMax/c.BlockSize:
		return configError("grid of %d blocks of %d bytes exceeds the storage size max %d", c.GridBlockCount, c.BlockSize, uint64(StorageSizeMax))
	}
	l := c.layout()
	if l.Size > StorageSizeMax {
		return configError("data file of %d bytes exceeds the storage size max %d", l.Size, uint64(StorageSizeMax))
	}
	return nil
}

// ViewHeadersMax is how many headers a superblock copy holds.
func (c Config) ViewHeadersMax() uint64 { return c.PipelineMax + 1 + ViewHeadersHooks }

func ceilDiv(a, b uint64) uint64 { return (a + b - 1) / b }

// SectorCeil rounds n up to a whole number of sectors.
func (c Config) SectorCeil(n uint64) uint64 { return ceilDiv(n, c.SectorSize) * c.SectorSize }

// BlockBodyMax is the largest body a grid block can carry.
func (c Config) BlockBodyMax() uint64 { return c.BlockSize - HeaderSize }
