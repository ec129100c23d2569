//go:build unix

package testenv

import (
	"net"
	"os"
	"syscall"
	"testing"
)

// SocketFiles reports whether a worker's transport is a file (a Unix
// socket) that tests can stat; a Windows named pipe is not.
const SocketFiles = true

// Dial connects to a worker's socket as a parent does.
func Dial(path string) (net.Conn, error) { return net.Dial("unix", path) }

// SocketPair returns the two ends of a connected Unix stream socket pair
// (socketpair(2): no file, no path length limit), both closed when t ends.
// Where there are no Unix sockets (Windows: Wine has none) it skips t.
func SocketPair(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	var conns [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f) // a dup: f is closed either way
		f.Close()
		if err != nil {
			if i == 0 {
				syscall.Close(fds[1])
			}
			t.Fatalf("socketpair: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		conns[i] = c
	}
	return conns[0], conns[1]
}
