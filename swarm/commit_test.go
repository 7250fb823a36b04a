package swarm

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestStamped(t *testing.T) {
	const rev = "3e3936db07d20820c1a5297f99c5b28844d29b75"
	tests := []struct {
		settings []debug.BuildSetting
		want     string
	}{
		{settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "false"}}, want: rev},
		{settings: []debug.BuildSetting{{Key: "vcs.modified", Value: "true"}, {Key: "vcs.revision", Value: rev}}, want: rev + "-dirty"},
		{settings: []debug.BuildSetting{{Key: "vcs.modified", Value: "true"}}, want: ""},
		{settings: []debug.BuildSetting{{Key: "GOARCH", Value: "amd64"}}, want: ""},
	}
	for _, tt := range tests {
		if got := stamped(tt.settings); got != tt.want {
			t.Errorf("stamped(%v) = %q, want %q", tt.settings, got, tt.want)
		}
	}
}

// A real repository goes clean, modified, clean, untracked file: only the
// clean states may be named by the bare hash.
func TestCheckoutMarksModifiedTrees(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		out, err := git(dir, args...)
		if err != nil {
			t.Fatalf("git %v: %v", args, err)
		}
		return out
	}
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := checkout(dir); got != "" {
		t.Fatalf("outside a repository: %q", got)
	}
	run("init", "-q")
	write("a.go", "package a\n")
	run("add", "a.go")
	run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "a")
	rev := run("rev-parse", "HEAD")

	if got := checkout(dir); got != rev {
		t.Errorf("clean: %q, want %q", got, rev)
	}
	write("a.go", "package a // edited\n")
	if got := checkout(dir); got != rev+"-dirty" {
		t.Errorf("edited: %q, want %q", got, rev+"-dirty")
	}
	run("checkout", "-q", "a.go")
	if got := checkout(dir); got != rev {
		t.Errorf("restored: %q, want %q", got, rev)
	}
	write("b.go", "package a\n")
	if got := checkout(dir); got != rev+"-dirty" {
		t.Errorf("untracked file: %q, want %q", got, rev+"-dirty")
	}
}
