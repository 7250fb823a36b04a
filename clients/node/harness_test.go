package node

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"viewstamp/internal/proctest"
)

// envRun turns these tests on: `make node-e2e` sets it, so that `go test
// ./...` (which make test also runs) does not run them a second time,
// and so that a missing node or npm is a failure there, never a skip.
const envRun = "VIEWSTAMP_NODE_E2E"

const (
	// npmTimeout bounds npm ci (one small package from the registry).
	npmTimeout = 3 * time.Minute
	// buildTimeout bounds go build of the replica on a loaded machine.
	buildTimeout = 4 * time.Minute
	// readyTimeout bounds a replica's start until it logs a status.
	readyTimeout = 60 * time.Second
	// stopTimeout bounds a replica's exit after SIGTERM.
	stopTimeout = 20 * time.Second
	// nodeWaitDelay is how long a killed node may hold its pipes open.
	nodeWaitDelay = 5 * time.Second
	// logTailLines is how much of a log a failure prints.
	logTailLines = 60
	// clientPackage is the npm package under test; its version is pinned
	// by package.json and package-lock.json in this directory.
	clientPackage = "tigerbeetle-node"
)

// harness is what every test here shares: the installed client package,
// the replica binary and the backend that formats data files here.
type harness struct {
	pkg  string // node_modules/tigerbeetle-node
	bin  string // the replica binary
	dir  string // where the binary is built
	io   string // the replica's --io backend that formats here
	root string // the repo
}

// newHarness skips unless envRun is set, fails with a clear message if
// node or npm is missing, installs the client package and builds the
// replica.
func newHarness(t *testing.T) *harness {
	t.Helper()
	if os.Getenv(envRun) == "" {
		t.Skipf("the official Node client's tests run under `make node-e2e` (part of make test); set %s=1 to run them with go test", envRun)
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not on PATH: the official TigerBeetle Node client's test suite needs Node.js >= 18 and npm (Debian: apt-get install nodejs npm)", tool)
		}
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{root: root, dir: proctest.DirectIODir(t, root, "node-e2e-")}
	h.pkg = installClient(t, root)
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	h.bin = proctest.BuildReplica(t, ctx, root, "./cmd/replica", h.dir)
	h.io = pickIO(t, h.bin, h.dir)
	return h
}

// installClient runs npm ci into out/node from this directory's
// package.json and package-lock.json, unless the same lock file is
// already installed there, and returns the package's directory.
func installClient(t *testing.T, root string) string {
	t.Helper()
	src := filepath.Join(root, "clients", "node")
	dst := filepath.Join(root, "out", "node")
	pkg := filepath.Join(dst, "node_modules", clientPackage)
	var files [2][]byte
	sum := sha256.New()
	for i, name := range []string{"package.json", "package-lock.json"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		files[i] = b
		sum.Write(b)
	}
	stamp := hex.EncodeToString(sum.Sum(nil))
	stampFile := filepath.Join(dst, ".installed")
	if b, err := os.ReadFile(stampFile); err == nil && string(b) == stamp {
		if _, err := os.Stat(filepath.Join(pkg, "dist", "test.js")); err == nil {
			return pkg
		}
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"package.json", "package-lock.json"} {
		if err := os.WriteFile(filepath.Join(dst, name), files[i], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), npmTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--cache", filepath.Join(root, "out", "npm-cache"))
	cmd.Dir = dst
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s (installs %s from the npm registry): %v\n%s", dst, clientPackage, err, out)
	}
	if err := os.WriteFile(stampFile, []byte(stamp), 0o644); err != nil {
		t.Fatal(err)
	}
	return pkg
}

// pickIO is the first --io backend that can format a data file here:
// io_uring where the kernel allows it, else pread/pwrite.
func pickIO(t *testing.T, bin, dir string) string {
	t.Helper()
	probe := filepath.Join(dir, "probe.viewstamp")
	var failures []string
	for _, backend := range []string{"uring", "sync"} {
		_ = os.Remove(probe)
		out, err := exec.Command(bin, "format", "--cluster", "0", "--replica", "0", "--replica-count", "1", "--io", backend, probe).CombinedOutput()
		if err == nil {
			_ = os.Remove(probe)
			return backend
		}
		failures = append(failures, fmt.Sprintf("--io=%s: %v: %s", backend, err, bytes.TrimSpace(out)))
	}
	t.Fatalf("the replica cannot format a data file in %s: %s", dir, strings.Join(failures, "; "))
	return ""
}

// cluster is n replica processes of cluster 0 on loopback.
type cluster struct {
	t     *testing.T
	h     *harness
	addrs []string
	files []string
	logs  []string
	extra []string // more flags for start
	procs *proctest.Procs
}

// newCluster formats n data files (cluster 0, as the official tests
// expect) and starts every replica.
func (h *harness) newCluster(t *testing.T, n int, extra ...string) *cluster {
	t.Helper()
	c := &cluster{t: t, h: h, extra: extra, procs: proctest.NewProcs(n)}
	dir := proctest.DirectIODir(t, h.root, "node-e2e-")
	for i := range n {
		c.addrs = append(c.addrs, proctest.FreeAddr(t))
		c.files = append(c.files, filepath.Join(dir, fmt.Sprintf("0_%d.viewstamp", i)))
		c.logs = append(c.logs, filepath.Join(dir, fmt.Sprintf("replica%d.log", i)))
		out, err := exec.Command(h.bin, "format", "--cluster", "0", "--replica", strconv.Itoa(i),
			"--replica-count", strconv.Itoa(n), "--io", h.io, c.files[i]).CombinedOutput()
		if err != nil {
			t.Fatalf("format replica %d: %v: %s", i, err, out)
		}
	}
	t.Cleanup(func() {
		c.procs.KillAll()
		if t.Failed() {
			for _, l := range c.logs {
				b, _ := os.ReadFile(l)
				t.Logf("--- %s (tail)\n%s", l, proctest.Tail(b, logTailLines))
			}
		}
	})
	for i := range n {
		c.start(i)
	}
	for i := range n {
		c.waitReady(i)
	}
	return c
}

func (c *cluster) start(i int) {
	c.t.Helper()
	args := append([]string{"start", "--addresses", strings.Join(c.addrs, ","), "--io", c.h.io}, c.extra...)
	c.procs.Start(c.t, i, c.logs[i], c.h.bin, append(args, c.files[i])...)
}

// waitReady waits until replica i has logged a status line since its
// last start (it is listening and has opened its data file).
func (c *cluster) waitReady(i int) {
	t := c.t
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		if !c.procs.Running(i) {
			b, _ := os.ReadFile(c.logs[i])
			t.Fatalf("replica %d exited while starting:\n%s", i, proctest.Tail(b, logTailLines))
		}
		b, _ := os.ReadFile(c.logs[i])
		last := bytes.LastIndex(b, []byte(": starting: "))
		if last >= 0 && bytes.Contains(b[last:], []byte(" status ")) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("replica %d logged no status within %v", i, readyTimeout)
}

// kill sends SIGKILL to replica i and waits for it to be gone.
func (c *cluster) kill(i int) { c.procs.Kill(i) }

// stop sends SIGTERM to replica i and requires a clean exit: a replica
// that crashed under the client's load fails the test here.
func (c *cluster) stop(i int) {
	c.t.Helper()
	if err := c.procs.Terminate(i, stopTimeout); err != nil {
		c.t.Errorf("replica %d: %v", i, err)
	}
}

// nodeRun is one finished node process.
type nodeRun struct {
	lines    []string // stdout
	stderr   string   // its tail
	err      error    // exit status
	timedOut bool
	stalled  bool // killed for printing nothing for too long
}

// runNode runs node with args in out/node under env, reading stdin (nil:
// none), bounded by timeout
// and killed when it prints nothing for idle (0: no such bound), handing
// each stdout line to onLine as it arrives. The native client's
// connection warnings go to stderr, kept in a file.
func (h *harness) runNode(t *testing.T, name string, timeout, idle time.Duration, env []string, stdin io.Reader, onLine func(string), args ...string) nodeRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var stalled atomic.Bool
	if idle > 0 {
		watchdog := time.AfterFunc(idle, func() { stalled.Store(true); cancel() })
		defer watchdog.Stop()
		inner := onLine
		onLine = func(line string) {
			watchdog.Reset(idle)
			if inner != nil {
				inner(line)
			}
		}
	}
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = filepath.Dir(filepath.Dir(h.pkg)) // out/node: require('tigerbeetle-node') resolves
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = nodeWaitDelay
	cmd.Stdin = stdin
	// Scripts of this directory require the installed package too.
	cmd.Env = append(cmd.Env, "NODE_PATH="+filepath.Dir(h.pkg))
	errPath := filepath.Join(t.TempDir(), name+".stderr")
	errFile, err := os.Create(errPath)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = errFile.Close() }()
	cmd.Stderr = errFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("node %v: %v", args, err)
	}
	var run nodeRun
	s := bufio.NewScanner(stdout)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		run.lines = append(run.lines, s.Text())
		if onLine != nil {
			onLine(s.Text())
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
	run.err = cmd.Wait()
	run.timedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
	run.stalled = stalled.Load()
	b, _ := os.ReadFile(errPath)
	run.stderr = proctest.Tail(b, logTailLines)
	return run
}
