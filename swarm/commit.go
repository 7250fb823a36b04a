package swarm

import (
	"os/exec"
	"runtime/debug"
	"strings"
)

// Commit names the code a swarm runs: the VCS revision stamped into the
// binary at build time, else the HEAD of the checkout the swarm runs in (go
// test and go run binaries carry no stamp, nor do builds with
// -buildvcs=false or from a git worktree), else "unknown". Either way a
// modified tree is named "<hash>-dirty": its records replay only with the
// same uncommitted changes, which the hash alone would hide.
func Commit() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		if c := stamped(info.Settings); c != "" {
			return c
		}
	}
	if c := checkout(""); c != "" {
		return c
	}
	return "unknown"
}

func stamped(settings []debug.BuildSetting) string {
	rev, dirty := "", false
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" && dirty {
		rev += "-dirty"
	}
	return rev
}

// checkout judges the tree at dir (the working directory if empty) as go
// build's vcs.modified does: untracked files count, since a new source file
// changes the binary as much as an edited one. When git cannot say whether
// the tree is clean, the hash is marked dirty rather than vouched for.
func checkout(dir string) string {
	rev, err := git(dir, "rev-parse", "HEAD")
	if err != nil || rev == "" {
		return ""
	}
	status, err := git(dir, "status", "--porcelain")
	if err != nil || status != "" {
		return rev + "-dirty"
	}
	return rev
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}
