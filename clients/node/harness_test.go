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
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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
	h := &harness{root: root, dir: dataDir(t, root)}
	h.pkg = installClient(t, root)
	h.bin = buildReplica(t, root, h.dir)
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

func buildReplica(t *testing.T, root, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "replica")
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	goTool := "go"
	if p, err := exec.LookPath("go"); err == nil {
		goTool = p
	}
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", bin, "./cmd/replica")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/replica: %v\n%s", err, out)
	}
	return bin
}

// dataDir is a temporary directory on a filesystem that does O_DIRECT:
// the system's unless it is tmpfs, else one under the repo's out/.
func dataDir(t *testing.T, root string) string {
	t.Helper()
	var fs unix.Statfs_t
	if err := unix.Statfs(os.TempDir(), &fs); err == nil && fs.Type != unix.TMPFS_MAGIC && fs.Type != unix.RAMFS_MAGIC {
		return t.TempDir()
	}
	out := filepath.Join(root, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(out, "node-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
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

	mu     sync.Mutex
	procs  []*exec.Cmd
	exited []chan struct{}
}

// newCluster formats n data files (cluster 0, as the official tests
// expect) and starts every replica.
func (h *harness) newCluster(t *testing.T, n int, extra ...string) *cluster {
	t.Helper()
	c := &cluster{t: t, h: h, extra: extra, procs: make([]*exec.Cmd, n), exited: make([]chan struct{}, n)}
	dir := dataDir(t, h.root)
	for i := range n {
		c.addrs = append(c.addrs, freeAddr(t))
		c.files = append(c.files, filepath.Join(dir, fmt.Sprintf("0_%d.viewstamp", i)))
		c.logs = append(c.logs, filepath.Join(dir, fmt.Sprintf("replica%d.log", i)))
		out, err := exec.Command(h.bin, "format", "--cluster", "0", "--replica", strconv.Itoa(i),
			"--replica-count", strconv.Itoa(n), "--io", h.io, c.files[i]).CombinedOutput()
		if err != nil {
			t.Fatalf("format replica %d: %v: %s", i, err, out)
		}
	}
	t.Cleanup(func() {
		c.killAll()
		if t.Failed() {
			for _, l := range c.logs {
				b, _ := os.ReadFile(l)
				t.Logf("--- %s (tail)\n%s", l, tail(b, logTailLines))
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
	t := c.t
	t.Helper()
	logf, err := os.OpenFile(c.logs[i], os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"start", "--addresses", strings.Join(c.addrs, ","), "--io", c.h.io}, c.extra...)
	cmd := exec.Command(c.h.bin, append(args, c.files[i])...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(exited)
	}()
	c.mu.Lock()
	c.procs[i], c.exited[i] = cmd, exited
	c.mu.Unlock()
}

// waitReady waits until replica i has logged a status line since its
// last start (it is listening and has opened its data file).
func (c *cluster) waitReady(i int) {
	t := c.t
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		if !c.running(i) {
			b, _ := os.ReadFile(c.logs[i])
			t.Fatalf("replica %d exited while starting:\n%s", i, tail(b, logTailLines))
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

func (c *cluster) running(i int) bool {
	c.mu.Lock()
	exited := c.exited[i]
	c.mu.Unlock()
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL to replica i and waits for it to be gone.
func (c *cluster) kill(i int) {
	c.mu.Lock()
	p, exited := c.procs[i], c.exited[i]
	c.mu.Unlock()
	_ = p.Process.Signal(syscall.SIGKILL)
	<-exited
}

// stop sends SIGTERM to replica i and requires a clean exit: a replica
// that crashed under the client's load fails the test here.
func (c *cluster) stop(i int) {
	t := c.t
	t.Helper()
	c.mu.Lock()
	p, exited := c.procs[i], c.exited[i]
	c.mu.Unlock()
	select {
	case <-exited:
		t.Errorf("replica %d had exited before the end of the test (%v)", i, p.ProcessState)
		return
	default:
	}
	_ = p.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(stopTimeout):
		_ = p.Process.Kill()
		<-exited
		t.Errorf("replica %d did not stop within %v of SIGTERM", i, stopTimeout)
		return
	}
	if code := p.ProcessState.ExitCode(); code != 0 {
		t.Errorf("replica %d exited %d after SIGTERM", i, code)
	}
}

func (c *cluster) killAll() {
	for i := range c.procs {
		c.mu.Lock()
		p := c.procs[i]
		c.mu.Unlock()
		if p != nil && c.running(i) {
			c.kill(i)
		}
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
	run.stderr = tail(b, logTailLines)
	return run
}

// freeAddr is a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
