package node

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	// suiteTimeout bounds dist/test.js: it takes seconds against a
	// healthy replica, and a request never answered hangs it forever.
	suiteTimeout = 5 * time.Minute
	// suiteIdle bounds one test of it: the slowest (query accounts,
	// thousands of creates) takes seconds.
	suiteIdle = 90 * time.Second
	// suiteTests is how many tests dist/test.js of 0.17.9 declares: fewer
	// PASSED lines means some did not run.
	suiteTests = 27
)

// TestOfficialSuite runs the client package's own test suite against one
// replica of cluster 0 on a fresh data file, as TigerBeetle's CI runs it
// against tigerbeetle: with the production request size limit (the
// client packs up to 8,189 events a request) and with --development, as
// that CI does (32 KiB requests, 253 events). Every test must print
// PASSED, the suite must print its time and exit 0, and the replica must
// still be running, then stop cleanly on SIGTERM.
func TestOfficialSuite(t *testing.T) {
	h := newHarness(t)
	for _, mode := range []struct {
		name  string
		flags []string
	}{
		{"production", nil},
		{"development", []string{"--development"}},
	} {
		t.Run(mode.name, func(t *testing.T) { runSuite(t, h, mode.flags) })
	}
}

func runSuite(t *testing.T, h *harness, flags []string) {
	c := h.newCluster(t, 1, flags...)
	passed, failed := 0, false
	run := h.runNode(t, "test", suiteTimeout, suiteIdle, []string{"TB_ADDRESS=" + c.addrs[0]}, nil, func(line string) {
		fmt.Fprintf(os.Stdout, "test.js: %s\n", line)
		switch {
		case strings.HasSuffix(line, ": PASSED"):
			passed++
		case strings.HasSuffix(line, ": FAILED"):
			failed = true
		}
	}, filepath.Join(h.pkg, "dist", "test.js"))
	c.stop(0)
	switch {
	case run.stalled:
		t.Errorf("dist/test.js printed nothing for %v: killed (a request never answered hangs it)", suiteIdle)
	case run.timedOut:
		t.Errorf("dist/test.js did not finish within %v: killed", suiteTimeout)
	case run.err != nil:
		t.Errorf("dist/test.js: %v", run.err)
	case failed:
		t.Errorf("dist/test.js reported a failure")
	case passed != suiteTests:
		t.Errorf("dist/test.js: %d tests PASSED, want %d", passed, suiteTests)
	case !strings.HasPrefix(lastLine(run.lines), "Time taken"):
		t.Errorf("dist/test.js exited 0 without its closing line")
	}
	if t.Failed() {
		t.Logf("dist/test.js stderr (tail):\n%s", run.stderr)
	}
}

func lastLine(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return lines[len(lines)-1]
}
