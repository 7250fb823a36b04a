package mutants

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"viewstamp/reports"
	"viewstamp/swarm"
)

// Options shape a harness run; cmd/mutants maps its flags onto them.
type Options struct {
	Root      string // the repository whose working tree is mutated
	Catalogue string // directory of *.mutant files
	Out       string // table.md, results.json and one swarm directory per mutant
	Scratch   string // parent of the scratch copies; "" for the system's temp dir
	Only      func(name string) bool
	From      uint64        // first seed
	Count     int           // seeds per mutant, at most
	StopAfter int           // failing seeds that call a mutant killed
	Budget    time.Duration // per mutant: start no new seed after this long
	Timeout   time.Duration // per seed: longer is a timeout, a failure
	Jobs      int           // mutants at once
	Flags     []string      // vopr run flags for every seed, mutant and baseline alike
	Corpus    string        // directory of regression corpus files (seeds/*.json); "" for none
	Keep      bool          // keep scratch copies
	Go        string        // the go command
	Log       io.Writer     // progress
}

// Verdict is what became of one mutant.
type Verdict string

const (
	Correctness  Verdict = "correctness" // killed: a checker failed
	Liveness     Verdict = "liveness"    // killed: the cluster did not converge
	Crash        Verdict = "crash"       // killed: a replica or the simulator panicked
	Timeout      Verdict = "timeout"     // killed: a seed outlived the per-seed limit
	Survived     Verdict = "survived"    // every seed passed: a finding
	DoesNotApply Verdict = "does not apply"
	BuildFailed  Verdict = "build failed"
	Equivalent   Verdict = "equivalent" // argued in the catalogue; not run
	Failed       Verdict = "error"      // the harness itself failed on this mutant
)

// Killed reports whether the simulator noticed the mutant.
func (v Verdict) Killed() bool {
	switch v {
	case Correctness, Liveness, Crash, Timeout:
		return true
	}
	return false
}

// severity ranks kills: a checker that names the bug beats a panic, which
// beats a cluster that merely stopped making progress.
func severity(v Verdict) int {
	switch v {
	case Correctness:
		return 4
	case Crash:
		return 3
	case Liveness:
		return 2
	case Timeout:
		return 1
	}
	return 0
}

// Failure is one failing seed of a mutant.
type Failure struct {
	Seed    string `json:"seed"`
	Result  string `json:"result"`
	Failure string `json:"failure,omitempty"`
	// BaselineFails marks a seed that fails without the mutant too: it
	// proves nothing about the mutant and does not count as a kill.
	BaselineFails bool `json:"baseline_fails,omitempty"`
}

// Result is one row of the table.
type Result struct {
	Name         string    `json:"name"`
	File         string    `json:"file"`
	Note         string    `json:"note"`
	Verdict      Verdict   `json:"verdict"` // a kill: the most severe kind among the failing seeds
	SeedsRun     int       `json:"seeds_run"`
	FailingSeeds int       `json:"failing_seeds"` // failures that count: the baseline passes them
	FirstFailing string    `json:"first_failing_seed,omitempty"`
	Stopped      string    `json:"stopped,omitempty"` // why the swarm ran fewer seeds than planned
	Detail       string    `json:"detail,omitempty"`  // why it does not apply, the build error, the equivalence
	Failures     []Failure `json:"failures,omitempty"`
	Reproduce    string    `json:"reproduce,omitempty"`
	WallSeconds  float64   `json:"wall_seconds"`
}

// Report is the whole table with what produced it.
type Report struct {
	Rev         string   `json:"rev"`
	From        uint64   `json:"from"`
	Count       int      `json:"count"`
	StopAfter   int      `json:"stop_after"`
	Budget      string   `json:"budget_per_mutant"`
	Timeout     string   `json:"timeout_per_seed"`
	Flags       []string `json:"flags,omitempty"`
	Jobs        int      `json:"jobs"`
	WallSeconds float64  `json:"wall_seconds"`
	Results     []Result `json:"results"`
}

// Run judges every selected mutant and writes the report into o.Out.
func Run(ctx context.Context, o Options) (*Report, error) {
	start := time.Now()
	all, err := Load(o.Catalogue)
	if err != nil {
		return nil, err
	}
	var ms []*Mutant
	for _, m := range all {
		if o.Only == nil || o.Only(m.Name) {
			ms = append(ms, m)
		}
	}
	if len(ms) == 0 {
		return nil, errors.New("no mutant selected")
	}
	live, err := OpenTree(o.Root)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(o.Scratch, "mutants-")
	if err != nil {
		return nil, err
	}
	if !o.Keep {
		defer os.RemoveAll(tmp)
	}
	// One snapshot of the working tree serves every mutant, so that edits
	// made while the harness runs do not mix into some mutants only.
	base := &Tree{Root: filepath.Join(tmp, "base"), Rev: live.Rev, Files: live.Files}
	if err := live.Copy(base.Root); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	h := &harness{o: o, tmp: tmp, base: base, baseline: map[string]reports.Result{}}
	rep := &Report{Rev: base.Rev, From: o.From, Count: o.Count, StopAfter: o.StopAfter, Budget: o.Budget.String(),
		Timeout: o.Timeout.String(), Flags: o.Flags, Jobs: o.Jobs, Results: make([]Result, len(ms))}
	h.logf("mutants: %d of %d, source %s, seeds %d.. (at most %d, stop after %d failing, %s per mutant), %d at once, scratch %s",
		len(ms), len(all), base.Rev, o.From, o.Count, o.StopAfter, o.Budget, max(o.Jobs, 1), tmp)

	work := make(chan int)
	var wg sync.WaitGroup
	for range max(o.Jobs, 1) {
		wg.Go(func() {
			for i := range work {
				r := h.judge(ctx, ms[i])
				rep.Results[i] = r
				h.done(r, len(ms))
			}
		})
	}
	for i := range ms {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	rep.WallSeconds = time.Since(start).Seconds()
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}
	return rep, rep.Write(o.Out)
}

type harness struct {
	o    Options
	tmp  string
	base *Tree

	mu       sync.Mutex // guards the log, finished and baseline
	finished int
	buildBL  sync.Once
	blExe    string
	blErr    error
	baseline map[string]reports.Result
}

func (h *harness) logf(format string, args ...any) {
	if h.o.Log == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	fmt.Fprintf(h.o.Log, format+"\n", args...)
}

// progressWidth bounds a progress line's detail; the table has it all.
const progressWidth = 120

func (h *harness) done(r Result, total int) {
	h.mu.Lock()
	h.finished++
	n := h.finished
	h.mu.Unlock()
	what := string(r.Verdict)
	switch {
	case r.Verdict.Killed():
		what = fmt.Sprintf("KILLED (%s) by seed %s; %d failing of %d run", r.Verdict, r.FirstFailing, r.FailingSeeds, r.SeedsRun)
	case r.Verdict == Survived:
		what = fmt.Sprintf("SURVIVED %d seeds", r.SeedsRun)
	case r.Detail != "":
		what += ": " + firstLine(r.Detail)
		if len(what) > progressWidth {
			what = what[:progressWidth] + " …"
		}
	}
	h.logf("[%d/%d] %-34s %s (%.0fs)", n, total, r.Name, what, r.WallSeconds)
}

func (h *harness) judge(ctx context.Context, m *Mutant) (r Result) {
	start := time.Now()
	r = Result{Name: m.Name, File: m.File, Note: m.Note}
	defer func() { r.WallSeconds = time.Since(start).Seconds() }()
	src, err := os.ReadFile(filepath.Join(h.base.Root, filepath.FromSlash(m.File)))
	if err == nil {
		_, err = m.Apply(string(src))
	} else if errors.Is(err, os.ErrNotExist) {
		err = fmt.Errorf("%w: %s does not exist", ErrDoesNotApply, m.File)
	}
	switch {
	case errors.Is(err, ErrDoesNotApply):
		r.Verdict, r.Detail = DoesNotApply, err.Error()
		return r
	case err != nil:
		r.Verdict, r.Detail = Failed, err.Error()
		return r
	case m.Equivalent != "":
		r.Verdict, r.Detail = Equivalent, m.Equivalent
		return r
	}
	dir := filepath.Join(h.tmp, m.Name)
	if !h.o.Keep {
		defer os.RemoveAll(dir)
	}
	if err := h.base.Copy(dir); err != nil {
		r.Verdict, r.Detail = Failed, err.Error()
		return r
	}
	if err := m.ApplyIn(dir); err != nil {
		r.Verdict, r.Detail = Failed, err.Error()
		return r
	}
	exe, err := h.build(ctx, dir)
	if err != nil {
		r.Verdict, r.Detail = BuildFailed, err.Error()
		return r
	}
	flags := append(append([]string(nil), h.o.Flags...), m.Flags...)
	runs, stopped, err := h.swarm(ctx, exe, filepath.Join(h.o.Out, m.Name), flags)
	if err != nil {
		r.Verdict, r.Detail = Failed, err.Error()
		return r
	}
	r.SeedsRun, r.Stopped = len(runs), stopped
	// A run's own flags are what its swarm child ran with, swarm defaults
	// included (clock faults are on in swarms, off in a plain vopr run):
	// the baseline and the reproduce command must run exactly that.
	runArgs := func(run reports.Run) []string {
		f := run.Flags
		if f == nil {
			f = flags
		}
		return append([]string{"--seed", run.Seed}, f...)
	}
	reproduce := func(run reports.Run) string {
		return fmt.Sprintf("go run ./cmd/mutants apply %s DIR && cd DIR && go run ./cmd/vopr %s", m.Name, strings.Join(runArgs(run), " "))
	}
	baseline := func(run reports.Run) (reports.Result, error) {
		return h.baselineResult(ctx, runArgs(run))
	}
	if err := tally(&r, runs, baseline, reproduce); err != nil {
		r.Verdict, r.Detail = Failed, "baseline: "+err.Error()
		return r
	}
	if r.Verdict == Survived {
		if err := h.corpus(ctx, exe, m, &r); err != nil {
			r.Verdict, r.Detail = Failed, "corpus: "+err.Error()
		}
	}
	return r
}

// corpus replays the regression corpus's passing entries under a mutant the
// swarm did not kill. Each entry is a seed that once caught a real bug, so a
// mutant that brings the bug back dies at once, even where the swarm's range
// would need thousands of seeds to meet that interleaving again. Entries
// that expect a failure (planted bugs) say nothing about a mutant and are
// skipped. A corpus kill counts like a swarm kill, the baseline check
// included; its seed is named "corpus:FILE:SEED".
func (h *harness) corpus(ctx context.Context, exe string, m *Mutant, r *Result) error {
	if h.o.Corpus == "" {
		return nil
	}
	files, err := filepath.Glob(filepath.Join(h.o.Corpus, "*.json"))
	if err != nil {
		return err
	}
	slices.Sort(files)
	for _, f := range files {
		entries, err := swarm.ReadCorpus(f)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.Expect != reports.Pass {
				continue
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			res, failure := h.runSeed(ctx, exe, e.Args())
			r.SeedsRun++
			if res == reports.Pass {
				continue
			}
			name := "corpus:" + filepath.Base(f) + ":" + e.Seed
			bl, err := h.baselineResult(ctx, e.Args())
			if err != nil {
				return err
			}
			r.Failures = append(r.Failures, Failure{Seed: name, Result: string(res), Failure: firstLine(failure), BaselineFails: bl != reports.Pass})
			if bl != reports.Pass {
				continue
			}
			r.FailingSeeds++
			if v := Verdict(res); severity(v) > severity(r.Verdict) {
				r.Verdict = v
			}
			if r.FirstFailing == "" {
				r.FirstFailing = name
				r.Reproduce = fmt.Sprintf("go run ./cmd/mutants apply %s DIR && cd DIR && go run ./cmd/vopr %s", m.Name, strings.Join(e.Args(), " "))
			}
			if h.o.StopAfter > 0 && r.FailingSeeds >= h.o.StopAfter {
				return nil
			}
		}
	}
	return nil
}

// tally judges a mutant by its swarm's runs: every failing seed is asked of
// the baseline, and only those the baseline passes count as kills.
func tally(r *Result, runs []reports.Run, baseline func(reports.Run) (reports.Result, error), reproduce func(reports.Run) string) error {
	r.Verdict = Survived
	for _, run := range runs {
		if run.Result == reports.Pass {
			continue
		}
		bl, err := baseline(run)
		if err != nil {
			return err
		}
		f := Failure{Seed: run.Seed, Result: string(run.Result), Failure: firstLine(run.Failure), BaselineFails: bl != reports.Pass}
		r.Failures = append(r.Failures, f)
		if f.BaselineFails {
			continue
		}
		r.FailingSeeds++
		if v := Verdict(run.Result); severity(v) > severity(r.Verdict) {
			r.Verdict = v
		}
		if r.FirstFailing == "" {
			r.FirstFailing = run.Seed
			r.Reproduce = reproduce(run)
		}
	}
	return nil
}

// build compiles vopr in dir. The copy has no .git: the binary carries no
// commit stamp to confuse with the original's.
func (h *harness) build(ctx context.Context, dir string) (string, error) {
	exe := filepath.Join(dir, "bin", "vopr")
	cmd := exec.CommandContext(ctx, h.goCmd(), "build", "-trimpath", "-buildvcs=false", "-o", exe, "./cmd/vopr")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%v: %s", err, tailLines(out.String(), buildErrorLines))
	}
	return exe, nil
}

// buildErrorLines of a failed build are kept in the table's detail.
const buildErrorLines = 6

func (h *harness) goCmd() string {
	if h.o.Go != "" {
		return h.o.Go
	}
	return "go"
}

// swarmSlack is how long past its budget and per-seed limit a mutant's swarm
// may take (start-up, writing its output) before the harness kills it.
const swarmSlack = 2 * time.Minute

// swarm runs the mutant's own `vopr swarm`, one seed at a time: the
// harness runs mutants side by side instead.
func (h *harness) swarm(ctx context.Context, exe, out string, flags []string) ([]reports.Run, string, error) {
	if err := os.RemoveAll(out); err != nil {
		return nil, "", err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, "", err
	}
	args := []string{"swarm", "--from", strconv.FormatUint(h.o.From, 10), "--count", strconv.Itoa(h.o.Count),
		"--jobs", "1", "--out", out, "--timeout", h.o.Timeout.String()}
	if h.o.Budget > 0 {
		args = append(args, "--budget", h.o.Budget.String())
	}
	if h.o.StopAfter > 0 {
		args = append(args, "--stop-after", strconv.Itoa(h.o.StopAfter))
	}
	args = append(args, flags...)
	limit := h.o.Budget + h.o.Timeout + swarmSlack
	sctx, cancel := ctx, context.CancelFunc(func() {})
	if h.o.Budget > 0 {
		sctx, cancel = context.WithTimeout(ctx, limit)
	}
	defer cancel()
	log, err := os.Create(filepath.Join(out, "swarm.log"))
	if err != nil {
		return nil, "", err
	}
	defer log.Close()
	cmd := exec.CommandContext(sctx, exe, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return nil, "", err
	}
	if sctx.Err() != nil {
		return nil, "", fmt.Errorf("swarm killed after %s: see %s", limit, log.Name())
	}
	runs, sum, err := swarm.Load(out)
	if err != nil {
		return nil, "", fmt.Errorf("%v (swarm %v): see %s", err, exit, log.Name())
	}
	stopped := ""
	if sum != nil {
		stopped = sum.Stopped
	}
	return runs, stopped, nil
}

// baselineResult runs vopr with args on the unmutated snapshot, built once
// on first need, and remembers the answer.
func (h *harness) baselineResult(ctx context.Context, args []string) (reports.Result, error) {
	h.buildBL.Do(func() { h.blExe, h.blErr = h.build(ctx, h.base.Root) })
	if h.blErr != nil {
		return "", h.blErr
	}
	key := strings.Join(args, " ")
	h.mu.Lock()
	res, ok := h.baseline[key]
	h.mu.Unlock()
	if ok {
		return res, nil
	}
	res, _ = h.runSeed(ctx, h.blExe, args)
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	h.mu.Lock()
	h.baseline[key] = res
	h.mu.Unlock()
	if res != reports.Pass {
		h.logf("  baseline fails %s too (%s): not counted against any mutant", key, res)
	}
	return res, nil
}

// runSeed runs one vopr seed (args without --json) with the per-seed time
// limit and returns its result and first failure line.
func (h *harness) runSeed(ctx context.Context, exe string, args []string) (reports.Result, string) {
	sctx, cancel := context.WithTimeout(ctx, h.o.Timeout)
	defer cancel()
	cmd := exec.CommandContext(sctx, exe, append(append([]string{}, args...), "--json")...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	_ = cmd.Run() // a failing seed exits non-zero; the record says how
	var rec reports.Record
	switch {
	case sctx.Err() != nil:
		return reports.Timeout, ""
	case json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &rec) != nil:
		return reports.Crash, ""
	default:
		return rec.Result, rec.Failure
	}
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
