package main

import (
	"context"
	"testing"
	"time"

	"viewstamp/bench"
)

// TestRaftLedger drives a small load through three raft nodes and checks,
// with the benchmark's own verification, that the leader's ledger holds
// every transfer sent, and that the followers applied the same log.
func TestRaftLedger(t *testing.T) {
	c, err := newCluster(3, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	leader, err := c.leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := bench.Config{AccountCount: 100, TransferCount: 5000, BatchSize: 500, Seed: 7}
	res, err := bench.Run(ctx, cfg, []bench.Submit{leader.Submit, leader.Submit})
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != cfg.TransferCount || res.MismatchCount != 0 {
		t.Fatalf("created %d of %d, %d mismatches", res.Created, cfg.TransferCount, res.MismatchCount)
	}
	// Followers apply after the leader; wait for them to reach its state.
	want := leader.checksum()
	for _, nd := range c.nodes[1:] {
		for nd.checksum() != want {
			if ctx.Err() != nil {
				t.Fatalf("node %d's ledger differs from the leader's", nd.id)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
