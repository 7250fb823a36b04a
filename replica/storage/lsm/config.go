package lsm

import (
	"errors"
	"fmt"
)

// Sizes of the forest's shape. Production values follow TigerBeetle's; the
// simulator's are small so that one seed crosses many bars, levels and
// manifest blocks.
const (
	// GrowthProduction is the factor by which each level outgrows the one above.
	GrowthProduction = 8
	// GrowthSimulator keeps the simulator's levels shallow enough to fill.
	GrowthSimulator = 4
	// LevelCountDefault is the number of on-disk levels (TigerBeetle's 7).
	LevelCountDefault = 7
	// LevelCountMax bounds LevelCount so per-level state can live in arrays.
	LevelCountMax = 16
	// CompactionOpsProduction is the beats in a bar (TigerBeetle's 32).
	CompactionOpsProduction = 32
	// CompactionOpsSimulator is the beats in a bar in the simulator.
	CompactionOpsSimulator = 4
	// KeySizeMax is the widest key a tree may have: a TableInfo stores key
	// ranges in fixed fields of this size (TigerBeetle's u128 composite keys
	// with timestamp and padding are 32 bytes).
	KeySizeMax = 32
	// ValueSizeMax bounds a value so a block always holds several.
	ValueSizeMax = 1024
	// ValuesPerBlockMin keeps blocks from degenerating into one value each.
	ValuesPerBlockMin = 2
)

// ForestConfig is the shape shared by every tree of a forest: trees compact in
// the same beats, so they must agree on bars and levels.
type ForestConfig struct {
	Growth        int
	LevelCount    int
	CompactionOps int // beats per bar; even, so a bar splits into two half-bars
}

// ProductionForest is TigerBeetle's production shape.
var ProductionForest = ForestConfig{Growth: GrowthProduction, LevelCount: LevelCountDefault, CompactionOps: CompactionOpsProduction}

// SimulatorForest is the small shape the simulator runs.
var SimulatorForest = ForestConfig{Growth: GrowthSimulator, LevelCount: LevelCountDefault, CompactionOps: CompactionOpsSimulator}

// TreeConfig describes one tree. A value is ValueSize bytes whose first
// KeySize bytes are its key, compared as unsigned bytes (so numeric keys are
// stored big-endian).
type TreeConfig struct {
	ID        uint16 // unique in the forest; trees beat in ID order
	Name      string
	KeySize   int
	ValueSize int
	// TableValueCountMax is both the capacity of the mutable table (the
	// distinct keys one bar may put: batch maximum x CompactionOps) and the
	// number of values per on-disk table.
	TableValueCountMax int
	// ScanOnly says nothing looks a key up (Get) but scans read the tree,
	// as of an index: the mutable table then keeps no hash table, and a
	// Get, still answered, sorts it.
	ScanOnly bool
}

var errConfig = errors.New("lsm: invalid config")

func (c ForestConfig) validate() error {
	switch {
	case c.Growth < 2:
		return fmt.Errorf("%w: growth %d < 2", errConfig, c.Growth)
	case c.LevelCount < 1 || c.LevelCount > LevelCountMax:
		return fmt.Errorf("%w: level count %d not in 1..%d", errConfig, c.LevelCount, LevelCountMax)
	case c.CompactionOps < 2 || c.CompactionOps%2 != 0:
		return fmt.Errorf("%w: compaction ops %d must be even and >= 2", errConfig, c.CompactionOps)
	}
	return nil
}

// levelTableCountMax is how many tables level i holds before it must compact
// into level i+1: growth^(i+1).
func (c ForestConfig) levelTableCountMax(level int) int {
	n := 1
	for range level + 1 {
		n *= c.Growth
	}
	return n
}

// treeLayout is what a tree's config implies for its blocks.
type treeLayout struct {
	valuesPerBlock      int // value block capacity
	valueBlocksPerTable int // value blocks a full table needs
	indexEntrySize      int
}

func (c TreeConfig) layout(bodyMax int) (treeLayout, error) {
	var l treeLayout
	switch {
	case c.KeySize < 1 || c.KeySize > KeySizeMax:
		return l, fmt.Errorf("%w: tree %d key size %d not in 1..%d", errConfig, c.ID, c.KeySize, KeySizeMax)
	case c.ValueSize < c.KeySize || c.ValueSize > ValueSizeMax:
		return l, fmt.Errorf("%w: tree %d value size %d not in key size..%d", errConfig, c.ID, c.ValueSize, ValueSizeMax)
	case c.TableValueCountMax < 1:
		return l, fmt.Errorf("%w: tree %d table value count %d", errConfig, c.ID, c.TableValueCountMax)
	}
	l.valuesPerBlock = valueBlockCapacity(bodyMax, c.ValueSize)
	if l.valuesPerBlock < ValuesPerBlockMin {
		return l, fmt.Errorf("%w: tree %d: %d values per block", errConfig, c.ID, l.valuesPerBlock)
	}
	l.valueBlocksPerTable = (c.TableValueCountMax + l.valuesPerBlock - 1) / l.valuesPerBlock
	l.indexEntrySize = indexEntrySize(c.KeySize)
	if cap := indexBlockCapacity(bodyMax, c.KeySize); l.valueBlocksPerTable > cap {
		return l, fmt.Errorf("%w: tree %d needs %d value blocks per table, an index holds %d",
			errConfig, c.ID, l.valueBlocksPerTable, cap)
	}
	return l, nil
}
