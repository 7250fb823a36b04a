package node

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	// benchTimeout bounds benchmark.js (51,200 transfers) and, apart, our
	// own benchmark of the same count.
	benchTimeout = 5 * time.Minute
	// benchTransfers and benchBatch are benchmark.js's own numbers, given
	// to replica benchmark so that both figures measure the same load.
	benchTransfers = 51200
	benchBatch     = 253
	envBench       = "VIEWSTAMP_NODE_BENCH"
)

// TestBenchmarkJS runs the client package's dist/benchmark.js against one
// replica, then `replica benchmark` (our Go client) with the same
// transfer count and batch size against the same replica, and prints both
// figures. A measurement, not a check: `make node-bench` runs it.
func TestBenchmarkJS(t *testing.T) {
	if os.Getenv(envBench) == "" {
		t.Skipf("a measurement: `make node-bench` runs it (%s=1)", envBench)
	}
	h := newHarness(t)
	// benchmark.js expects a fresh database: one cluster per run. The
	// --development run is TigerBeetle's CI's (32 KiB requests).
	for _, mode := range []struct {
		name  string
		flags []string
	}{
		{"production", nil},
		{"development", []string{"--development"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			c := h.newCluster(t, 1, mode.flags...)
			run := h.runNode(t, "benchmark", benchTimeout, 0, []string{"TB_ADDRESS=" + c.addrs[0]}, nil, func(line string) {
				fmt.Fprintf(os.Stdout, "benchmark.js (%s): %s\n", mode.name, line)
			}, filepath.Join(h.pkg, "dist", "benchmark.js"))
			if run.err != nil || run.timedOut {
				t.Fatalf("dist/benchmark.js: %v (timed out: %v)\n%s", run.err, run.timedOut, run.stderr)
			}
			if !strings.Contains(strings.Join(run.lines, "\n"), "transfers per second:") {
				t.Fatalf("dist/benchmark.js printed no figure")
			}
			// Then our Go client with benchmark.js's load against the same
			// replica; its account ids are its own.
			ctx, cancel := context.WithTimeout(context.Background(), benchTimeout)
			defer cancel()
			out, err := exec.CommandContext(ctx, h.bin, "benchmark", "--addresses", c.addrs[0],
				"--transfer-count", fmt.Sprint(benchTransfers), "--batch-size", fmt.Sprint(benchBatch)).CombinedOutput()
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				fmt.Fprintf(os.Stdout, "replica benchmark (%s): %s\n", mode.name, line)
			}
			if err != nil {
				t.Fatalf("replica benchmark: %v", err)
			}
			c.stop(0)
		})
	}
}
