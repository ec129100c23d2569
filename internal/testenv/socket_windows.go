//go:build windows

package testenv

import (
	"net"
	"testing"
	"time"

	"github.com/Microsoft/go-winio"
)

// SocketFiles reports whether a worker's transport is a file (a Unix
// socket) that tests can stat; a Windows named pipe is not.
const SocketFiles = false

// Dial connects to a worker's named pipe as a parent does.
func Dial(path string) (net.Conn, error) {
	timeout := time.Second
	return winio.DialPipe(path, &timeout)
}

// SocketPair skips t: Unix socket pairs are a Unix test (Wine has no
// AF_UNIX, and net.Pipe, being unbuffered, is not a stand-in for one).
func SocketPair(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	t.Skip("Unix socket pairs are a Unix test (Wine has no AF_UNIX)")
	return nil, nil
}
