package swarm

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"viewstamp/reports"
)

// The test binary doubles as a fake vopr child when SWARM_FAKE_CHILD is
// set: it answers "--seed S --json" the way a real child can, including the
// ways a child can go wrong.
func TestMain(m *testing.M) {
	if os.Getenv("SWARM_FAKE_CHILD") != "" {
		os.Exit(fakeChild(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeChild(args []string) int {
	seed := args[1]
	n, _ := strconv.Atoi(seed)
	if d, err := time.ParseDuration(os.Getenv("SWARM_FAKE_SLEEP")); err == nil {
		time.Sleep(d)
	}
	switch n {
	case 3:
		panic("boom in the child")
	case 5:
		time.Sleep(time.Hour)
	case 7:
		fmt.Println("this is not a run record")
		return 0
	}
	rec := reports.Record{Seed: seed, Result: reports.Pass, Ticks: uint64(1000 - n)}
	if n%4 == 0 {
		rec.Result, rec.Failure = reports.Liveness, fmt.Sprintf("no convergence after 30000 ticks: replica %d is view_change in view %d", n%3, n)
	}
	rec.ExitCode = rec.Result.ExitCode()
	b, _ := json.Marshal(rec)
	fmt.Println(string(b))
	return rec.ExitCode
}

func fakeOptions(t *testing.T, extraEnv ...string) Options {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Options{Exe: exe, Flags: []string{"--lite"}, Jobs: 3, Timeout: 4 * time.Second, Commit: "c0ffee",
		Env: append(append(os.Environ(), "SWARM_FAKE_CHILD=1"), extraEnv...)}
}

// Every way a child can end is recorded, none is lost, and the hung one is
// killed at the per-seed limit.
func TestRunRecordsEveryOutcome(t *testing.T) {
	o := fakeOptions(t)
	var seen []string
	o.OnRun = func(r reports.Run) { seen = append(seen, r.Seed) }
	start := time.Now()
	out := Run(context.Background(), Range(1, 9), o)
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("swarm took %s: the hung child was not killed at its limit", el)
	}
	if out.Stopped != "" || len(out.Runs) != 9 || len(seen) != 9 {
		t.Fatalf("stopped %q with %d runs (%d seen), want all 9", out.Stopped, len(out.Runs), len(seen))
	}
	want := map[string]reports.Result{"1": reports.Pass, "3": reports.Crash, "4": reports.Liveness, "5": reports.Timeout,
		"7": reports.Crash, "8": reports.Liveness, "9": reports.Pass}
	for i, r := range out.Runs {
		if r.Seed != strconv.Itoa(i+1) {
			t.Fatalf("runs out of seed order: %d is seed %s", i, r.Seed)
		}
		if w, ok := want[r.Seed]; ok && r.Result != w {
			t.Errorf("seed %s: %s (%s), want %s", r.Seed, r.Result, r.Failure, w)
		}
		if r.Commit != "c0ffee" || r.Reproduce != "vopr --seed "+r.Seed+" --lite" || !slices.Equal(r.Flags, []string{"--lite"}) {
			t.Errorf("seed %s: commit %q reproduce %q flags %v", r.Seed, r.Commit, r.Reproduce, r.Flags)
		}
	}
	if f := out.Runs[2].Failure; !strings.Contains(f, "boom in the child") || !strings.Contains(f, "exit status 2") {
		t.Errorf("a panicking child's record does not say why: %q", f)
	}
	if f := out.Runs[6].Failure; !strings.Contains(f, "this is not a run record") {
		t.Errorf("unparsable output is not kept: %q", f)
	}
	s := reports.Summarize(out.Runs, 9)
	if s.Results[reports.Pass] != 4 || len(s.Failures) != 4 {
		t.Errorf("summary %+v", s)
	}
}

// Ctrl-C: children in flight are killed and left out, what finished stays.
func TestRunInterrupt(t *testing.T) {
	o := fakeOptions(t, "SWARM_FAKE_SLEEP=150ms")
	o.Jobs = 2
	ctx, cancel := context.WithCancel(context.Background())
	finished := 0
	o.OnRun = func(r reports.Run) {
		if finished++; finished == 2 {
			cancel()
		}
	}
	start := time.Now()
	out := Run(ctx, []uint64{1, 2, 5, 5 + 4*1000, 9, 10, 11}, o)
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("interrupt took %s", el)
	}
	if out.Stopped != "interrupt" || len(out.Runs) < 2 || len(out.Runs) >= 7 {
		t.Fatalf("stopped %q after %d runs", out.Stopped, len(out.Runs))
	}
	for _, r := range out.Runs {
		if r.Result == reports.Timeout || r.Result == reports.Crash {
			t.Errorf("a killed child was recorded: %+v", r)
		}
	}
}

func TestRunBudget(t *testing.T) {
	o := fakeOptions(t, "SWARM_FAKE_SLEEP=300ms")
	o.Jobs, o.Budget = 1, 500*time.Millisecond
	out := Run(context.Background(), []uint64{1, 2, 6, 9, 10, 11}, o)
	if out.Stopped != "budget" || len(out.Runs) == 0 || len(out.Runs) >= 4 {
		t.Fatalf("stopped %q after %d runs", out.Stopped, len(out.Runs))
	}
}

// With StopAfter, the swarm stops starting seeds once that many have failed:
// seeds 4 and 8 fail (liveness), so one job stops right after 8.
func TestRunStopAfterFailures(t *testing.T) {
	o := fakeOptions(t)
	o.Jobs, o.StopAfter = 1, 2
	out := Run(context.Background(), []uint64{1, 2, 4, 6, 8, 9, 10, 11, 12}, o)
	if out.Stopped != "failures" || len(out.Runs) != 5 {
		t.Fatalf("stopped %q after %d runs, want failures after 5", out.Stopped, len(out.Runs))
	}
	o.StopAfter = 3
	if out := Run(context.Background(), []uint64{1, 2, 4, 6}, o); out.Stopped != "" || len(out.Runs) != 4 {
		t.Fatalf("stopped %q after %d runs with too few failures to stop", out.Stopped, len(out.Runs))
	}
}

func TestShardsPartitionTheRange(t *testing.T) {
	for _, c := range []struct{ count, m int }{{1, 1}, {10, 3}, {100, 7}, {5, 8}, {1000, 16}} {
		all := Range(1<<63, c.count)
		seen := map[uint64]int{}
		total := 0
		for k := 0; k < c.m; k++ {
			sh := Shard(all, k, c.m)
			if len(sh) < c.count/c.m || len(sh) > c.count/c.m+1 {
				t.Errorf("count %d, shard %d/%d holds %d seeds: unbalanced", c.count, k, c.m, len(sh))
			}
			for _, s := range sh {
				seen[s]++
			}
			total += len(sh)
		}
		if total != c.count || len(seen) != c.count {
			t.Errorf("count %d over %d shards: %d seeds, %d distinct", c.count, c.m, total, len(seen))
		}
		for _, s := range all {
			if seen[s] != 1 {
				t.Errorf("seed %d in %d shards", s, seen[s])
			}
		}
	}
}

func TestParseShard(t *testing.T) {
	if k, m, err := ParseShard("3/8"); err != nil || k != 3 || m != 8 {
		t.Fatalf("3/8: %d %d %v", k, m, err)
	}
	for _, bad := range []string{"", "1", "8/8", "-1/4", "1/0", "a/b", "1/2/3"} {
		if _, _, err := ParseShard(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestMergeRefusesOverlap(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	runs := []reports.Run{{Record: reports.Record{Seed: "1", Result: reports.Pass}, Reproduce: "vopr --seed 1"}}
	for _, d := range []string{a, b} {
		if err := Write(d, runs, reports.Summarize(runs, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := Merge([]string{a, b}); err == nil || !strings.Contains(err.Error(), "overlap") {
		t.Fatalf("overlapping parts merged: %v", err)
	}
}

// A swarm killed before it wrote its summary still merges from its journal.
func TestMergeReadsAJournalWithoutSummary(t *testing.T) {
	dir := t.TempDir()
	j, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"9", "3"} {
		if err := j.Add(reports.Run{Record: reports.Record{Seed: s, Result: reports.Pass}, Reproduce: "vopr --seed " + s}); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	runs, sum, err := Merge([]string{dir})
	if err != nil || len(runs) != 2 || runs[0].Seed != "3" || sum.Ran != 2 || sum.Stopped != "interrupt" {
		t.Fatalf("%v %+v %+v", err, runs, sum)
	}
}

func TestRecordAppendsOnlyNewFailures(t *testing.T) {
	path := filepath.Join(t.TempDir(), "found.json")
	runs := []reports.Run{
		{Record: reports.Record{Seed: "1", Result: reports.Pass}},
		{Record: reports.Record{Seed: "2", Result: reports.Correctness, Failure: "replica 1 committed op 4 twice"}, Flags: []string{"--lite"}, Commit: "abc"},
		{Record: reports.Record{Seed: "3", Result: reports.Timeout}},
		{Record: reports.Record{Seed: "4", Result: reports.Liveness, Failure: "no convergence"}},
	}
	added, err := Record(path, runs)
	if err != nil || len(added) != 2 {
		t.Fatalf("added %v: %v", added, err)
	}
	if again, err := Record(path, runs); err != nil || len(again) != 0 {
		t.Fatalf("recorded twice: %v %v", again, err)
	}
	got, err := ReadCorpus(path)
	if err != nil || len(got) != 2 {
		t.Fatalf("%v %v", got, err)
	}
	if e := got[0]; e.Seed != "2" || e.Expect != reports.Correctness || !slices.Equal(e.Args(), []string{"--seed", "2", "--lite"}) ||
		!strings.Contains(e.Note, "replica N committed op N twice") || !strings.Contains(e.Note, "abc") {
		t.Errorf("entry %+v", e)
	}
}

func TestReadCorpusRejectsBadEntries(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"noexpect.json": `{"seed": "1", "note": "x"}`,
		"nonote.json":   `{"seed": "1", "expect": "pass"}`,
		"typo.json":     `{"seed": "1", "expect": "pass", "note": "x", "flag": ["--lite"]}`,
		"timeout.json":  `{"seed": "1", "expect": "timeout", "note": "x"}`,
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := ReadCorpus(p); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

func TestProgress(t *testing.T) {
	var tty, plain strings.Builder
	pt, pp := NewProgress(&tty, true, 40), NewProgress(&plain, false, 40)
	for i := 1; i <= 40; i++ {
		r := reports.Run{Record: reports.Record{Seed: strconv.Itoa(i), Result: reports.Pass}, Reproduce: "vopr --seed " + strconv.Itoa(i)}
		if i == 17 {
			r.Result, r.Failure = reports.Correctness, "bad\nstack"
		}
		pt.Add(r)
		pp.Add(r)
	}
	pt.Finish()
	if !strings.Contains(tty.String(), "\r\033[K[") || !strings.Contains(tty.String(), "40/40 seeds, 1 failed") {
		t.Errorf("terminal progress has no bar: %q", tty.String())
	}
	lines := strings.Split(strings.TrimSpace(plain.String()), "\n")
	if strings.Contains(plain.String(), "\r") || len(lines) != 22 || !strings.Contains(plain.String(), "seed 17: correctness: bad\n    reproduce: vopr --seed 17") {
		t.Errorf("plain progress (%d lines):\n%s", len(lines), plain.String())
	}
}

func TestCommit(t *testing.T) {
	c := Commit()
	if c != "unknown" && len(strings.TrimSuffix(c, "-dirty")) != 40 {
		t.Errorf("commit %q", c)
	}
}
