package workload

// The model keeps a window of the ledger's history, not all of it, so that a
// run's memory is bounded by these constants rather than by its length. What
// a later event can still name stays: accounts (few, all kept), the newest
// transferWindow transfers (every transfer from the horizon on, so a scan
// over them is exact), pending transfers not yet resolved (a post or void may
// come at any time), the newest resolvedWindow resolutions (a late post or
// void of them must fail as already posted, voided or expired) and the newest
// orphanWindow ids burned by transient failures. The generator names only
// ids from its own, much smaller samples (ringSize each), so every id it
// sends is one the model still holds; scans whose range reaches behind the
// horizon are checked exactly in the window and by shape behind it (see
// auditor_window.go).
const (
	transferWindow = 8192
	resolvedWindow = 4096
	orphanWindow   = 4096
	// windowBatches widens the transfer window by that many full batches,
	// more than the simulator's clients (at most 8) have in flight, so
	// that what was sent recently is still held when it commits.
	windowBatches = 16
)

// windows are a model's retention limits.
type windows struct{ transfers, resolved, orphans int }

func windowsFor(replyMax int) windows {
	return windows{transferWindow + windowBatches*replyMax, resolvedWindow, orphanWindow}
}

type resolvedEntry struct {
	t   *mTransfer
	seq uint64
}

// noteResolved records that p left the pending state, which pins it by id
// for resolvedWindow more resolutions.
func (m *model) noteResolved(p *mTransfer) {
	m.resolvedSeq++
	p.resolvedAt = m.resolvedSeq
	m.resolvedList = append(m.resolvedList, resolvedEntry{p, m.resolvedSeq})
}

func (m *model) addOrphan(id U128) {
	m.orphans[id] = true
	m.orphanList = append(m.orphanList, id)
}

// pinned reports whether t must stay known by id although out of the window.
func (m *model) pinned(t *mTransfer) bool {
	return t.state == statePending || t.resolvedAt != 0 && t.resolvedAt+uint64(m.window.resolved) > m.resolvedSeq
}

// forget drops t by id unless it is in the window or pinned.
func (m *model) forget(t *mTransfer) {
	if t.forgotten && !m.pinned(t) && m.transfers[t.ID] == t {
		delete(m.transfers, t.ID)
	}
}

// trim forgets what fell out of the windows. It runs between operations,
// never inside a linked chain, whose undo relies on the lists' ends.
func (m *model) trim() {
	for len(m.transferList) > m.window.transfers {
		t := m.transferList[0]
		m.transferList[0] = nil
		m.transferList = m.transferList[1:]
		m.horizon = t.Timestamp + 1
		delete(m.transferAt, t.Timestamp)
		for _, id := range [2]U128{t.DebitAccountID, t.CreditAccountID} {
			// t is the oldest in the window, hence in each account's list.
			if a := m.accounts[id]; a != nil && len(a.transfers) > 0 && a.transfers[0] == t {
				a.transfers[0] = nil
				a.transfers = a.transfers[1:]
			}
		}
		t.forgotten = true
		m.forget(t)
	}
	for len(m.resolvedList) > m.window.resolved {
		e := m.resolvedList[0]
		m.resolvedList = m.resolvedList[1:]
		if e.t.resolvedAt == e.seq {
			m.forget(e.t)
		}
	}
	for len(m.orphanList) > m.window.orphans {
		delete(m.orphans, m.orphanList[0])
		m.orphanList = m.orphanList[1:]
	}
}
