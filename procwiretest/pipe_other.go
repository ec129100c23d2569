//go:build !unix

package procwiretest

import (
	"net"
	"testing"
)

// socketPair returns the two ends of an in-memory connection.
func socketPair(t testing.TB) (net.Conn, net.Conn, error) {
	a, b := net.Pipe()
	return a, b, nil
}
