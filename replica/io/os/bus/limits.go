package bus

import (
	"math/rand/v2"
	"sync"
	"time"
)

// backoff is a dialer's reconnect delay: exponential from
// reconnectBackoffMin to reconnectBackoffMax, each delay drawn uniformly
// from its upper half ("equal jitter"), so it still grows but two replicas
// that lost a peer at the same instant do not redial in lockstep.
// backoffShiftMax caps the exponent well below overflow: 2^16 x 10 ms is
// far past reconnectBackoffMax already.
const backoffShiftMax = 16

type backoff struct {
	attempt uint
	rng     *rand.Rand
}

// newBackoff seeds the jitter from the dialing replica and the peer, so
// every (replica, peer) pair draws a different sequence, reproducibly.
func newBackoff(replica, peer uint8) *backoff {
	return &backoff{rng: rand.New(rand.NewPCG(uint64(replica)+1, uint64(peer)+1))}
}

func (b *backoff) reset() { b.attempt = 0 }

func (b *backoff) next() time.Duration {
	d := reconnectBackoffMax
	if b.attempt < backoffShiftMax {
		d = min(d, reconnectBackoffMin<<b.attempt)
	}
	b.attempt++
	half := d / 2
	return half + time.Duration(b.rng.Int64N(int64(half)+1))
}

// budget bounds the bytes posted to the event loop and not yet consumed.
// Readers wait in acquire; the loop releases. One message larger than the
// whole budget still passes when nothing else is outstanding, so no frame
// the size check admitted can wait forever.
type budget struct {
	mu          sync.Mutex
	cond        sync.Cond
	max, posted int
	waiting     int // readers blocked in acquire, for tests
	shutdown    bool
}

func (b *budget) init(max int) {
	b.max = max
	b.cond.L = &b.mu
}

// acquire waits for room for n bytes; false once shut.
func (b *budget) acquire(n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for !b.shutdown && b.posted > 0 && b.posted+n > b.max {
		b.waiting++
		b.cond.Wait()
		b.waiting--
	}
	if b.shutdown {
		return false
	}
	b.posted += n
	return true
}

func (b *budget) release(n int) {
	b.mu.Lock()
	b.posted -= n
	b.mu.Unlock()
	b.cond.Broadcast()
}

// shut wakes every waiter for good: Close must not wait on a loop that may
// have stopped.
func (b *budget) shut() {
	b.mu.Lock()
	b.shutdown = true
	b.mu.Unlock()
	b.cond.Broadcast()
}
