//go:build windows

package parent

import (
	"net"
	"time"

	"github.com/Microsoft/go-winio"
)

// dial connects to the worker's data channel (spawnOnce's goroutine).
func dial(path string, timeout time.Duration) (net.Conn, error) {
	return winio.DialPipe(path, &timeout)
}
