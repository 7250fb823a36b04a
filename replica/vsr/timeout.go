package vsr

import "math/rand/v2"

// timeout counts ticks. Each (re)start draws jitter from the replica's PRNG so
// that replicas which time out together do not keep retrying in lock step;
// repeated firing backs off exponentially up to 8x.
type timeout struct {
	base      uint64
	remaining uint64
	attempts  uint32
	running   bool
}

func (t *timeout) start(rng *rand.Rand) {
	t.running = true
	t.attempts = 0
	t.arm(rng)
}

// startAfter starts the timeout as if it had already fired attempts times,
// so that backoff carries over from earlier rounds of the same struggle.
func (t *timeout) startAfter(attempts uint32, rng *rand.Rand) {
	t.running = true
	t.attempts = attempts
	t.arm(rng)
}

func (t *timeout) stop() { t.running = false; t.attempts = 0 }

func (t *timeout) arm(rng *rand.Rand) {
	d := t.base << min(t.attempts, 3)
	t.remaining = d + rng.Uint64N(d/4+1)
}

// tick advances the timeout and reports whether it fired; a fired timeout
// re-arms itself with backoff.
func (t *timeout) tick(rng *rand.Rand) bool {
	if !t.running {
		return false
	}
	if t.remaining > 1 {
		t.remaining--
		return false
	}
	t.attempts++
	t.arm(rng)
	return true
}

// reset restarts the countdown without backoff, e.g. when the awaited peer
// was heard from.
func (t *timeout) reset(rng *rand.Rand) {
	if t.running {
		t.attempts = 0
		t.arm(rng)
	}
}
