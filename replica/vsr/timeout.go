package vsr

import "math/rand/v2"

// backoffShiftMax caps a retry timeout's backoff at base << 3 (8x).
const backoffShiftMax = 3

// timeoutKind says what a fire means. The two must not be confused: a
// heartbeat that backed off like a retry would drift towards the failure
// detector it exists to keep quiet.
type timeoutKind uint8

const (
	// periodic: work done on a schedule whether or not anything is wrong
	// (heartbeat, ping, repair, resend). Every period is base plus jitter.
	periodic timeoutKind = iota
	// retry: a fire means what it waited for has failed again, so each fire
	// waits twice as long as the last, up to 8x, until the timeout restarts.
	retry
)

// timeout counts ticks. Each (re)arm draws jitter from the replica's PRNG so
// that replicas which time out together do not keep retrying in lock step.
type timeout struct {
	kind      timeoutKind
	base      uint64
	remaining uint64
	attempts  uint32
	running   bool
}

func newTimeout(kind timeoutKind, base uint64) timeout { return timeout{kind: kind, base: base} }

func (t *timeout) start(rng *rand.Rand) {
	t.startAfter(0, rng)
}

// startAfter starts the timeout as if it had already fired attempts times,
// so that backoff carries over from earlier rounds of the same struggle. For
// a periodic timeout only the first period is stretched: the struggle delays
// when the schedule begins, not how often it then runs.
func (t *timeout) startAfter(attempts uint32, rng *rand.Rand) {
	t.running = true
	t.attempts = attempts
	t.arm(rng)
	if t.kind == periodic {
		t.attempts = 0
	}
}

func (t *timeout) stop() { t.running = false; t.attempts = 0 }

func (t *timeout) arm(rng *rand.Rand) {
	d := t.base << min(t.attempts, backoffShiftMax)
	t.remaining = d + rng.Uint64N(d/4+1)
}

// tick advances the timeout and reports whether it fired; a fired timeout
// re-arms itself, with backoff if it is a retry.
func (t *timeout) tick(rng *rand.Rand) bool {
	if !t.running {
		return false
	}
	if t.remaining > 1 {
		t.remaining--
		return false
	}
	if t.kind == retry {
		t.attempts++
	}
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
