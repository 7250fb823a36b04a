// Package mutants is the mutation harness: it reads the catalogue of source
// mutants in mutants/, applies each to a scratch copy of the repository,
// builds vopr there, runs a swarm and judges whether the simulator noticed.
//
// It lives outside the deterministic tree: it owns processes, wall clocks
// and goroutines. Determinism lives in each vopr child.
package mutants

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Ext is the file name extension of a catalogue entry.
const Ext = ".mutant"

// Edit is one exact replacement: Find must occur exactly once in the file.
type Edit struct {
	Find, Replace string
}

// Mutant is one catalogue entry: a small source change that models a bug.
type Mutant struct {
	Name       string // the file name without Ext
	File       string // slash-separated path from the repository root
	Note       string // the bug it models, in one line
	Equivalent string // why it cannot change behaviour; empty for a real mutant
	// Flags are vopr flags this mutant's seeds run with, after the run's
	// own (e.g. --storage-faults, for a protection only faults exercise).
	Flags []string
	Edits []Edit
}

// ErrDoesNotApply marks a mutant whose snippet is not in the source exactly
// once: the code it was written against has changed and it needs re-anchoring.
var ErrDoesNotApply = errors.New("does not apply")

// Section markers of the format; see mutants/README.md.
const (
	markFind    = "--- find"
	markReplace = "--- replace"
	markEnd     = "--- end"
)

// Parse reads one entry. Key lines ("file:", "note:", "equivalent:",
// "flags:") come
// first; # lines there are comments. Then one or more find/replace pairs,
// each body taken verbatim, line by line, without the final newline.
func Parse(name, text string) (*Mutant, error) {
	m := &Mutant{Name: name}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	var section string // "", "find" or "replace"
	var body []string
	flush := func() {
		s := strings.Join(body, "\n")
		switch section {
		case "find":
			m.Edits = append(m.Edits, Edit{Find: s})
		case "replace":
			m.Edits[len(m.Edits)-1].Replace = s
		}
		body = nil
	}
	line := 0
	for sc.Scan() {
		line++
		t := sc.Text()
		switch strings.TrimRight(t, " \t") {
		case markFind:
			if section == "find" {
				return nil, fmt.Errorf("%s line %d: find without a replace before it", name, line)
			}
			flush()
			section = "find"
			continue
		case markReplace:
			if section != "find" {
				return nil, fmt.Errorf("%s line %d: replace without a find", name, line)
			}
			flush()
			section = "replace"
			continue
		case markEnd:
			if section != "replace" {
				return nil, fmt.Errorf("%s line %d: end without a replace", name, line)
			}
			flush()
			section = "end"
			continue
		}
		switch section {
		case "find", "replace":
			body = append(body, t)
			continue
		}
		if strings.TrimSpace(t) == "" || strings.HasPrefix(t, "#") {
			continue
		}
		key, value, ok := strings.Cut(t, ":")
		if !ok || section == "end" {
			return nil, fmt.Errorf("%s line %d: want key: value or %q, got %q", name, line, markFind, t)
		}
		value = strings.TrimSpace(value)
		switch strings.TrimSpace(key) {
		case "file":
			m.File = value
		case "note":
			m.Note = value
		case "equivalent":
			m.Equivalent = value
		case "flags":
			m.Flags = strings.Fields(value)
		default:
			return nil, fmt.Errorf("%s line %d: unknown key %q", name, line, key)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if section == "find" {
		return nil, fmt.Errorf("%s: find without a replace", name)
	}
	flush()
	switch {
	case m.File == "" || filepath.IsAbs(m.File) || strings.Contains(m.File, ".."):
		return nil, fmt.Errorf("%s: want file: a path inside the repository, got %q", name, m.File)
	case m.Note == "":
		return nil, fmt.Errorf("%s: no note: say which bug it models", name)
	case len(m.Edits) == 0:
		return nil, fmt.Errorf("%s: no %s section", name, markFind)
	}
	for i, e := range m.Edits {
		if e.Find == "" {
			return nil, fmt.Errorf("%s: edit %d finds nothing", name, i+1)
		}
		if e.Find == e.Replace {
			return nil, fmt.Errorf("%s: edit %d replaces a snippet with itself", name, i+1)
		}
	}
	return m, nil
}

// Load reads every entry of a catalogue directory, in name order.
func Load(dir string) ([]*Mutant, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*"+Ext))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []*Mutant
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		m, err := Parse(strings.TrimSuffix(filepath.Base(p), Ext), string(b))
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no *%s files in %s", Ext, dir)
	}
	return out, nil
}

// Apply returns src with every edit made, in order, or ErrDoesNotApply
// saying which snippet is missing or ambiguous.
func (m *Mutant) Apply(src string) (string, error) {
	for i, e := range m.Edits {
		switch n := strings.Count(src, e.Find); n {
		case 1:
			src = strings.Replace(src, e.Find, e.Replace, 1)
		case 0:
			return "", fmt.Errorf("%w: snippet %d (%q) not found in %s", ErrDoesNotApply, i+1, firstLine(e.Find), m.File)
		default:
			return "", fmt.Errorf("%w: snippet %d (%q) occurs %d times in %s", ErrDoesNotApply, i+1, firstLine(e.Find), n, m.File)
		}
	}
	return src, nil
}

// ApplyIn applies the mutant to its file under root, in place.
func (m *Mutant) ApplyIn(root string) error {
	path := filepath.Join(root, filepath.FromSlash(m.File))
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %s does not exist", ErrDoesNotApply, m.File)
	}
	if err != nil {
		return err
	}
	out, err := m.Apply(string(b))
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(out), 0o644)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	first, _, more := strings.Cut(s, "\n")
	if more {
		first += " …"
	}
	return first
}
