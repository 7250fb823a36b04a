package groove_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"viewstamp/replica/storage/groove"
	"viewstamp/replica/storage/lsm"
	"viewstamp/replica/storage/lsm/lsmtest"
	"viewstamp/replica/u128"
)

const (
	determinismOps        = 240
	determinismCheckpoint = 3 // bars between checkpoints
)

// workloadOp draws op's groove calls from a PRNG seeded by op and applies
// them to the model, so every replica of a test gets the same ones.
func workloadOp(op uint64, m *model, nextTS *uint64) []action {
	rng := rand.New(rand.NewPCG(op, 0x9200e))
	acts := []action{{kind: actSetup}}
	var ids []u128.U128
	var updates []int
	for range rng.IntN(5) {
		if len(m.objects) > 0 {
			p := rng.IntN(len(m.objects))
			ids = append(ids, m.objects[p].id)
			if !slices.Contains(updates, p) && len(updates) < 2 {
				updates = append(updates, p)
			}
		}
	}
	var inserts []object
	for range rng.IntN(testPutsPerOp - 1) {
		*nextTS += 1 + rng.Uint64N(2)
		o := object{id: u128.U128{Lo: op<<8 | uint64(len(inserts)), Hi: rng.Uint64N(2)}, ts: *nextTS,
			a: domainA[rng.IntN(len(domainA))], b: domainB[rng.IntN(len(domainB))],
			c: domainC[rng.IntN(len(domainC))], payload: rng.Uint64()}
		inserts = append(inserts, o)
		ids = append(ids, o.id)
	}
	acts = append(acts, action{kind: actPrefetch, ids: ids, tss: []uint64{rng.Uint64N(*nextTS + 1)}})
	discard := rng.IntN(3) == 0
	if discard {
		acts = append(acts, action{kind: actScopeOpen})
	}
	for _, p := range updates {
		old := m.objects[p]
		next := old
		next.c, next.payload = domainC[rng.IntN(len(domainC))], rng.Uint64()
		acts = append(acts, action{kind: actUpdate, old: old.encode(), obj: next.encode()})
		if !discard {
			m.objects[p] = next
		}
	}
	for _, o := range inserts {
		acts = append(acts, action{kind: actInsert, obj: o.encode()})
		if !discard {
			m.pos[o.id] = len(m.objects)
			m.objects = append(m.objects, o)
		}
	}
	if discard {
		acts = append(acts, action{kind: actScopeClose, persist: false})
	}
	return acts
}

// run applies logged ops [from, to], checkpointing every few bars, and
// returns the query results it saw and the refs by checkpoint op.
func (e *env) run(logs [][]action, from, to uint64) ([][]uint64, map[uint64]lsm.CheckpointRefs) {
	var results [][]uint64
	refs := map[uint64]lsm.CheckpointRefs{}
	for e.op = from; e.op <= to; {
		for _, a := range logs[e.op] {
			e.apply(a)
		}
		results = append(results, e.query(groove.Union(e.g.Index(fieldB, u128.From64(1)), e.g.Index(fieldC, u128.From64(2))),
			0, math.MaxUint64, 5, e.op%2 == 0))
		e.beat()
		if e.op%uint64(testShape.CompactionOps*determinismCheckpoint) == 0 {
			refs[e.op-1] = e.checkpoint()
		}
	}
	return results, refs
}

// TestDeterminism: replicas applying the same ops write the same blocks in
// the same order, read the same number of blocks, make the same cache
// decisions and answer the same queries, however their IO completes; one
// that crashes after every checkpoint and replays writes the same blocks.
func TestDeterminism(t *testing.T) {
	m := &model{pos: map[u128.U128]int{}}
	var nextTS uint64
	logs := make([][]action, determinismOps+1)
	for op := uint64(1); op <= determinismOps; op++ {
		logs[op] = workloadOp(op, m, &nextTS)
	}

	a := newEnv(t, lsmtest.New(testBodyMax), testShape, testConfig())
	resA, refsA := a.run(logs, 1, determinismOps)
	shuffled := lsmtest.New(testBodyMax)
	shuffled.Shuffle(42)
	b := newEnv(t, shuffled, testShape, testConfig())
	resB, _ := b.run(logs, 1, determinismOps)

	if len(a.grid.Writes) == 0 || !slices.Equal(a.grid.Writes, b.grid.Writes) {
		t.Fatalf("writes differ: %d vs %d", len(a.grid.Writes), len(b.grid.Writes))
	}
	if a.grid.Reads != b.grid.Reads || a.g.Stats() != b.g.Stats() {
		t.Fatalf("reads %d vs %d, stats %+v vs %+v", a.grid.Reads, b.grid.Reads, a.g.Stats(), b.g.Stats())
	}
	if !slices.EqualFunc(resA, resB, slices.Equal) {
		t.Fatal("query results differ")
	}
	st := a.g.Stats()
	if st.CacheHits == 0 || st.CacheMisses == 0 {
		t.Fatalf("cache never hit or never missed: %+v", st)
	}
	t.Logf("%d objects, %d writes, %d reads, %d checkpoints, stats %+v", len(m.objects), len(a.grid.Writes), a.grid.Reads, len(refsA), st)

	c := newEnv(t, lsmtest.New(testBodyMax), testShape, testConfig())
	c.grid.Shuffle(7)
	const interval = lsm.CompactionOpsSimulator * determinismCheckpoint
	restarts := 0
	for from := uint64(1); from <= determinismOps; {
		to := min((from/interval+1)*interval-1, determinismOps)
		_, refs := c.run(logs, from, to)
		if to == determinismOps {
			break
		}
		mark := len(c.grid.Writes)
		c.run(logs, to+1, min(to+interval-2, determinismOps)) // short of the next checkpoint
		c.grid.Writes = c.grid.Writes[:mark]
		c.reopen(refs[to])
		restarts++
		c.run(logs, c.op, to) // the replay of the checkpoint's bar
		from = to + 1
	}
	if restarts < 10 || !slices.Equal(a.grid.Writes, c.grid.Writes) {
		t.Fatalf("%d restarts: writes %d vs %d", restarts, len(c.grid.Writes), len(a.grid.Writes))
	}
}
