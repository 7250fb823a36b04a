package groove

import (
	"encoding/binary"
	"math"
	"sort"

	"viewstamp/replica/storage/lsm"
	"viewstamp/replica/u128"
)

// A Stream is one operand of a query: the timestamps of an index's entries
// for one value, of every object, or the intersection or union of other
// streams. A stream is consumed by one Query. Streams are polled: advance
// positions a stream at its first timestamp at or past t (in the query's
// direction) and answers at once from what it has loaded, or starts one
// scan and reports that it waits. Keeping IO at the leaves lets one driver
// run any tree of intersections and unions without recursion through
// completions.
type Stream struct {
	kind     streamKind
	children []*Stream

	// Leaves: a scan of tree for keys prefix ++ timestamp.
	g      *Groove
	tree   *lsm.Tree
	prefix []byte
	q      *query
	buf    []uint64 // the last chunk's timestamps, in the query's direction
	pos    int
	final  bool // the last chunk reached the end of the range
	loaded bool
	wait   bool
	err    error
}

type streamKind uint8

const (
	streamScan streamKind = iota
	streamIntersect
	streamUnion
)

type streamState uint8

const (
	streamReady streamState = iota
	streamExhausted
	streamWaiting
	streamFailed
)

// Index is the stream of objects whose field has value (field is an index
// into the descriptor's Fields). A zero value matches nothing: zeros are
// not indexed.
func (g *Groove) Index(field int, value u128.U128) *Stream {
	w := g.cfg.Fields[field].Width
	prefix := make([]byte, w+timestampSize)
	putFieldKey(prefix, w, value, 0)
	return &Stream{kind: streamScan, g: g, tree: g.fields[field], prefix: prefix[:w]}
}

// All is the stream of every object, from the object tree.
func (g *Groove) All() *Stream {
	return &Stream{kind: streamScan, g: g, tree: g.objects}
}

// Intersect is the stream of timestamps in every one of streams: a zig-zag
// merge, where a stream ahead makes the others seek to its timestamp, so
// the scans skip what cannot match.
func Intersect(streams ...*Stream) *Stream {
	if len(streams) == 0 {
		panic("groove: empty intersection")
	}
	return &Stream{kind: streamIntersect, children: streams}
}

// Union is the stream of timestamps in any of streams, each once.
func Union(streams ...*Stream) *Stream {
	if len(streams) == 0 {
		panic("groove: empty union")
	}
	return &Stream{kind: streamUnion, children: streams}
}

type query struct {
	lo, hi   uint64
	reversed bool
	limit    int
	chunk    int
	out      []uint64
	inflight int
	ended    bool
	err      error
	root     *Stream
	t        uint64
	loop     struct{ running, again bool }
	done     func([]uint64, error)
}

// Query returns, in timestamp order (descending if reversed), up to limit
// timestamps in [tsMin, tsMax] that stream yields. Each leaf scans chunks
// of at most QueryChunkMax entries from where the merge needs it, so the
// cost is the results plus the entries and blocks the merge steps over,
// never the size of the index. Objects are then loaded with Prefetch.
func Query(stream *Stream, tsMin, tsMax uint64, limit int, reversed bool, done func(timestamps []uint64, err error)) {
	if limit < 1 {
		panic("groove: query limit must be positive")
	}
	q := &query{lo: tsMin, hi: tsMax, reversed: reversed, limit: limit,
		chunk: min(limit, QueryChunkMax), root: stream, done: done, t: tsMin}
	if reversed {
		q.t = tsMax
	}
	if !stream.bind(q) {
		panic("groove: a stream used twice, or streams of different grooves")
	}
	if tsMin > tsMax {
		q.ended = true
	}
	q.kick()
}

// bind attaches the stream's leaves to q; each stream serves one query.
func (s *Stream) bind(q *query) bool {
	if s.kind != streamScan {
		var g *Groove
		for _, c := range s.children {
			if !c.bind(q) {
				return false
			}
			if cg := c.groove(); g == nil {
				g = cg
			} else if cg != g {
				return false
			}
		}
		return true
	}
	if s.q != nil {
		return false
	}
	s.q = q
	return true
}

func (s *Stream) groove() *Groove {
	for s.kind != streamScan {
		s = s.children[0]
	}
	return s.g
}

// ahead reports whether a comes after b in the query's direction.
func (q *query) ahead(a, b uint64) bool {
	if q.reversed {
		return a < b
	}
	return a > b
}

func (q *query) kick() {
	if q.loop.running {
		q.loop.again = true
		return
	}
	q.loop.running = true
	for {
		q.loop.again = false
		q.step()
		if !q.loop.again {
			break
		}
	}
	q.loop.running = false
	if q.ended && q.inflight == 0 && q.done != nil {
		done := q.done
		q.done = nil
		if q.err != nil {
			done(nil, q.err)
		} else {
			done(q.out, nil)
		}
	}
}

func (q *query) step() {
	for !q.ended {
		st, h := q.root.advance(q.t)
		switch st {
		case streamWaiting:
			return
		case streamFailed:
			q.err = q.root.failure()
			q.ended = true
			return
		case streamExhausted:
			q.ended = true
			return
		}
		if h < q.lo || h > q.hi {
			q.ended = true
			return
		}
		q.out = append(q.out, h)
		if len(q.out) == q.limit || (!q.reversed && h == math.MaxUint64) || (q.reversed && h == 0) {
			q.ended = true
			return
		}
		if q.reversed {
			q.t = h - 1
		} else {
			q.t = h + 1
		}
	}
}

func (s *Stream) failure() error {
	if s.err != nil {
		return s.err
	}
	for _, c := range s.children {
		if err := c.failure(); err != nil {
			return err
		}
	}
	return nil
}

// advance positions s at its first timestamp at or past t. The targets a
// stream sees only move forward (in the query's direction).
func (s *Stream) advance(t uint64) (streamState, uint64) {
	switch s.kind {
	case streamIntersect:
		return s.advanceIntersect(t)
	case streamUnion:
		return s.advanceUnion(t)
	}
	return s.advanceScan(t)
}

func (s *Stream) advanceIntersect(t uint64) (streamState, uint64) {
	for {
		agreed := true
		for _, c := range s.children {
			st, h := c.advance(t)
			if st != streamReady {
				return st, 0
			}
			if h != t {
				// h is ahead of t: nothing before h can be in c, so
				// every stream seeks to h.
				t, agreed = h, false
				break
			}
		}
		if agreed {
			return streamReady, t
		}
	}
}

func (s *Stream) advanceUnion(t uint64) (streamState, uint64) {
	q := s.leaf().q
	best, have, waiting := uint64(0), false, false
	for _, c := range s.children {
		st, h := c.advance(t)
		switch st {
		case streamFailed:
			return st, 0
		case streamWaiting:
			waiting = true
		case streamReady:
			if !have || q.ahead(best, h) {
				best, have = h, true
			}
		}
	}
	switch {
	case waiting:
		return streamWaiting, 0
	case !have:
		return streamExhausted, 0
	}
	return streamReady, best
}

func (s *Stream) leaf() *Stream {
	for s.kind != streamScan {
		s = s.children[0]
	}
	return s
}

func (s *Stream) advanceScan(t uint64) (streamState, uint64) {
	q := s.q
	for {
		switch {
		case s.err != nil:
			return streamFailed, 0
		case s.wait:
			return streamWaiting, 0
		}
		// A seek inside the chunk: the first entry not before t.
		s.pos += sort.Search(len(s.buf)-s.pos, func(i int) bool { return !q.ahead(t, s.buf[s.pos+i]) })
		if s.pos < len(s.buf) {
			return streamReady, s.buf[s.pos]
		}
		if s.loaded && s.final {
			return streamExhausted, 0
		}
		s.scan(t)
	}
}

// scan loads the next chunk, from t to the end of the query's range.
func (s *Stream) scan(t uint64) {
	q := s.q
	ks := len(s.prefix) + timestampSize
	lo := make([]byte, ks)
	hi := make([]byte, ks)
	copy(lo, s.prefix)
	copy(hi, s.prefix)
	from, to := t, q.hi
	if q.reversed {
		from, to = q.lo, t
	}
	putTimestamp(lo[len(s.prefix):], from)
	putTimestamp(hi[len(s.prefix):], to)
	s.wait = true
	q.inflight++
	s.tree.Scan(lo, hi, q.chunk, q.reversed, func(values [][]byte, err error) {
		s.wait = false
		q.inflight--
		if err != nil {
			s.err = err
		} else {
			s.buf, s.pos = s.buf[:0], 0
			for _, v := range values {
				s.buf = append(s.buf, binary.BigEndian.Uint64(v[len(s.prefix):]))
			}
			s.loaded, s.final = true, len(values) < q.chunk
		}
		q.kick()
	})
}

// IndexEntry is one entry of an index range scan.
type IndexEntry struct {
	Value     u128.U128
	Timestamp uint64
}

// ScanIndex returns up to limit entries of field's index with values in
// [valueMin, valueMax], in (value, timestamp) order or reversed: a range
// over the field itself, as the pulse's scan of expires_at needs. A limit
// of 0 or less returns them all.
func (g *Groove) ScanIndex(field int, valueMin, valueMax u128.U128, limit int, reversed bool, done func([]IndexEntry, error)) {
	f := g.cfg.Fields[field]
	ks := f.Width + timestampSize
	lo, hi := make([]byte, ks), make([]byte, ks)
	putFieldKey(lo, f.Width, valueMin, 0)
	putFieldKey(hi, f.Width, valueMax, math.MaxUint64)
	g.fields[field].Scan(lo, hi, limit, reversed, func(values [][]byte, err error) {
		if err != nil {
			done(nil, err)
			return
		}
		out := make([]IndexEntry, len(values))
		for i, v := range values {
			if f.Width == WidthU128 {
				out[i].Value = u128.U128{Hi: binary.BigEndian.Uint64(v), Lo: binary.BigEndian.Uint64(v[8:])}
			} else {
				out[i].Value = u128.From64(binary.BigEndian.Uint64(v))
			}
			out[i].Timestamp = binary.BigEndian.Uint64(v[f.Width:])
		}
		done(out, nil)
	})
}
