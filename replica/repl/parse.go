package repl

import (
	"errors"
	"fmt"
	"strings"

	"viewstamp/replica/ledger"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// BatchMax is the most records one statement may carry by default: what
// fits a 1 MiB message, TigerBeetle's 8189.
var BatchMax = ledger.BatchMaxFor(messageSizeMax, vsr.HeaderSize)

// messageSizeMax is TigerBeetle's production message size.
const messageSizeMax = 1 << 20

// suggestDistance is how many edits away a known field may be from an
// unknown one and still be offered as the likely intent.
const suggestDistance = 2

// ParseError says what is wrong with a statement, which statement and field,
// and where (1-based; zero when the position is unknown).
type ParseError struct {
	Statement string
	Field     string
	Msg       string
	Line      int
	Column    int
}

func (e *ParseError) Error() string {
	var b strings.Builder
	if e.Statement != "" {
		b.WriteString(e.Statement + ": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d, column %d)", e.Line, e.Column)
	}
	return b.String()
}

// Parse reads every statement in src. The last one may omit its `;`.
func Parse(src string) ([]Statement, error) {
	p := newParser(src, 1, 1, BatchMax)
	var out []Statement
	for {
		s, ok, err := p.statement()
		if err != nil {
			return out, err
		}
		if !ok {
			return out, nil
		}
		out = append(out, s)
	}
}

// ParseOne reads exactly one statement.
func ParseOne(src string) (Statement, error) {
	ss, err := Parse(src)
	if err != nil {
		return Statement{}, err
	}
	if len(ss) != 1 {
		return Statement{}, fmt.Errorf("expected one statement, found %d", len(ss))
	}
	return ss[0], nil
}

type tokenKind uint8

const (
	tokEOF tokenKind = iota
	tokWord
	tokEquals
	tokBar
	tokComma
	tokSemicolon
)

type token struct {
	kind      tokenKind
	text      string
	line, col int
}

func (t token) String() string {
	if t.kind == tokEOF {
		return "end of input"
	}
	return fmt.Sprintf("%q", t.text)
}

// parser is a scanner and a recursive-descent reader in one: the grammar has
// no nesting, so one token of lookahead does.
type parser struct {
	src       string
	pos       int
	line, col int
	batchMax  int
	ahead     *token
	stmt      string // the statement being read, for errors
}

func newParser(src string, line, col, batchMax int) *parser {
	return &parser{src: src, line: line, col: col, batchMax: batchMax}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func punct(c byte) (tokenKind, bool) {
	switch c {
	case '=':
		return tokEquals, true
	case '|':
		return tokBar, true
	case ',':
		return tokComma, true
	case ';':
		return tokSemicolon, true
	}
	return 0, false
}

func (p *parser) advance() {
	if p.src[p.pos] == '\n' {
		p.line, p.col = p.line+1, 1
	} else {
		p.col++
	}
	p.pos++
}

// scan reads the next token. A word is anything up to whitespace or
// punctuation, so that a stray `-5` or `ledgr@` reaches the field check
// whole and the error quotes what was typed. `#` comments to the end of the
// line, for scripts.
func (p *parser) scan() token {
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if isSpace(c) {
			p.advance()
			continue
		}
		if c == '#' {
			for p.pos < len(p.src) && p.src[p.pos] != '\n' {
				p.advance()
			}
			continue
		}
		break
	}
	t := token{line: p.line, col: p.col}
	if p.pos == len(p.src) {
		return t
	}
	if k, ok := punct(p.src[p.pos]); ok {
		t.kind, t.text = k, p.src[p.pos:p.pos+1]
		p.advance()
		return t
	}
	start := p.pos
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if _, ok := punct(c); ok || isSpace(c) || c == '#' {
			break
		}
		p.advance()
	}
	t.kind, t.text = tokWord, p.src[start:p.pos]
	return t
}

func (p *parser) next() token {
	if p.ahead != nil {
		t := *p.ahead
		p.ahead = nil
		return t
	}
	return p.scan()
}

func (p *parser) peek() token {
	if p.ahead == nil {
		t := p.scan()
		p.ahead = &t
	}
	return *p.ahead
}

func (p *parser) errorAt(t token, fieldName, format string, args ...any) error {
	return &ParseError{Statement: p.stmt, Field: fieldName, Msg: fmt.Sprintf(format, args...), Line: t.line, Column: t.col}
}

// assignment is one field=value[|value...] as typed.
type assignment struct {
	name   token
	values []token
}

// statement reads one statement; ok is false at the end of input. Empty
// statements (a lone `;`) are skipped.
func (p *parser) statement() (Statement, bool, error) {
	p.stmt = ""
	t := p.next()
	for t.kind == tokSemicolon {
		t = p.next()
	}
	switch t.kind {
	case tokEOF:
		return Statement{}, false, nil
	case tokWord:
	default:
		return Statement{}, false, p.errorAt(t, "", "expected an operation, found %s", t)
	}
	o, ok := operationNamed(t.text)
	if !ok {
		return Statement{}, false, p.errorAt(t, "", "%q is not an operation (one of %s)", t.text, operationNames())
	}
	p.stmt = o.name
	var records [][]assignment
	var starts []token
	if k := p.peek().kind; k != tokSemicolon && k != tokEOF {
		for {
			starts = append(starts, p.peek())
			r, err := p.record()
			if err != nil {
				return Statement{}, false, err
			}
			records = append(records, r)
			if p.peek().kind != tokComma {
				break
			}
			p.next()
		}
	}
	if end := p.next(); end.kind != tokSemicolon && end.kind != tokEOF {
		return Statement{}, false, p.errorAt(end, "", "expected \",\" or \";\", found %s", end)
	}
	s, err := p.build(o, records, starts)
	return s, err == nil, err
}

// record reads field=value pairs up to a `,`, `;` or the end.
func (p *parser) record() ([]assignment, error) {
	var out []assignment
	for {
		t := p.peek()
		if t.kind == tokComma || t.kind == tokSemicolon || t.kind == tokEOF {
			if len(out) == 0 {
				return nil, p.errorAt(t, "", "expected a field, found %s", t)
			}
			return out, nil
		}
		name := p.next()
		if name.kind != tokWord {
			return nil, p.errorAt(name, "", "expected a field, found %s", name)
		}
		if eq := p.next(); eq.kind != tokEquals {
			return nil, p.errorAt(eq, name.text, "expected \"=\" after the field, found %s", eq)
		}
		a := assignment{name: name}
		for {
			v := p.next()
			if v.kind != tokWord {
				return nil, p.errorAt(v, name.text, "expected a value, found %s", v)
			}
			a.values = append(a.values, v)
			if p.peek().kind != tokBar {
				break
			}
			p.next()
		}
		out = append(out, a)
	}
}

func (p *parser) build(o operation, records [][]assignment, starts []token) (Statement, error) {
	s := Statement{Operation: vsr.Operation(o.op)}
	if o.kind <= kindIDs && len(records) > p.batchMax {
		return s, p.errorAt(starts[p.batchMax], "", "%d records exceed the batch limit of %d", len(records), p.batchMax)
	}
	if o.kind >= kindAccountFilter && len(records) > 1 {
		return s, p.errorAt(starts[1], "", "takes one filter, found %d", len(records))
	}
	var err error
	switch o.kind {
	case kindAccounts:
		s.Accounts = make([]ledger.Account, len(records))
		for i, r := range records {
			if err = assign(p, accountFields, &s.Accounts[i], r); err != nil {
				return s, err
			}
		}
	case kindTransfers:
		s.Transfers = make([]ledger.Transfer, len(records))
		for i, r := range records {
			if err = assign(p, transferFields, &s.Transfers[i], r); err != nil {
				return s, err
			}
		}
	case kindIDs:
		s.IDs = make([]u128.U128, len(records))
		for i, r := range records {
			if err = assign(p, idFields, &s.IDs[i], r); err != nil {
				return s, err
			}
		}
	case kindAccountFilter:
		f := &s.AccountFilter
		if len(records) == 1 {
			err = assign(p, accountFilterFields, f, records[0])
		}
		if err == nil && f.AccountID.IsZero() {
			at := token{line: p.line, col: p.col}
			if len(starts) > 0 {
				at = starts[0]
			}
			err = p.errorAt(at, "", "field \"account_id\" is required")
		}
		if !given(records, "limit") {
			f.Limit = uint32(p.batchMax)
		}
		// A filter with neither side matches nothing, so it can only mean
		// both, as the clients' docs describe the default.
		if f.Flags&(ledger.FilterDebits|ledger.FilterCredits) == 0 {
			f.Flags |= ledger.FilterDebits | ledger.FilterCredits
		}
	case kindQueryFilter:
		if len(records) == 1 {
			err = assign(p, queryFilterFields, &s.QueryFilter, records[0])
		}
		if !given(records, "limit") {
			s.QueryFilter.Limit = uint32(p.batchMax)
		}
	}
	return s, err
}

func given(records [][]assignment, name string) bool {
	for _, r := range records {
		for _, a := range r {
			if a.name.text == name {
				return true
			}
		}
	}
	return false
}

// assign applies one record's assignments through the record's field table.
func assign[T any](p *parser, fields []field[T], rec *T, r []assignment) error {
	var seen []string
	for _, a := range r {
		f, ok := lookupField(fields, a.name.text)
		if !ok {
			return p.errorAt(a.name, "", "field %q unknown%s", a.name.text, suggest(fields, a.name.text))
		}
		if contains(seen, f.name) {
			return p.errorAt(a.name, "", "field %q given twice", f.name)
		}
		seen = append(seen, f.name)
		if err := setField(p, f, rec, a); err != nil {
			return err
		}
	}
	return nil
}

func setField[T any](p *parser, f field[T], rec *T, a assignment) error {
	ptr := f.ref(rec)
	var v u128.U128
	if f.flags == nil {
		if len(a.values) > 1 {
			return p.errorAt(a.values[1], f.name, "takes one number, not flags joined by \"|\"")
		}
		t := a.values[0]
		if t.text == "max" {
			v = maxValue(ptr)
		} else {
			var err error
			if v, err = parseU128(t.text); err != nil {
				return p.errorAt(t, f.name, "%q %v", t.text, err)
			}
		}
	} else {
		for _, t := range a.values {
			bit, ok := flagBit(f.flags, t.text)
			if !ok {
				return p.errorAt(t, f.name, "%q is not a flag (one of %s)", t.text, strings.Join(f.flags, ", "))
			}
			v.Lo |= bit
		}
	}
	if err := setNumber(ptr, v); err != nil {
		if errors.Is(err, errRange) {
			return p.errorAt(a.values[0], f.name, "%s is out of range (max %s)", formatU128(v), formatU128(maxValue(ptr)))
		}
		return p.errorAt(a.values[0], f.name, "%v", err)
	}
	return nil
}

// suggest names the known field nearest an unknown one, if any is close.
func suggest[T any](fields []field[T], name string) string {
	best, bestD := "", suggestDistance+1
	for _, f := range fields {
		if d := distance(f.name, name); d < bestD {
			best, bestD = f.name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(", did you mean %q?", best)
}

// distance is the Levenshtein edit distance.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
