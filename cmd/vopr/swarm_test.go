package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"viewstamp/reports"
	"viewstamp/swarm"
)

// The swarm re-executes its own binary for every seed. Under go test that
// binary is the test binary, so with VOPR_TEST_AS_VOPR set it behaves as
// vopr.
//
// testscript.Main also installs the test binary as a `vopr` command for the
// scripts of script_test.go.
func TestMain(m *testing.M) {
	if os.Getenv("VOPR_TEST_AS_VOPR") != "" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	testscript.Main(m, map[string]func(){
		"vopr": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// vopr runs the command in-process; children it starts run as vopr too.
func vopr(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Setenv("VOPR_TEST_AS_VOPR", "1")
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// Seeds 1..12 in lite mode with a replication quorum one too small: some
// pass, some fail in more than one way, so summaries have groups to compare.
var swarmArgs = []string{"--count", "12", "--from", "1", "--lite", "--plant-bug", "replication-quorum-too-small", "--jobs", "2"}

func load(t *testing.T, dir string) ([]reports.Run, reports.Summary) {
	t.Helper()
	runs, sum, err := swarm.Load(dir)
	if err != nil || sum == nil {
		t.Fatalf("%s: %v", dir, err)
	}
	for i := range runs {
		runs[i].WallMs = 0
	}
	sum.Meta = reports.Meta{}
	return runs, *sum
}

// Two shards merged must equal one unsharded swarm over the same range:
// the same records in the same order, the same summary.
func TestShardsMergedEqualOneSwarm(t *testing.T) {
	tmp := t.TempDir()
	one, s0, s1, merged := filepath.Join(tmp, "one"), filepath.Join(tmp, "s0"), filepath.Join(tmp, "s1"), filepath.Join(tmp, "merged")
	code, stdout, stderr := vopr(t, append([]string{"swarm", "--out", one}, swarmArgs...)...)
	if code != 129 && code != 127 {
		t.Fatalf("swarm exit %d, want a failure code\n%s\n%s", code, stdout, stderr)
	}
	for k, dir := range []string{s0, s1} {
		args := append([]string{"swarm", "--out", dir, "--shard", []string{"0/2", "1/2"}[k]}, swarmArgs...)
		if c, so, se := vopr(t, args...); c == 1 {
			t.Fatalf("shard %d: exit 1\n%s\n%s", k, so, se)
		}
	}
	if c, so, se := vopr(t, "swarm", "merge", "--out", merged, s0, s1); c != code {
		t.Fatalf("merge exit %d, the unsharded swarm %d\n%s\n%s", c, code, so, se)
	}
	runsOne, sumOne := load(t, one)
	runsMerged, sumMerged := load(t, merged)
	if len(runsOne) != 12 || !reflect.DeepEqual(runsOne, runsMerged) {
		t.Fatalf("merged runs differ from the unsharded swarm's:\n%+v\n%+v", runsOne, runsMerged)
	}
	if !reflect.DeepEqual(sumOne, sumMerged) {
		t.Fatalf("merged summary differs:\n%+v\n%+v", sumOne, sumMerged)
	}
	if sumOne.Results[reports.Pass] == 0 || len(sumOne.Failures) == 0 || sumOne.Ran != 12 || sumOne.Planned != 12 {
		t.Errorf("the comparison is vacuous: %+v", sumOne)
	}
	// The shards themselves split the range.
	r0, _ := load(t, s0)
	r1, _ := load(t, s1)
	if len(r0) != 6 || len(r1) != 6 || r0[0].Seed != "1" || r1[0].Seed != "2" {
		t.Errorf("shards hold %d and %d runs", len(r0), len(r1))
	}
	_, raw, _ := swarm.Load(merged)
	if !reflect.DeepEqual(raw.Meta.Shards, []string{"0/2", "1/2"}) {
		t.Errorf("merged meta %+v", raw.Meta)
	}
	// The printed summary names every group's shortest seed with its
	// reproduce command.
	for _, g := range sumOne.Failures {
		if !strings.Contains(stdout, g.Signature) || !strings.Contains(stdout, g.Seeds[0].Reproduce) {
			t.Errorf("printed summary lacks %q / %q:\n%s", g.Signature, g.Seeds[0].Reproduce, stdout)
		}
		for i := 1; i < len(g.Seeds); i++ {
			if g.Seeds[i].Ticks < g.Seeds[i-1].Ticks {
				t.Errorf("group %q is not shortest first", g.Signature)
			}
		}
	}
	// A swarm's record reproduces: replaying the shortest failure gives the
	// same record. Only the failure's first line: a crash's stack, replayed
	// in this process, has the test's frames below the simulator's.
	f := sumOne.Failures[0].Seeds[0]
	args := append(strings.Fields(f.Reproduce)[1:], "--json")
	c, out, _ := vopr(t, args...)
	var rec reports.Record
	firstLine := func(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }
	if err := json.Unmarshal([]byte(out), &rec); err != nil || c == 0 || firstLine(rec.Failure) != firstLine(f.Failure) || rec.Ticks != f.Ticks {
		t.Errorf("%q did not reproduce: exit %d, %+v", f.Reproduce, c, rec)
	}
}

func TestSwarmUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"swarm", "--shard", "0/2", "--count", "4"}, // a shard needs a fixed range
		{"swarm", "--shard", "2/2", "--from", "1"},
		{"swarm", "--jobs", "0", "--from", "1"},
		{"swarm", "--count", "0", "--from", "1"},
		{"swarm", "--from", "x"},
		{"swarm", "--from", "1", "--plant-bug", "nope"},
		{"swarm", "--seeds", "/nonexistent"},
		{"swarm", "extra"},
		{"swarm", "merge"},
	} {
		if code, _, stderr := vopr(t, append(args, "--out", t.TempDir())...); code != 1 {
			t.Errorf("%v: exit %d, want 1 (%s)", args, code, stderr)
		}
	}
}

func TestSwarmSeedsFileRecordAndReport(t *testing.T) {
	tmp := t.TempDir()
	seeds := filepath.Join(tmp, "seeds.txt")
	os.WriteFile(seeds, []byte("# planted-bug failures and a pass\n4\n7 # caught\n\n4\n0000000000000000000000000000000000000003\n"), 0o644)
	corpus, out, report := filepath.Join(tmp, "found.json"), filepath.Join(tmp, "out"), filepath.Join(tmp, "report")
	code, stdout, stderr := vopr(t, "swarm", "--seeds", seeds, "--lite", "--plant-bug", "replication-quorum-too-small",
		"--out", out, "--record", corpus, "--report", report, "--jobs", "2")
	if code == 0 || code == 1 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	runs, sum := load(t, out)
	if len(runs) != 3 || runs[0].Seed != "3" {
		t.Fatalf("seed file gave runs %v", runs)
	}
	entries, err := swarm.ReadCorpus(corpus)
	if err != nil || len(entries) != len(runs)-sum.Results[reports.Pass] {
		t.Fatalf("corpus %v, %v; summary %+v", entries, err, sum)
	}
	// Recorded entries replay to their expected result.
	for _, e := range entries {
		code, out, _ := vopr(t, append(e.Args(), "--json")...)
		if rec := decode(t, out); rec.Result != e.Expect || code != e.Expect.ExitCode() {
			t.Errorf("%v: %s, corpus expects %s", e.Args(), rec.Result, e.Expect)
		}
	}
	html, err := os.ReadFile(filepath.Join(report, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range sum.Failures {
		link := "seeds/" + g.Seeds[0].Seed + "/index.html"
		if !strings.Contains(string(html), `href="`+link+`"`) {
			t.Errorf("swarm index does not link %s", link)
		}
		if _, err := os.Stat(filepath.Join(report, link)); err != nil {
			t.Errorf("per-seed report missing: %v", err)
		}
		if _, err := os.Stat(filepath.Join(report, "seeds", g.Seeds[0].Seed, "timeline.png")); err != nil {
			t.Errorf("per-seed timeline missing: %v", err)
		}
	}
	for _, name := range reports.SwarmGraphs {
		for _, ext := range []string{".png", ".svg"} {
			if st, err := os.Stat(filepath.Join(report, name+ext)); err != nil || st.Size() < 2000 {
				t.Errorf("%s%s: %v", name, ext, err)
			}
		}
	}
}

func decode(t *testing.T, out string) reports.Record {
	t.Helper()
	var rec reports.Record
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatalf("not a run record: %v\n%s", err, out)
	}
	return rec
}

// Ctrl-C on a real swarm process: it kills its children, writes what
// finished and exits 130.
func TestSwarmInterruptWritesWhatFinished(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := exec.Command(exe, "swarm", "--from", "1", "--count", "400", "--jobs", "2", "--out", out)
	cmd.Env = append(os.Environ(), "VOPR_TEST_AS_VOPR=1")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(out, swarm.RunsFile)
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(journal)
		if bytes.Count(b, []byte("\n")) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no runs in the journal after 60 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != interrupted {
		t.Fatalf("exit %d (%v), want %d\n%s", code, err, interrupted, stdout.String())
	}
	runs, sum := load(t, out)
	if sum.Stopped != "interrupt" || sum.Ran != len(runs) || len(runs) < 3 || len(runs) >= 400 || sum.Planned != 400 {
		t.Fatalf("after Ctrl-C: %d runs, summary %+v", len(runs), sum)
	}
	for _, r := range runs {
		if r.Result == reports.Crash || r.Result == reports.Timeout {
			t.Errorf("a child killed by the interrupt was recorded: %+v", r)
		}
	}
	if !strings.Contains(stdout.String(), "stopped by interrupt") {
		t.Errorf("printed summary does not say it was interrupted:\n%s", stdout.String())
	}
}
