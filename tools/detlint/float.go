package detlint

import (
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/ast/inspector"
)

// The Go spec lets a compiler fuse x*y+z into one fused multiply-add, "possibly
// across statements", unless the product is explicitly converted. gc does so
// on arm64, ppc64, s390x, riscv64, loong64 and amd64 with GOAMD64=v3, so the
// same seed draws an option one ulp apart on a laptop and on a CI runner, and
// from then on the runs diverge. An explicit conversion float64(x*y) rounds the
// product and forbids the fusion on every architecture.
const whyFMA = "arm64, ppc64, s390x, riscv64 and amd64 v3 may fuse it into one FMA and round the last bit differently; " +
	"round the product explicitly: float64(x*y)"

const whyComplex = "its parts are computed as x*y - z*w and x*w + z*y"

// flagFloatPending names files whose cross-CPU floating-point findings are
// known and waiting for a rewrite. A listed file that has no finding left is
// itself reported, so the list cannot outlive the rewrite. None is left.
var flagFloatPending = ""

func init() {
	Analyzer.Flags.StringVar(&flagFloatPending, "float-pending", flagFloatPending,
		"comma-separated files, relative to -module, whose cross-CPU floating-point findings are not reported yet (a listed file without findings is reported)")
}

// checkFloat reports floating-point code whose result may differ in the last
// bit between CPUs: unrounded products that meet an addition, and library
// functions that are not correctly rounded.
func checkFloat(pass *analysis.Pass, file inspector.Cursor) {
	name := relFile(pass, file.Node())
	pending := name != "" && listed(name, flagFloatPending)
	found := false
	report := func(pos token.Pos, format string, args ...any) {
		found = true
		if !pending {
			pass.Reportf(pos, format, args...)
		}
	}
	checkFMA(pass, file, report)
	checkInexactMath(pass, file, report)
	if pending && !found {
		pass.Reportf(file.Node().Pos(), "detlint: -float-pending lists %s, which has no cross-CPU floating-point finding left; remove it from the list", name)
	}
}

type reporter func(pos token.Pos, format string, args ...any)

// checkFMA reports additions and subtractions with an operand that is an
// unrounded floating-point product. It looks through parentheses, unary
// minus and local variables (t := x*y; t + z fuses as readily as x*y + z),
// and reports products returned from a function, which inlining can fuse
// with the caller's addition. Products reaching an addition through a
// struct field, a pointer or a call argument are beyond a syntactic check.
func checkFMA(pass *analysis.Pass, file inspector.Cursor, report reporter) {
	f := &fmaFile{pass: pass, tainted: map[*types.Var]token.Pos{}}
	f.collectTainted(file)

	for c := range file.Preorder((*ast.BinaryExpr)(nil), (*ast.AssignStmt)(nil), (*ast.ReturnStmt)(nil)) {
		switch n := c.Node().(type) {
		case *ast.BinaryExpr:
			if n.Op == token.MUL && f.isComplex(n) && !f.isConst(n) {
				report(n.OpPos, "detlint: complex multiplication %s: %s; %s", short(n), whyComplex, whyFMA)
				continue
			}
			if (n.Op != token.ADD && n.Op != token.SUB) || !f.isFloat(n) || f.isConst(n) {
				continue
			}
			for _, x := range []ast.Expr{n.X, n.Y} {
				if what, ok := f.unrounded(x); ok {
					report(n.OpPos, "detlint: floating-point %s: %s; %s", short(n), what, whyFMA)
					break
				}
			}

		case *ast.AssignStmt:
			if n.Tok == token.MUL_ASSIGN && f.isComplex(n.Lhs[0]) {
				report(n.TokPos, "detlint: complex multiplication %s *= %s: %s; %s", short(n.Lhs[0]), short(n.Rhs[0]), whyComplex, whyFMA)
				continue
			}
			if (n.Tok != token.ADD_ASSIGN && n.Tok != token.SUB_ASSIGN) || len(n.Lhs) != 1 || !f.isFloat(n.Lhs[0]) {
				continue
			}
			for _, x := range []ast.Expr{n.Rhs[0], n.Lhs[0]} {
				if what, ok := f.unrounded(x); ok {
					report(n.TokPos, "detlint: floating-point %s %s %s: %s; %s", short(n.Lhs[0]), n.Tok, short(n.Rhs[0]), what, whyFMA)
					break
				}
			}

		case *ast.ReturnStmt:
			for _, x := range n.Results {
				if !f.isFloat(x) {
					continue
				}
				if what, ok := f.unrounded(x); ok {
					report(x.Pos(), "detlint: floating-point return %s: %s, which a caller's addition may fuse with once the function is inlined; %s", short(x), what, whyFMA)
				}
			}
		}
	}
}

type fmaFile struct {
	pass *analysis.Pass
	// tainted holds the local variables assigned an unrounded product
	// somewhere, with where. It ignores control flow: one such assignment
	// is enough for an addition of the variable to fuse on some path.
	tainted map[*types.Var]token.Pos
}

// collectTainted iterates to a fixed point so that u := t carries the taint
// of t := x*y whatever the order of the statements in the file.
func (f *fmaFile) collectTainted(file inspector.Cursor) {
	for {
		before := len(f.tainted)
		for c := range file.Preorder((*ast.AssignStmt)(nil), (*ast.ValueSpec)(nil)) {
			switch n := c.Node().(type) {
			case *ast.AssignStmt:
				switch n.Tok {
				case token.MUL_ASSIGN:
					f.taint(n.Lhs[0], n.TokPos)
				case token.DEFINE, token.ASSIGN:
					if len(n.Lhs) != len(n.Rhs) {
						continue
					}
					for i, rhs := range n.Rhs {
						if _, ok := f.unrounded(rhs); ok {
							f.taint(n.Lhs[i], rhs.Pos())
						}
					}
				}
			case *ast.ValueSpec:
				if len(n.Names) != len(n.Values) {
					continue
				}
				for i, v := range n.Values {
					if _, ok := f.unrounded(v); ok {
						f.taint(n.Names[i], v.Pos())
					}
				}
			}
		}
		if len(f.tainted) == before {
			return
		}
	}
}

func (f *fmaFile) taint(lhs ast.Expr, at token.Pos) {
	id, ok := ast.Unparen(lhs).(*ast.Ident)
	if !ok || !f.isFloat(id) {
		return
	}
	v, ok := f.pass.TypesInfo.ObjectOf(id).(*types.Var)
	if !ok || v.IsField() || v.Parent() == nil || v.Parent() == f.pass.Pkg.Scope() {
		return // package variables are loaded afresh; the compiler does not fuse through them
	}
	if _, seen := f.tainted[v]; !seen {
		f.tainted[v] = at
	}
}

// unrounded reports whether e evaluates to a floating-point product that no
// conversion has rounded, and describes it for the diagnostic.
func (f *fmaFile) unrounded(e ast.Expr) (string, bool) {
	e = ast.Unparen(e)
	if !f.isFloat(e) || f.isConst(e) {
		return "", false
	}
	switch e := e.(type) {
	case *ast.BinaryExpr:
		if e.Op == token.MUL {
			return short(e) + " is an unrounded product", true
		}
	case *ast.UnaryExpr:
		if e.Op == token.SUB || e.Op == token.ADD {
			return f.unrounded(e.X)
		}
	case *ast.Ident:
		if v, ok := f.pass.TypesInfo.Uses[e].(*types.Var); ok {
			if at, ok := f.tainted[v]; ok {
				return e.Name + " holds an unrounded product (line " + strconv.Itoa(f.pass.Fset.Position(at).Line) + ")", true
			}
		}
	}
	return "", false
}

func (f *fmaFile) isFloat(e ast.Expr) bool   { return f.hasInfo(e, types.IsFloat) }
func (f *fmaFile) isComplex(e ast.Expr) bool { return f.hasInfo(e, types.IsComplex) }

// hasInfo looks through type parameters: x*y + z fuses for an F ~float64
// exactly as for a float64.
func (f *fmaFile) hasInfo(e ast.Expr, info types.BasicInfo) bool {
	t := f.pass.TypesInfo.TypeOf(e)
	if t == nil {
		return false
	}
	is := func(t types.Type) bool {
		b, ok := t.Underlying().(*types.Basic)
		return ok && b.Info()&info != 0
	}
	if tp, ok := types.Unalias(t).(*types.TypeParam); ok {
		return anyTerm(tp, is)
	}
	return is(t)
}

// isConst skips what the compiler folds exactly at compile time.
func (f *fmaFile) isConst(e ast.Expr) bool {
	tv, ok := f.pass.TypesInfo.Types[e]
	return ok && tv.Value != nil
}

// exactMath are the functions of package math whose results IEEE 754 or
// their definition fix to the bit: correctly rounded (Sqrt, FMA), exact
// (Floor, Mod, Ldexp, ...) or tables (Pow10). Every other one is an
// approximation whose last bit is the implementation's choice, and Go has
// several: amd64 assembly for Exp that takes an FMA path only on CPUs that
// have one (so one binary differs between two amd64 machines), arm64 assembly
// for Exp, and pure Go elsewhere that the compiler fuses per architecture.
var exactMath = map[string]bool{
	"Abs": true, "Ceil": true, "Copysign": true, "Dim": true, "FMA": true,
	"Float32bits": true, "Float32frombits": true, "Float64bits": true, "Float64frombits": true,
	"Floor": true, "Frexp": true, "Ilogb": true, "Inf": true, "IsInf": true, "IsNaN": true,
	"Ldexp": true, "Logb": true, "Max": true, "Min": true, "Mod": true, "Modf": true,
	"NaN": true, "Nextafter": true, "Nextafter32": true, "Pow10": true, "Remainder": true,
	"Round": true, "RoundToEven": true, "Signbit": true, "Sqrt": true, "Trunc": true,
}

// inexactRand are the math/rand/v2 draws built on inexact math or on
// arithmetic the compiler may fuse (the ziggurats' float32 x*y+z).
var inexactRand = map[string]string{
	"ExpFloat64":  "its ziggurat computes float32 x*y+z, which fuses on some CPUs, and calls math.Exp",
	"NormFloat64": "its ziggurat's arithmetic fuses on some CPUs (measured: amd64 v3 and arm64 draw other values) and it calls math.Exp",
	"NewZipf":     "its draws use math.Exp, math.Log and a fusable x*y+z",
}

const whyInexact = "the last bit differs between CPUs, so a seed can draw differently on another machine; " +
	"draw in integers (rng.Uint64N against a threshold, fixed-point latencies) or compute with explicitly rounded +, -, *, /"

// checkInexactMath works on identifiers, like checkIdent, so that a function
// value (exp := math.Exp) cannot dodge it.
func checkInexactMath(pass *analysis.Pass, file inspector.Cursor, report reporter) {
	for c := range file.Preorder((*ast.Ident)(nil)) {
		id := c.Node().(*ast.Ident)
		fn, ok := pass.TypesInfo.Uses[id].(*types.Func)
		if !ok || fn.Pkg() == nil {
			continue
		}
		switch fn.Pkg().Path() {
		case "math":
			if !exactMath[fn.Name()] {
				report(id.Pos(), "detlint: math.%s is not correctly rounded: %s", fn.Name(), whyInexact)
			}
		case "math/rand/v2":
			if why, ok := inexactRand[fn.Name()]; ok {
				report(id.Pos(), "detlint: rand %s: %s; %s", fn.Name(), why, whyInexact)
			}
		}
	}
}

// short keeps diagnostics on one readable line.
func short(e ast.Expr) string {
	const max = 40
	s := types.ExprString(e)
	if len(s) > max {
		s = s[:max-3] + "..."
	}
	return s
}

// relFile is the file's path relative to -module, derived from the package
// path so that it does not depend on where the checkout lives.
func relFile(pass *analysis.Pass, file ast.Node) string {
	pkgPath := pass.Pkg.Path()
	if i := strings.IndexByte(pkgPath, ' '); i >= 0 {
		pkgPath = pkgPath[:i]
	}
	rel, ok := strings.CutPrefix(pkgPath, strings.TrimSuffix(flagModule, "/")+"/")
	if !ok {
		return ""
	}
	return rel + "/" + filepath.Base(pass.Fset.Position(file.Pos()).Filename)
}

func listed(name, list string) bool {
	for entry := range strings.SplitSeq(list, ",") {
		if strings.Trim(strings.TrimSpace(entry), "/") == name {
			return true
		}
	}
	return false
}
