package swarm

import (
	"os/exec"
	"runtime/debug"
	"strings"
)

// Commit names the code a swarm runs: the VCS revision stamped into the
// binary at build time (with "-dirty" for uncommitted changes), else the
// checkout's HEAD (go test and go run binaries carry no stamp), else
// "unknown".
func Commit() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" {
			if dirty {
				rev += "-dirty"
			}
			return rev
		}
	}
	if out, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		if rev := strings.TrimSpace(string(out)); rev != "" {
			return rev
		}
	}
	return "unknown"
}
