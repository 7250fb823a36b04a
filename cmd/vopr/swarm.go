package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"viewstamp/reports"
	"viewstamp/swarm"
)

type swarmFlags struct {
	count       int
	from        string
	seeds       string
	jobs        int
	shard       string
	out         string
	budget      time.Duration
	stopAfter   int
	timeout     time.Duration
	report      string
	reportSeeds int
	record      string
	child       flags // passed on to every seed
}

// interrupted is the exit code after Ctrl-C, as a shell reports SIGINT.
const interrupted = 130

func newSwarmCmd(stdout, stderr io.Writer, code *int) *cobra.Command {
	var f swarmFlags
	cmd := &cobra.Command{
		Use:   "swarm --count N [--from SEED | --seeds FILE] [--jobs J] [--shard K/M] [--out DIR]",
		Short: "Run many seeds in parallel child processes and summarise the failures",
		Long: `swarm runs each seed as a child 'vopr --seed S --json', J at a time, and
writes DIR/runs.jsonl (one run record per seed, with the git commit and the
exact reproduce command) and DIR/summary.json, then prints the counts per
result and the failing seeds grouped by failure signature, shortest first.

--shard K/M runs every M-th seed of the range from the K-th (K from 0):
machines given the same --from/--count (or --seeds) and distinct K run
disjoint seeds whose union is the range; 'vopr swarm merge' joins them.

A seed that outlives --timeout is killed and recorded as "timeout"; a child
that crashes is recorded as "crash" with its stderr. Ctrl-C kills the
children in flight and writes everything that finished.

Exit codes: 0 every seed passed, 129 / 128 / 127 the worst failure seen
(correctness / liveness / crash or timeout), 130 interrupted, 1 usage error.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := runSwarm(cmd, f, stdout, stderr)
			*code = c
			return err
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.count, "count", 100, "seeds to run (with --seeds: at most this many of the file's, 0 for all)")
	fl.StringVar(&f.from, "from", "", "first seed of the range (decimal or 40-hex); random if absent, required with --shard")
	fl.StringVar(&f.seeds, "seeds", "", "file of seeds to run instead of a range: one per line, # comments")
	fl.IntVar(&f.jobs, "jobs", runtime.NumCPU(), "child processes at once")
	fl.StringVar(&f.shard, "shard", "", "run only shard K of M of the seeds (K/M, 0 <= K < M)")
	fl.StringVar(&f.out, "out", "out/swarm", "directory for runs.jsonl and summary.json")
	fl.DurationVar(&f.budget, "budget", 0, "start no new seed after this much wall time (e.g. 30m); 0: no limit")
	fl.IntVar(&f.stopAfter, "stop-after", 0, "start no new seed once this many have failed; 0: run them all")
	fl.DurationVar(&f.timeout, "timeout", 5*time.Minute, "kill a seed that runs longer than this and record it as a timeout")
	fl.StringVar(&f.report, "report", "", "write swarm graphs and per-seed reports of failing seeds into this directory")
	fl.IntVar(&f.reportSeeds, "report-seeds", 20, "with --report: failing seeds to make per-seed reports for, at most")
	fl.StringVar(&f.record, "record", "", "append newly failing seeds to this regression corpus file (e.g. seeds/found.json)")
	fl.BoolVar(&f.child.lite, "lite", false, "passed to every seed: safety phase only")
	fl.Uint64Var(&f.child.ticksMax, "ticks-max", 0, "passed to every seed")
	fl.Uint64Var(&f.child.ticksMaxRequests, "ticks-max-requests", 0, "passed to every seed")
	fl.Uint64Var(&f.child.ticksMaxConv, "ticks-max-convergence", 0, "passed to every seed")
	fl.IntVar(&f.child.requestsMax, "requests-max", 0, "passed to every seed")
	fl.Uint64Var(&f.child.journalSlots, "journal-slots", 0, "passed to every seed")
	fl.BoolVar(&f.child.clockFaults, "clock-faults", true, "passed to every seed; on by default, so swarms run faulty clocks (--clock-faults=false: one perfect clock)")
	fl.BoolVar(&f.child.storageFaults, "storage-faults", false, "passed to every seed")
	fl.StringSliceVar(&f.child.storageFaultsOff, "storage-faults-off", nil, "passed to every seed")
	fl.BoolVar(&f.child.storageGrid, "storage-faults-grid", true, "no effect: grid faults are part of --storage-faults")
	_ = fl.MarkHidden("storage-faults-grid")
	fl.StringVar(&f.child.bug, "plant-bug", "", "passed to every seed")
	_ = fl.MarkHidden("plant-bug")
	cmd.AddCommand(newMergeCmd(stdout, stderr, code, &f))
	return cmd
}

func newMergeCmd(stdout, stderr io.Writer, code *int, sf *swarmFlags) *cobra.Command {
	var out, report string
	var reportSeeds int
	cmd := &cobra.Command{
		Use:   "merge DIR...",
		Short: "Merge the outputs of swarm shards into one runs.jsonl and summary",
		Long: `merge reads DIR/runs.jsonl and DIR/summary.json of each shard's output
and writes the union, in seed order, with one summary over all of them.
Shards that overlap are an error. With --report it also draws the swarm
graphs and re-runs failing seeds for their per-seed reports, which needs
this binary to be built from the commit the shards ran.`,
		Args:          cobra.MinimumNArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, dirs []string) error {
			runs, sum, err := swarm.Merge(dirs)
			if err != nil {
				*code = 1
				return err
			}
			if err := swarm.Write(out, runs, sum); err != nil {
				*code = 1
				return err
			}
			if report != "" {
				if err := writeReport(context.Background(), report, runs, sum, sf.timeout, reportSeeds, stderr); err != nil {
					*code = 1
					return err
				}
			}
			sum.Print(stdout, 5)
			fmt.Fprintf(stdout, "merged %d parts into %s\n", len(dirs), filepath.Join(out, swarm.RunsFile))
			*code = sum.ExitCode()
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "out/swarm-merged", "directory for the merged runs.jsonl and summary.json")
	cmd.Flags().StringVar(&report, "report", "", "write swarm graphs and per-seed reports of failing seeds into this directory")
	cmd.Flags().IntVar(&reportSeeds, "report-seeds", 20, "with --report: failing seeds to make per-seed reports for, at most")
	return cmd
}

// runFlags are the flags that shape a run, besides the seed, in a fixed
// order: a reproduce command must carry them, a swarm passes them to every
// seed, and equal swarms must print equal commands.
func (f flags) runFlags() []string {
	var out []string
	if f.lite {
		out = append(out, "--lite")
	}
	if f.clockFaults {
		out = append(out, "--clock-faults")
	}
	if f.storageFaults {
		out = append(out, "--storage-faults")
	}
	if len(f.storageFaultsOff) > 0 {
		out = append(out, "--storage-faults-off", strings.Join(f.storageFaultsOff, ","))
	}
	for _, kv := range []struct {
		name string
		v    uint64
	}{{"--ticks-max", f.ticksMax}, {"--ticks-max-requests", f.ticksMaxRequests},
		{"--ticks-max-convergence", f.ticksMaxConv}, {"--requests-max", uint64(max(f.requestsMax, 0))},
		{"--journal-slots", f.journalSlots}} {
		if kv.v > 0 {
			out = append(out, kv.name, strconv.FormatUint(kv.v, 10))
		}
	}
	if f.bug != "" {
		out = append(out, "--plant-bug", f.bug)
	}
	return out
}

// seedList is the swarm's whole seed list, before sharding.
func (f swarmFlags) seedList(cmd *cobra.Command, stderr io.Writer) ([]uint64, error) {
	if f.seeds != "" {
		if cmd.Flags().Changed("from") {
			return nil, fmt.Errorf("%w: --from and --seeds exclude each other", errUsage)
		}
		seeds, err := readSeeds(f.seeds)
		if err != nil {
			return nil, err
		}
		if cmd.Flags().Changed("count") && f.count > 0 && f.count < len(seeds) {
			seeds = seeds[:f.count]
		}
		return seeds, nil
	}
	if f.count <= 0 {
		return nil, fmt.Errorf("%w: --count must be positive", errUsage)
	}
	var from uint64
	if f.from == "" {
		if f.shard != "" {
			return nil, fmt.Errorf("%w: --shard needs --from (or --seeds), so that every shard splits the same range", errUsage)
		}
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		// Keep the range clear of the wrap at 2^64, where consecutive
		// seeds would stop reading as a range.
		from = binary.LittleEndian.Uint64(b[:]) >> 1
		fmt.Fprintf(stderr, "swarm: --from %d (random)\n", from)
	} else {
		v, err := ParseSeed(f.from)
		if err != nil {
			return nil, err
		}
		from = v
	}
	return swarm.Range(from, f.count), nil
}

// readSeeds reads a seed file: a seed (decimal or 40-hex) first on each
// line; blank lines and # comments are skipped, and so are repeats.
func readSeeds(path string) ([]uint64, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	var seeds []uint64
	seen := map[uint64]bool{}
	sc := bufio.NewScanner(file)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(strings.SplitN(sc.Text(), "#", 2)[0])
		if len(fields) == 0 {
			continue
		}
		s, err := ParseSeed(fields[0])
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, n, err)
		}
		if !seen[s] {
			seen[s] = true
			seeds = append(seeds, s)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(seeds) == 0 {
		return nil, fmt.Errorf("%w: %s holds no seeds", errUsage, path)
	}
	return seeds, nil
}

func runSwarm(cmd *cobra.Command, f swarmFlags, stdout, stderr io.Writer) (int, error) {
	if f.jobs < 1 {
		return 1, fmt.Errorf("%w: --jobs must be at least 1", errUsage)
	}
	if f.child.bug != "" {
		if _, err := plantedBug(f.child.bug); err != nil {
			return 1, err
		}
	}
	seeds, err := f.seedList(cmd, stderr)
	if err != nil {
		return 1, err
	}
	var shards []string
	if f.shard != "" {
		k, m, err := swarm.ParseShard(f.shard)
		if err != nil {
			return 1, fmt.Errorf("%w: %v", errUsage, err)
		}
		seeds = swarm.Shard(seeds, k, m)
		shards = []string{f.shard}
	}
	exe, err := os.Executable()
	if err != nil {
		return 1, err
	}
	o := swarm.Options{Exe: exe, Flags: f.child.runFlags(), Jobs: f.jobs, Timeout: f.timeout, Budget: f.budget, StopAfter: f.stopAfter, Commit: swarm.Commit()}
	journal, err := swarm.Create(f.out)
	if err != nil {
		return 1, err
	}
	fmt.Fprintf(stderr, "swarm: %d seeds, %d jobs, commit %s, output %s\n", len(seeds), f.jobs, o.Commit, f.out)
	progress := swarm.NewProgress(stderr, isTerminal(stderr), len(seeds))
	var journalErr error
	o.OnRun = func(r reports.Run) {
		if err := journal.Add(r); err != nil && journalErr == nil {
			journalErr = err
		}
		progress.Add(r)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills the swarm outright
	}()
	outcome := swarm.Run(ctx, seeds, o)
	progress.Finish()
	if err := journal.Close(); err != nil && journalErr == nil {
		journalErr = err
	}
	if journalErr != nil {
		fmt.Fprintln(stderr, "swarm: journal:", journalErr)
	}

	sum := reports.Summarize(outcome.Runs, len(seeds))
	sum.Stopped = outcome.Stopped
	sum.Meta = reports.Meta{Shards: shards, Jobs: f.jobs, WallSeconds: outcome.Wall.Seconds(),
		SeedsPerMinute: float64(len(outcome.Runs)) / max(outcome.Wall.Minutes(), 1e-9)}
	if err := swarm.Write(f.out, outcome.Runs, sum); err != nil {
		return 1, err
	}
	if f.record != "" {
		added, err := swarm.Record(f.record, outcome.Runs)
		if err != nil {
			return 1, err
		}
		fmt.Fprintf(stderr, "swarm: %d new failing seeds recorded in %s\n", len(added), f.record)
	}
	if f.report != "" {
		// After Ctrl-C, draw what finished but re-run nothing.
		rctx := ctx
		if outcome.Stopped == "interrupt" {
			rctx = canceled()
		}
		if err := writeReport(rctx, f.report, outcome.Runs, sum, f.timeout, f.reportSeeds, stderr); err != nil {
			return 1, err
		}
	}
	sum.Print(stdout, 5)
	fmt.Fprintf(stdout, "runs: %s  summary: %s\n", filepath.Join(f.out, swarm.RunsFile), filepath.Join(f.out, swarm.SummaryFile))
	if outcome.Stopped == "interrupt" {
		return interrupted, nil
	}
	return sum.ExitCode(), nil
}

func writeReport(ctx context.Context, dir string, runs []reports.Run, sum reports.Summary, timeout time.Duration, limit int, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if err := swarm.Report(ctx, dir, runs, sum, swarm.Options{Exe: exe, Timeout: timeout}, limit); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	fmt.Fprintf(stderr, "report: %s\n", filepath.Join(dir, "index.html"))
	return nil
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && swarm.IsTerminal(f)
}
