// Command mutants tests the tester: it applies each source mutant of the
// catalogue (mutants/*.mutant) to a scratch copy of the working tree, builds
// vopr there, runs a swarm and prints which mutants the simulator noticed.
//
//	mutants [run] [flags]   judge the catalogue (make mutants)
//	mutants check           say which mutants still apply to the tree
//	mutants apply NAME DIR  copy the tree to DIR with NAME applied, to debug a kill
//
// Exit codes: 0 every mutant not argued equivalent was killed, 1 some
// survived, do not apply or do not build, 2 usage or harness error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"viewstamp/tools/mutants"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("mutants "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", ".", "repository whose working tree (uncommitted changes included) is mutated")
	catalogue := fs.String("catalogue", "", "directory of *.mutant files (default ROOT/mutants)")
	var o mutants.Options
	var from uint64
	var only, flags string
	if cmd == "run" {
		fs.StringVar(&o.Out, "out", "out/mutants", "directory for table.md, results.json and each mutant's swarm output")
		fs.StringVar(&only, "run", "", "judge only mutants whose name matches this regexp")
		fs.Uint64Var(&from, "from", 1, "first seed")
		fs.IntVar(&o.Count, "seeds", 300, "seeds per mutant, at most")
		fs.IntVar(&o.StopAfter, "stop-after", 2, "failing seeds that call a mutant killed")
		fs.DurationVar(&o.Budget, "budget", 75*time.Second, "per mutant: start no new seed after this long")
		fs.DurationVar(&o.Timeout, "timeout", 60*time.Second, "per seed: longer counts as a timeout failure")
		fs.IntVar(&o.Jobs, "jobs", 2, "mutants judged at once (each runs one seed at a time)")
		fs.StringVar(&o.Corpus, "corpus", "", "regression corpus replayed under every mutant the swarm leaves alive (default ROOT/seeds; \"none\" to skip)")
		fs.StringVar(&flags, "vopr-flags", "", "vopr run flags for every seed, e.g. \"--requests-max 80\"")
		fs.BoolVar(&o.Keep, "keep", false, "keep the scratch copies")
		fs.StringVar(&o.Scratch, "scratch", "", "parent directory of the scratch copies (default: the system's temp dir)")
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	r, err := mutants.FindRoot(*root)
	if err != nil {
		fmt.Fprintln(stderr, "mutants:", err)
		return 2
	}
	if *catalogue == "" {
		*catalogue = r + "/mutants"
	}
	switch cmd {
	case "check":
		return check(r, *catalogue, stdout, stderr)
	case "apply":
		if fs.NArg() != 2 {
			fmt.Fprintln(stderr, "usage: mutants apply NAME DIR")
			return 2
		}
		return apply(r, *catalogue, fs.Arg(0), fs.Arg(1), stderr)
	case "run":
	default:
		fmt.Fprintf(stderr, "mutants: unknown command %q (want run, check or apply)\n", cmd)
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "mutants: unexpected arguments %v\n", fs.Args())
		return 2
	}
	if only != "" {
		re, err := regexp.Compile(only)
		if err != nil {
			fmt.Fprintln(stderr, "mutants: -run:", err)
			return 2
		}
		o.Only = re.MatchString
	}
	switch o.Corpus {
	case "":
		o.Corpus = r + "/seeds"
	case "none":
		o.Corpus = ""
	}
	o.Root, o.Catalogue, o.From, o.Flags, o.Log = r, *catalogue, from, strings.Fields(flags), stderr
	o.Go = os.Getenv("GO")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := mutants.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, "mutants:", err)
		return 2
	}
	rep.Markdown(stdout)
	fmt.Fprintf(stdout, "\ntable: %s/%s  results: %s/%s\n", o.Out, mutants.TableFile, o.Out, mutants.ResultsFile)
	if !rep.Clean() {
		return 1
	}
	return 0
}

func check(root, catalogue string, stdout, stderr io.Writer) int {
	ms, err := mutants.Load(catalogue)
	if err != nil {
		fmt.Fprintln(stderr, "mutants:", err)
		return 2
	}
	code := 0
	for _, m := range ms {
		status := "applies"
		b, err := os.ReadFile(root + "/" + m.File)
		if err == nil {
			_, err = m.Apply(string(b))
		}
		if err != nil {
			status, code = err.Error(), 1
		} else if m.Equivalent != "" {
			status = "applies (equivalent: " + m.Equivalent + ")"
		}
		fmt.Fprintf(stdout, "%-34s %s\n", m.Name, status)
	}
	return code
}

func apply(root, catalogue, name, dir string, stderr io.Writer) int {
	ms, err := mutants.Load(catalogue)
	if err != nil {
		fmt.Fprintln(stderr, "mutants:", err)
		return 2
	}
	for _, m := range ms {
		if m.Name != name {
			continue
		}
		t, err := mutants.OpenTree(root)
		if err == nil {
			err = t.Copy(dir)
		}
		if err == nil {
			err = m.ApplyIn(dir)
		}
		if err != nil {
			fmt.Fprintln(stderr, "mutants:", err)
			if errors.Is(err, mutants.ErrDoesNotApply) {
				return 1
			}
			return 2
		}
		fmt.Fprintf(stderr, "%s: %s applied to a copy of %s in %s\n", name, m.File, t.Rev, dir)
		return 0
	}
	fmt.Fprintf(stderr, "mutants: no mutant %q in %s\n", name, catalogue)
	return 2
}
