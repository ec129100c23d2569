//go:build windows

package procwire

import (
	"net"
	"time"

	"github.com/Microsoft/go-winio"
)

// dialPipe connects to a worker's named pipe as a parent would.
func dialPipe(path string) (net.Conn, error) {
	timeout := time.Second
	return winio.DialPipe(path, &timeout)
}

// socketFiles reports whether the transport leaves a file to check.
const socketFiles = false
