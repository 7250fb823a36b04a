package clock

import (
	"cmp"
	"slices"
)

// Bound says which end of a source's interval a Tuple is.
type Bound uint8

const (
	// Lower sorts before Upper at an equal offset, so that intervals are
	// closed: two that merely touch still agree, at that one point.
	Lower Bound = iota
	Upper
)

// Tuple is one end of one source's interval of clock offsets.
type Tuple struct {
	Source uint8
	Offset int64
	Bound  Bound
}

// Interval is the smallest range of offsets that the largest number of
// sources agree on. SourcesTrue is that number; SourcesFalse the sources
// whose intervals miss it (false tickers, or honest sources the tolerance
// was too tight for).
type Interval struct {
	Lower, Upper int64
	SourcesTrue  int
	SourcesFalse int
}

// compareTuples is a total order, the source breaking ties last, so that any
// sort algorithm leaves the same sequence and the same interval wins.
func compareTuples(a, b Tuple) int {
	if c := cmp.Compare(a.Offset, b.Offset); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Bound, b.Bound); c != 0 {
		return c
	}
	return cmp.Compare(a.Source, b.Source)
}

// SmallestInterval runs Marzullo's algorithm over tuples, a lower and an upper
// bound per source, which it sorts in place. Of the ranges where the most
// intervals overlap it returns the narrowest; of equally narrow ones the
// lowest. With no tuples it returns the zero Interval: no sources.
//
// Sweeping the sorted ends keeps a running count of open intervals; each
// time the count reaches a new high at a lower bound, the range up to the
// next end is where that many sources overlap. A later range matching the
// high replaces it only if narrower, because a narrower agreement pins the
// cluster's time down more tightly with the same support.
func SmallestInterval(tuples []Tuple) Interval {
	if len(tuples) == 0 {
		return Interval{}
	}
	slices.SortFunc(tuples, compareTuples)
	var best, open int
	var iv Interval
	for i, t := range tuples {
		if t.Bound == Upper {
			open--
			continue
		}
		open++
		// A lower bound is never last: its own upper bound sorts after it.
		next := tuples[i+1].Offset
		switch {
		case open > best:
			best = open
			iv.Lower, iv.Upper = t.Offset, next
		case open == best && next-t.Offset < iv.Upper-iv.Lower:
			iv.Lower, iv.Upper = t.Offset, next
		}
	}
	iv.SourcesTrue = best
	iv.SourcesFalse = len(tuples)/2 - best
	return iv
}
