package groove_test

import (
	"encoding/binary"

	"viewstamp/replica/storage/groove"
	"viewstamp/replica/storage/lsm"
	"viewstamp/replica/storage/lsm/lsmtest"
	"viewstamp/replica/u128"
)

// The test object, 64 bytes little-endian like the ledger's: id, timestamp,
// three indexed fields (a u128, a u32, a mutable u16), an unindexed payload.
const (
	objSize    = 64
	offID      = 0
	offTS      = 16
	offA       = 24 // u128, optional
	offB       = 40 // u32, optional
	offC       = 44 // u16, optional and mutable
	offPayload = 48 // u64
	fieldA     = 0
	fieldB     = 1
	fieldC     = 2

	testBodyMax   = 512
	testPutsPerOp = 6
	testCache     = 2 * groove.CacheWays
	testStash     = 64
)

var testShape = lsm.ForestConfig{Growth: lsm.GrowthSimulator, LevelCount: 3, CompactionOps: lsm.CompactionOpsSimulator}

func testConfig() groove.Config {
	c := groove.U16Field("c", 13, offC)
	c.Mutable = true
	return groove.Config{
		Descriptor: groove.Descriptor{
			Name: "things", ObjectSize: objSize, ObjectTree: 10, IDTree: 11,
			IDOffset: offID, TimestampOffset: offTS,
			Fields: []groove.Field{groove.U128Field("a", 12, offA), groove.U32Field("b", 14, offB), c},
		},
		PutsPerOpMax: testPutsPerOp, CacheObjects: testCache, StashMax: testStash,
	}
}

type object struct {
	id      u128.U128
	ts      uint64
	a       u128.U128
	b       uint32
	c       uint16
	payload uint64
}

func (o object) encode() []byte {
	b := make([]byte, objSize)
	o.id.Put(b[offID:])
	binary.LittleEndian.PutUint64(b[offTS:], o.ts)
	o.a.Put(b[offA:])
	binary.LittleEndian.PutUint32(b[offB:], o.b)
	binary.LittleEndian.PutUint16(b[offC:], o.c)
	binary.LittleEndian.PutUint64(b[offPayload:], o.payload)
	return b
}

func decode(b []byte) object {
	return object{
		id: u128.Get(b[offID:]), ts: binary.LittleEndian.Uint64(b[offTS:]), a: u128.Get(b[offA:]),
		b: binary.LittleEndian.Uint32(b[offB:]), c: binary.LittleEndian.Uint16(b[offC:]),
		payload: binary.LittleEndian.Uint64(b[offPayload:]),
	}
}

// tb is what env needs of testing.TB, which *rapid.T also provides, so a
// failure inside a property shrinks.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// env is one replica's forest of one groove over a fake grid.
type env struct {
	t    tb
	grid *lsmtest.Grid
	cfg  groove.Config
	f    *groove.Forest
	g    *groove.Groove
	op   uint64
}

func newEnv(t tb, grid *lsmtest.Grid, shape lsm.ForestConfig, cfg groove.Config) *env {
	t.Helper()
	f, err := groove.NewForest(grid, shape, []groove.Config{cfg})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, grid: grid, cfg: cfg, f: f, g: f.Groove(0), op: 1}
}

func (e *env) prefetch(ids []u128.U128, tss []uint64) {
	e.t.Helper()
	called := false
	var err error
	e.g.Prefetch(ids, tss, func(x error) { called, err = true, x })
	e.grid.Drain()
	if !called || err != nil {
		e.t.Fatalf("prefetch: called %v, err %v", called, err)
	}
}

func (e *env) beat() {
	e.t.Helper()
	done := false
	e.f.Beat(e.op, func() { done = true })
	e.grid.Drain()
	if !done {
		e.t.Fatalf("beat %d did not complete", e.op)
	}
	e.op++
}

func (e *env) query(s *groove.Stream, lo, hi uint64, limit int, reversed bool) []uint64 {
	e.t.Helper()
	called := false
	var out []uint64
	var err error
	groove.Query(s, lo, hi, limit, reversed, func(ts []uint64, x error) { called, out, err = true, ts, x })
	e.grid.Drain()
	if !called || err != nil {
		e.t.Fatalf("query: called %v, err %v", called, err)
	}
	return out
}

func (e *env) checkpoint() lsm.CheckpointRefs {
	e.t.Helper()
	var refs lsm.CheckpointRefs
	called := false
	e.f.Checkpoint(func(r lsm.CheckpointRefs) { refs, called = r, true })
	e.grid.Drain()
	if !called {
		e.t.Fatal("checkpoint did not complete")
	}
	e.grid.Checkpoint()
	return refs
}

// reopen is a crash back to the grid's last checkpoint and a restart.
func (e *env) reopen(refs lsm.CheckpointRefs) {
	e.t.Helper()
	e.grid.Restore()
	f, err := groove.NewForest(e.grid, testShapeOf(e.f), []groove.Config{e.cfg})
	if err != nil {
		e.t.Fatal(err)
	}
	called := false
	f.Open(refs, func(x error) { err, called = x, true })
	e.grid.Drain()
	if !called || err != nil {
		e.t.Fatalf("open: called %v, err %v", called, err)
	}
	e.f, e.g, e.op = f, f.Groove(0), f.OpNext()
}

func testShapeOf(f *groove.Forest) lsm.ForestConfig { return f.LSM().Config() }
