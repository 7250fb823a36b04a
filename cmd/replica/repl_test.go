package main

import (
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// The REPL and the benchmark against a real one-replica process: statements
// whose replies show the ledger's effects, a benchmark whose balances verify.
func TestReplAndBenchmarkOnOneReplica(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	c := newTestCluster(t, ctx, 1)
	defer c.stopAll()
	addrs := strings.Join(c.addrs, ",")
	cluster := formatU128(c.cluster)

	script := `create_accounts id=1 ledger=700 code=10, id=2 ledger=700 code=10 flags=debits_must_not_exceed_credits;
create_transfers id=1 debit_account_id=1 credit_account_id=2 amount=10 ledger=700 code=10,
  id=2 debit_account_id=2 credit_account_id=1 amount=11 ledger=700 code=10;
lookup_accounts id=1, id=2;`
	out, err := exec.CommandContext(ctx, c.bin, "repl", "--cluster", cluster, "--addresses", addrs, "--command", script).CombinedOutput()
	if err != nil {
		t.Fatalf("repl: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{"exceeds_credits", "id=1 ", "debits_posted=10", "credits_posted=10"} {
		if !strings.Contains(text, want) {
			t.Errorf("repl output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "debits_posted=11") {
		t.Errorf("the transfer past account 2's credits was applied:\n%s", text)
	}

	bad, err := exec.CommandContext(ctx, c.bin, "repl", "--cluster", cluster, "--addresses", addrs, "--command", "create_accounts id=3 ledgr=700 code=10;").CombinedOutput()
	if err == nil || !strings.Contains(string(bad), `"ledgr"`) {
		t.Errorf("a misspelt field: %v\n%s", err, bad)
	}

	out, err = exec.CommandContext(ctx, c.bin, "benchmark", "--cluster", cluster, "--addresses", addrs,
		"--account-count", "100", "--transfer-count", "20000", "--batch-size", "1000", "--clients", "2", "--seed", "7").CombinedOutput()
	if err != nil {
		t.Fatalf("benchmark: %v\n%s", err, out)
	}
	t.Logf("benchmark:\n%s", out)
	for _, re := range []string{`transfers created 20000\b`, `[0-9]+ transfers/s`, `p50 [0-9.]+ ms, p99 [0-9.]+ ms, max [0-9.]+ ms`, `balances verified for [1-9][0-9]* accounts: ok`} {
		if !regexp.MustCompile(re).Match(out) {
			t.Errorf("benchmark output lacks %s", re)
		}
	}
}
