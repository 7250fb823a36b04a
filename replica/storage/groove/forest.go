package groove

import (
	"fmt"

	"viewstamp/replica/storage/lsm"
)

// Forest is the ledger's forest: one lsm.Forest holding every groove's
// trees, so they share the grid, the manifest log, the beats and the
// checkpoints.
type Forest struct {
	lsm     *lsm.Forest
	grooves []*Groove
}

// NewForest makes the forest of the given grooves over grid.
func NewForest(grid lsm.Grid, shape lsm.ForestConfig, grooves []Config) (*Forest, error) {
	var trees []lsm.TreeConfig
	for i := range grooves {
		if err := grooves[i].validate(); err != nil {
			return nil, err
		}
		trees = append(trees, grooves[i].trees(shape.CompactionOps)...)
	}
	lf, err := lsm.NewForest(grid, shape, trees)
	if err != nil {
		return nil, err
	}
	f := &Forest{lsm: lf}
	for _, c := range grooves {
		f.grooves = append(f.grooves, newGroove(f, c))
	}
	return f, nil
}

// Groove returns the i-th groove of NewForest's list.
func (f *Forest) Groove(i int) *Groove { return f.grooves[i] }

// LSM is the underlying forest (tests, References, the run record).
func (f *Forest) LSM() *lsm.Forest { return f.lsm }

// OpNext is the op the next Beat must be for.
func (f *Forest) OpNext() uint64 { return f.lsm.OpNext() }

func (f *Forest) checkQuiet(what string) {
	for _, g := range f.grooves {
		if g.scoped || g.prefetching {
			panic(fmt.Sprintf("groove %s: %s during a scope or prefetch", g.cfg.Name, what))
		}
	}
}

// Beat is op's share of compaction, after op's writes; see lsm.Forest.Beat.
func (f *Forest) Beat(op uint64, done func()) {
	f.checkQuiet("beat")
	f.lsm.Beat(op, done)
}

// Checkpoint is lsm.Forest.Checkpoint, right after a bar's last beat.
func (f *Forest) Checkpoint(done func(lsm.CheckpointRefs)) {
	f.checkQuiet("checkpoint")
	f.lsm.Checkpoint(done)
}

// Open rebuilds a fresh forest from a checkpoint; see lsm.Forest.Open. The
// caches start empty: they only ever hold copies of what the trees hold.
func (f *Forest) Open(refs lsm.CheckpointRefs, done func(error)) {
	f.checkQuiet("open")
	f.lsm.Open(refs, done)
}
