//go:build unix

package parent

import (
	"net"
	"time"
)

// dial connects to the worker's data channel (spawnOnce's goroutine).
func dial(path string, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("unix", path, timeout)
}
