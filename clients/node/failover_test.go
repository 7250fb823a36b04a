package node

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The failover test's shape: rounds of (let the load run, SIGKILL the
// primary, restart it after a pause), then enough load after the last
// restart to show the cluster serves again.
const (
	failoverReplicas = 3
	failoverClients  = 4
	failoverBatch    = 8 // transfers per request
	// failoverProgress is how often failover.js prints its count.
	failoverProgress = 250 * time.Millisecond
	failoverUptime   = 1500 * time.Millisecond
	// failoverAfter is how many more transfers must be acknowledged after
	// the last restart before the load stops.
	failoverAfter = 200
	// failoverSettle bounds every wait for the load to make progress: a
	// view change on a loaded machine takes seconds, not this long.
	failoverSettle = 60 * time.Second
	// failoverTimeout bounds the node process (load, drain, verification).
	failoverTimeout = 4 * time.Minute
)

// failoverDowntimes is how long each round's primary stays down. The
// first outlasts a view change (backups presume the primary dead after
// vsr's NormalHeartbeatTicks, 5 s, then elect one whose clock must
// synchronize), and the two others must serve the load while it is down;
// the later ones restart it before any view change, so it rejoins as
// primary of the same view or as a backup.
var failoverDowntimes = []time.Duration{9 * time.Second, 1 * time.Second, 1 * time.Second}

// TestFailover runs failover.js, several clients of the official Node
// client creating transfers, against three replica processes on
// loopback while the primary is killed with SIGKILL and restarted, round
// after round (failoverDowntimes). No client may abort or hang (the node
// process is bounded and must exit 0), the two replicas left must serve
// while the first round's primary is down, and failover.js then looks up
// every acknowledged transfer and every balance through a fresh client
// (see its header).
func TestFailover(t *testing.T) {
	h := newHarness(t)
	c := h.newCluster(t, failoverReplicas)
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stdinW.Close() }()

	var acked atomic.Int64
	done := make(chan nodeRun, 1)
	go func() {
		env := []string{"TB_ADDRESSES=" + strings.Join(c.addrs, ","), "CLIENTS=" + strconv.Itoa(failoverClients), "BATCH=" + strconv.Itoa(failoverBatch),
			"PROGRESS_MS=" + strconv.Itoa(int(failoverProgress.Milliseconds()))}
		done <- h.runNode(t, "failover", failoverTimeout, 0, env, stdinR, func(line string) {
			fmt.Fprintf(os.Stdout, "failover.js: %s\n", line)
			if n, ok := strings.CutPrefix(line, "acked "); ok {
				v, _ := strconv.ParseInt(n, 10, 64)
				acked.Store(v)
			}
		}, filepath.Join(h.root, "clients", "node", "failover.js"))
	}()
	// waitAcked waits until more than n transfers are acknowledged.
	waitAcked := func(n int64, what string) bool {
		deadline := time.Now().Add(failoverSettle)
		for acked.Load() <= n {
			select {
			case run := <-done:
				done <- run
				t.Errorf("failover.js exited %v while waiting for %s", run.err, what)
				return false
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Errorf("no more than %d transfers acknowledged within %v of %s", n, failoverSettle, what)
				return false
			}
		}
		return true
	}

	ok := waitAcked(0, "the start")
	for round := 0; ok && round < len(failoverDowntimes); round++ {
		downtime := failoverDowntimes[round]
		time.Sleep(failoverUptime)
		p := c.primary()
		c.kill(p)
		killed := time.Now()
		// failover.js prints its count every failoverProgress: the count
		// as of the kill is the one printed a full period after it.
		time.Sleep(2 * failoverProgress)
		before := acked.Load()
		t.Logf("round %d: SIGKILL primary replica %d, %d transfers acknowledged", round, p, before)
		// The other two must serve while it is down: the load resuming
		// before the restart is logged as such.
		// Replies already sent when the primary died may still arrive:
		// the load has resumed once more than a request per client is
		// acknowledged.
		resumed := time.Duration(0)
		for time.Since(killed) < downtime {
			if resumed == 0 && acked.Load() > before+failoverClients*failoverBatch {
				resumed = time.Since(killed)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if round == 0 && resumed == 0 {
			t.Errorf("round 0: the two replicas left served nothing in the %v the primary was down", downtime)
		}
		c.start(p)
		// Each round kills a primary that serves: the next waits until
		// the load goes on.
		if ok = waitAcked(before, fmt.Sprintf("round %d's kill", round)); ok {
			if resumed == 0 {
				t.Logf("round %d: load resumed only after the restart, %v after the kill", round, time.Since(killed).Round(time.Millisecond))
			} else {
				t.Logf("round %d: load resumed %v after the kill, with the old primary down", round, resumed.Round(time.Millisecond))
			}
		}
	}
	if ok {
		waitAcked(acked.Load()+failoverAfter, "the last restart")
	}
	_, _ = stdinW.WriteString("stop\n")
	_ = stdinW.Close()
	run := <-done
	_ = stdinR.Close()
	verified := strings.HasPrefix(lastLine(run.lines), "verified ")
	switch {
	case run.timedOut:
		t.Errorf("failover.js did not finish within %v: killed (a client hung)", failoverTimeout)
	case run.err != nil:
		t.Errorf("failover.js: %v", run.err)
	case !verified:
		t.Errorf("failover.js exited 0 without verifying")
	}
	if t.Failed() {
		t.Logf("failover.js stderr (tail):\n%s", run.stderr)
	}
	for i := range failoverReplicas {
		c.stop(i)
	}
}

var statusLine = regexp.MustCompile(`status (\w+), view (\d+)`)

// primary is the primary of the highest view any replica has logged
// normal status in: a view change logged but not finished has none yet.
func (c *cluster) primary() int {
	best := -1
	for _, l := range c.logs {
		f, err := os.Open(l)
		if err != nil {
			continue
		}
		s := bufio.NewScanner(f)
		for s.Scan() {
			if m := statusLine.FindStringSubmatch(s.Text()); m != nil && m[1] == "normal" {
				if v, _ := strconv.Atoi(m[2]); v > best {
					best = v
				}
			}
		}
		_ = f.Close()
	}
	return max(best, 0) % len(c.logs)
}
