package groove_test

import (
	"math"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"viewstamp/replica/storage/groove"
	"viewstamp/replica/storage/lsm"
	"viewstamp/replica/storage/lsm/lsmtest"
	"viewstamp/replica/u128"
)

type actionKind uint8

const (
	actSetup actionKind = iota
	actPrefetch
	actInsert
	actUpdate
	actScopeOpen
	actScopeClose
	actOrphan
)

// action is one groove call of an op, logged so that a restart can replay
// the op exactly as the WAL would make the ledger replay it.
type action struct {
	kind     actionKind
	ids      []u128.U128
	tss      []uint64
	obj, old []byte
	persist  bool
}

func (e *env) apply(a action) {
	e.t.Helper()
	switch a.kind {
	case actSetup:
		e.g.PrefetchSetup()
	case actPrefetch:
		e.prefetch(a.ids, a.tss)
	case actInsert:
		e.g.Insert(a.obj)
	case actUpdate:
		e.g.Update(a.old, a.obj)
	case actScopeOpen:
		e.g.ScopeOpen()
	case actScopeClose:
		e.g.ScopeClose(a.persist)
	case actOrphan:
		e.g.InsertOrphan(a.ids[0])
	}
}

// model is the plain in-memory groove: objects in timestamp order.
type model struct {
	objects []object // ascending ts
	pos     map[u128.U128]int
	orphans map[u128.U128]bool
}

func (m *model) byTS(ts uint64) (object, bool) {
	i, ok := slices.BinarySearchFunc(m.objects, ts, func(o object, ts uint64) int {
		switch {
		case o.ts < ts:
			return -1
		case o.ts > ts:
			return 1
		}
		return 0
	})
	if !ok {
		return object{}, false
	}
	return m.objects[i], true
}

var (
	domainA = []u128.U128{{}, {Lo: 1}, {Lo: 2}, {Hi: 1}}
	domainB = []uint32{0, 1, 2, 3}
	domainC = []uint16{0, 1, 2}
)

func fieldValue(o object, f int) u128.U128 {
	switch f {
	case fieldA:
		return o.a
	case fieldB:
		return u128.From64(uint64(o.b))
	}
	return u128.From64(uint64(o.c))
}

// drawStream builds a random query tree and the predicate it stands for.
func drawStream(rt *rapid.T, g *groove.Groove, depth int) (*groove.Stream, func(object) bool) {
	kind := rapid.IntRange(0, 4).Draw(rt, "stream")
	if depth >= 2 {
		kind = min(kind, 1)
	}
	switch kind {
	case 0, 1:
		f := rapid.IntRange(0, 2).Draw(rt, "field")
		var v u128.U128
		switch f {
		case fieldA:
			v = rapid.SampledFrom(domainA).Draw(rt, "a")
		case fieldB:
			v = u128.From64(uint64(rapid.SampledFrom(domainB).Draw(rt, "b")))
		default:
			v = u128.From64(uint64(rapid.SampledFrom(domainC).Draw(rt, "c")))
		}
		// Zero values are not indexed: an index scan for zero is empty.
		return g.Index(f, v), func(o object) bool { return !v.IsZero() && fieldValue(o, f) == v }
	case 2:
		return g.All(), func(object) bool { return true }
	}
	n := rapid.IntRange(2, 3).Draw(rt, "children")
	var ss []*groove.Stream
	var ps []func(object) bool
	for range n {
		s, p := drawStream(rt, g, depth+1)
		ss, ps = append(ss, s), append(ps, p)
	}
	if kind == 3 {
		return groove.Intersect(ss...), func(o object) bool {
			for _, p := range ps {
				if !p(o) {
					return false
				}
			}
			return true
		}
	}
	return groove.Union(ss...), func(o object) bool {
		for _, p := range ps {
			if p(o) {
				return true
			}
		}
		return false
	}
}

// TestModel runs random batches (prefetch, inserts, updates, linked chains
// kept or discarded) with beats, checkpoints and crash-restarts that replay
// from the checkpoint, and holds every lookup and query to the model.
func TestModel(t *testing.T) {
	var cov struct {
		runs, objectsMax, deepest, lastLevel, crashes, queries, nonEmpty, discarded int
		hits                                                                        uint64
	}
	rapid.Check(t, func(rt *rapid.T) {
		cov.runs++
		grid := lsmtest.New(testBodyMax)
		if rapid.Bool().Draw(rt, "shuffle") {
			grid.Shuffle(rapid.Uint64().Draw(rt, "seed"))
		}
		// Two levels put data on the last level, where compaction drops
		// the mutable index's tombstones; three keep a level between.
		shape := testShape
		shape.LevelCount = rapid.IntRange(2, 3).Draw(rt, "levels")
		e := newEnv(rt, grid, shape, testConfig())
		m := &model{pos: map[u128.U128]int{}, orphans: map[u128.U128]bool{}}
		var nextID uint64 = 1
		var nextTS uint64 = 1
		logs := map[uint64][]action{}
		var refs *lsm.CheckpointRefs
		ops := rapid.IntRange(1, 160).Draw(rt, "ops")
		queries, hits := 0, 0
		for range ops {
			op := e.op
			var log []action
			do := func(a action) {
				log = append(log, a)
				e.apply(a)
			}
			do(action{kind: actSetup})

			// Names to prefetch: existing ids, fresh ids (some to
			// insert), timestamps held and not.
			var ids []u128.U128
			var tss []uint64
			for range rapid.IntRange(0, 8).Draw(rt, "existing") {
				if len(m.objects) > 0 {
					ids = append(ids, m.objects[rapid.IntRange(0, len(m.objects)-1).Draw(rt, "pick")].id)
				}
			}
			var fresh []u128.U128
			for range rapid.IntRange(0, testPutsPerOp).Draw(rt, "fresh") {
				id := u128.U128{Lo: nextID, Hi: nextID % 3}
				nextID++
				fresh = append(fresh, id)
				ids = append(ids, id)
			}
			for range rapid.IntRange(0, 4).Draw(rt, "timestamps") {
				tss = append(tss, rapid.Uint64Range(0, nextTS+2).Draw(rt, "ts"))
			}
			if split := rapid.IntRange(0, len(ids)).Draw(rt, "split"); split < len(ids) {
				// Two stages, as a post's prefetch has; the timestamps
				// in either.
				if rapid.Bool().Draw(rt, "timestamps first") {
					do(action{kind: actPrefetch, ids: ids[:split], tss: tss})
					do(action{kind: actPrefetch, ids: ids[split:]})
				} else {
					do(action{kind: actPrefetch, ids: ids[:split]})
					do(action{kind: actPrefetch, ids: ids[split:], tss: tss})
				}
			} else {
				do(action{kind: actPrefetch, ids: ids, tss: tss})
			}
			check := func(what string) {
				for _, id := range ids {
					got, ok := e.g.GetByID(id)
					p, want := m.pos[id]
					if ok != want || (ok && decode(got) != m.objects[p]) {
						rt.Fatalf("op %d %s: GetByID %s = %v %+v, model %v", op, what, id, ok, decodeOrZero(got), want)
					}
					if e.g.Orphaned(id) != m.orphans[id] {
						rt.Fatalf("op %d %s: Orphaned %s = %v", op, what, id, !m.orphans[id])
					}
				}
				for _, ts := range tss {
					got, ok := e.g.GetByTimestamp(ts)
					o, want := m.byTS(ts)
					if ok != want || (ok && decode(got) != o) {
						rt.Fatalf("op %d %s: GetByTimestamp %d = %v, model %v", op, what, ts, ok, want)
					}
				}
			}
			check("prefetched")

			// Mutations: each object at most once per op.
			touched := map[u128.U128]bool{}
			budget := testPutsPerOp
			for budget > 0 && rapid.IntRange(0, 3).Draw(rt, "more") > 0 {
				chain := rapid.IntRange(0, 2).Draw(rt, "chain") // 0: no scope
				type undo struct {
					insert bool
					orphan bool
					id     u128.U128
					old    object
				}
				var undos []undo
				if chain > 0 {
					do(action{kind: actScopeOpen})
				}
				for range rapid.IntRange(1, 3).Draw(rt, "events") {
					if budget == 0 {
						break
					}
					var cands []u128.U128
					for _, id := range ids {
						if !touched[id] {
							cands = append(cands, id)
						}
					}
					if len(cands) == 0 {
						break
					}
					id := cands[rapid.IntRange(0, len(cands)-1).Draw(rt, "target")]
					touched[id] = true
					budget--
					if p, ok := m.pos[id]; ok {
						old := m.objects[p]
						next := old
						next.c = rapid.SampledFrom(domainC).Draw(rt, "c'")
						next.payload = rapid.Uint64().Draw(rt, "payload'")
						do(action{kind: actUpdate, old: old.encode(), obj: next.encode()})
						m.objects[p] = next
						undos = append(undos, undo{id: id, old: old})
						continue
					}
					if !slices.Contains(fresh, id) || m.orphans[id] {
						continue
					}
					if rapid.IntRange(0, 5).Draw(rt, "orphan") == 0 {
						do(action{kind: actOrphan, ids: []u128.U128{id}})
						m.orphans[id] = true
						undos = append(undos, undo{orphan: true, id: id})
						continue
					}
					nextTS += rapid.Uint64Range(1, 3).Draw(rt, "gap")
					o := object{id: id, ts: nextTS,
						a: rapid.SampledFrom(domainA).Draw(rt, "a"), b: rapid.SampledFrom(domainB).Draw(rt, "b"),
						c: rapid.SampledFrom(domainC).Draw(rt, "c"), payload: rapid.Uint64().Draw(rt, "payload")}
					do(action{kind: actInsert, obj: o.encode()})
					m.pos[id] = len(m.objects)
					m.objects = append(m.objects, o)
					undos = append(undos, undo{insert: true, id: id})
				}
				if chain > 0 {
					check("in chain")
					persist := chain == 1
					if !persist {
						cov.discarded++
					}
					do(action{kind: actScopeClose, persist: persist})
					for i := len(undos) - 1; !persist && i >= 0; i-- {
						u := undos[i]
						if u.orphan {
							delete(m.orphans, u.id)
						} else if u.insert {
							m.objects = m.objects[:len(m.objects)-1]
							delete(m.pos, u.id)
						} else {
							m.objects[m.pos[u.id]] = u.old
						}
					}
				}
			}
			check("after mutations")
			logs[op] = log

			for range rapid.IntRange(0, 2).Draw(rt, "queries") {
				s, pred := drawStream(rt, e.g, 0)
				lo := rapid.Uint64Range(0, nextTS+1).Draw(rt, "lo")
				hi := rapid.SampledFrom([]uint64{lo, lo + 3, nextTS / 2, nextTS + 1, math.MaxUint64}).Draw(rt, "hi")
				limit := rapid.IntRange(1, 12).Draw(rt, "limit")
				reversed := rapid.Bool().Draw(rt, "reversed")
				got := e.query(s, lo, hi, limit, reversed)
				var want []uint64
				for _, o := range m.objects {
					if o.ts >= lo && o.ts <= hi && pred(o) {
						want = append(want, o.ts)
					}
				}
				if reversed {
					slices.Reverse(want)
				}
				want = want[:min(len(want), limit)]
				if !slices.Equal(got, want) {
					rt.Fatalf("op %d query [%d,%d] limit %d reversed %v: got %v want %v", op, lo, hi, limit, reversed, got, want)
				}
				queries++
				if len(want) > 0 {
					hits++
				}
			}

			e.beat()
			if st := e.g.Stats(); st.CacheObjects > testCache {
				rt.Fatalf("cache holds %d objects, capacity %d", st.CacheObjects, testCache)
			}
			if e.op%uint64(testShape.CompactionOps) == 0 && rapid.IntRange(0, 2).Draw(rt, "checkpoint") == 0 {
				r := e.checkpoint()
				refs = &r
			}
			if refs != nil && rapid.IntRange(0, 5).Draw(rt, "crash") == 0 {
				cov.crashes++
				last := e.op - 1
				e.reopen(*refs)
				for e.op <= last { // the WAL's replay
					for _, a := range logs[e.op] {
						e.apply(a)
					}
					e.beat()
				}
			}
		}
		// Everything still there, through the trees (a cold cache).
		e.g.PrefetchSetup()
		var all []u128.U128
		for _, o := range m.objects {
			all = append(all, o.id)
		}
		for i := 0; i < len(all); i += testStash {
			e.g.PrefetchSetup()
			part := all[i:min(i+testStash, len(all))]
			e.prefetch(part, nil)
			for _, id := range part {
				got, ok := e.g.GetByID(id)
				if !ok || decode(got) != m.objects[m.pos[id]] {
					rt.Fatalf("final: id %s: %v", id, ok)
				}
			}
		}
		got := e.query(e.g.All(), 0, math.MaxUint64, len(m.objects)+1, false)
		if len(got) != len(m.objects) {
			rt.Fatalf("final: %d objects in the object tree, model %d", len(got), len(m.objects))
		}
		cov.objectsMax = max(cov.objectsMax, len(m.objects))
		cov.queries += queries
		cov.nonEmpty += hits
		cov.hits += e.g.Stats().CacheHits
		for _, f := range []uint16{10, 11, 12, 13, 14} {
			for l, n := range e.f.LSM().Tree(f).TableCounts() {
				if n > 0 {
					cov.deepest = max(cov.deepest, l+1)
					if l == len(e.f.LSM().Tree(f).TableCounts())-1 {
						cov.lastLevel++
					}
				}
			}
		}
	})
	t.Logf("%d runs: up to %d objects, tables down to level %d (%d trees reached their last level), %d crash-restarts, %d discarded chains, %d queries (%d non-empty), %d cache hits",
		cov.runs, cov.objectsMax, cov.deepest, cov.lastLevel, cov.crashes, cov.discarded, cov.queries, cov.nonEmpty, cov.hits)
}

func decodeOrZero(b []byte) object {
	if b == nil {
		return object{}
	}
	return decode(b)
}
