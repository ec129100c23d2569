package procwire

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/procwire/procwire-go/protocol"
)

// maxControlLine bounds one control line from the parent, which sends only
// $ping and $shutdown; longer lines are skipped as they arrive.
const maxControlLine = 64 << 10

// control serves the control plane: it reads JSON lines from stdin,
// answers $ping at once and reports $shutdown and end of input. It writes
// $init, $pong and $error lines to stdout, one whole line per Write.
type control struct {
	in  io.Reader
	out io.Writer
	log *slog.Logger

	wmu sync.Mutex // serialises stdout lines

	once    sync.Once
	stopped chan struct{} // closed on $shutdown or end of input
	reason  string        // "shutdown" or "eof"; read after stopped
	done    chan struct{} // closed when the reader goroutine returns
}

func newControl(in io.Reader, out io.Writer, log *slog.Logger) *control {
	return &control{in: in, out: out, log: log, stopped: make(chan struct{}), done: make(chan struct{})}
}

func (ctl *control) stop(reason string) {
	ctl.once.Do(func() {
		ctl.reason = reason
		close(ctl.stopped)
	})
}

// run reads control lines until the input ends or fails.
func (ctl *control) run() {
	defer close(ctl.done)
	lr := protocol.NewLineReader(ctl.in, maxControlLine)
	for {
		line, err := lr.ReadLine()
		var tooLong *protocol.LineTooLongError
		switch {
		case err == nil:
			ctl.handle(line)
			continue
		case errors.As(err, &tooLong):
			ctl.log.Warn("procwire: control line longer than the limit ignored", "limit", tooLong.Limit)
			continue
		case !errors.Is(err, io.EOF):
			ctl.log.Debug("procwire: control input ended", "error", err)
		}
		ctl.stop("eof")
		return
	}
}

// handle acts on one line. Lines that are not JSON-RPC messages, and
// messages other than $ping and $shutdown, are ignored.
func (ctl *control) handle(line []byte) {
	msg, err := protocol.ParseMessage(line)
	if err != nil {
		if len(bytes.TrimSpace(line)) > 0 {
			ctl.log.Debug("procwire: ignoring a control line that is not a JSON-RPC message")
		}
		return
	}
	switch msg.Method {
	case protocol.MethodPing:
		if err := ctl.writeLine(protocol.PongLine); err != nil {
			ctl.log.Warn("procwire: could not answer $ping", "error", err)
		}
	case protocol.MethodShutdown:
		ctl.stop("shutdown")
	}
}

// writeLine writes one complete line (ending in \n) to stdout.
func (ctl *control) writeLine(line []byte) error {
	ctl.wmu.Lock()
	defer ctl.wmu.Unlock()
	_, err := ctl.out.Write(line)
	return err
}

// sendError writes a $error line.
func (ctl *control) sendError(message string) error {
	return ctl.writeLine(protocol.ErrorLine(message))
}

// interrupt unblocks the reader goroutine and waits (briefly) for it. The
// input is interrupted with SetReadDeadline where supported (our stdin
// duplicate, net.Conn), else closed if it is an io.Closer.
func (ctl *control) interrupt(wait time.Duration) bool {
	switch in := ctl.in.(type) {
	case interface{ SetReadDeadline(time.Time) error }:
		if in.SetReadDeadline(time.Now()) != nil {
			if c, ok := ctl.in.(io.Closer); ok {
				c.Close()
			}
		}
	case io.Closer:
		in.Close()
	}
	select {
	case <-ctl.done:
		return true
	case <-time.After(wait):
		return false
	}
}
