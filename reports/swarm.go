package reports

import (
	"cmp"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Timeout is a swarm's verdict on a seed whose run outlived the per-seed
// time limit; the simulator itself never reports it.
const Timeout Result = "timeout"

// Run is one line of a swarm's runs.jsonl: a seed's run record plus what it
// takes to get the same record again.
type Run struct {
	Record
	Flags     []string `json:"flags,omitempty"` // vopr flags besides --seed and --json
	Commit    string   `json:"commit"`
	Reproduce string   `json:"reproduce"`
	WallMs    int64    `json:"wall_ms"` // wall clock: the one field that differs between equal runs
}

// SeedValue is the run's seed as a number, for ordering.
func (r *Run) SeedValue() uint64 {
	v, _ := strconv.ParseUint(r.Seed, 10, 64)
	return v
}

// Converged reports whether the run went through the liveness phase and
// converged, in which case LivenessTicks is meaningful even when zero.
func (r *Run) Converged() bool {
	return r.Result == Pass && !slices.Contains(r.Flags, "--lite")
}

// Reproduce is the command that replays seed with flags.
func Reproduce(seed string, flags []string) string {
	return strings.Join(append([]string{"vopr", "--seed", seed}, flags...), " ")
}

// SortRuns orders runs by seed, so that outputs do not depend on which
// child finished first or which machine ran which shard.
func SortRuns(runs []Run) {
	slices.SortStableFunc(runs, func(a, b Run) int {
		return cmp.Or(cmp.Compare(a.SeedValue(), b.SeedValue()), strings.Compare(a.Reproduce, b.Reproduce))
	})
}

// Summary is a swarm's outcome. Everything but Meta is a function of the
// runs and the plan, so two shards merged and one unsharded swarm over the
// same seeds summarise identically.
type Summary struct {
	Commits  []string       `json:"commits"`
	Planned  int            `json:"planned"` // seeds the swarm set out to run
	Ran      int            `json:"ran"`
	Stopped  string         `json:"stopped,omitempty"` // "interrupt" or "budget" when Ran < Planned
	Results  map[Result]int `json:"results"`
	Failures []Group        `json:"failures"`
	// Ticks to converge in the liveness phase, over runs that converged.
	Liveness Spread `json:"liveness_ticks"`
	// Coverage is, per fault class, repair kind and rare path, how many
	// runs saw it and how often in all: what the swarm exercised, so that
	// a passing swarm can be read for what it proves (coverageOf).
	Coverage []Tally `json:"coverage,omitempty"`
	Meta     Meta    `json:"meta"`
}

// Tally is one coverage line: runs with Name non-zero, and its total.
type Tally struct {
	Name  string `json:"name"`
	Seeds int    `json:"seeds"`
	Total uint64 `json:"total"`
}

// coverageOf lists the counters of a record a swarm's coverage sums, in
// the order they print: storage faults injected, the repairs they caused,
// grid reads that failed verification (by what was found), and the rare
// paths of recovery.
func coverageOf(r *Record) []Tally {
	var t []Tally
	add := func(name string, v uint64) { t = append(t, Tally{Name: name, Total: v}) }
	sf := StorageFaults{}
	if r.StorageFaults != nil {
		sf = *r.StorageFaults
	}
	add("storage_faults.latent", sf.Latent)
	add("storage_faults.bit_rot", sf.BitRot)
	add("storage_faults.write", sf.Write)
	add("storage_faults.misdirected_write", sf.MisdirectedWrite)
	add("storage_faults.misdirected_read", sf.MisdirectedRead)
	add("storage_faults.torn", sf.Torn)
	add("storage_faults.superblock", sf.Superblock)
	add("storage_faults.crash_head", sf.CrashHead)
	add("storage_faults.reformats", sf.Reformats)
	rp := Repairs{}
	if r.Repairs != nil {
		rp = *r.Repairs
	}
	add("repairs.wal_fixed_locally", rp.WALFixed)
	add("repairs.wal_faulty_at_open", rp.WALFaulty)
	add("repairs.superblock_copies", rp.Superblock)
	add("repairs.headers", rp.Headers)
	add("repairs.prepares", rp.Prepares)
	add("repairs.grid_blocks", rp.Blocks)
	add("repairs.sync_blocks", rp.SyncBlocks)
	add("repairs.replies", rp.Replies)
	var scrubbed uint64
	if r.Scrub != nil {
		scrubbed = r.Scrub.Repaired
	}
	add("repairs.scrubbed_blocks", scrubbed)
	for _, k := range gridReadResults {
		add("grid_read_faults."+k, r.GridReads[k])
	}
	add("checkpoints", uint64(r.Checkpoints))
	add("state_syncs", r.StateSyncs)
	add("journal_wraps", r.JournalWraps)
	add("recovering_head", r.RecoveringHead)
	return t
}

// gridReadResults are the names of failed grid block verifications, as
// block.Result spells them (reports does not import the replica).
var gridReadResults = []string{"bad_header_checksum", "invalid_header", "misdirected", "stale", "bad_body_checksum", "bad_padding"}

// Spread is a distribution in brief.
type Spread struct {
	Count int    `json:"count"`
	P50   uint64 `json:"p50"`
	P99   uint64 `json:"p99"`
	Max   uint64 `json:"max"`
}

// Group is the failing seeds that share a signature, shortest run first:
// the fewest ticks is the quickest to debug.
type Group struct {
	Signature string    `json:"signature"`
	Result    Result    `json:"result"`
	Count     int       `json:"count"`
	Seeds     []Failing `json:"seeds"`
}

// Failing is one failing seed of a group.
type Failing struct {
	Seed      string `json:"seed"`
	Ticks     uint64 `json:"ticks"`
	Failure   string `json:"failure"`
	Reproduce string `json:"reproduce"`
}

// Meta is how and when a swarm ran: it differs between equal swarms.
type Meta struct {
	Shards         []string `json:"shards,omitempty"` // "K/M" of each part merged, or of this one
	Jobs           int      `json:"jobs,omitempty"`
	WallSeconds    float64  `json:"wall_seconds"` // summed over the parts of a merge
	SeedsPerMinute float64  `json:"seeds_per_minute,omitempty"`
}

var (
	// Checksums and other long hex strings first, so their digits are not
	// read as numbers.
	hexRun = regexp.MustCompile(`\b(0x)?[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b`)
	number = regexp.MustCompile(`\d+`)
)

// Signature names a failure so that runs hitting the same bug group
// together: the result plus the first line of the reason with op, replica,
// view, tick and checksum values blanked out.
func Signature(result Result, failure string) string {
	line, _, _ := strings.Cut(failure, "\n")
	line = hexRun.ReplaceAllStringFunc(line, func(s string) string {
		if len(strings.TrimPrefix(s, "0x")) < 8 {
			return s
		}
		return "#"
	})
	return string(result) + ": " + strings.TrimSpace(number.ReplaceAllString(line, "N"))
}

// Summarize folds runs into a summary; planned is how many seeds were meant
// to run.
func Summarize(runs []Run, planned int) Summary {
	s := Summary{Planned: planned, Ran: len(runs), Results: map[Result]int{}, Commits: []string{}, Failures: []Group{}}
	groups := map[string]*Group{}
	var liveness []uint64
	for i := range runs {
		r := &runs[i]
		s.Results[r.Result]++
		if !slices.Contains(s.Commits, r.Commit) {
			s.Commits = append(s.Commits, r.Commit)
		}
		if r.Converged() {
			liveness = append(liveness, r.LivenessTicks)
		}
		for k, c := range coverageOf(&r.Record) {
			if len(s.Coverage) <= k {
				s.Coverage = append(s.Coverage, Tally{Name: c.Name})
			}
			if c.Total > 0 {
				s.Coverage[k].Seeds++
				s.Coverage[k].Total += c.Total
			}
		}
		if r.Result == Pass {
			continue
		}
		sig := Signature(r.Result, r.Failure)
		g := groups[sig]
		if g == nil {
			g = &Group{Signature: sig, Result: r.Result}
			groups[sig] = g
		}
		g.Count++
		g.Seeds = append(g.Seeds, Failing{Seed: r.Seed, Ticks: r.Ticks, Failure: r.Failure, Reproduce: r.Reproduce})
	}
	slices.Sort(s.Commits)
	for _, g := range groups {
		slices.SortStableFunc(g.Seeds, func(a, b Failing) int {
			av, _ := strconv.ParseUint(a.Seed, 10, 64)
			bv, _ := strconv.ParseUint(b.Seed, 10, 64)
			return cmp.Or(cmp.Compare(a.Ticks, b.Ticks), cmp.Compare(av, bv), strings.Compare(a.Reproduce, b.Reproduce))
		})
		s.Failures = append(s.Failures, *g)
	}
	slices.SortFunc(s.Failures, func(a, b Group) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Seeds[0].Ticks, b.Seeds[0].Ticks), strings.Compare(a.Signature, b.Signature))
	})
	if len(liveness) > 0 {
		slices.Sort(liveness)
		s.Liveness = Spread{Count: len(liveness), P50: Percentile(liveness, 50), P99: Percentile(liveness, 99), Max: liveness[len(liveness)-1]}
	}
	return s
}

// ResultOrder lists results from best to worst, for printing and graphs.
var ResultOrder = []Result{Pass, Correctness, Liveness, Crash, Timeout}

// ExitCode is a swarm's exit code: the worst result among its seeds.
func (s *Summary) ExitCode() int {
	for _, r := range []Result{Correctness, Liveness, Crash, Timeout} {
		if s.Results[r] > 0 {
			return r.ExitCode()
		}
	}
	return 0
}

// Print writes the summary for a person: counts per result, then each
// failure group with its shortest seeds and their reproduce commands.
func (s *Summary) Print(w io.Writer, seedsPerGroup int) {
	fmt.Fprintf(w, "%d of %d seeds ran", s.Ran, s.Planned)
	if s.Stopped != "" {
		fmt.Fprintf(w, " (stopped by %s)", s.Stopped)
	}
	fmt.Fprintf(w, " at commit %s", strings.Join(s.Commits, ", "))
	if s.Meta.WallSeconds > 0 {
		fmt.Fprintf(w, " in %.1f s", s.Meta.WallSeconds)
	}
	if s.Meta.SeedsPerMinute > 0 {
		fmt.Fprintf(w, " (%.0f seeds/min with %d jobs)", s.Meta.SeedsPerMinute, s.Meta.Jobs)
	}
	fmt.Fprintln(w)
	var counts []string
	for _, r := range ResultOrder {
		if n := s.Results[r]; n > 0 {
			counts = append(counts, fmt.Sprintf("%s %d", r, n))
		}
	}
	fmt.Fprintf(w, "results: %s\n", strings.Join(counts, ", "))
	if s.Liveness.Count > 0 {
		fmt.Fprintf(w, "liveness phase: converged in p50 %d, p99 %d, max %d ticks (%d runs)\n", s.Liveness.P50, s.Liveness.P99, s.Liveness.Max, s.Liveness.Count)
	}
	s.printCoverage(w)
	if len(s.Failures) == 0 {
		return
	}
	fmt.Fprintf(w, "failures by signature (%d), shortest seed first:\n", len(s.Failures))
	for _, g := range s.Failures {
		fmt.Fprintf(w, "  %d × %s\n", g.Count, g.Signature)
		for i, f := range g.Seeds {
			if i == seedsPerGroup {
				fmt.Fprintf(w, "      … %d more in summary.json\n", len(g.Seeds)-i)
				break
			}
			fmt.Fprintf(w, "      %-22s %8d ticks   %s\n", f.Seed, f.Ticks, f.Reproduce)
		}
	}
}

// printCoverage prints the coverage lines with a non-zero total, grouped
// by the part of the name before its dot: "runs with it (in all)".
func (s *Summary) printCoverage(w io.Writer) {
	var line, group string
	flush := func() {
		if line != "" {
			fmt.Fprintf(w, "  %-17s%s\n", group+":", line)
		}
		line = ""
	}
	header := false
	for _, c := range s.Coverage {
		if c.Seeds == 0 {
			continue
		}
		if !header {
			fmt.Fprintln(w, "coverage, runs with each (total):")
			header = true
		}
		g, name, ok := strings.Cut(c.Name, ".")
		if !ok {
			g, name = "paths", c.Name
		}
		if g != group {
			flush()
			group = g
		}
		if line != "" {
			line += ","
		}
		line += fmt.Sprintf(" %s %d (%d)", name, c.Seeds, c.Total)
	}
	flush()
}
