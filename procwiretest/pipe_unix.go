//go:build unix

package procwiretest

import (
	"net"
	"os"
	"syscall"
	"testing"
)

// socketPair returns the two ends of a connected Unix stream socket pair.
func socketPair(t testing.TB) (net.Conn, net.Conn, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		return nil, nil, err
	}
	conn := func(fd int, name string) (net.Conn, error) {
		f := os.NewFile(uintptr(fd), name)
		defer f.Close()
		return net.FileConn(f)
	}
	a, err := conn(fds[0], "worker")
	if err != nil {
		syscall.Close(fds[1])
		return nil, nil, err
	}
	b, err := conn(fds[1], "parent")
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	return a, b, nil
}
