package procwire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/procwire/procwire-go/protocol"
	"github.com/procwire/procwire-go/wire"
)

// Run serves the parent until the parent sends $shutdown, stdin reaches end
// of input, the parent's connection drops or ctx is done. It listens first,
// then announces the socket and schema with $init on stdout. When the worker
// cannot start it writes $error and returns the error.
//
// Run returns nil after $shutdown, end of stdin or ctx done; an error
// wrapping ErrDisconnected when the parent dropped the connection without
// asking to shut down, or a *wire.ProtocolError when it violated the frame
// format. Before returning it cancels every handler's context, closes the
// connection and listener, removes the socket file and waits up to
// Options.ShutdownTimeout for the handlers to return.
//
// With the environment variable PROCWIRE_DESCRIBE=1, Run prints the
// worker's contract (Worker.Contract) as JSON on stdout and returns nil
// at once, without listening or reading stdin.
//
// Run may be called once per Worker.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.start(); err != nil {
		return err
	}
	if describeRequested() { // describe.go
		return w.describe(w.opts.Stdout)
	}

	in, out := w.opts.Stdin, w.opts.Stdout
	closeIn := func() {}
	if in == nil {
		in, closeIn = controlInput()
	}
	if out == nil {
		out = os.Stdout
		ignoreSIGPIPE()
	}
	defer closeIn()

	ctl := newControl(in, out, w.log)
	go ctl.run()
	defer func() {
		if !ctl.interrupt(200 * time.Millisecond) {
			w.log.Debug("procwire: control reader still blocked on stdin")
		}
	}()

	fail := func(err error) error {
		w.log.Error("procwire: worker cannot start", "error", err)
		if werr := ctl.sendError(err.Error()); werr == nil {
			// Give the parent time to read $error before the process exits.
			t := time.NewTimer(w.opts.errorLinger)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
			case <-ctl.stopped:
			}
		}
		return err
	}

	maxPayload, err := w.maxPayload()
	if err != nil {
		return fail(err)
	}
	token := w.opts.Token
	if token == "" {
		token = os.Getenv("PROCWIRE_TOKEN")
		// Keep the token away from processes the handlers start.
		os.Unsetenv("PROCWIRE_TOKEN")
	}

	ln, pipe, err := listen(w.opts.SocketDir)
	if err != nil {
		return fail(err)
	}
	acc := newAcceptor(ln, token, maxPayload, w.opts.ReadBufferSize, w.log)
	acc.start()
	defer acc.close()

	line, err := protocol.InitLine(protocol.Init{Pipe: pipe, Schema: w.Schema()})
	if err != nil {
		return fail(err)
	}
	if err := ctl.writeLine(line); err != nil {
		return fmt.Errorf("procwire: write $init: %w", err)
	}
	w.log.Debug("procwire: worker ready", "pipe", pipe, "auth", token != "")

	var (
		c      *serverConn
		connCh <-chan struct{}
		result error
	)
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-ctl.stopped:
			break loop
		case err := <-acc.failed:
			result = fmt.Errorf("procwire: accept: %w", err)
			break loop
		case a := <-acc.adopted:
			c = newServerConn(w, a.nc, a.r, w.opts.BackpressureTimeout)
			w.conn.Store(c)
			c.start()
			connCh = c.done
		case <-connCh:
			result = c.err
			if errors.Is(result, ErrDisconnected) {
				// The parent closes the socket right after writing
				// $shutdown: give that line a moment to arrive.
				t := time.NewTimer(25 * time.Millisecond)
				select {
				case <-ctl.stopped:
					result = nil
				case <-t.C:
				}
				t.Stop()
			}
			break loop
		}
	}

	acc.close()
	if c != nil {
		w.finish(c)
	}
	if result != nil && !errors.Is(result, io.EOF) {
		return result
	}
	return nil
}

// start marks the worker as running: registration is closed, and Run or
// ServeConn may not be called again.
func (w *Worker) start() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started.Load() {
		return errors.New("procwire: the worker is already running (Run and ServeConn may be called once)")
	}
	w.started.Store(true)
	return nil
}

// finish closes c, cancelling its handlers, and waits for them up to the
// shutdown timeout.
func (w *Worker) finish(c *serverConn) {
	c.close(ErrShutdown)
	<-c.done
	c.bg.Wait()
	if !waitTimeout(&c.handlers, w.opts.ShutdownTimeout) {
		w.log.Warn("procwire: handlers still running after the shutdown timeout; returning without them", "timeout", w.opts.ShutdownTimeout)
	}
	if !waitTimeout(&c.out.flushes, w.opts.ShutdownTimeout) {
		w.log.Warn("procwire: a frame write is still blocked after the shutdown timeout")
	}
	w.conn.CompareAndSwap(c, nil)
}

// ServeConn serves one parent connection that is already established (and,
// if the transport needs it, authenticated) until the parent closes it, it
// fails, or ctx is done. It uses no control plane: no $init, no $ping, no
// socket of its own. It is how package procwiretest connects a parent in
// the same process, and how a worker serves a transport of its own.
//
// ServeConn returns nil when ctx is done, an error wrapping ErrDisconnected
// when the parent closed the connection, and a *wire.ProtocolError when it
// violated the frame format. Like Run, it may be called once per Worker,
// and not together with Run.
func (w *Worker) ServeConn(ctx context.Context, nc net.Conn) error {
	if err := w.start(); err != nil {
		return err
	}
	maxPayload, err := w.maxPayload()
	if err != nil {
		nc.Close()
		return err
	}
	c := newServerConn(w, nc, wire.NewReader(nc, maxPayload, w.opts.ReadBufferSize), w.opts.BackpressureTimeout)
	w.conn.Store(c)
	c.start()
	var result error
	select {
	case <-ctx.Done():
	case <-c.done:
		result = c.err
	}
	w.finish(c)
	return result
}

// maxPayload is Options.MaxPayloadSize checked, or its default.
func (w *Worker) maxPayload() (uint32, error) {
	switch n := w.opts.MaxPayloadSize; {
	case n == 0:
		return wire.DefaultMaxPayload, nil
	case n < 0 || n > wire.MaxPayloadLimit:
		return 0, fmt.Errorf("procwire: MaxPayloadSize %d is outside 1..%d", n, wire.MaxPayloadLimit)
	default:
		return uint32(n), nil
	}
}
