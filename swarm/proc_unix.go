//go:build unix

package swarm

import (
	"os/exec"
	"syscall"
)

// ownGroup puts the child in a process group of its own, so that Ctrl-C on
// a terminal reaches only the swarm, which then decides what to kill and
// what to record, and a kill takes anything the child started with it.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
