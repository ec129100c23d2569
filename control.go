package procwire

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"
)

// maxControlLine bounds one control line; longer lines are skipped whole.
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

var (
	pongLine = []byte(`{"jsonrpc":"2.0","method":"$pong"}` + "\n")
)

func (ctl *control) stop(reason string) {
	ctl.once.Do(func() {
		ctl.reason = reason
		close(ctl.stopped)
	})
}

// run reads control lines until the input ends or fails.
func (ctl *control) run() {
	defer close(ctl.done)
	br := bufio.NewReaderSize(ctl.in, maxControlLine)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			ctl.log.Warn("procwire: control line longer than the limit ignored", "limit", maxControlLine)
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err == nil {
				continue
			}
			line = nil
		}
		if len(line) > 0 {
			ctl.handle(line)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				ctl.log.Debug("procwire: control input ended", "error", err)
			}
			ctl.stop("eof")
			return
		}
	}
}

// handle acts on one line. Lines that are not JSON objects, and messages
// other than $ping and $shutdown, are ignored.
func (ctl *control) handle(line []byte) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return
	}
	var msg struct {
		Method string `json:"method"`
	}
	if err := json.Unmarshal(line, &msg); err != nil {
		ctl.log.Debug("procwire: ignoring a control line that is not JSON", "error", err)
		return
	}
	switch msg.Method {
	case "$ping":
		if err := ctl.writeLine(pongLine); err != nil {
			ctl.log.Warn("procwire: could not answer $ping", "error", err)
		}
	case "$shutdown":
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
	b, err := json.Marshal(struct {
		JSONRPC string `json:"jsonrpc"`
		Method  string `json:"method"`
		Params  struct {
			Message string `json:"message"`
		} `json:"params"`
	}{JSONRPC: "2.0", Method: "$error", Params: struct {
		Message string `json:"message"`
	}{message}})
	if err != nil {
		return err
	}
	return ctl.writeLine(append(b, '\n'))
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
