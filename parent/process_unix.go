//go:build unix

package parent

// Unix: every worker leads a process group of its own, so that the
// helpers it starts (a shell script's background jobs, the children of a
// launcher) are killed with it: on every forced kill and, once the worker
// has exited, whatever is left of the group. A helper that leaves the
// group (setsid, setpgid) is not tracked.

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the worker the leader of a new process group.
func setProcAttr(cmd *exec.Cmd, _ Command) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killGroup kills every process of the group that the worker with this
// pid leads.
func killGroup(pid int) {
	syscall.Kill(-pid, syscall.SIGKILL)
}
