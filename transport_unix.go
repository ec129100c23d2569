//go:build unix

package procwire

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

// maxSocketPath is the longest socket path the platform's sun_path holds
// (with its terminating NUL): 108 bytes on Linux, 104 on the BSDs and macOS.
func maxSocketPath() int {
	if runtime.GOOS == "linux" {
		return 107
	}
	return 103
}

// socketDir returns $XDG_RUNTIME_DIR, else $TMPDIR, else /tmp.
func socketDir() string {
	for _, k := range []string{"XDG_RUNTIME_DIR", "TMPDIR"} {
		if d := strings.TrimRight(os.Getenv(k), "/"); d != "" {
			return d
		}
	}
	return "/tmp"
}

// listen creates the worker's socket: a Unix socket named
// procwire-<pid>-<32 random hex>.sock, mode 0600, in dir (socketDir() if
// empty), falling back to /tmp when the path would not fit in sun_path.
func listen(dir string) (net.Listener, string, error) {
	if dir == "" {
		dir = socketDir()
	}
	dir = strings.TrimRight(dir, "/")
	if dir == "" {
		dir = "/"
	}
	name := fmt.Sprintf("procwire-%d-%s.sock", os.Getpid(), randomHex(16))
	path := filepath.Join(dir, name)
	if len(path) > maxSocketPath() {
		path = filepath.Join("/tmp", name)
		if len(path) > maxSocketPath() {
			return nil, "", fmt.Errorf("procwire: socket path %q is longer than %d bytes", path, maxSocketPath())
		}
	}
	fi, err := os.Stat(filepath.Dir(path))
	if err != nil {
		return nil, "", fmt.Errorf("procwire: socket directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, "", fmt.Errorf("procwire: socket directory %s is not a directory", filepath.Dir(path))
	}
	// In a directory anyone may write to, only the sticky bit stops another
	// user from replacing our socket with theirs.
	if fi.Mode().Perm()&0o002 != 0 && fi.Mode()&os.ModeSticky == 0 {
		return nil, "", fmt.Errorf("procwire: socket directory %s is world-writable without the sticky bit", filepath.Dir(path))
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, "", fmt.Errorf("procwire: listen on %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(true)
	// Only our own user may connect, even where the directory is shared.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, "", fmt.Errorf("procwire: restrict socket %s: %w", path, err)
	}
	return ln, path, nil
}

// controlInput returns a reader of the process's stdin whose blocked reads
// can be interrupted with SetReadDeadline, so that no goroutine outlives Run.
// It duplicates the descriptor and switches it to non-blocking mode (served
// by the runtime's poller); if that fails it returns os.Stdin.
func controlInput() (r interface{ Read([]byte) (int, error) }, closeFn func()) {
	fd, err := syscall.Dup(int(os.Stdin.Fd()))
	if err != nil {
		return os.Stdin, func() {}
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return os.Stdin, func() {}
	}
	f := os.NewFile(uintptr(fd), "procwire-stdin")
	return f, func() { f.Close() }
}

// ignoreSIGPIPE makes writes to a closed stdout return EPIPE instead of
// killing the process, so that a worker whose parent died cleans up.
func ignoreSIGPIPE() { signal.Ignore(syscall.SIGPIPE) }
