package vsr

import "fmt"

// smSteps are the two state machine steps of the op executing (prefetch,
// then compact). State machines may complete a step at once (one held in
// memory) or from a storage completion; a step that completes at once
// leaves a run of ops a loop in commitJournal, not a recursion, and one
// that completes later resumes the op and the loop. Only one op executes
// at a time (Replica.committing), so each step's state and its completion
// callback are bound once rather than made per op: the commit path
// allocates nothing for them. bindSteps binds them anew when an op is given
// up mid-step, so that the state machine's late completion of the abandoned
// step finds itself unbound and does nothing.
type smSteps struct {
	prefetch, compact smStep
	// prefetchDone and compactDone are the callbacks the state machine is
	// handed, bound in bindSteps.
	prefetchDone, compactDone func()
}

type smStep struct {
	inline    bool // the state machine's call has not returned yet
	completed bool
}

func (s *smStep) begin() { s.inline, s.completed = true, false }

// started marks the state machine's call returned and reports whether the
// step completed within it.
func (s *smStep) started() bool {
	s.inline = false
	return s.completed
}

// complete records the completion and reports whether the op must be
// resumed from here (the step completed after the call returned).
func (s *smStep) complete(index uint8, name string) bool {
	if s.completed {
		panic(fmt.Sprintf("replica %d: a state machine %s completed twice", index, name))
	}
	s.completed = true
	return !s.inline
}

func (r *Replica) bindSteps() {
	s := &smSteps{}
	s.prefetchDone = func() {
		if r.steps == s && s.prefetch.complete(r.index, "prefetch") && r.executePrefetched() {
			r.commitJournal()
		}
	}
	s.compactDone = func() {
		if r.steps == s && s.compact.complete(r.index, "compact") {
			r.executeCompacted()
			r.commitJournal()
		}
	}
	r.steps = s
}
