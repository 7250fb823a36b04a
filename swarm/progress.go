package swarm

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"viewstamp/reports"
)

// Progress reports a swarm as it goes: a bar redrawn in place on a
// terminal, plain lines every few percent elsewhere (CI logs keep every
// line). Failures always get a line of their own with their reproduce
// command, so they can be acted on before the swarm ends.
type Progress struct {
	w       io.Writer
	tty     bool
	total   int
	start   time.Time
	done    int
	failed  int
	every   int
	drawn   bool
	barSize int
}

// IsTerminal reports whether f is a character device, as a terminal is.
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// NewProgress reports on total seeds to w.
func NewProgress(w io.Writer, tty bool, total int) *Progress {
	return &Progress{w: w, tty: tty, total: total, start: time.Now(), every: max(1, total/20), barSize: 30}
}

// Add counts one finished run.
func (p *Progress) Add(r reports.Run) {
	p.done++
	failed := r.Result != reports.Pass
	if failed {
		p.failed++
		p.clear()
		fmt.Fprintf(p.w, "seed %s: %s: %s\n    reproduce: %s\n", r.Seed, r.Result, firstLine(r.Failure, 160), r.Reproduce)
	}
	if p.tty {
		p.bar()
	} else if p.done%p.every == 0 || p.done == p.total {
		fmt.Fprintln(p.w, p.status())
	}
}

// Finish clears the bar.
func (p *Progress) Finish() { p.clear() }

func (p *Progress) clear() {
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

func (p *Progress) bar() {
	n := p.barSize * p.done / max(1, p.total)
	fmt.Fprintf(p.w, "\r\033[K[%s%s] %s", strings.Repeat("█", n), strings.Repeat("░", p.barSize-n), p.status())
	p.drawn = true
}

func (p *Progress) status() string {
	el := time.Since(p.start)
	rate := float64(p.done) / max(el.Minutes(), 1e-9)
	s := fmt.Sprintf("%d/%d seeds, %d failed, %.0f seeds/min", p.done, p.total, p.failed, rate)
	if left := p.total - p.done; left > 0 && p.done > 0 {
		eta := time.Duration(float64(el) / float64(p.done) * float64(left)).Round(time.Second)
		s += fmt.Sprintf(", eta %s", eta)
	}
	return s
}

func firstLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}
