package main

import (
	"path/filepath"
	"strings"
	"testing"

	"viewstamp/swarm"
)

// TestCorpus replays the regression corpus in seeds/: every entry must give
// its expected result.
func TestCorpus(t *testing.T) {
	files, err := filepath.Glob("../../seeds/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus in seeds/: %v", err)
	}
	n := 0
	for _, file := range files {
		entries, err := swarm.ReadCorpus(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			n++
			code, out, stderr := vopr(t, append(e.Args(), "--json")...)
			if code == 1 {
				t.Errorf("%s: %v: usage error: %s", filepath.Base(file), e.Args(), stderr)
				continue
			}
			rec := decode(t, out)
			if rec.Result != e.Expect || code != e.Expect.ExitCode() {
				failure, _, _ := strings.Cut(rec.Failure, "\n")
				t.Errorf("%s: vopr %s gave %s (exit %d), the corpus expects %s\n  note: %s\n  failure: %s",
					filepath.Base(file), strings.Join(e.Args(), " "), rec.Result, code, e.Expect, e.Note, failure)
			}
		}
	}
	if n < 8 {
		t.Errorf("only %d corpus entries", n)
	}
	t.Logf("%d corpus entries replayed", n)
}
