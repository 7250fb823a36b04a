package detlint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"
)

// setFlags points the analyzer at a different scope for one test. The flags
// are global, so these tests must not run in parallel.
func setFlags(t *testing.T, kv ...string) {
	t.Helper()
	for i := 0; i < len(kv); i += 2 {
		name, value := kv[i], kv[i+1]
		old := Analyzer.Flags.Lookup(name).Value.String()
		if err := Analyzer.Flags.Set(name, value); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = Analyzer.Flags.Set(name, old) })
	}
}

func TestViolations(t *testing.T) {
	// bad_test.go in the same package uses goroutines, channels and timers
	// with no want comments: test files are out of scope.
	analysistest.Run(t, analysistest.TestData(), Analyzer, "viewstamp/replica/bad")
}

func TestAllowed(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), Analyzer, "viewstamp/replica/good")
}

func TestFMA(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), Analyzer, "viewstamp/sim/fma")
}

func TestFMAAllowed(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), Analyzer, "viewstamp/sim/fmaok")
}

// TestFloatPending: pend.go's findings are silenced while it is listed, and
// clean.go, listed without a finding left, is reported so the list shrinks.
func TestFloatPending(t *testing.T) {
	setFlags(t, "float-pending", "faults/pend/pend.go, faults/pend/clean.go")
	analysistest.Run(t, analysistest.TestData(), Analyzer, "viewstamp/faults/pend")
}

// A pending file that was renamed or deleted would never be analyzed, so
// the stale-entry report could not fire; the list must name real files.
func TestFloatPendingDefaultsExist(t *testing.T) {
	for entry := range strings.SplitSeq(flagFloatPending, ",") {
		if _, err := os.Stat(filepath.Join("..", "..", strings.TrimSpace(entry))); err != nil {
			t.Errorf("-float-pending default %q: %v", entry, err)
		}
	}
}

func TestOutOfScope(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), Analyzer,
		"viewstamp/replica/io/os",
		"viewstamp/replica/io/os/uring",
		"viewstamp/cmd/x",
		"viewstamp/simple",
	)
}

func TestRootsFlag(t *testing.T) {
	setFlags(t, "roots", "extra")
	analysistest.Run(t, analysistest.TestData(), Analyzer, "viewstamp/extra/y")
}

func TestInScope(t *testing.T) {
	tests := []struct {
		path  string
		flags []string // name, value pairs; defaults otherwise
		want  bool
	}{
		{path: "viewstamp/replica", want: true},
		{path: "viewstamp/replica/vsr", want: true},
		{path: "viewstamp/replica/io", want: true},
		{path: "viewstamp/replica/io/os", want: false},
		{path: "viewstamp/replica/io/os/uring", want: false},
		{path: "viewstamp/replica/io/osx", want: true},
		{path: "viewstamp/replica/client/tcp", want: false},
		{path: "viewstamp/replica/client", want: true},
		{path: "viewstamp/replica/client/tcpx", want: true},
		{path: "viewstamp/sim/sched", want: true},
		{path: "viewstamp/faults", want: true},
		{path: "viewstamp/workload/gen", want: true},
		{path: "viewstamp/simple", want: false},
		{path: "viewstamp/cmd/vopr", want: false},
		{path: "viewstamp/tools/detlint", want: false},
		{path: "viewstamp", want: false},
		{path: "other/replica", want: false},
		{path: "replica/vsr", want: false},
		{path: "viewstamp/replica/vsr [viewstamp/replica/vsr.test]", want: true},
		{path: "viewstamp/replica/io/os [viewstamp/replica/io/os.test]", want: false},
		{path: "viewstamp/replica/vsr.test", want: false},
		{flags: []string{"module", "example.com/vs"}, path: "example.com/vs/sim/net", want: true},
		{flags: []string{"module", "example.com/vs"}, path: "viewstamp/sim/net", want: false},
		{flags: []string{"roots", "replica/vsr, sim"}, path: "viewstamp/replica/vsr/journal", want: true},
		{flags: []string{"roots", "replica/vsr, sim"}, path: "viewstamp/replica/u128", want: false},
		{flags: []string{"exempt", ""}, path: "viewstamp/replica/io/os", want: true},
		{flags: []string{"exempt", "replica/io/os,sim/real"}, path: "viewstamp/sim/real/x", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			setFlags(t, tt.flags...)
			if got := inScope(tt.path); got != tt.want {
				t.Errorf("inScope(%q) with module=%q roots=%q exempt=%q = %v, want %v",
					tt.path, flagModule, flagRoots, flagExempt, got, tt.want)
			}
		})
	}
}
