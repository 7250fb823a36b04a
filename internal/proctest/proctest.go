// Package proctest runs replica processes for tests, on loopback: a data
// directory that does O_DIRECT, the replica binary built for the test, free
// ports, and a set of processes started, killed and stopped by index, each
// appending its output to its own log file. Only tests import it; it is not
// under replica/, so its goroutines and wall clock are outside the
// determinism rules.
package proctest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// DirectIODir is a temporary directory on a filesystem that does O_DIRECT:
// the system's temporary directory unless it is tmpfs or ramfs, else one
// under root's out/ (root is the repository), removed when the test ends.
func DirectIODir(t testing.TB, root, prefix string) string {
	t.Helper()
	var fs unix.Statfs_t
	if err := unix.Statfs(os.TempDir(), &fs); err == nil && fs.Type != unix.TMPFS_MAGIC && fs.Type != unix.RAMFS_MAGIC {
		return t.TempDir()
	}
	out := filepath.Join(root, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(out, prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// GoTool is the go command running this test: go test puts its GOROOT's
// bin first in PATH.
func GoTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
}

// BuildReplica builds the package at pkg (relative to root, the
// repository; "./cmd/replica") into dir and returns the binary's path.
func BuildReplica(t testing.TB, ctx context.Context, root, pkg, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "replica")
	cmd := exec.CommandContext(ctx, GoTool(), "build", "-o", bin, pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// FreeAddr is a loopback address whose port was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

// Tail is the last n lines of b.
func Tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// Procs is a fixed set of processes addressed by index, each at most once
// running at a time. It is safe for use by several goroutines.
type Procs struct {
	mu     sync.Mutex
	cmds   []*exec.Cmd
	exited []chan struct{}
}

// NewProcs is a set of n processes, none started.
func NewProcs(n int) *Procs {
	return &Procs{cmds: make([]*exec.Cmd, n), exited: make([]chan struct{}, n)}
}

// Len is the number of processes of the set.
func (p *Procs) Len() int { return len(p.cmds) }

// Start runs bin with args as process i, its output appended to logPath.
func (p *Procs) Start(t testing.TB, i int, logPath, bin string, args ...string) {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(exited)
	}()
	p.mu.Lock()
	p.cmds[i], p.exited[i] = cmd, exited
	p.mu.Unlock()
}

func (p *Procs) get(i int) (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmds[i], p.exited[i]
}

// Running reports whether process i was started and has not exited.
func (p *Procs) Running(i int) bool {
	cmd, exited := p.get(i)
	if cmd == nil {
		return false
	}
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

// Signal sends sig to process i if it is running.
func (p *Procs) Signal(i int, sig os.Signal) {
	if cmd, _ := p.get(i); cmd != nil && p.Running(i) {
		_ = cmd.Process.Signal(sig)
	}
}

// Kill sends SIGKILL to process i and waits until it is gone.
func (p *Procs) Kill(i int) {
	cmd, exited := p.get(i)
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// Terminate sends SIGTERM to process i and waits up to timeout for it to
// exit; an error says it had already exited, did not stop in time (it is
// then killed) or exited with a non-zero code.
func (p *Procs) Terminate(i int, timeout time.Duration) error {
	cmd, exited := p.get(i)
	if cmd == nil {
		return fmt.Errorf("process %d was never started", i)
	}
	select {
	case <-exited:
		return fmt.Errorf("process %d had exited before it was stopped (%v)", i, cmd.ProcessState)
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("process %d did not stop within %v of SIGTERM", i, timeout)
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		return fmt.Errorf("process %d exited %d after SIGTERM", i, code)
	}
	return nil
}

// KillAll kills every process still running.
func (p *Procs) KillAll() {
	for i := range p.cmds {
		if p.Running(i) {
			p.Kill(i)
		}
	}
}
