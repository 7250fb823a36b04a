package swarm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"viewstamp/reports"
)

// Entry is one seed of the regression corpus (seeds/): how to run it, what
// it must give, and why it is there.
type Entry struct {
	Seed   string         `json:"seed"`
	Flags  []string       `json:"flags,omitempty"`
	Expect reports.Result `json:"expect"`
	Note   string         `json:"note"`
}

// Args are the vopr arguments that replay the entry.
func (e Entry) Args() []string { return append([]string{"--seed", e.Seed}, e.Flags...) }

func (e Entry) key() string { return strings.Join(e.Args(), " ") }

// ReadCorpus reads a corpus file: one or more JSON entries one after
// another (a hand-written file usually holds one; --record appends).
func ReadCorpus(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	var out []Entry
	for {
		var e Entry
		err := dec.Decode(&e)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: entry %d: %w", path, len(out)+1, err)
		}
		if e.Seed == "" || !slices.Contains(reports.ResultOrder, e.Expect) || e.Expect == reports.Timeout || e.Note == "" {
			return nil, fmt.Errorf("%s: entry %d: want a seed, an expected result (pass, correctness, liveness or crash) and a note", path, len(out)+1)
		}
		out = append(out, e)
	}
}

// Record appends the failing runs that the corpus file at path does not
// hold yet, and returns them. Timeouts are left out: they say more about the
// machine than about the seed.
func Record(path string, runs []reports.Run) ([]Entry, error) {
	var have []Entry
	if _, err := os.Stat(path); err == nil {
		if have, err = ReadCorpus(path); err != nil {
			return nil, err
		}
	}
	keys := map[string]bool{}
	for _, e := range have {
		keys[e.key()] = true
	}
	var added []Entry
	for _, r := range runs {
		if r.Result == reports.Pass || r.Result == reports.Timeout {
			continue
		}
		e := Entry{Seed: r.Seed, Flags: r.Flags, Expect: r.Result,
			Note: fmt.Sprintf("%s (found by a swarm at commit %s)", reports.Signature(r.Result, r.Failure), r.Commit)}
		if keys[e.key()] {
			continue
		}
		keys[e.key()] = true
		added = append(added, e)
	}
	if len(added) == 0 {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	for _, e := range added {
		b, _ := json.MarshalIndent(e, "", "  ")
		if _, err := f.Write(append(b, '\n')); err != nil {
			f.Close()
			return nil, err
		}
	}
	return added, f.Close()
}
