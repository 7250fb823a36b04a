package repl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"viewstamp/replica/vsr"
)

// Submit sends one batch and returns its results: the ledger's records
// back to back, as Statement.Encode builds them (replica/client/tcp's
// Submit packs them into a multi-batch request).
type Submit func(ctx context.Context, op vsr.Operation, body []byte) ([]byte, error)

// Prompts, TigerBeetle's first one, and a second for a statement that
// continues on the next line.
const (
	promptFirst    = "> "
	promptContinue = "... "
)

// Session reads statements from In, runs each through Submit as soon as its
// `;` arrives, and writes the replies to Out.
type Session struct {
	In     io.Reader
	Out    io.Writer
	Submit Submit
	// Interactive prompts, and reports a failed statement and carries on;
	// otherwise (a script on standard input) the first failure ends the run
	// with its error, as a shell script run with -e would.
	Interactive bool
	// BatchMax bounds the records of one statement; zero means BatchMax.
	BatchMax int
}

// errExit ends a session at the user's request.
var errExit = errors.New("exit")

// Run reads until the end of In, `exit` or ctx ends. A statement still
// open at the end of input runs as if its `;` had been typed.
func (s *Session) Run(ctx context.Context) error {
	batchMax := s.BatchMax
	if batchMax == 0 {
		batchMax = BatchMax
	}
	in := bufio.NewReader(s.In)
	var pending string
	line, col := 1, 1
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.Interactive {
			prompt := promptFirst
			if strings.TrimSpace(pending) != "" {
				prompt = promptContinue
			}
			fmt.Fprint(s.Out, prompt)
		}
		text, readErr := in.ReadString('\n')
		if readErr != nil && !errors.Is(readErr, io.EOF) {
			return readErr
		}
		pending += text
		eof := errors.Is(readErr, io.EOF)
		if eof && s.Interactive && text == "" {
			fmt.Fprintln(s.Out)
		}
		for {
			n, complete := splitStatement(pending)
			if !complete && command(pending) {
				complete = true
			}
			if !complete && !eof {
				break
			}
			chunk := pending[:n]
			err := s.run(ctx, chunk, line, col, batchMax)
			line, col = advance(line, col, chunk)
			pending = pending[n:]
			if errors.Is(err, errExit) {
				return nil
			}
			if err != nil {
				if !s.Interactive {
					return err
				}
				fmt.Fprintln(s.Out, "error:", err)
			}
			if !complete {
				break
			}
		}
		if eof {
			return nil
		}
	}
}

// command reports whether src is one of the words a person types without a
// `;`: waiting for one would leave `exit` hanging on a continuation prompt.
func command(src string) bool {
	switch strings.TrimSpace(stripComments(src)) {
	case "exit", "quit", "help":
		return true
	}
	return false
}

// run executes one chunk: a statement with its `;`, or the whole rest of the
// input at its end.
func (s *Session) run(ctx context.Context, chunk string, line, col, batchMax int) error {
	switch strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(stripComments(chunk)), ";")) {
	case "":
		return nil
	case "exit", "quit":
		return errExit
	case "help":
		fmt.Fprint(s.Out, Help())
		return nil
	}
	p := newParser(chunk, line, col, batchMax)
	for {
		st, ok, err := p.statement()
		if err != nil || !ok {
			return err
		}
		if err := s.execute(ctx, st); err != nil {
			return err
		}
	}
}

func (s *Session) execute(ctx context.Context, st Statement) error {
	op, body := st.Encode()
	reply, err := s.Submit(ctx, op, body)
	if err != nil {
		return fmt.Errorf("%s: %w", st.Name(), err)
	}
	out, err := FormatReply(op, reply)
	if err != nil {
		return err
	}
	_, err = io.WriteString(s.Out, out)
	return err
}

// splitStatement finds the end of the first statement, just past its `;`,
// skipping comments; complete is false when no `;` has arrived yet.
func splitStatement(src string) (n int, complete bool) {
	for i := 0; i < len(src); i++ {
		switch src[i] {
		case '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case ';':
			return i + 1, true
		}
	}
	return len(src), false
}

func stripComments(src string) string {
	var b strings.Builder
	for i := 0; i < len(src); i++ {
		if src[i] == '#' {
			for i < len(src) && src[i] != '\n' {
				i++
			}
		}
		if i < len(src) {
			b.WriteByte(src[i])
		}
	}
	return b.String()
}

// advance moves a line and column over text.
func advance(line, col int, text string) (int, int) {
	for i := 0; i < len(text); i++ {
		if text[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// Help lists the statements and the fields each record takes.
func Help() string {
	var b strings.Builder
	b.WriteString("Statements end with \";\" and may span lines; records are separated by \",\".\n")
	b.WriteString("Numbers are decimal or 0x hex (\"max\" is the field's largest); flags are joined by \"|\".\n")
	row := func(name string, fields []string) {
		fmt.Fprintf(&b, "  %s %s\n", name, strings.Join(fields, " "))
	}
	for _, o := range operations {
		switch o.kind {
		case kindAccounts:
			row(o.name, names(accountFields))
		case kindTransfers:
			row(o.name, names(transferFields))
		case kindIDs:
			row(o.name, names(idFields))
		case kindAccountFilter:
			row(o.name, names(accountFilterFields))
		case kindQueryFilter:
			row(o.name, names(queryFilterFields))
		}
	}
	fmt.Fprintf(&b, "Account flags: %s\n", strings.Join(accountFlagNames, " "))
	fmt.Fprintf(&b, "Transfer flags: %s\n", strings.Join(transferFlagNames, " "))
	fmt.Fprintf(&b, "Account filter flags: %s; query filter flags: %s\n",
		strings.Join(accountFilterFlagNames, " "), strings.Join(queryFilterFlagNames, " "))
	b.WriteString("Also: help, exit.\n")
	return b.String()
}

func names[T any](fields []field[T]) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.name + "="
	}
	return out
}
