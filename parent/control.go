package parent

// The control plane: the worker's stdout carries JSON-RPC control lines to
// the parent ($init and $error while starting, $pong after), its stdin the
// parent's ($ping, $shutdown).
//
// Ownership: one goroutine per instance (readStdout) owns the stdout pipe
// and its LineReader; it hands messages over through the instance's
// one-slot channels and never blocks on them. Any goroutine may write a
// control line; control serialises the writes with instance.stdinMu and
// bounds each (controlWriteTimeout).

import (
	"errors"
	"io"
	"time"

	"github.com/procwire/procwire-go/protocol"
)

// readStdout reads control lines until stdout ends: $init and $error until
// ready, $pong after; other lines go to the logger. A line longer than
// protocol.MaxLineSize is skipped without being buffered, and reported once.
func (m *Module) readStdout(r io.Reader, in *instance) {
	lr := protocol.NewLineReader(r, protocol.MaxLineSize)
	for {
		line, err := lr.ReadLine()
		if tooLong := (*protocol.LineTooLongError)(nil); errors.As(err, &tooLong) {
			m.log.Warn("procwire/parent: worker stdout line too long; skipped", "limit", tooLong.Limit, "head", string(tooLong.Head))
			continue
		}
		if err != nil {
			return // io.EOF, or the pipe failed
		}
		if len(line) > 0 {
			m.controlLine(line, in)
		}
	}
}

// controlLine handles one stdout line.
func (m *Module) controlLine(line []byte, in *instance) {
	msg, err := protocol.ParseMessage(line)
	if err != nil {
		m.log.Info(string(line), "stream", "stdout")
		return
	}
	switch msg.Method {
	case protocol.MethodInit:
		select {
		case in.initMsg <- msg.Params:
		default:
		}
	case protocol.MethodError:
		select {
		case in.errMsg <- protocol.ErrorMessage(msg.Params):
		default:
		}
	case protocol.MethodPong:
		select {
		case in.pong <- struct{}{}:
		default:
		}
	}
}

// controlWriteTimeout bounds the write of one control line: a worker that
// does not read its stdin cannot block the parent (the supervisor's ping,
// Shutdown's $shutdown) once the pipe is full.
const controlWriteTimeout = time.Second

// control writes one control line to the worker's stdin.
func (in *instance) control(line []byte) error {
	in.stdinMu.Lock()
	defer in.stdinMu.Unlock()
	// Unix pipes take deadlines; on Windows this fails and the write may
	// block.
	in.stdin.SetWriteDeadline(time.Now().Add(controlWriteTimeout))
	_, err := in.stdin.Write(line)
	return err
}
