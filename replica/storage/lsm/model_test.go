package lsm_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"viewstamp/replica/storage/lsm"
	"viewstamp/replica/storage/lsm/lsmtest"
)

type action struct {
	key    uint64
	value  uint64
	remove bool
}

type model map[uint64]uint64

func (m model) apply(as []action) {
	for _, a := range as {
		if a.remove {
			delete(m, a.key)
		} else {
			m[a.key] = a.value
		}
	}
}

func (m model) clone() model {
	c := make(model, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// scan is what Tree.Scan must return: live values with keys in [lo, hi],
// in key order (or reversed), at most limit (<= 0: all).
func (m model) scan(lo, hi uint64, limit int, reversed bool) [][]byte {
	var keys []uint64
	for k := range m {
		if k >= lo && k <= hi {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if reversed {
		slices.Reverse(keys)
	}
	if limit > 0 && len(keys) > limit {
		keys = keys[:limit]
	}
	out := make([][]byte, 0, len(keys))
	for _, k := range keys {
		out = append(out, value(k, m[k]))
	}
	return out
}

type savedCheckpoint struct {
	refs   lsm.CheckpointRefs
	base   model      // the state the checkpoint's tables hold
	replay [][]action // the ops of the checkpoint's bar, to replay after open
	from   uint64     // the first of them
}

// TestModel runs random puts, removes, beats, lookups, scans, checkpoints
// and crashes back to the last checkpoint against a plain map, with the grid
// completing IO in a random order.
func TestModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		grid := lsmtest.New(testBodyMax)
		grid.Shuffle(rapid.Uint64().Draw(rt, "io_seed"))
		// Shallow, narrow forests push data to the last level, where
		// tombstones are dropped, within a short run.
		fc := lsm.ForestConfig{
			Growth:        rapid.SampledFrom([]int{2, lsm.GrowthSimulator}).Draw(rt, "growth"),
			LevelCount:    rapid.IntRange(1, testLevelCount+1).Draw(rt, "levels"),
			CompactionOps: rapid.SampledFrom([]int{2, lsm.CompactionOpsSimulator, 8}).Draw(rt, "compaction_ops"),
		}
		tc := testTree
		tc.TableValueCountMax = testBatchMax * fc.CompactionOps
		h := newHarness(t, grid, fc, tc)
		keys := rapid.Uint64Range(8, 1500).Draw(rt, "keys")
		ops := rapid.IntRange(1, 600).Draw(rt, "ops")
		removeRate := rapid.IntRange(0, 60).Draw(rt, "remove_percent")

		state := model{}
		barStart := model{} // the state before the current bar
		var bar [][]action  // the current bar's ops
		var prevBar [][]action
		var prevBarStart model
		var saved *savedCheckpoint

		check := func(label string) {
			// Sometimes a block cannot be read: a lookup or scan then
			// fails with that block's fault and never answers wrongly.
			var faulty uint64
			if n := len(grid.Writes); n > 0 && rapid.IntRange(0, 4).Draw(rt, "fault") == 0 {
				faulty = grid.Writes[rapid.IntRange(0, n-1).Draw(rt, "faulty")].Address
				grid.SetFaulty(faulty, true)
				defer grid.SetFaulty(faulty, false)
			}
			isFault := func(err error) bool {
				var f *lsm.BlockFaultError
				return faulty != 0 && errors.As(err, &f) && f.Block.Address == faulty
			}
			// A prefetch's worth of lookups in flight at once.
			const gets = 8
			completed := 0
			for range gets {
				k := rapid.Uint64Range(0, keys).Draw(rt, "get")
				want, ok := state[k]
				h.tree.Get(key(k), func(v []byte, found bool, err error) {
					completed++
					if isFault(err) {
						return
					}
					if err != nil || found != ok || (ok && !bytes.Equal(v, value(k, want))) {
						rt.Fatalf("%s op %d: get %d = %x %v %v, want %d %v", label, h.op, k, v, found, err, want, ok)
					}
				})
			}
			grid.Drain()
			if completed != gets {
				rt.Fatalf("%s: %d of %d lookups completed", label, completed, gets)
			}
			lo := rapid.Uint64Range(0, keys).Draw(rt, "lo")
			hi := lo + rapid.Uint64Range(0, keys).Draw(rt, "span")
			limit := rapid.IntRange(0, 40).Draw(rt, "limit")
			reversed := rapid.Bool().Draw(rt, "reversed")
			got, err := h.scanDir(lo, hi, limit, reversed)
			want := state.scan(lo, hi, limit, reversed)
			if isFault(err) {
				return
			}
			if err != nil || len(got) != len(want) {
				rt.Fatalf("%s op %d: scan [%d,%d] limit %d reversed %v: %d values (%v), want %d", label, h.op, lo, hi, limit, reversed, len(got), err, len(want))
			}
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					rt.Fatalf("%s op %d: scan [%d,%d] #%d = %x, want %x", label, h.op, lo, hi, i, got[i], want[i])
				}
			}
		}

		for range ops {
			n := rapid.IntRange(0, testBatchMax).Draw(rt, "batch")
			var as []action
			for range n {
				a := action{key: rapid.Uint64Range(0, keys).Draw(rt, "key"), value: h.op}
				a.remove = rapid.IntRange(0, 99).Draw(rt, "remove") < removeRate
				as = append(as, a)
			}
			for _, a := range as {
				if a.remove {
					h.tree.Remove(key(a.key))
				} else {
					h.tree.Put(value(a.key, a.value))
				}
			}
			state.apply(as)
			bar = append(bar, as)

			// A lookup and a scan in flight across the beat see the
			// state they started in.
			var inflightGet, inflightScan bool
			if rapid.IntRange(0, 3).Draw(rt, "overlap") == 0 {
				k := rapid.Uint64Range(0, keys).Draw(rt, "get")
				want, ok := state[k]
				h.tree.Get(key(k), func(v []byte, found bool, err error) {
					inflightGet = true
					if err != nil || found != ok || (ok && !bytes.Equal(v, value(k, want))) {
						rt.Fatalf("in-flight get %d = %x %v %v, want %d %v", k, v, found, err, want, ok)
					}
				})
				reversed := rapid.Bool().Draw(rt, "reversed")
				want2 := state.scan(0, keys, 0, reversed)
				h.tree.Scan(key(0), key(keys), 0, reversed, func(vs [][]byte, err error) {
					inflightScan = true
					if err != nil || len(vs) != len(want2) {
						rt.Fatalf("in-flight scan: %d values %v, want %d", len(vs), err, len(want2))
					}
					for i := range vs {
						if !bytes.Equal(vs[i], want2[i]) {
							rt.Fatalf("in-flight scan #%d = %x, want %x", i, vs[i], want2[i])
						}
					}
				})
			} else {
				inflightGet, inflightScan = true, true
			}
			h.beat()
			if !inflightGet || !inflightScan {
				rt.Fatalf("in-flight reads did not complete")
			}

			if h.op%uint64(fc.CompactionOps) == 0 { // the beat just done ended a bar
				prevBar, prevBarStart = bar, barStart
				bar, barStart = nil, state.clone()
				if rapid.IntRange(0, 3).Draw(rt, "checkpoint") == 0 {
					saved = &savedCheckpoint{refs: h.checkpoint(), base: prevBarStart, replay: prevBar, from: h.op - uint64(len(prevBar))}
					// No leaks: the grid holds exactly the blocks the
					// checkpoint references.
					var refs []lsm.BlockRef
					h.f.References(func(blocks []lsm.BlockRef, err error) { refs = blocks })
					grid.Drain()
					acquired := grid.AcquiredAddresses()
					if !slices.EqualFunc(acquired, refs, func(a uint64, r lsm.BlockRef) bool { return a == r.Address }) {
						rt.Fatalf("op %d: %d blocks acquired, %d referenced", h.op, len(acquired), len(refs))
					}
				}
			}
			if rapid.IntRange(0, 9).Draw(rt, "check") == 0 {
				check("run")
			}
			if saved != nil && rapid.IntRange(0, 40).Draw(rt, "crash") == 0 {
				grid.Restore()
				h.reopen(saved.refs, fc, tc)
				state = saved.base.clone()
				h.op = saved.from
				for _, as := range saved.replay {
					for _, a := range as {
						if a.remove {
							h.tree.Remove(key(a.key))
						} else {
							h.tree.Put(value(a.key, a.value))
						}
					}
					state.apply(as)
					h.beat()
				}
				bar, barStart = nil, state.clone()
				check("reopened")
			}
		}
		check("end")
		// The manifest log stays bounded by the live tables: over 1000 runs
		// the excess past what the live entries need peaked at 13 blocks
		// (3 entries per test block) at any op, 7 at a run's end.
		live := 0
		for _, n := range h.tree.TableCounts() {
			live += n
		}
		perBlock := (testBodyMax - 32) / 128
		if bound := (live+perBlock-1)/perBlock + lsm.ManifestLogBlocksSlack + 2*lsm.ManifestCompactBlocksMin + 12; h.f.ManifestBlocks() > bound {
			rt.Fatalf("manifest log %d blocks for %d live tables (bound %d)", h.f.ManifestBlocks(), live, bound)
		}
	})
}
