package parent

// The heartbeat's first $ping. Core sends it as soon as the module is
// ready, and supervise's ticker sends the later ones; firstPing runs on
// the supervisor's goroutine before supervise does, so each $pong still
// has one reader.

import (
	"time"

	"github.com/procwire/procwire-go/protocol"
)

// firstPing sends the first $ping and waits for its $pong, up to
// Heartbeat.Timeout (then it kills the worker, as supervise would), or
// until the instance ends.
func (m *Module) firstPing(in *instance) {
	in.control(protocol.PingLine) // unwritten, it is not answered either
	t := time.NewTimer(m.opts.Heartbeat.Timeout)
	defer t.Stop()
	select {
	case <-in.pong:
	case <-t.C:
		m.log.Error("procwire/parent: worker missed its heartbeat; killing it", "timeout", m.opts.Heartbeat.Timeout)
		in.kill(HeartbeatTimeout, "missed heartbeat")
	case <-in.exited:
	case <-in.conn.Done():
	}
}
