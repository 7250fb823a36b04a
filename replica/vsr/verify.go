package vsr

// chainSegment remembers a run of ops [lo, hi] whose headers are all in the
// log, each naming the one below it as its parent, so that finding the
// verified suffix after a change re-checks only the links the change can
// have broken or made: a new head walks down until it meets the segment and
// jumps to its bottom, and a change inside the segment shortens it to the
// part below the change.
type chainSegment struct {
	ok     bool
	lo, hi uint64
	// version is the journal version the segment is current for. Every
	// header change that goes through setHeader or removeHeader keeps it
	// current; any other change of the slots (recovery fills them directly)
	// bumps only journal.version, which discards the segment.
	version uint64

	// The last answer, for as long as neither the log nor the head moves.
	cached           bool
	cachedHead, from uint64
	cachedVersion    uint64
}

// cut records that the header at op changed or left the log.
func (c *chainSegment) cut(op uint64) {
	if !c.ok || op < c.lo || op > c.hi {
		return
	}
	if op == c.lo {
		c.ok = false
		return
	}
	c.hi = op - 1
}

// bumpVersion marks a header change already cut from the segment.
func (j *journal) bumpVersion() {
	current := j.chain.version == j.version
	j.version++
	if current {
		j.chain.version = j.version
	}
}

// verifiedFrom returns the lowest op v such that every header in [v, head] is
// present and hash-chained to the header at head (head+1 if there is none).
func (j *journal) verifiedFrom(head uint64) uint64 {
	c := &j.chain
	if c.cached && c.cachedVersion == j.version && c.cachedHead == head {
		return c.from
	}
	if c.version != j.version {
		c.ok = false
		c.version = j.version
	}
	c.cached, c.cachedVersion, c.cachedHead = true, j.version, head
	c.from = j.walkVerified(head)
	return c.from
}

func (j *journal) walkVerified(head uint64) uint64 {
	c := &j.chain
	cur, ok := j.header(head)
	if !ok {
		return head + 1
	}
	v := head
	for v > 0 {
		if c.ok && c.lo < v && v <= c.hi {
			// Every link in (lo, v] was checked and none of its headers
			// has changed since.
			v = c.lo
			if cur, ok = j.header(v); !ok {
				panic("journal: verified chain segment lost a header without being cut")
			}
			continue
		}
		prev, ok := j.header(v - 1)
		if !ok || prev.Checksum != cur.Parent {
			break
		}
		cur = prev
		v--
	}
	c.ok, c.lo, c.hi = true, v, head
	return v
}

// verifiedFrom returns the lowest op v such that every header in [v, op] is
// present and hash-chained to the head. The head itself is trusted: it was
// prepared in our log view or installed by a `view` message.
func (r *Replica) verifiedFrom() uint64 { return r.journal.verifiedFrom(r.op) }
