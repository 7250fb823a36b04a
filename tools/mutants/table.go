package mutants

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Output file names in Options.Out.
const (
	TableFile   = "table.md"
	ResultsFile = "results.json"
)

// Write puts the table (markdown) and the whole report (JSON) into dir.
func (r *Report) Write(dir string) error {
	var md strings.Builder
	r.Markdown(&md)
	if err := os.WriteFile(filepath.Join(dir, TableFile), []byte(md.String()), 0o644); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ResultsFile), append(b, '\n'), 0o644)
}

// Markdown writes the table, then one line per finding.
func (r *Report) Markdown(w io.Writer) {
	fmt.Fprintf(w, "Mutants at %s: seeds %d.. (at most %d each, stop after %d failing, %s per mutant, %s per seed)",
		r.Rev, r.From, r.Count, r.StopAfter, r.Budget, r.Timeout)
	if len(r.Flags) > 0 {
		fmt.Fprintf(w, ", flags %s", strings.Join(r.Flags, " "))
	}
	fmt.Fprintf(w, "; %.0f s wall.\n\n", r.WallSeconds)
	fmt.Fprintln(w, "| mutant | verdict | seeds run | failing seeds | first failing seed | note |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---|")
	counts := map[Verdict]int{}
	for _, x := range r.Results {
		counts[x.Verdict]++
		first := x.FirstFailing
		if first == "" {
			first = "-"
		}
		fmt.Fprintf(w, "| %s | %s | %d | %d | %s | %s |\n", x.Name, x.Verdict, x.SeedsRun, x.FailingSeeds, first, cell(x.Note))
	}
	killed := 0
	for v, n := range counts {
		if v.Killed() {
			killed += n
		}
	}
	fmt.Fprintf(w, "\nKilled %d of %d (%d equivalent, %d survived, %d do not apply, %d build failed, %d harness errors).\n",
		killed, len(r.Results)-counts[Equivalent], counts[Equivalent], counts[Survived], counts[DoesNotApply], counts[BuildFailed], counts[Failed])
	for _, x := range r.Results {
		if x.Verdict.Killed() || x.Detail == "" && x.Verdict != Survived {
			continue
		}
		detail := x.Detail
		if x.Verdict == Survived {
			detail = fmt.Sprintf("every one of %d seeds passed", x.SeedsRun)
		}
		fmt.Fprintf(w, "- %s (%s): %s\n", x.Name, x.Verdict, cell(detail))
	}
}

// Clean reports whether every mutant not argued equivalent was killed.
func (r *Report) Clean() bool {
	for _, x := range r.Results {
		if !x.Verdict.Killed() && x.Verdict != Equivalent {
			return false
		}
	}
	return true
}

func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}
