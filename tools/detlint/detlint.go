// Package detlint enforces the determinism rules of the simulated packages.
//
// The VOPR's value rests on one promise: a seed replays a run byte for byte.
// Anything whose outcome depends on the Go scheduler, the wall clock, the OS or
// Go's deliberately randomised map order breaks that promise silently, and the
// first sign is usually a failing seed that no longer fails when rerun. The
// checks here are syntactic and type-based on purpose: they are cheap enough to
// run on every build and make such code fail review before it fails a replay.
//
// Only packages under the configured roots are checked; the production OS
// binding and the command-line tools legitimately need goroutines and time.
package detlint

import (
	"go/ast"
	"go/token"
	"go/types"
	"strconv"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/edge"
	"golang.org/x/tools/go/ast/inspector"
	"golang.org/x/tools/go/types/typeutil"
)

const doc = `report nondeterminism in packages that must replay from a seed

In the deterministic packages (by default viewstamp/{replica,sim,faults,workload}
and below, except the IO bindings viewstamp/replica/io/os and
viewstamp/replica/client/tcp) detlint reports, outside _test.go
files: go statements; channel types, sends, receives and select; imports of
sync, sync/atomic, math/rand, crypto/rand, os, os/exec and net; runtime.Gosched,
GC and NumGoroutine; the wall clock and timers of package time; the global
source of math/rand/v2; range over maps; maps.Keys/Values/All except as
slices.Sorted(maps.Keys(m)); floating-point additions and subtractions of a
product that no conversion rounds (x*y + z, s += x*y, t := x*y; t - z, and
return x*y), which the compiler may fuse into an FMA on some CPUs only; and
the functions of math and math/rand/v2 whose last bit differs between CPUs
(math.Exp, Log, Pow, ...; ExpFloat64, NormFloat64, NewZipf).`

// Analyzer is the determinism checker. Its flags are plain package-level state
// because that is how go/analysis drivers (singlechecker, go vet -vettool,
// analysistest) expose them.
var Analyzer = &analysis.Analyzer{
	Name:     "detlint",
	Doc:      doc,
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      run,
}

var (
	flagModule = "viewstamp"
	flagRoots  = "replica,sim,faults,workload"
	// The IO bindings: the replica's (io_uring, sockets, the OS clock) and
	// the production client's TCP transport. Both drive deterministic state
	// machines (vsr.Replica, client.Client) that stay in scope; only the
	// binding itself needs goroutines, sockets and real time.
	flagExempt = "replica/io/os,replica/client/tcp"
)

func init() {
	Analyzer.Flags.StringVar(&flagModule, "module", flagModule,
		"module path that -roots and -exempt are relative to")
	Analyzer.Flags.StringVar(&flagRoots, "roots", flagRoots,
		"comma-separated package roots, relative to -module, that must be deterministic (each includes its subpackages)")
	Analyzer.Flags.StringVar(&flagExempt, "exempt", flagExempt,
		"comma-separated package roots, relative to -module, excluded from -roots (each includes its subpackages)")
}

// inScope is decided per package rather than per file so that the production
// binding can live next to the simulated code under replica/ yet opt out as a
// whole subtree.
func inScope(pkgPath string) bool {
	// Drivers may describe test variants as "p [p.test]"; the rules are about p.
	if i := strings.IndexByte(pkgPath, ' '); i >= 0 {
		pkgPath = pkgPath[:i]
	}
	// The main package that go test generates ("p.test") imports os and is
	// not code anyone wrote or replays.
	if strings.HasSuffix(pkgPath, ".test") {
		return false
	}
	rel, ok := strings.CutPrefix(pkgPath, strings.TrimSuffix(flagModule, "/")+"/")
	if !ok {
		return false
	}
	if underAny(rel, flagExempt) {
		return false
	}
	return underAny(rel, flagRoots)
}

// underAny matches whole path segments, so that a root "sim" does not capture
// a sibling package named "simple".
func underAny(rel, list string) bool {
	for root := range strings.SplitSeq(list, ",") {
		root = strings.Trim(strings.TrimSpace(root), "/")
		if root == "" {
			continue
		}
		if rel == root || strings.HasPrefix(rel, root+"/") {
			return true
		}
	}
	return false
}

// forbiddenImports carries the reason with each path so that the diagnostic
// teaches the rule instead of just citing it.
var forbiddenImports = map[string]string{
	"sync":        "locks and atomics only make sense with concurrent goroutines, whose interleaving the seed cannot replay",
	"sync/atomic": "locks and atomics only make sense with concurrent goroutines, whose interleaving the seed cannot replay",
	"math/rand":   "its global source is randomly seeded at start-up; use math/rand/v2 with rand.New(rand.NewPCG(seed, ...))",
	"crypto/rand": "it reads OS entropy, which no seed can replay; use a seeded math/rand/v2 *rand.Rand",
	"os":          "it reaches the real process environment and filesystem; go through the replica/io seam",
	"os/exec":     "it runs real processes outside the simulation; go through the replica/io seam",
	"net":         "real sockets deliver in OS order and timing; go through the io.Network seam",
}

const (
	whyChan = "channel operations are ordered by the Go scheduler, not the seed; pass messages through the simulator's event queue"
	whyTime = "real time differs on every run; use the simulated clock (io.Time / sim scheduler)"
)

var forbiddenFuncs = map[string]map[string]string{
	"time": {
		"Now": whyTime, "Since": whyTime, "Until": whyTime, "Sleep": whyTime,
		"After": whyTime, "AfterFunc": whyTime, "Tick": whyTime,
		"NewTimer": whyTime, "NewTicker": whyTime,
	},
	"runtime": {
		"Gosched":      "its effect depends on the Go scheduler, which the seed does not control",
		"GC":           "heap and finalizer timing is not part of the seed",
		"NumGoroutine": "goroutine counts depend on the Go scheduler, which the seed does not control",
	},
}

func run(pass *analysis.Pass) (any, error) {
	if !inScope(pass.Pkg.Path()) {
		return nil, nil
	}
	insp := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)

	for file := range insp.Root().Children() {
		// Tests may use goroutines and timers to drive or time-box a
		// simulation; only the code that is replayed must be deterministic.
		if strings.HasSuffix(pass.Fset.Position(file.Node().Pos()).Filename, "_test.go") {
			continue
		}
		checkFloat(pass, file)
		for c := range file.Preorder(
			(*ast.ImportSpec)(nil),
			(*ast.GoStmt)(nil),
			(*ast.ChanType)(nil),
			(*ast.SendStmt)(nil),
			(*ast.UnaryExpr)(nil),
			(*ast.SelectStmt)(nil),
			(*ast.RangeStmt)(nil),
			(*ast.Ident)(nil),
		) {
			checkNode(pass, c)
		}
	}
	return nil, nil
}

func checkNode(pass *analysis.Pass, c inspector.Cursor) {
	switch n := c.Node().(type) {
	case *ast.ImportSpec:
		path, err := strconv.Unquote(n.Path.Value)
		if err != nil {
			return
		}
		if why, ok := forbiddenImports[path]; ok {
			pass.Reportf(n.Pos(), "detlint: import %q: %s", path, why)
		}

	case *ast.GoStmt:
		pass.Reportf(n.Pos(), "detlint: go statement: goroutines interleave at the Go scheduler's whim, not the seed's; schedule the work as a simulator event")

	case *ast.ChanType:
		pass.Reportf(n.Pos(), "detlint: channel type: %s", whyChan)

	case *ast.SendStmt:
		if !inSelectCase(c) {
			pass.Reportf(n.Arrow, "detlint: channel send: %s", whyChan)
		}

	case *ast.UnaryExpr:
		if n.Op == token.ARROW && !inSelectCase(c) {
			pass.Reportf(n.OpPos, "detlint: channel receive: %s", whyChan)
		}

	case *ast.SelectStmt:
		pass.Reportf(n.Select, "detlint: select statement: when several cases are ready Go picks one at random; %s", whyChan)

	case *ast.RangeStmt:
		t := pass.TypesInfo.TypeOf(n.X)
		switch {
		case t == nil:
		case mayBeMap(t):
			pass.Reportf(n.For, "detlint: range over map: iteration order is random; iterate sorted keys or a slice")
		case isChan(t):
			pass.Reportf(n.For, "detlint: range over channel: %s", whyChan)
		}

	case *ast.Ident:
		checkIdent(pass, c, n)
	}
}

// checkIdent works on every reference rather than only on calls, so that
// taking a function value (f := time.Now) or a dot import cannot dodge a rule.
func checkIdent(pass *analysis.Pass, c inspector.Cursor, id *ast.Ident) {
	obj := pass.TypesInfo.Uses[id]
	if obj == nil || obj.Pkg() == nil {
		return
	}
	switch obj := obj.(type) {
	case *types.TypeName:
		// A channel type named in another package has no ChanType node
		// here, yet using it is just as scheduler-dependent.
		if obj.Pkg() != pass.Pkg && isChan(obj.Type()) {
			pass.Reportf(id.Pos(), "detlint: channel type %s.%s: %s", obj.Pkg().Name(), obj.Name(), whyChan)
		}

	case *types.Func:
		if obj.Signature().Recv() != nil {
			return // methods, e.g. on a seeded *rand.Rand, are fine
		}
		pkg, name := obj.Pkg().Path(), obj.Name()
		if why, ok := forbiddenFuncs[pkg][name]; ok {
			pass.Reportf(id.Pos(), "detlint: %s.%s: %s", obj.Pkg().Name(), name, why)
			return
		}
		switch pkg {
		case "math/rand/v2":
			// Constructors build seeded generators; every other top-level
			// function draws from the runtime's randomly seeded global source.
			if !strings.HasPrefix(name, "New") {
				pass.Reportf(id.Pos(), "detlint: rand.%s: draws from the global, randomly seeded source; call it on a seeded *rand.Rand (rand.New(rand.NewPCG(seed, ...)))", name)
			}
		case "maps":
			if (name == "Keys" || name == "Values" || name == "All") && !sortedKeysIdiom(pass.TypesInfo, c) {
				pass.Reportf(id.Pos(), "detlint: maps.%s: yields in random map order; use slices.Sorted(maps.Keys(m))", name)
			}
		}
	}
}

// inSelectCase avoids reporting a select's communication clauses twice: the
// select itself is already reported, and it is the thing to rewrite.
func inSelectCase(c inspector.Cursor) bool {
	if c.ParentEdgeKind() == edge.CommClause_Comm { // case ch <- v:
		return true
	}
	// case <-ch: and case v := <-ch: wrap the receive in a statement.
	parent := c.Parent()
	_, isStmt := parent.Node().(ast.Stmt)
	return isStmt && parent.ParentEdgeKind() == edge.CommClause_Comm
}

// sortedKeysIdiom reports whether the maps.Keys identifier at c is the callee
// of the sole argument to slices.Sorted: sorting erases the random order, and
// blessing exactly one spelling keeps the rule easy to audit.
func sortedKeysIdiom(info *types.Info, c inspector.Cursor) bool {
	if c.Node().(*ast.Ident).Name != "Keys" {
		return false
	}
	if c.ParentEdgeKind() == edge.SelectorExpr_Sel {
		c = c.Parent()
	}
	for {
		switch c.ParentEdgeKind() {
		case edge.ParenExpr_X, edge.IndexExpr_X, edge.IndexListExpr_X:
			c = c.Parent() // (maps.Keys) or maps.Keys[M]
			continue
		}
		break
	}
	if c.ParentEdgeKind() != edge.CallExpr_Fun {
		return false
	}
	call := c.Parent()
	if call.ParentEdgeKind() != edge.CallExpr_Args {
		return false
	}
	outer := call.Parent().Node().(*ast.CallExpr)
	if len(outer.Args) != 1 {
		return false
	}
	fn, ok := typeutil.Callee(info, outer).(*types.Func)
	return ok && fn.Pkg() != nil && fn.Pkg().Path() == "slices" && fn.Name() == "Sorted"
}

// mayBeMap also looks through type parameters: ranging over an M ~map[K]V
// is as random as ranging over the map itself.
func mayBeMap(t types.Type) bool {
	if tp, ok := types.Unalias(t).(*types.TypeParam); ok {
		return anyTerm(tp, func(t types.Type) bool { _, ok := t.Underlying().(*types.Map); return ok })
	}
	_, ok := t.Underlying().(*types.Map)
	return ok
}

func isChan(t types.Type) bool {
	if tp, ok := types.Unalias(t).(*types.TypeParam); ok {
		return anyTerm(tp, func(t types.Type) bool { _, ok := t.Underlying().(*types.Chan); return ok })
	}
	_, ok := t.Underlying().(*types.Chan)
	return ok
}

func anyTerm(tp *types.TypeParam, pred func(types.Type) bool) bool {
	iface, ok := tp.Constraint().Underlying().(*types.Interface)
	if !ok {
		return false
	}
	for i := range iface.NumEmbeddeds() {
		switch e := iface.EmbeddedType(i).(type) {
		case *types.Union:
			for j := range e.Len() {
				if pred(e.Term(j).Type()) {
					return true
				}
			}
		default:
			if pred(e) {
				return true
			}
		}
	}
	return false
}
