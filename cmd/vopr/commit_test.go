package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"viewstamp/swarm"
)

// A vopr built from a clean clone stamps the bare commit into its run
// records, and one built after an edit stamps "<hash>-dirty". The swarm runs
// outside any checkout, so only the build stamp can name the commit.
func TestBuildStampsDirtyCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds vopr twice")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	sh := func(dir, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if err := exec.Command("git", "rev-parse", "HEAD").Run(); err != nil {
		t.Skip("not in a git checkout")
	}
	rev := sh(".", "git", "rev-parse", "HEAD")
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	// A plain clone, not a worktree: go build stamps only a checkout whose
	// .git is a directory.
	sh(tmp, "git", "clone", "-q", "--shared", "--no-checkout", sh(".", "git", "rev-parse", "--show-toplevel"), src)
	sh(src, "git", "checkout", "-q", "--detach", rev)

	recorded := func(name string) string {
		t.Helper()
		exe := filepath.Join(tmp, name)
		// -buildvcs=true overrides a GOFLAGS=-buildvcs=false in the environment.
		sh(src, "go", "build", "-buildvcs=true", "-trimpath", "-o", exe, "./cmd/vopr")
		out := filepath.Join(tmp, name+"-out")
		sh(tmp, exe, "swarm", "--from", "1", "--count", "1", "--lite", "--jobs", "1", "--out", out)
		runs, _, err := swarm.Load(out)
		if err != nil || len(runs) != 1 {
			t.Fatalf("%s: %d runs, %v", out, len(runs), err)
		}
		return runs[0].Commit
	}
	if got := recorded("clean"); got != rev {
		t.Errorf("clean build records %q, want %q", got, rev)
	}
	readme := filepath.Join(src, "README.md")
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(readme, append(b, "edited\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := recorded("dirty"); got != rev+"-dirty" {
		t.Errorf("build from an edited tree records %q, want %q", got, rev+"-dirty")
	}
}
