package workload

// The generator's memory is bounded like the model's (model_window.go): it
// remembers a transfer only while a later request may name it or its reply
// is due, and it caps the pending transfers it leaves unresolved, which the
// ledger and the model must keep for as long as they stay pending.
const (
	// sentKept is how many of the newest transfers sent stay known
	// whatever else holds them: far more than can be in flight at once
	// (clients × batch max), so a reply always finds its transfer.
	sentKept = 4096
	// sweepMin is the size of the transfer map at which the first sweep
	// runs; later sweeps run when it doubles what the last one kept.
	sweepMin = 16384
	// pendingsMax caps the pending transfers believed unresolved: past it,
	// new pending transfers always carry a timeout, so they expire.
	pendingsMax = 1024
)

// track records a transfer sent for the first time.
func (g *Generator) track(t *gTransfer) {
	t.sentAt = g.sends
	g.sends++
	g.transfers[t.ev.ID] = t
	g.sentOrder = append(g.sentOrder, t)
	if len(g.sentOrder) >= max(sweepMin, g.sweepAt) {
		g.sweep()
	}
}

// sweep forgets the transfers no sample, list or in-flight request holds.
func (g *Generator) sweep() {
	g.mark++
	for _, r := range []*ring[*gTransfer]{&g.recent, &g.failed, &g.resolved} {
		for _, t := range r.items {
			t.mark = g.mark
		}
	}
	for _, t := range g.pendings {
		t.mark = g.mark
	}
	for _, t := range g.closers {
		t.mark = g.mark
	}
	kept := g.sentOrder[:0]
	for _, t := range g.sentOrder {
		if t.mark == g.mark || t.taken || t.sentAt+sentKept > g.sends {
			kept = append(kept, t)
		} else {
			delete(g.transfers, t.ev.ID)
		}
	}
	clear(g.sentOrder[len(kept):])
	g.sentOrder = kept
	g.sweepAt = 2 * len(kept)
}

// pendingsFull reports whether new pending transfers must expire.
func (g *Generator) pendingsFull() bool { return len(g.pendings) >= pendingsMax }

// recentFloor is the oldest timestamp among the recently sent transfers
// that were created (zero if none): a scan from there stays inside what the
// auditor holds exactly.
func (g *Generator) recentFloor() uint64 {
	var floor uint64
	for _, t := range g.recent.items {
		if t.ts != 0 && (floor == 0 || t.ts < floor) {
			floor = t.ts
		}
	}
	return floor
}
