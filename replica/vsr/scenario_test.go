package vsr

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	rio "viewstamp/replica/io"
)

// TestScenario runs the protocol scenarios in testdata/scenarios: small
// clusters of real replicas driven by hand, one step at a time, over a
// network that delivers nothing and disks that complete nothing until the
// script says so. Each file pins one rule of the protocol and doubles as its
// walkthrough; scenario_cmds_test.go lists the commands.
//
//	go test ./replica/vsr -run Scenario            # check
//	go test ./replica/vsr -run Scenario -rewrite   # accept new output
func TestScenario(t *testing.T) {
	datadriven.Walk(t, filepath.Join("testdata", "scenarios"), func(t *testing.T, path string) {
		var s *scenario
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd == "cluster" {
				s = &scenario{t: t, pos: d.Pos}
				s.try(func() { s = newScenario(t, d) })
				return s.flush()
			}
			if s == nil {
				d.Fatalf(t, "%s: the first command must be cluster", d.Pos)
			}
			s.t = t
			s.try(func() { s.run(d) })
			return s.flush()
		})
	})
}

// ---- Arguments ----

// args reads datadriven arguments: key=value, key=(a,b) or key=a,b lists,
// and bare words.
type args struct {
	t *testing.T
	d *datadriven.TestData
}

func (a args) has(key string) bool { return a.d.HasArg(key) }

func (a args) vals(key string) []string {
	arg, ok := a.d.Arg(key)
	if !ok {
		return nil
	}
	var out []string
	for _, v := range arg.Vals {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func (a args) str(key, def string) string {
	v := a.vals(key)
	if len(v) == 0 {
		return def
	}
	return v[0]
}

func (a args) num(key string, def uint64) uint64 {
	v := a.vals(key)
	if len(v) == 0 {
		return def
	}
	n, err := strconv.ParseUint(v[0], 10, 64)
	if err != nil {
		a.d.Fatalf(a.t, "%s: %s=%s is not a number", a.d.Pos, key, v[0])
	}
	return n
}

// replicas reads a list of replica indexes; "all" (or no argument, if
// allowed) means every replica.
func (a args) replicas(s *scenario, key string, allIfMissing bool) []int {
	v := a.vals(key)
	if len(v) == 0 && !allIfMissing {
		a.d.Fatalf(a.t, "%s: %s= is required", a.d.Pos, key)
	}
	if len(v) == 0 || (len(v) == 1 && v[0] == "all") {
		out := make([]int, len(s.replicas))
		for i := range out {
			out[i] = i
		}
		return out
	}
	var out []int
	for _, x := range v {
		n, err := strconv.Atoi(x)
		if err != nil || n < 0 || n >= len(s.replicas) {
			a.d.Fatalf(a.t, "%s: no replica %q", a.d.Pos, x)
		}
		out = append(out, n)
	}
	return out
}

// node parses a replica index or a client name (c1, c2, ...).
func (a args) node(s *scenario, v string) node {
	if strings.HasPrefix(v, "c") {
		n, err := strconv.Atoi(v[1:])
		if err != nil || n < 1 || n > len(s.clients) {
			a.d.Fatalf(a.t, "%s: no client %q", a.d.Pos, v)
		}
		return node{client: true, i: n - 1}
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n >= len(s.replicas) {
		a.d.Fatalf(a.t, "%s: no replica %q", a.d.Pos, v)
	}
	return node{i: n}
}

// filter selects in-flight messages: from=, to=, command=, op=, view=.
type filter struct {
	from, to []node
	commands []string
	ops      []uint64
	views    []uint32
}

func (a args) filter(s *scenario) filter {
	var f filter
	for _, v := range a.vals("from") {
		f.from = append(f.from, a.node(s, v))
	}
	for _, v := range a.vals("to") {
		f.to = append(f.to, a.node(s, v))
	}
	f.commands = a.vals("command")
	for _, c := range f.commands {
		if commandByName(c) == CommandReserved {
			a.d.Fatalf(a.t, "%s: no command %q", a.d.Pos, c)
		}
	}
	for _, v := range a.vals("op") {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			a.d.Fatalf(a.t, "%s: op=%s", a.d.Pos, v)
		}
		f.ops = append(f.ops, n)
	}
	for _, v := range a.vals("view") {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			a.d.Fatalf(a.t, "%s: view=%s", a.d.Pos, v)
		}
		f.views = append(f.views, uint32(n))
	}
	return f
}

func commandByName(name string) Command {
	for c, n := range commandNames {
		if n == name {
			return Command(c)
		}
	}
	return CommandReserved
}

func (f filter) match(p *inflight) bool {
	in := func(n node, set []node) bool {
		for _, x := range set {
			if x == n {
				return true
			}
		}
		return len(set) == 0
	}
	if !in(p.from, f.from) || !in(p.to, f.to) {
		return false
	}
	h := &p.m.Header
	ok := len(f.commands) == 0
	for _, c := range f.commands {
		ok = ok || h.Command.String() == c
	}
	if !ok {
		return false
	}
	ok = len(f.ops) == 0
	for _, o := range f.ops {
		ok = ok || h.Op == o
	}
	if !ok {
		return false
	}
	ok = len(f.views) == 0
	for _, v := range f.views {
		ok = ok || h.View == v
	}
	return ok
}

// zoneByName parses a zone name as the io package prints it.
func zoneByName(name string) (rio.Zone, bool) {
	for z := rio.Zone(0); z < rio.ZoneCount; z++ {
		if z.String() == name {
			return z, true
		}
	}
	return 0, false
}

// scenarioError is a command the scenario cannot carry out (nothing to
// deliver, no such replica): it is printed as the command's output, so a
// script that drifts from the protocol fails on a readable diff.
type scenarioError string

func (s *scenario) fatalf(format string, a ...any) {
	panic(scenarioError(fmt.Sprintf(format, a...)))
}

// try runs f, turning a scenarioError into an error line of the output.
func (s *scenario) try(f func()) {
	defer func() {
		if e := recover(); e != nil {
			msg, ok := e.(scenarioError)
			if !ok {
				panic(e)
			}
			s.indent = 0
			s.emitf("error: %s", msg)
		}
	}()
	f()
}
