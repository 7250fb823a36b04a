package groove

import (
	"encoding/binary"
	"fmt"

	"viewstamp/replica/u128"
)

// PrefetchSetup starts a batch: the stash forgets the previous one. The
// cache keeps its objects.
func (g *Groove) PrefetchSetup() {
	if g.prefetching || g.scoped {
		panic(fmt.Sprintf("groove %s: prefetch setup during a prefetch or scope", g.cfg.Name))
	}
	g.stash.reset()
}

type request struct {
	entry int32
	byID  bool
	id    u128.U128
	ts    uint64
	state entryState
	err   error
}

type prefetch struct {
	g                        *Groove
	reqs                     []request
	next, active, completed  int
	running, again, finished bool
	done                     func(error)
	// onID and onObject are request i's lookup completions, bound once
	// per index (bind).
	onID, onObject []func(v []byte, found bool, err error)
}

// bind makes the completions of requests up to n.
func (p *prefetch) bind(n int) {
	for i := len(p.onID); i < n; i++ {
		p.onID = append(p.onID, func(v []byte, found bool, err error) { p.idLooked(i, v, found, err) })
		p.onObject = append(p.onObject, func(v []byte, found bool, err error) { p.objectLooked(i, v, found, err) })
	}
}

// Prefetch loads into the stash every object named by ids and timestamps
// that the stash does not hold yet: from the cache if it has it, else
// through the trees (id tree, then object tree), at most PrefetchIOMax
// lookups in flight. It may be called again before execute for a second
// stage (a post names a pending transfer whose accounts it then needs).
// Results enter the stash and cache in request order once all lookups have
// completed, so the order in which IO completes decides nothing. A block
// fault fails the prefetch with its error; the names it could not load stay
// out of the stash, and the caller retries after repair.
func (g *Groove) Prefetch(ids []u128.U128, timestamps []uint64, done func(error)) {
	if g.prefetching || g.scoped {
		panic(fmt.Sprintf("groove %s: prefetch during a prefetch or scope", g.cfg.Name))
	}
	if len(ids) > 0 && g.ids == nil {
		panic(fmt.Sprintf("groove %s: objects have no id", g.cfg.Name))
	}
	p := &g.pf
	*p = prefetch{g: g, done: done, reqs: p.reqs[:0], onID: p.onID, onObject: p.onObject}
	for _, id := range ids {
		if _, ok := g.stash.byID.get(id); ok {
			continue
		}
		if obj, ok := g.cache.get(id); ok {
			g.stashObject(obj)
			continue
		}
		e := g.stash.add(statePending, id, 0)
		g.stash.byID.set(id, e)
		p.reqs = append(p.reqs, request{entry: e, byID: true, id: id})
	}
	for _, ts := range timestamps {
		if _, ok := g.stash.byTS.get(u128.From64(ts)); ok {
			continue
		}
		if g.ids == nil {
			if obj, ok := g.cache.get(u128.From64(ts)); ok {
				g.stashObject(obj)
				continue
			}
		}
		e := g.stash.add(statePending, u128.U128{}, ts)
		g.stash.byTS.set(u128.From64(ts), e)
		p.reqs = append(p.reqs, request{entry: e, ts: ts})
	}
	g.prefetching = true
	p.bind(len(p.reqs))
	p.pump()
}

// stashObject enters a loaded object, sharing the entry of one the stash
// already holds at its timestamp so that no object has two copies.
func (g *Groove) stashObject(obj []byte) int32 {
	ts := g.cfg.timestamp(obj)
	if e, ok := g.stash.byTS.get(u128.From64(ts)); ok && g.stash.entries[e].state == statePresent {
		if g.ids != nil {
			g.stash.byID.set(g.cfg.id(obj), e)
		}
		return e
	}
	var id u128.U128
	if g.ids != nil {
		id = g.cfg.id(obj)
	}
	e := g.stash.add(statePresent, id, ts)
	copy(g.stash.object(e), obj)
	g.stash.byTS.set(u128.From64(ts), e)
	if g.ids != nil {
		g.stash.byID.set(id, e)
	}
	return e
}

// pump starts lookups up to the IO bound. A completion that runs inside
// the call that issued it only marks another round, so a batch served from
// the memtables does not recurse once per object.
func (p *prefetch) pump() {
	if p.running {
		p.again = true
		return
	}
	p.running = true
	for {
		p.again = false
		for p.next < len(p.reqs) && p.active < PrefetchIOMax {
			i := p.next
			p.next++
			p.active++
			p.start(i)
		}
		if !p.again {
			break
		}
	}
	p.running = false
	if p.completed == len(p.reqs) && !p.finished {
		p.finished = true
		p.finish()
	}
}

func (p *prefetch) complete() {
	p.active--
	p.completed++
	p.pump()
}

func (p *prefetch) start(i int) {
	g := p.g
	r := &p.reqs[i]
	if !r.byID {
		p.object(i)
		return
	}
	putID(g.idKey[:], r.id)
	g.ids.Get(g.idKey[:], p.onID[i])
}

func (p *prefetch) idLooked(i int, v []byte, found bool, err error) {
	r := &p.reqs[i]
	switch {
	case err != nil:
		r.err = err
	case !found:
		r.state = stateAbsent
	default:
		r.ts = binary.BigEndian.Uint64(v[idSize:])
		if r.ts == 0 {
			r.state = stateOrphan
			break
		}
		p.object(i)
		return
	}
	p.complete()
}

// object looks request i's timestamp up in the object tree, into its
// stash entry.
func (p *prefetch) object(i int) {
	g := p.g
	putTimestamp(g.tsKey[:], p.reqs[i].ts)
	g.objects.Get(g.tsKey[:], p.onObject[i])
}

func (p *prefetch) objectLooked(i int, v []byte, found bool, err error) {
	g := p.g
	r := &p.reqs[i]
	switch {
	case err != nil:
		r.err = err
	case !found && r.byID:
		r.err = fmt.Errorf("groove %s: id %s names timestamp %d, which holds no object", g.cfg.Name, r.id, r.ts)
	case !found:
		r.state = stateAbsent
	default:
		copy(g.stash.object(r.entry), v[timestampSize:])
		r.state = statePresent
	}
	p.complete()
}

// finish resolves the requests in order. A request whose name the maps no
// longer give to its entry was answered by an earlier one (an id and a
// timestamp of the same object).
func (p *prefetch) finish() {
	g := p.g
	var first error
	for i := range p.reqs {
		r := &p.reqs[i]
		var e int32
		var own bool
		if r.byID {
			e, own = g.stash.byID.get(r.id)
		} else {
			e, own = g.stash.byTS.get(u128.From64(r.ts))
		}
		own = own && e == r.entry
		if !own {
			continue
		}
		fail := func(err error) {
			if first == nil {
				first = err
			}
			if r.byID {
				g.stash.byID.del(r.id)
			} else {
				g.stash.byTS.del(u128.From64(r.ts))
			}
		}
		if r.err != nil {
			fail(r.err)
			continue
		}
		if r.state != statePresent {
			g.stash.entries[r.entry].state = r.state
			continue
		}
		obj := g.stash.object(r.entry)
		ts := g.cfg.timestamp(obj)
		if ts != r.ts {
			fail(fmt.Errorf("groove %s: object at timestamp %d holds timestamp %d", g.cfg.Name, r.ts, ts))
			continue
		}
		if e, ok := g.stash.byTS.get(u128.From64(ts)); ok && e != r.entry && g.stash.entries[e].state == statePresent {
			g.stash.byID.set(r.id, e) // loaded twice: keep the first copy
			continue
		}
		var id u128.U128
		if g.ids != nil {
			id = g.cfg.id(obj)
			if r.byID && id != r.id {
				fail(fmt.Errorf("groove %s: id %s names an object with id %s", g.cfg.Name, r.id, id))
				continue
			}
		}
		g.stash.entries[r.entry] = entry{state: statePresent, id: id, ts: ts}
		g.stash.byTS.set(u128.From64(ts), r.entry)
		if g.ids != nil {
			g.stash.byID.set(id, r.entry)
		}
		g.cache.upsert(g.cacheKey(obj), obj)
	}
	g.prefetching = false
	p.done(first)
}
