package swarm

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"viewstamp/reports"
)

// A swarm's output directory holds these two files.
const (
	RunsFile    = "runs.jsonl"
	SummaryFile = "summary.json"
)

// Journal appends runs to DIR/runs.jsonl as they finish, so that a swarm
// killed outright still leaves every finished seed on disk.
type Journal struct{ f *os.File }

// Create starts DIR/runs.jsonl afresh.
func Create(dir string) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(dir, RunsFile))
	if err != nil {
		return nil, err
	}
	return &Journal{f: f}, nil
}

// Add appends one run.
func (j *Journal) Add(r reports.Run) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = j.f.Write(append(b, '\n'))
	return err
}

// Close closes the journal.
func (j *Journal) Close() error { return j.f.Close() }

// Write replaces DIR/runs.jsonl with runs in seed order and writes
// DIR/summary.json.
func Write(dir string, runs []reports.Run, s reports.Summary) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var buf bytes.Buffer
	for _, r := range runs {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		buf.Write(append(b, '\n'))
	}
	if err := writeAtomic(filepath.Join(dir, RunsFile), buf.Bytes()); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, SummaryFile), append(b, '\n'))
}

// writeAtomic never leaves a half-written file where a finished one was.
func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Load reads a swarm's output directory. The summary is optional: a swarm
// killed before it wrote one still has its journal.
func Load(dir string) ([]reports.Run, *reports.Summary, error) {
	f, err := os.Open(filepath.Join(dir, RunsFile))
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var runs []reports.Run
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var r reports.Run
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, nil, fmt.Errorf("%s line %d: %w", f.Name(), line, err)
		}
		runs = append(runs, r)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	var s *reports.Summary
	if b, err := os.ReadFile(filepath.Join(dir, SummaryFile)); err == nil {
		s = new(reports.Summary)
		if err := json.Unmarshal(b, s); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", filepath.Join(dir, SummaryFile), err)
		}
	} else if !os.IsNotExist(err) {
		return nil, nil, err
	}
	return runs, s, nil
}

// Merge folds the outputs of several swarms, typically the shards of one
// range, into one set of runs and one summary. A seed run twice with the
// same flags is an error: the parts were not disjoint.
func Merge(dirs []string) ([]reports.Run, reports.Summary, error) {
	var all []reports.Run
	planned, wall := 0, 0.0
	var shards []string
	stopped := ""
	seen := map[string]string{}
	for _, dir := range dirs {
		runs, s, err := Load(dir)
		if err != nil {
			return nil, reports.Summary{}, err
		}
		for _, r := range runs {
			if prev, ok := seen[r.Reproduce]; ok {
				return nil, reports.Summary{}, fmt.Errorf("%q is in both %s and %s: the parts overlap", r.Reproduce, prev, dir)
			}
			seen[r.Reproduce] = dir
		}
		all = append(all, runs...)
		if s == nil {
			// A journal without a summary was cut short: count what ran.
			planned += len(runs)
			stopped = "interrupt"
			continue
		}
		planned += s.Planned
		wall += s.Meta.WallSeconds
		shards = append(shards, s.Meta.Shards...)
		if stopped == "" {
			stopped = s.Stopped
		}
	}
	reports.SortRuns(all)
	sum := reports.Summarize(all, planned)
	sum.Stopped = stopped
	slices.Sort(shards)
	sum.Meta = reports.Meta{Shards: shards, WallSeconds: wall}
	return all, sum, nil
}
