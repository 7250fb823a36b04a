package workload

import (
	"math"
	"strings"
	"testing"

	"viewstamp/replica/multibatch"
)

// smallWindows make a test run forget most of its history.
var smallWindows = windows{transfers: 1024, resolved: 1024, orphans: 600}

// A checker holding only its windows must accept every reply of a ledger
// that remembers everything, on the generator's real traffic: the generator
// names only what the windows still hold, and scans behind the horizon are
// judged correctly. Its memory must stay within the windows.
func TestWindowedAuditorAgreesWithFullModel(t *testing.T) {
	behind := uint64(0)
	for seed := uint64(300); seed < 304; seed++ {
		b := newBench(t, seed, true)
		b.batchMax = 30 // the simulator's, so that few events are in flight
		b.ledger.m.window = windows{math.MaxInt, math.MaxInt, math.MaxInt}
		b.checker.m.window = smallWindows
		b.run(6000)
		m := b.checker.m
		if m.horizon == 0 {
			t.Fatalf("seed %d: the checker never forgot a transfer (%d held)", seed, len(m.transferList))
		}
		pending := 0
		for _, p := range b.ledger.m.transferList {
			if p.state == statePending {
				pending++
			}
		}
		if limit := smallWindows.transfers + smallWindows.resolved + pending; len(m.transfers) > limit {
			t.Fatalf("seed %d: the checker holds %d transfers by id, more than its windows and the %d pending (%d)",
				seed, len(m.transfers), pending, limit)
		}
		if len(b.gen.transfers) > 2*max(sweepMin, sentKept+3*ringSize+pendingsMax) {
			t.Fatalf("seed %d: the generator holds %d transfers", seed, len(b.gen.transfers))
		}
		if full := len(b.ledger.m.transferList); full < 4*smallWindows.transfers {
			t.Fatalf("seed %d: only %d transfers created, too few to test the window", seed, full)
		}
		for _, op := range []uint8{OpGetAccountTransfers, OpGetAccountBalances, OpQueryTransfers} {
			behind += b.checker.counts.query[op].behindHorizon
		}
	}
	if behind == 0 {
		t.Fatal("no scan reached behind the horizon")
	}
}

// Behind the horizon a reply is checked by shape; in the window, exactly.
func TestAuditorJudgesScansBehindItsHorizon(t *testing.T) {
	a := NewAuditor(8)
	a.m.window = windows{transfers: 4, resolved: 4, orphans: 4}
	ts := uint64(1_000_000)
	op := uint64(0)
	commit := func(operation uint8, body, reply []byte) error {
		op++
		ts += 100
		return a.Commit(op, ts, operation, body, reply)
	}
	must := func(operation uint8, body []byte) []byte {
		op++
		ts += 100
		reply, err := a.Apply(ts, operation, body)
		if err != nil {
			t.Fatal(err)
		}
		return reply
	}
	must(OpCreateAccounts, accountsBody(Account{ID: U128{Lo: 1}, Ledger: 1, Code: 1}, Account{ID: U128{Lo: 2}, Ledger: 1, Code: 1}))
	var all []Transfer // what a ledger remembering everything holds
	for i := uint64(1); i <= 10; i++ {
		tr := Transfer{ID: U128{Lo: 100 + i}, DebitAccountID: U128{Lo: 1}, CreditAccountID: U128{Lo: 2},
			Amount: U128{Lo: i}, Ledger: 1, Code: 1}
		must(OpCreateTransfers, transfersBody(tr))
		tr.Timestamp = ts
		all = append(all, tr)
	}
	if a.m.horizon != all[5].Timestamp+1 {
		t.Fatalf("horizon %d, want just past the sixth transfer (%d)", a.m.horizon, all[5].Timestamp)
	}
	query := func(reversed bool) []byte {
		f := QueryFilter{Limit: 8}
		if reversed {
			f.Flags = QueryFilterReversed
		}
		b := make([]byte, QueryFilterSize)
		EncodeQueryFilter(b, &f)
		return multibatch.Encode(QueryFilterSize, b)
	}
	forward, backward := all[:8], []Transfer{all[9], all[8], all[7], all[6], all[5], all[4], all[3], all[2]}
	if err := commit(OpQueryTransfers, query(false), transfersBody(forward...)); err != nil {
		t.Fatalf("a correct reply reaching behind the horizon: %v", err)
	}
	if err := commit(OpQueryTransfers, query(true), transfersBody(backward...)); err != nil {
		t.Fatalf("a correct reversed reply: %v", err)
	}
	swapped := append([]Transfer{all[1], all[0]}, all[2:8]...)
	wrongAmount := append([]Transfer(nil), forward...)
	wrongAmount[7].Amount.Lo++
	short := forward[:7]
	missing := append(append([]Transfer(nil), backward[:3]...), backward[4:]...)
	for _, c := range []struct {
		name     string
		reversed bool
		reply    []Transfer
		want     string
	}{
		{"old records out of order", false, swapped, "out of order"},
		{"a window record altered", false, wrongAmount, "amount expected"},
		{"the limit not reached", false, short, "expected"},
		{"a window record left out", true, missing, "expected"},
	} {
		err := commit(OpQueryTransfers, query(c.reversed), transfersBody(c.reply...))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error naming %q", c.name, err, c.want)
		}
	}
}
