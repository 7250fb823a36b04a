// Command vopr is the Viewstamped Operation Replicator: it runs a whole
// simulated cluster for one seed and reports a verdict that the same seed
// reproduces exactly.
package main

import (
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"viewstamp/faults"
	"viewstamp/replica/vsr"
	"viewstamp/reports"
	"viewstamp/sim"
)

// errUsage marks errors that exit 1.
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	code := 0
	root := newRoot(stdout, stderr, &code)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(stderr, "vopr:", err)
		return 1
	}
	return code
}

type flags struct {
	seed             string
	lite             bool
	ticksMax         uint64
	ticksMaxRequests uint64
	ticksMaxConv     uint64
	requestsMax      int
	journalSlots     uint64
	clockFaults      bool
	storageFaults    bool
	storageFaultsOff []string
	storageGrid      bool
	log              string
	json             bool
	report           string
	bug              string
	cpuProfile       string
	memProfile       string
}

func newRoot(stdout, stderr io.Writer, code *int) *cobra.Command {
	var f flags
	cmd := &cobra.Command{
		Use:   "vopr [--seed N]",
		Short: "Simulate a Viewstamp cluster under faults chosen by a seed and check every invariant",
		Long: `vopr runs six-replica-or-fewer clusters, clients, network and disks in one
goroutine on simulated time. Everything it does is drawn from the seed, so
'vopr --seed N' reproduces a run exactly.

Exit codes: 0 pass, 1 usage error, 127 crash, 128 liveness failure,
129 correctness failure.`,
		Args:          cobra.MaximumNArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if f.seed != "" {
					return fmt.Errorf("%w: seed given twice", errUsage)
				}
				f.seed = args[0]
			}
			c, err := runSeed(f, stdout, stderr)
			*code = c
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.seed, "seed", "", "seed: decimal u64, or a 40-hex git commit hash (its low 64 bits); random if absent")
	fl.BoolVar(&f.lite, "lite", false, "safety phase only: no liveness phase")
	fl.Uint64Var(&f.ticksMax, "ticks-max", 0, "safety phase limit in ticks of 10 ms (default 400000; with --requests-max above 200, 8000 ticks per request per client, so that many requests have time to be made)")
	fl.Uint64Var(&f.ticksMaxRequests, "ticks-max-requests", 0, "end the safety phase after this many ticks without a reply to any client (default 100000, whatever --requests-max: a long run may meet a longer outage, e.g. a one-replica cluster down, and end short of --requests-max, which the verdict and the record's safety_end say)")
	fl.Uint64Var(&f.ticksMaxConv, "ticks-max-convergence", 0, "liveness phase budget in ticks (default 30000)")
	fl.IntVar(&f.requestsMax, "requests-max", 0, "client requests in the safety phase (default: drawn from the seed)")
	fl.Uint64Var(&f.journalSlots, "journal-slots", 0, "WAL slots per replica (default 32, the simulator preset: checkpoints every 20 ops); a larger WAL wraps less often")
	fl.BoolVar(&f.clockFaults, "clock-faults", false, "give every replica its own clock, with offset, drift, wander and steps drawn from the seed")
	fl.BoolVar(&f.storageFaults, "storage-faults", false, "make every disk hostile: latent sector errors, bit rot, write faults, misdirected writes and reads, torn writes, superblock faults, drawn from the seed and placed so the cluster can recover")
	fl.StringSliceVar(&f.storageFaultsOff, "storage-faults-off", nil, "with --storage-faults, keep these classes off: "+strings.Join(faults.StorageClasses, ", "))
	// Grid faults were opt-in until a stalled commit could give way to state
	// sync; the flag stays so that older reproduce commands still run.
	fl.BoolVar(&f.storageGrid, "storage-faults-grid", true, "no effect: grid faults are part of --storage-faults (--storage-faults-off grid keeps them off)")
	_ = fl.MarkHidden("storage-faults-grid")
	fl.StringVar(&f.log, "log", "info", "log level: error, info or debug")
	fl.BoolVar(&f.json, "json", false, "print only the run record as one JSON object")
	fl.StringVar(&f.report, "report", "", "write graphs of the run (timeline, latency, messages) and an index.html into this directory")
	fl.StringVar(&f.bug, "plant-bug", "", "plant a known protocol bug, to show the checkers catch it: "+strings.Join(bugNames(), ", "))
	_ = fl.MarkHidden("plant-bug")
	fl.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	fl.StringVar(&f.memProfile, "memprofile", "", "write a heap profile taken as the safety phase ends, the cluster still alive, to this file (go tool pprof)")
	cmd.AddCommand(newSwarmCmd(stdout, stderr, code))
	cmd.AddCommand(newDrawCmd(stdout, stderr, code))
	return cmd
}

// ParseSeed accepts a decimal u64 or a 40-hex commit hash.
func ParseSeed(s string) (uint64, error) {
	if len(s) == 40 && strings.Trim(strings.ToLower(s), "0123456789abcdef") == "" {
		return strconv.ParseUint(s[24:], 16, 64)
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: seed %q is neither a decimal u64 nor a 40-hex commit hash", errUsage, s)
	}
	return v, nil
}

func runSeed(f flags, stdout, stderr io.Writer) (int, error) {
	var seed uint64
	if f.seed == "" {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return 1, err
		}
		seed = binary.LittleEndian.Uint64(b[:])
	} else {
		s, err := ParseSeed(f.seed)
		if err != nil {
			return 1, err
		}
		seed = s
	}
	levels := []string{"error", "info", "debug"}
	if !slices.Contains(levels, f.log) {
		return 1, fmt.Errorf("%w: --log %q: want one of %s", errUsage, f.log, strings.Join(levels, ", "))
	}
	if f.requestsMax < 0 {
		return 1, fmt.Errorf("%w: --requests-max must not be negative", errUsage)
	}
	opts := faults.Draw(seed, faults.Limits{RequestsMax: f.requestsMax})
	cfg := sim.Config{Lite: f.lite, TicksMax: f.ticksMax, TicksMaxRequests: f.ticksMaxRequests, TicksMaxConvergence: f.ticksMaxConv, ClockFaults: f.clockFaults,
		StorageFaults: f.storageFaults, StorageFaultsOff: f.storageFaultsOff}
	if slots := f.journalSlots; slots > 0 {
		cfg.Mutate = func(c *vsr.Config) { c.JournalSlotCount = slots }
	}
	if f.bug != "" && f.journalSlots > 0 {
		return 1, fmt.Errorf("%w: --plant-bug and --journal-slots exclude each other", errUsage)
	}
	if f.bug != "" {
		plant, err := plantedBug(f.bug)
		if err != nil {
			return 1, err
		}
		plant(&cfg)
	}
	if _, err := sim.New(opts, cfg); err != nil {
		return 1, fmt.Errorf("%w: %v", errUsage, err)
	}
	info := !f.json && f.log != "error"
	if info {
		fmt.Fprintf(stdout, "seed %d\n", seed)
		printOptions(stdout, faults.Describe(opts))
		cfg.ProgressTicks = 10_000
		cfg.Progress = func(tick uint64, done, max int) {
			fmt.Fprintf(stderr, "tick %d: %d/%d requests completed\n", tick, done, max)
		}
	}
	if f.log == "debug" && !f.json {
		cfg.Log = func(tick uint64, format string, args ...any) {
			fmt.Fprintf(stdout, "%8d "+format+"\n", append([]any{tick}, args...)...)
		}
	}
	var tl reports.Timeline
	if f.report != "" {
		cfg.Recorder = &tl
	}
	stopProfile, err := startProfiles(f.cpuProfile)
	if err != nil {
		return 1, err
	}
	var heapErr error
	if f.memProfile != "" {
		cfg.SafetyEnd = func() { heapErr = writeHeapProfile(f.memProfile) }
	}
	start := time.Now()
	rec := sim.Run(opts, cfg)
	elapsed := time.Since(start)
	if err := errors.Join(stopProfile(), heapErr); err != nil {
		return 1, err
	}
	if f.report != "" {
		if err := reports.WriteSeedReport(f.report, rec, &tl, reports.Reproduce(rec.Seed, f.runFlags())); err != nil {
			return 1, fmt.Errorf("report: %w", err)
		}
		fmt.Fprintf(stderr, "report: %s\n", filepath.Join(f.report, "index.html"))
	}
	if f.json {
		b, _ := json.Marshal(rec)
		fmt.Fprintln(stdout, string(b))
		return rec.ExitCode, nil
	}
	verdict(stdout, rec, f, elapsed)
	return rec.ExitCode, nil
}

func printOptions(w io.Writer, opts map[string]any) {
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-30s %v\n", k, opts[k])
	}
}

// printWorkload shows what the ledger did: one line per operation, its
// statuses most frequent first.
func printWorkload(w io.Writer, byOp map[string]map[string]uint64) {
	ops := make([]string, 0, len(byOp))
	for op := range byOp {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	for _, op := range ops {
		fmt.Fprintf(w, "  %-22s%s\n", op+":", counts(byOp[op]))
	}
}

// counts renders m as " name n, name n", the largest count first and
// names in order among equal counts.
func counts(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(m[b], m[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	line := ""
	for i, k := range keys {
		if i > 0 {
			line += ","
		}
		line += fmt.Sprintf(" %s %d", k, m[k])
	}
	return line
}

func verdict(w io.Writer, rec reports.Record, f flags, elapsed time.Duration) {
	simSeconds := float64(rec.Ticks) / 100
	fmt.Fprintf(w, "%d ticks (%.0f s simulated in %.2f s, %.0fx), %d requests, commit %d, view %d, %d view changes, %d crashes, %d restarts, %d partitions\n",
		rec.Ticks, simSeconds, elapsed.Seconds(), simSeconds/max(elapsed.Seconds(), 1e-9), rec.RequestsCompleted, rec.CommitMax,
		rec.ViewMax, rec.ViewChanges, rec.Crashes, rec.Restarts, rec.Partitions)
	fmt.Fprintf(w, "messages: %d sent, %d delivered, %d dropped, %d duplicated; trace %s\n",
		rec.Messages.Sent, rec.Messages.Delivered, rec.Messages.Dropped, rec.Messages.Duplicated, rec.TraceHash)
	if s := rec.StorageFaults; s != nil {
		fmt.Fprintf(w, "storage faults: %d latent, %d bit rot, %d write, %d misdirected writes, %d misdirected reads, %d torn, %d superblock, %d crash head\n",
			s.Latent, s.BitRot, s.Write, s.MisdirectedWrite, s.MisdirectedRead, s.Torn, s.Superblock, s.CrashHead)
		if s.Reformats > 0 {
			fmt.Fprintf(w, "reformats: %d\n", s.Reformats)
		}
	}
	if p := rec.Repairs; p != nil {
		fmt.Fprintf(w, "repairs: WAL slots %d mended at open, %d faulty at open; %d superblock copies; %d headers, %d prepares; %d grid blocks, %d sync blocks; %d replies\n",
			p.WALFixed, p.WALFaulty, p.Superblock, p.Headers, p.Prepares, p.Blocks, p.SyncBlocks, p.Replies)
	}
	if s := rec.Scrub; s != nil && s.Faults > 0 {
		fmt.Fprintf(w, "scrub: %d blocks verified in %d cycles, %d damaged found, %d repaired\n", s.Scrubbed, s.Cycles, s.Faults, s.Repaired)
	}
	if len(rec.GridReads) > 0 {
		fmt.Fprintf(w, "grid reads failing verification:%s\n", counts(rec.GridReads))
	}
	printWorkload(w, rec.Workload)
	switch rec.SafetyEnd {
	case reports.SafetyEndTicksMax:
		fmt.Fprintf(w, "safety phase ended at --ticks-max with %d of %v requests sent (raise --ticks-max to send them all)\n", rec.RequestsSent, rec.Options["requests_max"])
	case reports.SafetyEndPatience:
		fmt.Fprintf(w, "safety phase ended after a stretch of --ticks-max-requests without a reply, with %d of %v requests sent (raise --ticks-max-requests to wait longer)\n", rec.RequestsSent, rec.Options["requests_max"])
	}
	if rec.LivenessExcused != "" {
		fmt.Fprintf(w, "liveness excused: %s\n", rec.LivenessExcused)
	}
	if rec.Result == reports.Pass {
		fmt.Fprintf(w, "PASSED (%d ticks)\n", rec.Ticks)
		return
	}
	fmt.Fprintf(w, "FAILED: %s: %s\n", rec.Result, rec.Failure)
	repro := reports.Reproduce(rec.Seed, f.runFlags())
	fmt.Fprintf(w, "reproduce: %s --log debug\n", repro)
}

// startProfiles starts a CPU profile into cpu, if named; the function it
// returns stops it.
func startProfiles(cpu string) (stop func() error, err error) {
	if cpu == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(cpu)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		return nil
	}, nil
}

// writeHeapProfile writes what the heap holds now (after a collection, so
// the in-use figures are live objects only) into path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--memprofile: %w", err)
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("--memprofile: %w", err)
	}
	return f.Close()
}
