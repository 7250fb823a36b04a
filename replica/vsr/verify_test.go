package vsr

import (
	"testing"

	"pgregory.net/rapid"

	"viewstamp/replica/storage"
	"viewstamp/replica/u128"
)

// naiveVerifiedFrom is the definition verifiedFrom must agree with: walk from
// the head down the hash chain until a link is missing.
func naiveVerifiedFrom(j *journal, head uint64) uint64 {
	cur, ok := j.header(head)
	if !ok {
		return head + 1
	}
	v := head
	for v > 0 {
		prev, ok := j.header(v - 1)
		if !ok || prev.Checksum != cur.Parent {
			break
		}
		cur = prev
		v--
	}
	return v
}

// Small on purpose: ops run past the slot count, so setting a header also
// pushes an older op out of its slot.
const (
	verifySlots   = 16
	verifyOpLimit = 3 * verifySlots
	verifyForks   = 3 // checksums per op: links hold often, but not always
)

func testSum(op uint64, fork int) u128.U128 {
	return u128.U128{Lo: op*verifyForks + uint64(fork) + 1, Hi: 0x5eed}
}

func testHeader(op uint64, fork, parentFork int) Header {
	h := Header{Command: CommandPrepare, Op: op, Checksum: testSum(op, fork)}
	if op > 0 {
		h.Parent = testSum(op-1, parentFork)
	}
	return h
}

// The incremental walk gives the naive walk's answer after any sequence of
// header changes, head moves and changes made behind the journal's back.
func TestVerifiedFromMatchesNaiveWalk(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		j := newJournal(Config{Config: storage.Config{JournalSlotCount: verifySlots, SectorSize: 4096}}, nil, nil)
		head := uint64(0)
		root := testHeader(0, 0, 0)
		j.setHeader(&root)
		steps := rapid.IntRange(1, 200).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			switch rapid.IntRange(0, 7).Draw(t, "action") {
			case 0, 1:
				// The common case: a prepare chained to the head extends it.
				if head+1 < verifyOpLimit {
					cur, _ := j.header(head)
					h := testHeader(head+1, rapid.IntRange(0, verifyForks-1).Draw(t, "fork"), 0)
					if cur != nil {
						h.Parent = cur.Checksum
					}
					j.setHeader(&h)
					head++
				}
			case 2:
				op := rapid.Uint64Range(0, verifyOpLimit-1).Draw(t, "op")
				h := testHeader(op, rapid.IntRange(0, verifyForks-1).Draw(t, "fork"), rapid.IntRange(0, verifyForks-1).Draw(t, "parent"))
				j.setHeader(&h)
			case 3:
				j.removeHeader(rapid.Uint64Range(0, verifyOpLimit-1).Draw(t, "op"))
			case 4:
				head = rapid.Uint64Range(0, verifyOpLimit-1).Draw(t, "head")
			case 5:
				// As recovery does: fill a slot directly, then bump the version.
				op := rapid.Uint64Range(0, verifyOpLimit-1).Draw(t, "op")
				s := j.slotFor(op)
				s.has, s.header = true, testHeader(op, rapid.IntRange(0, verifyForks-1).Draw(t, "fork"), rapid.IntRange(0, verifyForks-1).Draw(t, "parent"))
				j.version++
			case 6:
				// Ask twice with nothing changed in between: the cached
				// answer must be the same one.
				j.verifiedFrom(head)
			case 7:
				// As a checkpoint's open does: what is behind it must chain
				// down from its header.
				cp := rapid.Uint64Range(0, verifyOpLimit-1).Draw(t, "checkpoint")
				forgetBehindChecked(t, j, cp, testSum(cp, rapid.IntRange(0, verifyForks-1).Draw(t, "fork")))
			}
			if got, want := j.verifiedFrom(head), naiveVerifiedFrom(j, head); got != want {
				t.Fatalf("step %d: head %d: verifiedFrom %d, naive walk %d", i, head, got, want)
			}
		}
	})
}

// Extending the head by one op re-checks one link, not the whole log: the
// walk finds the chain below the old head already verified and jumps over it.
func TestVerifiedFromExtendsInConstantTime(t *testing.T) {
	const ops = 1000
	j := newJournal(Config{Config: storage.Config{JournalSlotCount: 1024, SectorSize: 4096}}, nil, nil)
	root := testHeader(0, 0, 0)
	j.setHeader(&root)
	for op := uint64(1); op <= ops; op++ {
		h := testHeader(op, 0, 0)
		j.setHeader(&h)
		before := j.chain
		if v := j.verifiedFrom(op); v != 0 {
			t.Fatalf("op %d: verified from %d, want 0", op, v)
		}
		if op > 1 && (!before.ok || before.lo != 0 || before.hi != op-1) {
			t.Fatalf("op %d: segment before the walk is %+v, want [0, %d]", op, before, op-1)
		}
	}
	if j.chain.lo != 0 || j.chain.hi != ops {
		t.Fatalf("segment [%d, %d], want [0, %d]", j.chain.lo, j.chain.hi, ops)
	}
}

// forgetBehindChecked runs forgetBehind and checks what it leaves: every
// header at or below cp chains down from sum, and every header it took was
// either above a break in that chain or not on it.
func forgetBehindChecked(t interface{ Fatalf(string, ...any) }, j *journal, cp uint64, sum u128.U128) {
	before := make(map[uint64]Header)
	for i := range j.slots {
		if s := &j.slots[i]; s.has {
			before[s.header.Op] = s.header
		}
	}
	forgot := j.forgetBehind(cp, sum)
	chained := make(map[uint64]bool)
	for op, want := cp, sum; ; op-- {
		h, ok := before[op]
		if !ok || h.Checksum != want {
			break
		}
		chained[op], want = true, h.Parent
		if op == 0 {
			break
		}
	}
	gone := 0
	for op, h := range before {
		_, kept := j.header(op)
		switch {
		case op > cp && !kept:
			t.Fatalf("checkpoint %d: forgot op %d, above it", cp, op)
		case op <= cp && chained[op] && !kept:
			t.Fatalf("checkpoint %d: forgot op %d (%v), chained to the checkpoint's header", cp, op, h.Checksum)
		case op <= cp && !chained[op] && kept:
			t.Fatalf("checkpoint %d: kept op %d (%v), not chained to the checkpoint's header", cp, op, h.Checksum)
		case !kept:
			gone++
		}
	}
	if gone != forgot {
		t.Fatalf("checkpoint %d: forgot %d headers, reported %d", cp, gone, forgot)
	}
}

// A replica that synced over a truncated leftover keeps it no longer: the
// leftover at op 5 (fork 1) is not what checkpoint 6's header chains down
// to, and it and everything below it go, while the canonical ops above the
// checkpoint stay (seed 8860050: the leftover was served as executed).
func TestForgetBehindDropsSyncedOverLeftover(t *testing.T) {
	j := newJournal(Config{Config: storage.Config{JournalSlotCount: verifySlots, SectorSize: 4096}}, nil, nil)
	for op := uint64(0); op <= 9; op++ {
		h := testHeader(op, 0, 0)
		if op == 5 {
			h = testHeader(op, 1, 0)
		}
		j.setHeader(&h)
	}
	forgetBehindChecked(t, j, 6, testSum(6, 0))
	for op := uint64(0); op <= 5; op++ {
		if _, ok := j.header(op); ok {
			t.Fatalf("op %d kept", op)
		}
	}
	for op := uint64(6); op <= 9; op++ {
		if _, ok := j.header(op); !ok {
			t.Fatalf("op %d forgotten", op)
		}
	}
}

// Forgetting a faulty slot's header behind the checkpoint clears the fault
// only when the damage is known to be that op's (an intact ring entry named
// it at open): a header installed over damage of unknown extent leaves the
// slot faulty, so the op the damage may hide is never nacked (seed 8874197).
func TestForgetBehindKeepsUnknownDamage(t *testing.T) {
	for _, tc := range []struct {
		name      string
		faultyFor uint64
		faulty    bool
	}{
		{"damage of the op forgotten", 5, false},
		{"damage of unknown extent", 0, true},
	} {
		j := newJournal(Config{Config: storage.Config{JournalSlotCount: verifySlots, SectorSize: 4096}}, nil, nil)
		for op := uint64(0); op <= 9; op++ {
			h := testHeader(op, 0, 0)
			if op == 5 {
				h = testHeader(op, 1, 0) // a leftover checkpoint 6 does not chain to
			}
			j.setHeader(&h)
		}
		s := j.slotFor(5)
		s.faulty, s.faultyFor = true, tc.faultyFor
		j.forgetBehind(6, testSum(6, 0))
		if s.has {
			t.Fatalf("%s: op 5 kept", tc.name)
		}
		if got := j.faulty(5 + verifySlots); got != tc.faulty {
			t.Errorf("%s: slot faulty %v after the forget, want %v", tc.name, got, tc.faulty)
		}
	}
}
