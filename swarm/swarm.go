// Package swarm runs many vopr seeds as child processes, J at a time, and
// collects their run records. Each seed runs in its own process so that a
// seed that hangs, panics outside the simulator's recover or is killed by
// the OS costs one record, never the swarm.
//
// This package is deliberately outside the deterministic tree: it owns wall
// clocks, goroutines and processes. Determinism lives in each child.
package swarm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"viewstamp/reports"
)

// Options configure a swarm.
type Options struct {
	Exe     string        // the vopr binary each child runs
	Flags   []string      // vopr flags for every seed, besides --seed and --json
	Jobs    int           // children at once
	Timeout time.Duration // per seed; 0: none
	Budget  time.Duration // stop starting seeds after this long; 0: none
	// StopAfter, if positive, stops starting seeds once this many runs have
	// failed (any result but pass): enough to call a planted bug caught.
	StopAfter int
	Commit    string // recorded in every run
	// OnRun, if set, sees each run as it finishes, in finishing order.
	OnRun func(reports.Run)
	// Env, if set, is the children's environment (tests use it).
	Env []string
}

// Outcome is what a swarm did.
type Outcome struct {
	Runs    []reports.Run // sorted by seed
	Stopped string        // "interrupt", "budget" or "failures" if not every seed ran
	Wall    time.Duration
}

// Run runs every seed, Jobs at a time, until done, until ctx is cancelled
// (Ctrl-C: children in flight are killed and left out, everything finished
// is kept) or until the budget is spent (no new seed starts; children in
// flight finish).
func Run(ctx context.Context, seeds []uint64, o Options) Outcome {
	start := time.Now()
	work := make(chan uint64)
	results := make(chan *reports.Run)
	var budget <-chan time.Time
	if o.Budget > 0 {
		t := time.NewTimer(o.Budget)
		defer t.Stop()
		budget = t.C
	}
	// enough closes once StopAfter runs have failed; the feeder then stops
	// as it does for the budget, and children in flight finish.
	enough := make(chan struct{})
	go func() {
		defer close(work)
		for _, seed := range seeds {
			select {
			case work <- seed:
			case <-ctx.Done():
				return
			case <-budget:
				return
			case <-enough:
				return
			}
		}
	}()
	// Failures are counted by the workers, before a worker takes its next
	// seed, so that with one job the swarm stops right after the StopAfter-th
	// failure rather than one seed later.
	var failures atomic.Int64
	var stopOnce sync.Once
	var wg sync.WaitGroup
	for range max(1, o.Jobs) {
		wg.Go(func() {
			for seed := range work {
				select {
				case <-enough:
					continue
				default:
				}
				r := runOne(ctx, seed, o)
				if r != nil && r.Result != reports.Pass && o.StopAfter > 0 && failures.Add(1) >= int64(o.StopAfter) {
					stopOnce.Do(func() { close(enough) })
				}
				results <- r
			}
		})
	}
	go func() {
		wg.Wait()
		close(results)
	}()
	var out Outcome
	for r := range results {
		if r == nil {
			continue
		}
		out.Runs = append(out.Runs, *r)
		if o.OnRun != nil {
			o.OnRun(*r)
		}
	}
	switch {
	case len(out.Runs) == len(seeds):
	case ctx.Err() != nil:
		out.Stopped = "interrupt"
	case o.StopAfter > 0 && failures.Load() >= int64(o.StopAfter):
		out.Stopped = "failures"
	default:
		out.Stopped = "budget"
	}
	reports.SortRuns(out.Runs)
	out.Wall = time.Since(start)
	return out
}

// runOne runs one child; nil means it was interrupted, and so has no
// verdict to record.
func runOne(ctx context.Context, seed uint64, o Options) *reports.Run {
	s := strconv.FormatUint(seed, 10)
	run := &reports.Run{Flags: o.Flags, Commit: o.Commit, Reproduce: reports.Reproduce(s, o.Flags)}
	sctx, cancel := ctx, context.CancelFunc(func() {})
	if o.Timeout > 0 {
		sctx, cancel = context.WithTimeout(ctx, o.Timeout)
	}
	defer cancel()
	cmd := exec.CommandContext(sctx, o.Exe, append([]string{"--seed", s, "--json"}, o.Flags...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = o.Env
	ownGroup(cmd)
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	run.WallMs = time.Since(start).Milliseconds()
	var rec reports.Record
	jerr := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &rec)
	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	switch {
	case jerr == nil && rec.Seed == s && rec.ExitCode == code:
		run.Record = rec
		return run
	case ctx.Err() != nil:
		return nil // killed by Ctrl-C: no verdict
	case errors.Is(sctx.Err(), context.DeadlineExceeded):
		run.Seed, run.Result, run.ExitCode = s, reports.Timeout, code
		run.Failure = fmt.Sprintf("killed after the per-seed limit of %s", o.Timeout)
		return run
	}
	// The child died outside the simulator's own recover, or printed
	// something that is not its record: keep what it said.
	run.Seed, run.Result, run.ExitCode = s, reports.Crash, code
	why := err
	if cmd.ProcessState != nil {
		why = errors.New("exited: " + cmd.ProcessState.String())
	}
	run.Failure = fmt.Sprintf("child %v; stderr: %s; stdout: %s", why, tail(stderr.String(), 1500), tail(stdout.String(), 300))
	return run
}

// tail keeps the start of the first line and the end of the text, where a
// panic's message and the stack's innermost frames are.
func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	first, _, _ := strings.Cut(s, "\n")
	if len(first) > n/2 {
		first = first[:n/2]
	}
	return first + " … " + s[len(s)-n/2:]
}
