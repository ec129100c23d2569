package parent

// Windows: the worker gets no console window unless Command.ShowWindow
// (as Node's windowsHide, true by default). Processes the worker starts
// are not tracked: a forced kill ends the worker process only.

import (
	"os/exec"
	"syscall"
)

// createNoWindow is CREATE_NO_WINDOW, a process creation flag.
const createNoWindow = 0x08000000

// setProcAttr hides the worker's window unless c.ShowWindow.
func setProcAttr(cmd *exec.Cmd, c Command) {
	if !c.ShowWindow {
		cmd.SysProcAttr = &syscall.SysProcAttr{HideWindow: true, CreationFlags: createNoWindow}
	}
}

// killGroup does nothing on Windows: only the worker itself is killed.
func killGroup(int) {}
