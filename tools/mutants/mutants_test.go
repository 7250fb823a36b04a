package mutants

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"viewstamp/reports"
)

const entry = `# a comment before the keys
file: pkg/a.go
note: adds one where it should not
--- find
	x := f()
	return x
--- replace
	x := f() + 1
	return x
--- find
// tail
--- replace
--- end
`

func TestParse(t *testing.T) {
	m, err := Parse("a", entry)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "a" || m.File != "pkg/a.go" || m.Note != "adds one where it should not" || m.Equivalent != "" {
		t.Fatalf("parsed %+v", m)
	}
	want := []Edit{{"\tx := f()\n\treturn x", "\tx := f() + 1\n\treturn x"}, {"// tail", ""}}
	if len(m.Edits) != 2 || m.Edits[0] != want[0] || m.Edits[1] != want[1] {
		t.Fatalf("edits %q, want %q", m.Edits, want)
	}
	m, err = Parse("e", "file: a.go\nnote: n\nequivalent: because\n--- find\na\n--- replace\nb\n")
	if err != nil || m.Equivalent != "because" || m.Edits[0] != (Edit{"a", "b"}) {
		t.Fatalf("entry without --- end: %+v, %v", m, err)
	}
}

func TestParseRejects(t *testing.T) {
	for name, text := range map[string]string{
		"no note":         "file: a.go\n--- find\na\n--- replace\nb\n",
		"no file":         "note: n\n--- find\na\n--- replace\nb\n",
		"escaping path":   "file: ../a.go\nnote: n\n--- find\na\n--- replace\nb\n",
		"no edit":         "file: a.go\nnote: n\n",
		"find only":       "file: a.go\nnote: n\n--- find\na\n",
		"replace first":   "file: a.go\nnote: n\n--- replace\nb\n",
		"two finds":       "file: a.go\nnote: n\n--- find\na\n--- find\nb\n--- replace\nc\n",
		"unknown key":     "file: a.go\nnote: n\nsnippet: x\n--- find\na\n--- replace\nb\n",
		"same text":       "file: a.go\nnote: n\n--- find\na\n--- replace\na\n",
		"text after end":  "file: a.go\nnote: n\n--- find\na\n--- replace\nb\n--- end\nstray\n",
		"empty find body": "file: a.go\nnote: n\n--- find\n--- replace\nb\n",
	} {
		if m, err := Parse("x", text); err == nil {
			t.Errorf("%s: parsed %+v, want an error", name, m)
		}
	}
}

func TestApply(t *testing.T) {
	m, err := Parse("a", entry)
	if err != nil {
		t.Fatal(err)
	}
	src := "package a\n\nfunc g() int {\n\tx := f()\n\treturn x\n}\n// tail\n"
	out, err := m.Apply(src)
	if err != nil {
		t.Fatal(err)
	}
	if want := "package a\n\nfunc g() int {\n\tx := f() + 1\n\treturn x\n}\n\n"; out != want {
		t.Fatalf("applied:\n%s\nwant:\n%s", out, want)
	}
	// The code moved on: the snippet is gone, or now ambiguous.
	for _, c := range []struct{ src, says string }{
		{strings.Replace(src, "x := f()", "x := h()", 1), "not found"},
		{src + "func k() int {\n\tx := f()\n\treturn x\n}\n", "occurs 2 times"},
		{strings.Replace(src, "// tail", "", 1), "snippet 2"},
	} {
		_, err := m.Apply(c.src)
		if !errors.Is(err, ErrDoesNotApply) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("applied to changed code: %v, want does not apply (%s)", err, c.says)
		}
	}
	dir := t.TempDir()
	if err := m.ApplyIn(dir); !errors.Is(err, ErrDoesNotApply) {
		t.Errorf("missing file: %v, want does not apply", err)
	}
}

// The catalogue itself parses and is big enough; mutants that no longer
// apply are reported by make mutants, not failed here, since the code they
// target is edited all the time.
func TestCatalogue(t *testing.T) {
	root, err := FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := Load(filepath.Join(root, "mutants"))
	if err != nil {
		t.Fatal(err)
	}
	const catalogueMin = 16
	if len(ms) < catalogueMin {
		t.Errorf("%d mutants in the catalogue, want at least %d", len(ms), catalogueMin)
	}
	for _, m := range ms {
		b, err := os.ReadFile(filepath.Join(root, m.File))
		if err == nil {
			_, err = m.Apply(string(b))
		}
		if err != nil {
			t.Logf("%s: %v", m.Name, err)
		}
	}
}

func TestMarkdown(t *testing.T) {
	r := &Report{Rev: "abc", From: 1, Count: 10, StopAfter: 2, Budget: "1m0s", Timeout: "1m0s", Results: []Result{
		{Name: "k", Note: "a | b", Verdict: Liveness, SeedsRun: 4, FailingSeeds: 2, FirstFailing: "3"},
		{Name: "s", Note: "n", Verdict: Survived, SeedsRun: 10},
		{Name: "e", Note: "n", Verdict: Equivalent, Detail: "same code"},
		{Name: "d", Note: "n", Verdict: DoesNotApply, Detail: "does not apply: snippet 1 not found"},
	}}
	var b strings.Builder
	r.Markdown(&b)
	for _, want := range []string{"| k | liveness | 4 | 2 | 3 | a \\| b |", "| s | survived | 10 | 0 | - | n |",
		"Killed 1 of 3 (1 equivalent, 1 survived, 1 do not apply", "- s (survived): every one of 10 seeds passed",
		"- d (does not apply): does not apply: snippet 1 not found", "- e (equivalent): same code"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	if r.Clean() {
		t.Error("a table with a survivor is clean")
	}
	r.Results = r.Results[:1]
	if !r.Clean() {
		t.Error("a table of kills is not clean")
	}
}

// One real run, end to end: a scratch copy, a mutant that makes every
// replica panic on start, a build, a two-seed swarm stopped at the first
// failure, the baseline's word on that seed, and the outputs.
func TestRunEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds vopr twice")
	}
	root, err := FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(root, "replica/vsr/recovery.go")
	before, err := os.ReadFile(target)
	if err != nil {
		t.Fatal(err)
	}
	cat := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(cat, name+Ext), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("crash-on-open", "file: replica/vsr/recovery.go\nnote: every replica panics on start\n"+
		"--- find\nfunc (r *Replica) Open() {\n--- replace\nfunc (r *Replica) Open() {\n\tpanic(\"mutant\")\n--- end\n")
	// Survives the swarm's seeds (5 requests) and dies on the corpus entry
	// that asks for 7; the planted entry that expects a failure is skipped.
	write("crash-on-seven", "file: sim/run.go\nnote: the simulator panics in runs of seven requests\n"+
		"--- find\n\tif c.requestsSent >= c.opts.RequestsMax {\n--- replace\n\tif c.opts.RequestsMax == 7 {\n\t\tpanic(\"mutant\")\n\t}\n\tif c.requestsSent >= c.opts.RequestsMax {\n--- end\n")
	corpus := t.TempDir()
	entries := `{"seed": "2", "flags": ["--lite", "--requests-max", "7"], "expect": "correctness", "note": "planted: skipped"}
{"seed": "1", "flags": ["--lite", "--requests-max", "7"], "expect": "pass", "note": "guards seven"}
`
	if err := os.WriteFile(filepath.Join(corpus, "guard.json"), []byte(entries), 0o644); err != nil {
		t.Fatal(err)
	}
	write("gone", "file: replica/vsr/recovery.go\nnote: targets code that is not there\n--- find\nno such code\n--- replace\nx\n")
	write("argued", "file: replica/vsr/recovery.go\nnote: n\nequivalent: a test says so\n--- find\nfunc (r *Replica) Open() {\n--- replace\nfunc (r *Replica) Open()  {\n")
	out := t.TempDir()
	var log strings.Builder
	rep, err := Run(context.Background(), Options{Root: root, Catalogue: cat, Out: out, Scratch: t.TempDir(),
		From: 1, Count: 2, StopAfter: 1, Budget: time.Minute, Timeout: time.Minute, Jobs: 2,
		Flags: []string{"--lite", "--requests-max", "5"}, Corpus: corpus, Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	got := map[string]Result{}
	for _, r := range rep.Results {
		got[r.Name] = r
	}
	if r := got["crash-on-open"]; r.Verdict != Crash || r.SeedsRun != 1 || r.FailingSeeds != 1 || r.FirstFailing != "1" || r.Stopped != "failures" ||
		!strings.Contains(r.Reproduce, "apply crash-on-open") || len(r.Failures) != 1 || r.Failures[0].BaselineFails {
		t.Errorf("crashing mutant: %+v\n%s", r, log.String())
	}
	if r := got["crash-on-seven"]; r.Verdict != Crash || r.SeedsRun != 3 || r.FailingSeeds != 1 || r.FirstFailing != "corpus:guard.json:1" ||
		!strings.Contains(r.Reproduce, "--seed 1 --lite --requests-max 7") || len(r.Failures) != 1 || r.Failures[0].BaselineFails {
		t.Errorf("mutant killed by the corpus: %+v\n%s", r, log.String())
	}
	if r := got["gone"]; r.Verdict != DoesNotApply || !strings.Contains(r.Detail, "not found") {
		t.Errorf("stale mutant: %+v", r)
	}
	if r := got["argued"]; r.Verdict != Equivalent || r.Detail != "a test says so" {
		t.Errorf("equivalent mutant: %+v", r)
	}
	var back Report
	if b, err := os.ReadFile(filepath.Join(out, ResultsFile)); err != nil || json.Unmarshal(b, &back) != nil || len(back.Results) != 4 {
		t.Errorf("results.json: %v, %d results", err, len(back.Results))
	}
	if b, err := os.ReadFile(filepath.Join(out, TableFile)); err != nil || !strings.Contains(string(b), "| crash-on-open | crash | 1 | 1 | 1 |") {
		t.Errorf("table.md: %v\n%s", err, b)
	}
	if after, _ := os.ReadFile(target); string(after) != string(before) {
		t.Error("the harness changed the working tree")
	}
}

// A seed the baseline fails too is no kill; the verdict is the most severe
// kind among the seeds that count, the first failing seed the lowest.
func TestTally(t *testing.T) {
	run := func(seed string, res reports.Result) reports.Run {
		return reports.Run{Record: reports.Record{Seed: seed, Result: res, Failure: "why " + seed + "\nmore"}}
	}
	runs := []reports.Run{run("1", reports.Pass), run("2", reports.Correctness), run("3", reports.Liveness),
		run("4", reports.Timeout), run("5", reports.Correctness)}
	asked := map[string]bool{}
	runs[3].Flags = []string{"--clock-faults"} // as a swarm child ran it
	baseline := func(run reports.Run) (reports.Result, error) {
		seed := run.Seed
		asked[seed] = true
		if seed == "4" && len(run.Flags) != 1 {
			return "", errors.New("the baseline was not asked with the run's own flags")
		}
		if seed == "2" {
			return reports.Correctness, nil
		}
		return reports.Pass, nil
	}
	var r Result
	if err := tally(&r, runs, baseline, func(run reports.Run) string { return "replay " + run.Seed }); err != nil {
		t.Fatal(err)
	}
	if r.Verdict != Correctness || r.FailingSeeds != 3 || r.FirstFailing != "3" || r.Reproduce != "replay 3" || len(r.Failures) != 4 ||
		!r.Failures[0].BaselineFails || r.Failures[1].Failure != "why 3 …" || asked["1"] {
		t.Errorf("tally %+v (asked %v)", r, asked)
	}
	r = Result{}
	if err := tally(&r, runs[:3], baseline, func(reports.Run) string { return "" }); err != nil || r.Verdict != Liveness {
		t.Errorf("liveness only: %+v, %v", r, err)
	}
	r = Result{}
	if err := tally(&r, runs[:2], baseline, func(reports.Run) string { return "" }); err != nil || r.Verdict != Survived || r.FailingSeeds != 0 {
		t.Errorf("only a seed the baseline fails too: %+v, %v", r, err)
	}
	if err := tally(&r, runs, func(reports.Run) (reports.Result, error) { return "", errors.New("no baseline") }, nil); err == nil {
		t.Error("a baseline error is lost")
	}
}
