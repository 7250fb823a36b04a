package groove

import (
	"bytes"
	"fmt"

	"viewstamp/replica/storage/lsm"
	"viewstamp/replica/u128"
)

// Groove is one object type in the forest: its object tree, its id tree and
// its index trees, the object cache and this batch's stash.
type Groove struct {
	cfg     Config
	forest  *Forest
	objects *lsm.Tree
	ids     *lsm.Tree // nil without ids
	fields  []*lsm.Tree
	cache   *cache

	stash stash

	// A scope (a linked chain) queues its tree writes and logs the stash's
	// previous states, so closing it either applies the writes or restores
	// the stash: a discarded chain never reaches the trees or the cache.
	scoped bool
	writes []write
	arena  []byte // the writes' bytes
	undo   []undo
	saved  []byte // the undo log's old objects

	prefetching bool
	// pf is the prefetch under way, reused (one at a time) with its
	// requests and bound completions, so prefetching allocates nothing.
	pf    prefetch
	key   []byte // scratch for keys
	tsKey [timestampSize]byte
	idKey [idSize]byte
}

type writeKind uint8

const (
	writePut writeKind = iota
	writeRemove
	writeCache // upsert the cache with the object at off
)

type write struct {
	kind  writeKind
	tree  *lsm.Tree
	key   u128.U128 // writeCache
	off   int
	count int
}

type undoKind uint8

const (
	undoInsert undoKind = iota
	undoUpdate
	undoOrphan
)

type undo struct {
	kind   undoKind
	entry  int32
	id     u128.U128
	ts     uint64
	prevID int32 // the id's stash entry before (noEntry: none)
	prevTS int32
	off    int // undoUpdate: the old object in saved
}

func newGroove(f *Forest, cfg Config) *Groove {
	g := &Groove{cfg: cfg, forest: f, cache: newCache(cfg.CacheObjects, cfg.ObjectSize)}
	g.objects = f.lsm.Tree(cfg.ObjectTree)
	if cfg.IDTree != 0 {
		g.ids = f.lsm.Tree(cfg.IDTree)
	}
	for _, fd := range cfg.Fields {
		g.fields = append(g.fields, f.lsm.Tree(fd.Tree))
	}
	g.stash.init(cfg.StashMax, cfg.ObjectSize)
	g.key = make([]byte, WidthU128+timestampSize+cfg.ObjectSize)
	return g
}

// Config returns the groove's config.
func (g *Groove) Config() Config { return g.cfg }

// cacheKey is what the cache is keyed by: the id when the objects have one,
// since that is how the ledger asks for hot objects (accounts), else the
// timestamp.
func (g *Groove) cacheKey(object []byte) u128.U128 {
	if g.ids != nil {
		return g.cfg.id(object)
	}
	return u128.From64(g.cfg.timestamp(object))
}

// GetByID returns the object with id from the stash. The id must have been
// prefetched in this batch (or inserted): anything else is a programming
// error, because execute must never wait for IO. The slice is the stash's
// copy: read-only (change it with Update, after which it shows the new
// bytes) and valid until the next PrefetchSetup.
func (g *Groove) GetByID(id u128.U128) ([]byte, bool) {
	if g.ids == nil {
		panic(fmt.Sprintf("groove %s: objects have no id", g.cfg.Name))
	}
	e, ok := g.stash.byID.get(id)
	if !ok || g.stash.entries[e].state == statePending {
		panic(fmt.Sprintf("groove %s: id %s was not prefetched", g.cfg.Name, id))
	}
	return g.stash.present(e)
}

// Orphaned reports whether id belongs to no object but may not be used
// again (a transfer that failed transiently). The id must be prefetched.
func (g *Groove) Orphaned(id u128.U128) bool {
	g.GetByID(id)
	e, _ := g.stash.byID.get(id)
	return g.stash.entries[e].state == stateOrphan
}

// GetByTimestamp returns the object with timestamp ts from the stash; like
// GetByID, ts must have been prefetched (or the object inserted).
func (g *Groove) GetByTimestamp(ts uint64) ([]byte, bool) {
	e, ok := g.stash.byTS.get(u128.From64(ts))
	if !ok || g.stash.entries[e].state == statePending {
		panic(fmt.Sprintf("groove %s: timestamp %d was not prefetched", g.cfg.Name, ts))
	}
	return g.stash.present(e)
}

func (g *Groove) checkWritable() {
	if g.prefetching {
		panic(fmt.Sprintf("groove %s: write during a prefetch", g.cfg.Name))
	}
}

// Insert adds a new object. Its id must have been prefetched and found
// absent: that is the ledger's existence check, and it means no id is ever
// inserted twice. Timestamps are the cluster's, unique by construction.
func (g *Groove) Insert(object []byte) {
	g.checkWritable()
	g.checkSize(object)
	ts := g.cfg.timestamp(object)
	if ts == 0 {
		panic(fmt.Sprintf("groove %s: insert with timestamp 0", g.cfg.Name))
	}
	if prev, ok := g.stash.byTS.get(u128.From64(ts)); ok && g.stash.entries[prev].state == statePresent {
		panic(fmt.Sprintf("groove %s: insert at timestamp %d, which an object holds", g.cfg.Name, ts))
	}
	var id u128.U128
	if g.ids != nil {
		id = g.cfg.id(object)
		e, ok := g.stash.byID.get(id)
		if !ok || g.stash.entries[e].state != stateAbsent {
			panic(fmt.Sprintf("groove %s: insert of id %s not prefetched as absent", g.cfg.Name, id))
		}
	}
	e := g.stash.add(statePresent, id, ts)
	copy(g.stash.object(e), object)
	g.logUndo(undoInsert, e, id, ts)
	g.stash.byTS.set(u128.From64(ts), e)
	if g.ids != nil {
		g.stash.byID.set(id, e)
	}

	g.queueObject(ts, object)
	if g.ids != nil {
		g.queueID(id, ts)
	}
	for i := range g.cfg.Fields {
		g.queueField(i, writePut, g.cfg.Fields[i].Value(object), ts)
	}
	g.queueCache(object)
}

// queueID writes the id tree's entry id ++ ts (0: an orphan).
func (g *Groove) queueID(id u128.U128, ts uint64) {
	b := g.key[:idSize+timestampSize]
	putID(b, id)
	putTimestamp(b[idSize:], ts)
	g.write(writePut, g.ids, b)
}

// InsertOrphan records id as used by no object (timestamp 0 in the id tree),
// so a retry can be told it failed before. The id must be prefetched absent.
func (g *Groove) InsertOrphan(id u128.U128) {
	g.checkWritable()
	e, ok := g.stash.byID.get(id)
	if g.ids == nil || !ok || g.stash.entries[e].state != stateAbsent {
		panic(fmt.Sprintf("groove %s: orphan of id %s not prefetched as absent", g.cfg.Name, id))
	}
	ne := g.stash.add(stateOrphan, id, 0)
	g.logUndo(undoOrphan, ne, id, 0)
	g.stash.byID.set(id, ne)
	g.queueID(id, 0)
}

// Update replaces old, an object in the stash, by next: the same id and
// timestamp, and changes only in mutable fields, whose index entries move.
// old must be the stash's current bytes (what Get returned, unmodified).
func (g *Groove) Update(old, next []byte) {
	g.checkWritable()
	g.checkSize(old)
	g.checkSize(next)
	ts := g.cfg.timestamp(old)
	e, ok := g.stash.byTS.get(u128.From64(ts))
	if !ok || g.stash.entries[e].state != statePresent || !bytes.Equal(g.stash.object(e), old) {
		panic(fmt.Sprintf("groove %s: update of timestamp %d, not the stash's object", g.cfg.Name, ts))
	}
	g.queueChange("update", ts, old, next)
	if g.scoped {
		u := undo{kind: undoUpdate, entry: e, ts: ts, off: len(g.saved)}
		g.saved = append(g.saved, old...)
		g.undo = append(g.undo, u)
	}
	// old aliases the stash entry: copy last, after every use of old.
	copy(g.stash.object(e), next)
}

// queueChange queues the writes that turn old into next at timestamp ts,
// under Update's rules (what names the caller in a refusal): the same id and
// timestamp, and only mutable fields, whose index entries move.
func (g *Groove) queueChange(what string, ts uint64, old, next []byte) {
	if g.cfg.timestamp(next) != ts || (g.ids != nil && g.cfg.id(next) != g.cfg.id(old)) {
		panic(fmt.Sprintf("groove %s: %s changes the id or timestamp", g.cfg.Name, what))
	}
	for i, f := range g.cfg.Fields {
		was, now := f.Value(old), f.Value(next)
		if was == now {
			continue
		}
		if !f.Mutable {
			panic(fmt.Sprintf("groove %s: %s changes immutable field %s", g.cfg.Name, what, f.Name))
		}
		g.queueField(i, writeRemove, was, ts)
		g.queueField(i, writePut, now, ts)
	}
	g.queueObject(ts, next)
	g.queueCache(next)
}

func (g *Groove) checkSize(object []byte) {
	if len(object) != g.cfg.ObjectSize {
		panic(fmt.Sprintf("groove %s: object of %d bytes, want %d", g.cfg.Name, len(object), g.cfg.ObjectSize))
	}
}

func (g *Groove) logUndo(kind undoKind, e int32, id u128.U128, ts uint64) {
	if !g.scoped {
		return
	}
	u := undo{kind: kind, entry: e, id: id, ts: ts, prevID: noEntry, prevTS: noEntry}
	if p, ok := g.stash.byID.get(id); ok && g.ids != nil {
		u.prevID = p
	}
	if p, ok := g.stash.byTS.get(u128.From64(ts)); ok && kind != undoOrphan {
		u.prevTS = p
	}
	g.undo = append(g.undo, u)
}

// write makes a tree write. Outside a scope it is applied at once, from
// the caller's bytes (the tree copies them): a batch's writes are most of
// what committing it costs, and an extra copy of each through the arena
// showed in its profile. Inside a scope it is queued, a copy in the arena,
// for ScopeClose to apply or drop; either way the trees see the writes in
// the order they were made.
func (g *Groove) write(kind writeKind, tree *lsm.Tree, b []byte) {
	if !g.scoped {
		if kind == writeRemove {
			tree.Remove(b)
		} else {
			tree.Put(b)
		}
		return
	}
	off := len(g.arena)
	g.arena = append(g.arena, b...)
	g.writes = append(g.writes, write{kind: kind, tree: tree, off: off, count: len(b)})
}

// queueObject writes the object tree's value: timestamp ++ object.
func (g *Groove) queueObject(ts uint64, object []byte) {
	b := g.key[:timestampSize+len(object)]
	putTimestamp(b, ts)
	copy(b[timestampSize:], object)
	g.write(writePut, g.objects, b)
}

// queueField writes an index entry's put or remove; zero is not indexed.
func (g *Groove) queueField(i int, kind writeKind, value u128.U128, ts uint64) {
	if value.IsZero() {
		return
	}
	b := g.key[:g.cfg.Fields[i].Width+timestampSize]
	putFieldKey(b, g.cfg.Fields[i].Width, value, ts)
	g.write(kind, g.fields[i], b)
}

// queueCache upserts the cache's copy, at once outside a scope.
func (g *Groove) queueCache(object []byte) {
	if g.cache == nil {
		return
	}
	if !g.scoped {
		g.cache.upsert(g.cacheKey(object), object)
		return
	}
	off := len(g.arena)
	g.arena = append(g.arena, object...)
	g.writes = append(g.writes, write{kind: writeCache, key: g.cacheKey(object), off: off, count: len(object)})
}

// flush applies the queued writes in the order they were made.
func (g *Groove) flush() {
	for _, w := range g.writes {
		b := g.arena[w.off : w.off+w.count]
		switch w.kind {
		case writePut:
			w.tree.Put(b)
		case writeRemove:
			w.tree.Remove(b)
		case writeCache:
			g.cache.upsert(w.key, b)
		}
	}
	g.writes, g.arena = g.writes[:0], g.arena[:0]
}

// ScopeOpen starts a linked chain: until ScopeClose, writes are held back.
func (g *Groove) ScopeOpen() {
	if g.scoped {
		panic(fmt.Sprintf("groove %s: scope already open", g.cfg.Name))
	}
	g.scoped = true
}

// ScopeClose ends a linked chain. persist applies its writes to the trees
// and the cache; otherwise the stash returns to its state at ScopeOpen and
// the writes are dropped, so the forest never sees the failed chain.
func (g *Groove) ScopeClose(persist bool) {
	if !g.scoped {
		panic(fmt.Sprintf("groove %s: no scope open", g.cfg.Name))
	}
	g.scoped = false
	if persist {
		g.flush()
	} else {
		g.writes, g.arena = g.writes[:0], g.arena[:0]
		for i := len(g.undo) - 1; i >= 0; i-- {
			g.revert(&g.undo[i])
		}
	}
	g.undo, g.saved = g.undo[:0], g.saved[:0]
}

func (g *Groove) revert(u *undo) {
	switch u.kind {
	case undoInsert:
		g.stash.byTS.restore(u128.From64(u.ts), u.prevTS)
		if g.ids != nil {
			g.stash.byID.restore(u.id, u.prevID) // the absent entry Insert required
		}
	case undoOrphan:
		g.stash.byID.restore(u.id, u.prevID)
	case undoUpdate:
		copy(g.stash.object(u.entry), g.saved[u.off:u.off+g.cfg.ObjectSize])
	}
}

// Stats is the cache's and stash's state, for tests and the run record.
type Stats struct {
	CacheHits, CacheMisses uint64
	CacheObjects           int
	StashObjects           int
}

// Stats returns the groove's counters.
func (g *Groove) Stats() Stats {
	s := Stats{CacheObjects: g.cache.len(), StashObjects: len(g.stash.entries)}
	if g.cache != nil {
		s.CacheHits, s.CacheMisses = g.cache.hits, g.cache.misses
	}
	return s
}

// Replace is Update for a caller that keeps its own copy of the batch's
// objects (a working set that may have outgrown one stash, as a pulse
// expiring many transfers does): old is the object as stored, which the
// caller vouches for instead of the stash, and next its new version, under
// Update's rules (same id and timestamp, only mutable fields move). The
// stash's copy, if it holds the object, follows. Not inside a scope: the
// caller writes only committed effects.
func (g *Groove) Replace(old, next []byte) {
	g.checkWritable()
	if g.scoped {
		panic(fmt.Sprintf("groove %s: replace inside a scope", g.cfg.Name))
	}
	g.checkSize(old)
	g.checkSize(next)
	ts := g.cfg.timestamp(old)
	g.queueChange("replace", ts, old, next)
	if e, ok := g.stash.byTS.get(u128.From64(ts)); ok && g.stash.entries[e].state == statePresent {
		copy(g.stash.object(e), next)
	}
}
