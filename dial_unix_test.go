//go:build unix

package procwire

import "net"

// dialPipe connects to a worker's socket as a parent would.
func dialPipe(path string) (net.Conn, error) { return net.Dial("unix", path) }

// socketFiles reports whether the transport leaves a file to check.
const socketFiles = true
