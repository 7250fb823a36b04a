package lsm

import (
	"errors"
	"fmt"
	"slices"
)

// Forest is the set of trees one state machine keeps, sharing one grid, one
// manifest log and one compaction schedule. The replica drives it with one
// Beat per committed op, a Checkpoint at a bar's end, and Open at restart.
type Forest struct {
	grid     Grid
	cfg      ForestConfig
	bodyMax  int
	trees    []*Tree // in ID order: the order every beat visits them
	manifest *manifestLog

	started     bool
	opNext      uint64 // the op the next Beat must be for
	opCompacted uint64 // beats up to this op only replay (their work is in the checkpoint)
	beating     bool
	opened      bool // no beat since Open

	stats BeatStats

	writesPending int
	idle          []func()
	parked        []parkedRead
}

type parkedRead struct {
	block BlockRef
	retry func()
}

// BeatStats describes the last beat's compaction work, for tests and the run
// record.
type BeatStats struct {
	Op           uint64
	Merged       int // input values this beat consumed
	HalfBarWork  int // input values the half-bar planned in all
	BeatsPerHalf int
	Installed    bool // the beat ended a half-bar and made its outputs visible
}

// LastBeat returns the last completed beat's statistics.
func (f *Forest) LastBeat() BeatStats { return f.stats }

// CheckpointRefs is what the superblock keeps of the forest: the newest
// manifest block (which links back to the others), how many blocks the log
// holds, and the op whose beat ended the checkpoint's bar.
type CheckpointRefs struct {
	// ManifestOldest is the log's first block, for the superblock's record
	// (Open walks back from the newest and does not need it).
	ManifestOldest BlockRef
	ManifestNewest BlockRef
	ManifestBlocks uint64
	Op             uint64
}

// NewForest makes an empty forest over grid with the given trees.
func NewForest(grid Grid, cfg ForestConfig, trees []TreeConfig) (*Forest, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	f := &Forest{grid: grid, cfg: cfg, bodyMax: grid.BlockBodyMax()}
	m, err := newManifestLog(f)
	if err != nil {
		return nil, err
	}
	f.manifest = m
	for _, tc := range trees {
		t, err := newTree(f, tc)
		if err != nil {
			return nil, err
		}
		f.trees = append(f.trees, t)
	}
	slices.SortFunc(f.trees, func(a, b *Tree) int { return int(a.cfg.ID) - int(b.cfg.ID) })
	for i := 1; i < len(f.trees); i++ {
		if f.trees[i-1].cfg.ID == f.trees[i].cfg.ID {
			return nil, fmt.Errorf("%w: tree id %d twice", errConfig, f.trees[i].cfg.ID)
		}
	}
	return f, nil
}

// Tree returns the tree with the given ID, or nil.
func (f *Forest) Tree(id uint16) *Tree {
	i, ok := slices.BinarySearchFunc(f.trees, id, func(t *Tree, id uint16) int { return int(t.cfg.ID) - int(id) })
	if !ok {
		return nil
	}
	return f.trees[i]
}

// Config returns the forest's shape.
func (f *Forest) Config() ForestConfig { return f.cfg }

// OpNext is the op the next Beat must be for (after Open: the first op to
// replay).
func (f *Forest) OpNext() uint64 { return f.opNext }

// ManifestBlocks is the number of manifest log blocks on disk.
func (f *Forest) ManifestBlocks() int { return f.manifest.blockCount() }

// write acquires the next block, writes body to it and counts the write until
// it completes. Acquires happen in call order, which the callers keep
// deterministic.
func (f *Forest) write(blockType uint8, body []byte) BlockRef {
	address := f.grid.Acquire()
	if address == 0 {
		// The data file is sized by configuration; a forest that outgrows
		// it is a configuration error, not a state to limp on in.
		panic("lsm: the grid is full: no free block for the forest")
	}
	f.writesPending++
	checksum := f.grid.WriteBlock(address, blockType, body, func() {
		f.writesPending--
		f.checkIdle()
	})
	return BlockRef{Address: address, Checksum: checksum}
}

func (f *Forest) awaitWrites(then func()) {
	f.idle = append(f.idle, then)
	f.checkIdle()
}

func (f *Forest) checkIdle() {
	for f.writesPending == 0 && len(f.idle) > 0 {
		then := f.idle[0]
		f.idle = f.idle[1:]
		then()
	}
}

// park records a compaction read the grid could not serve intact. The beat
// waits (a commit stalls, as in TigerBeetle, rather than compacting around a
// hole) until the replica has repaired the block and calls RetryParked.
func (f *Forest) park(block BlockRef, retry func()) {
	f.parked = append(f.parked, parkedRead{block: block, retry: retry})
}

// Parked lists the blocks compaction waits for, oldest first.
func (f *Forest) Parked() []BlockRef {
	out := make([]BlockRef, len(f.parked))
	for i, p := range f.parked {
		out[i] = p.block
	}
	return out
}

// RetryParked reissues every parked read.
func (f *Forest) RetryParked() {
	parked := f.parked
	f.parked = nil
	for _, p := range parked {
		p.retry()
	}
}

// Beat does op's share of compaction and calls done when its blocks are
// written. Beats are one per op, in order. A bar is CompactionOps beats; each
// half-bar plans its compactions at its first beat, and each beat consumes
// ceil(remaining / beats left) input values, so the work is spread evenly and
// no commit waits for a whole compaction. At a half-bar's last beat the
// outputs are installed (visible from the next op) and the manifest log is
// compacted; at a bar's last beat the mutable table becomes the immutable one.
func (f *Forest) Beat(op uint64, done func()) {
	// After Open the first beat may come later than OpNext: ops before
	// the first committed one (op 0, the root) have no beat.
	if f.started && op != f.opNext && !(f.opened && op > f.opNext && op <= f.opCompacted+1) {
		panic(fmt.Sprintf("lsm: beat for op %d, want %d", op, f.opNext))
	}
	f.opened = false
	if f.beating {
		panic("lsm: beat while the previous one runs")
	}
	f.started, f.opNext, f.beating = true, op+1, true
	ops := uint64(f.cfg.CompactionOps)
	half := ops / 2
	beat := op % ops
	compacting := op > f.opCompacted || f.opCompacted == 0
	if compacting && beat%half == 0 {
		for _, t := range f.trees {
			t.plan(beat == 0)
		}
	}
	remaining, planned := 0, 0
	for _, t := range f.trees {
		for _, c := range t.compactions {
			remaining += c.remaining()
			planned += c.workTotal
		}
	}
	beatsLeft := int(half - beat%half)
	quota := (remaining + beatsLeft - 1) / beatsLeft
	f.stats = BeatStats{Op: op, HalfBarWork: planned, BeatsPerHalf: int(half), Installed: beat%half == half-1}
	f.runShares(0, 0, quota, func() {
		left := 0
		for _, t := range f.trees {
			for _, c := range t.compactions {
				left += c.remaining()
			}
		}
		f.stats.Merged = remaining - left
		if beat%half != half-1 {
			// A beat inside a half-bar does not wait for its writes: its
			// outputs are invisible until the half-bar installs them, and
			// reads of a block still writing are served from the write,
			// so the next ops commit while the disk catches up.
			f.beating = false
			done()
			return
		}
		f.awaitWrites(func() {
			f.endHalfBar(op, compacting, beat == ops-1)
			f.awaitWrites(func() {
				f.beating = false
				done()
			})
		})
	})
}

// runShares hands the quota to the compactions one at a time, trees in ID
// order and levels top down. Running them one after another rather than
// interleaved keeps the order of acquires and writes independent of the order
// in which reads complete.
func (f *Forest) runShares(ti, ci, quota int, then func()) {
	for ; ti < len(f.trees); ti, ci = ti+1, 0 {
		t := f.trees[ti]
		for ; ci < len(t.compactions); ci++ {
			c := t.compactions[ci]
			if quota <= 0 {
				then()
				return
			}
			if c.finished {
				continue
			}
			share := min(quota, c.remaining())
			before := c.workDone
			nextTi, nextCi := ti, ci+1
			c.run(share, func() {
				f.runShares(nextTi, nextCi, quota-(c.workDone-before), then)
			})
			return
		}
	}
	then()
}

func (f *Forest) endHalfBar(op uint64, compacting, barEnd bool) {
	for _, t := range f.trees {
		for _, c := range t.compactions {
			c.install(op)
		}
		t.compactions = nil
	}
	if compacting {
		f.manifest.compact()
	}
	if barEnd {
		for _, t := range f.trees {
			if t.immutable != nil {
				panic("lsm: immutable table not flushed by the bar's end")
			}
			if t.mutable.len() > 0 {
				t.immutable = t.mutable.sealed()
				t.mutable.reset()
			}
		}
	}
}

// Checkpoint writes the manifest's partial block and, once every block of
// the forest is durable, returns what the superblock must keep. It is taken
// right after a bar's last beat: the tables then hold every put before that
// bar, and the puts of the bar itself (now the immutable table) are replayed
// from the WAL after a restart.
func (f *Forest) Checkpoint(done func(CheckpointRefs)) {
	if f.beating || (f.started && f.opNext%uint64(f.cfg.CompactionOps) != 0) {
		panic("lsm: checkpoint not at a bar's end")
	}
	if f.opened || (f.opCompacted > 0 && f.opNext <= f.opCompacted) {
		panic("lsm: checkpoint before the opened checkpoint's bar was replayed")
	}
	f.manifest.flush()
	f.awaitWrites(func() {
		refs := CheckpointRefs{ManifestBlocks: uint64(len(f.manifest.blocks))}
		if n := len(f.manifest.blocks); n > 0 {
			refs.ManifestOldest = f.manifest.blocks[0].ref
			refs.ManifestNewest = f.manifest.blocks[n-1].ref
		}
		if f.started {
			refs.Op = f.opNext - 1
		}
		done(refs)
	})
}

var errNotFresh = errors.New("lsm: open on a forest that has been used")

// Open rebuilds the levels of a fresh forest from a checkpoint's manifest.
// Afterwards OpNext is the first op to replay: beats up to refs.Op only turn
// the replayed puts into the immutable table, because their compaction work
// is already in the checkpoint.
func (f *Forest) Open(refs CheckpointRefs, done func(error)) {
	if f.started || f.manifest.blocks != nil || f.manifest.open != nil {
		done(errNotFresh)
		return
	}
	finish := func() {
		if refs.Op > 0 || refs.ManifestBlocks > 0 {
			ops := uint64(f.cfg.CompactionOps)
			if (refs.Op+1)%ops != 0 {
				done(fmt.Errorf("lsm: checkpoint op %d does not end a bar", refs.Op))
				return
			}
			f.started, f.opNext, f.opCompacted, f.opened = true, refs.Op+1-ops, refs.Op, true
		}
		done(nil)
	}
	if refs.ManifestBlocks == 0 {
		finish()
		return
	}
	f.manifest.load(refs.ManifestNewest, refs.ManifestBlocks, func(live []TableInfo, err error) {
		if err != nil {
			done(err)
			return
		}
		if err := f.placeTables(live); err != nil {
			done(err)
			return
		}
		finish()
	})
}

func (f *Forest) placeTables(live []TableInfo) error {
	slices.SortFunc(live, func(a, b TableInfo) int {
		if a.TreeID != b.TreeID {
			return int(a.TreeID) - int(b.TreeID)
		}
		if a.Level != b.Level {
			return int(a.Level) - int(b.Level)
		}
		return compareKeys(a.KeyMin[:], b.KeyMin[:])
	})
	for _, info := range live {
		t := f.Tree(info.TreeID)
		if t == nil || int(info.Level) >= f.cfg.LevelCount {
			return fmt.Errorf("lsm: manifest names tree %d level %d", info.TreeID, info.Level)
		}
		t.levels[info.Level] = append(t.levels[info.Level], info)
	}
	for _, t := range f.trees {
		for level := range f.cfg.LevelCount {
			ks := t.cfg.KeySize
			tables := t.levels[level]
			for i := range tables {
				if compareKeys(tables[i].keyMin(ks), tables[i].keyMax(ks)) > 0 ||
					(i > 0 && compareKeys(tables[i-1].keyMax(ks), tables[i].keyMin(ks)) >= 0) {
					return fmt.Errorf("lsm: manifest tables of tree %d level %d overlap", t.cfg.ID, level)
				}
			}
		}
	}
	return nil
}

// References lists every block the forest's tables and manifest log hold, in
// address order, reading each table's index block to name its value blocks.
// Right after a checkpoint these, with the free set's and client sessions'
// blocks, are exactly the grid's acquired blocks, which lets a checker find
// leaks, and they are what state sync must fetch. An index block that cannot
// be read ends the walk with its *BlockFaultError.
func (f *Forest) References(done func(blocks []BlockRef, err error)) {
	out, tables := f.referencesStart()
	pending, failed := len(tables), error(nil)
	finish := func() {
		if failed != nil {
			done(nil, failed)
			return
		}
		slices.SortFunc(out, func(a, b BlockRef) int { return cmpUint64(a.Address, b.Address) })
		done(out, nil)
	}
	if pending == 0 {
		finish()
		return
	}
	for i := range tables {
		table := tables[i]
		f.grid.ReadBlock(table.Index.Address, table.Index.Checksum, func(body []byte, ok bool) {
			var err error
			out, err = f.appendTable(out, table, body, ok)
			if failed == nil {
				failed = err
			}
			pending--
			if pending == 0 {
				finish()
			}
		})
	}
}

// ReferencesPeek is References reading index blocks through read, which
// answers at once (a checker peeking at a simulated disk): it issues no IO,
// so calling it cannot change a run. read returns a verified block's body,
// valid until the next call, or false. The list is built in out's memory
// (out[:0]): a checker calling it at every checkpoint reuses one list
// rather than making one the size of the forest each time.
func (f *Forest) ReferencesPeek(out []BlockRef, read func(ref BlockRef) (body []byte, ok bool)) ([]BlockRef, error) {
	out = out[:0]
	for _, b := range f.manifest.blocks {
		out = append(out, b.ref)
	}
	for _, t := range f.trees {
		for level := range f.cfg.LevelCount {
			for _, table := range t.levels[level] {
				body, ok := read(table.Index)
				var err error
				if out, err = f.appendTable(out, table, body, ok); err != nil {
					return nil, err
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b BlockRef) int { return cmpUint64(a.Address, b.Address) })
	return out, nil
}

// referencesStart lists the manifest log's blocks and every live table.
func (f *Forest) referencesStart() (out []BlockRef, tables []TableInfo) {
	for _, b := range f.manifest.blocks {
		out = append(out, b.ref)
	}
	for _, t := range f.trees {
		for level := range f.cfg.LevelCount {
			tables = append(tables, t.levels[level]...)
		}
	}
	return out, tables
}

// appendTable appends a table's index block and the value blocks its body
// (read ok or not) names.
func (f *Forest) appendTable(out []BlockRef, table TableInfo, body []byte, ok bool) ([]BlockRef, error) {
	ib, decoded := decodeIndexBlock(body, f.Tree(table.TreeID).cfg.KeySize)
	if !ok || !decoded {
		return out, &BlockFaultError{Block: table.Index}
	}
	out = append(out, table.Index)
	for j := range ib.count {
		out = append(out, ib.ref(j))
	}
	return out, nil
}

func cmpUint64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
