package swarm

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"viewstamp/reports"
)

// Report writes the swarm report into dir, with a per-seed report for up
// to limit failing seeds, made by running each again with --report: the
// swarm's children kept only their records, and a timeline is too big to
// keep for every seed. Seeds are picked round-robin over the failure
// groups, shortest first, so every distinct failure gets its pictures
// before any gets a second seed. Timeouts are skipped: they would time out
// again.
func Report(ctx context.Context, dir string, runs []reports.Run, s reports.Summary, o Options, limit int) error {
	seedReports := map[string]string{}
	for round := 0; len(seedReports) < limit; round++ {
		picked := false
		for _, g := range s.Failures {
			if round >= len(g.Seeds) || g.Result == reports.Timeout || len(seedReports) >= limit {
				continue
			}
			picked = true
			f := g.Seeds[round]
			if _, ok := seedReports[f.Seed]; ok {
				continue
			}
			rel := filepath.Join("seeds", f.Seed)
			if err := reportSeed(ctx, filepath.Join(dir, rel), f.Seed, flagsOf(runs, f), o); err == nil {
				seedReports[f.Seed] = filepath.ToSlash(filepath.Join(rel, "index.html"))
			}
		}
		if !picked || ctx.Err() != nil {
			break
		}
	}
	return reports.WriteSwarmReport(dir, runs, s, seedReports)
}

func flagsOf(runs []reports.Run, f reports.Failing) []string {
	for _, r := range runs {
		if r.Seed == f.Seed && r.Reproduce == f.Reproduce {
			return r.Flags
		}
	}
	return nil
}

func reportSeed(ctx context.Context, dir, seed string, flags []string, o Options) error {
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	args := append([]string{"--seed", seed, "--json", "--report", dir}, flags...)
	cmd := exec.CommandContext(ctx, o.Exe, args...)
	cmd.Env = o.Env
	ownGroup(cmd)
	cmd.WaitDelay = 5 * time.Second
	_ = cmd.Run() // a failing seed exits non-zero by design
	_, err := os.Stat(filepath.Join(dir, "index.html"))
	return err
}
