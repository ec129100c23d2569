package parent

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/procwire/procwire-go/protocol"
	"github.com/procwire/procwire-go/wire"
)

// ErrClosed is returned by calls on a connection that is gone (closed,
// lost, or the worker exited). Unless the connection was closed by Close,
// the error wraps ErrClosed and says why it ended (see Conn.Err).
var ErrClosed = errors.New("procwire/parent: connection closed")

// Conn is the parent's side of one data-plane connection: it sends
// requests and routes the worker's responses, stream chunks and events.
// It is safe for concurrent use.
//
// Goroutines: one read loop (read) reads the socket and routes frames to
// calls, streams and event subscribers, except while a lone call reads its
// own response (read.go: the read role), and at its end records why it
// stopped and fails whatever still waits (finish). Callers' goroutines
// register requests, send frames (send.go) and wait.
type Conn struct {
	// Immutable after NewConn.
	nc       net.Conn
	methods  map[string]*connMethod
	events   map[uint16]*connEvent
	stats    *counters     // the entries of methods and events point into it
	readDone chan struct{} // closed by the read loop when it has ended

	sq sendQueue // frames to write, combined (see send.go)
	rd reader    // the reading state, the role holder's (see read.go)

	mu       sync.Mutex
	nextID   uint32                  // guarded by mu: the last request id given
	inflight map[uint32]*callState   // guarded by mu: requests awaiting a response (see callState)
	subs     map[string][]chan Event // guarded by mu; closed by the read loop when it ends
	closing  bool                    // guarded by mu: Close was called
	role     int                     // guarded by mu: who reads (read.go)
	err      error                   // guarded by mu: why the read loop stopped; nil while it runs
	werr     error                   // guarded by mu: the first write error (see send.go)

	closeOnce sync.Once
	closed    chan struct{} // closed by Close

	// exit, if set, tells the read loop how to learn of the worker's exit
	// (see watchExit).
	exit atomic.Pointer[exitWatch]
}

// exitWatch lets a Conn name the worker's exit as the cause of its end.
type exitWatch struct {
	exited <-chan struct{} // closed once the worker process has exited
	reason func() error    // why it exited; called once exited is closed
}

// exitWait bounds how long the read loop, when the worker closed the
// connection or a read failed, waits for the process to exit before it
// fails the calls in flight with the connection's own reason.
const exitWait = 200 * time.Millisecond

// watchExit makes the connection, when the worker closes it or a read
// fails (not after Close, nor on a protocol violation), wait up to
// exitWait for the worker process to exit, and give the exit reason as the
// cause of its end: "worker exited: exit status 3". The Module sets it.
func (c *Conn) watchExit(exited <-chan struct{}, reason func() error) {
	c.exit.Store(&exitWatch{exited: exited, reason: reason})
}

// connMethod is a method of the connection and its counters.
type connMethod struct {
	protocol.MethodDesc
	stats *methodCounters
}

// connEvent is an event of the connection and its counters.
type connEvent struct {
	protocol.EventDesc
	stats *eventCounters
}

// frame is one response frame handed by the read loop to a call or stream.
type frame struct {
	flags   wire.Flags
	payload []byte
	buf     *[]byte // the pooled buffer holding payload, if any
}

// NewConn starts serving the parent's end of an established connection to
// a worker with the given methods and events. Requests get ids 1, 2, …,
// wrapping within uint32 and skipping 0.
func NewConn(nc net.Conn, maxPayload uint32, methods []protocol.MethodDesc, events []protocol.EventDesc) *Conn {
	c := &Conn{
		nc:       nc,
		methods:  make(map[string]*connMethod, len(methods)),
		events:   make(map[uint16]*connEvent, len(events)),
		stats:    new(counters),
		inflight: make(map[uint32]*callState),
		subs:     make(map[string][]chan Event),
		readDone: make(chan struct{}),
		closed:   make(chan struct{}),
	}
	for _, m := range methods {
		c.methods[m.Name] = &connMethod{MethodDesc: m, stats: c.stats.method(m.Name)}
	}
	for _, e := range events {
		c.events[e.ID] = &connEvent{EventDesc: e, stats: c.stats.event(e.Name)}
	}
	c.sq.cond.L = &c.sq.smu
	c.sq.wr = wire.NewWriter(nc)
	c.rd.r = wire.NewReader(nc, maxPayload, 0)
	c.rd.wake = make(chan struct{}, 1)
	go c.read()
	return c
}

// Close closes the connection: calls and streams in flight fail with
// ErrClosed, event channels close. It waits for the reading goroutine.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closing = true
		c.mu.Unlock()
		close(c.closed)
		c.nc.Close()
	})
	<-c.readDone
	return nil
}

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.readDone }

// Err returns nil while the connection is open. Once it has ended (Done is
// closed) it returns why: ErrClosed itself if Close ended it, else an error
// wrapping both ErrClosed and the cause, whose message names it: the
// worker closed the connection (io.EOF), a protocol violation (a
// *wire.ProtocolError, which errors.As finds) or a read error; for a
// Module's connection, the worker's exit when it follows within a moment
// ("worker exited: exit status 3", wrapping the *exec.ExitError and the
// read error; also when Close came after the exit). Calls and streams
// that the end of the connection fails return this error.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// SendAuth sends the AUTH frame carrying token; it must be the first frame.
func (c *Conn) SendAuth(token string) error {
	return c.send(wire.Header{Method: wire.MethodAuth}, []byte(token), false)
}

// endWait bounds how long a failed write waits for the read loop to end
// and say why (after exitWait for the worker's exit, if it waits for it).
const endWait = exitWait + 100*time.Millisecond

// awaitEnd waits, after a write failed, until the read loop has ended (a
// broken connection ends it at once, or after exitWait), Close is called,
// or endWait has passed (the read loop may be waiting for a stream's
// consumer: the caller itself, maybe).
func (c *Conn) awaitEnd() {
	select {
	case <-c.readDone:
		return
	case <-c.closed:
		return
	default:
	}
	t := time.NewTimer(endWait)
	defer t.Stop()
	select {
	case <-c.readDone:
	case <-c.closed:
	case <-t.C:
	}
}

// read is the read loop: it routes the worker's frames, responses and
// chunks to their calls, events to their subscribers, while it holds the
// read role (read.go), until the connection fails.
func (c *Conn) read() {
	var cause error
	defer close(c.readDone)
	defer func() {
		var exit error
		select {
		case <-c.closed:
			// Close ended the loop; the worker's exit is the cause if it
			// came first (the supervisor closes the connection of a worker
			// that exited, maybe before this loop saw the end of it).
			exit = c.exitedAlready()
		default:
			exit = c.workerExit(cause)
		}
		c.finish(cause, exit)
	}()
	for {
		c.awaitRole()
		for {
			h, f, err := c.next()
			if err != nil {
				if isTimeout(err) && c.rd.err == nil {
					c.nc.SetReadDeadline(time.Time{}) // a direct call's, late
					continue
				}
				cause = err
				return
			}
			if _, last := c.dispatch(h, f, true); last && c.loopRelease() {
				break
			}
		}
	}
}

// route hands a response frame to its call or stream, or drops it. It
// reports whether it took the frame: a direct call's reader (mayWait
// false) leaves a stream's frame, whose delivery may wait on its consumer,
// to the loop (read.go). last reports whether a lone request (see
// callState.lone) ended with the frame and none is left in flight.
func (c *Conn) route(id uint32, f frame, mayWait bool) (taken, last bool) {
	c.mu.Lock()
	cs := c.inflight[id]
	isStream := cs != nil && cs.response == protocol.ResponseStream
	if cs == nil || !isStream && f.flags.Has(wire.FlagStream) ||
		isStream && !f.flags.Has(wire.FlagStream) && !f.flags.Has(wire.FlagError) ||
		cs.response == protocol.ResponseResult && f.flags.Has(wire.FlagAck) {
		// Late, aborted, a stream frame (chunk, end or error) to a
		// result or ack call, a plain result or ack to a stream, or an
		// ack to a result method: dropped as the Node parent does; the
		// call waits for its response. (An error without the stream
		// flag does end a stream, as in Node: older workers sent them.)
		c.mu.Unlock()
		recycle(f.buf)
		return true, false
	}
	if cs.response != protocol.ResponseStream {
		// The one response of a call: the call owns cs from here on.
		delete(c.inflight, id)
		last = cs.lone && len(c.inflight) == 0
		c.mu.Unlock()
		cs.ch <- f // never blocks: one slot, one send
		return true, last
	}
	if !mayWait {
		c.mu.Unlock()
		return false, false
	}
	final := f.flags.Has(wire.FlagError) || f.flags.Has(wire.FlagStreamEnd)
	if final {
		delete(c.inflight, id)
		last = cs.lone && len(c.inflight) == 0
	}
	c.mu.Unlock()
	// Backpressure: wait (not reading the socket) while the consumer lags.
	for cs.queued.Load() > streamHighWater {
		select {
		case <-cs.space:
		case <-cs.gone:
			recycle(f.buf)
			return true, last
		}
	}
	cs.queued.Add(int64(len(f.payload)))
	select {
	case cs.ch <- f: // blocks while the consumer lags by streamBuffer chunks
	case <-cs.gone:
		recycle(f.buf)
	}
	return true, last
}

// workerExit returns why the worker process exited, if the read loop ended
// because the worker closed the connection or a read failed and the
// process exits within exitWait; else nil.
func (c *Conn) workerExit(cause error) error {
	w := c.exit.Load()
	var pe *wire.ProtocolError
	if w == nil || errors.As(cause, &pe) {
		return nil
	}
	t := time.NewTimer(exitWait)
	defer t.Stop()
	select {
	case <-w.exited:
	case <-t.C:
	case <-c.closed: // Close during the wait (Shutdown): stop waiting
	}
	select {
	case <-w.exited:
		return w.reason()
	default:
		return nil
	}
}

// exitedAlready returns why the worker process exited, if it has; else
// nil.
func (c *Conn) exitedAlready() error {
	if w := c.exit.Load(); w != nil {
		select {
		case <-w.exited:
			return w.reason()
		default:
		}
	}
	return nil
}

// finish runs once, at the end of the read loop: it records why the loop
// stopped (the worker's exit, if known, else cause), fails the requests in
// flight and closes the event channels.
func (c *Conn) finish(cause, exit error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case exit != nil: // even if Close followed: the exit ended it
		c.err = &closeError{reason: "worker exited: " + exit.Error(), cause: exit, read: cause}
	case c.closing:
		c.err = ErrClosed
	case c.werr != nil: // the writer closed the socket
		c.err = &closeError{reason: "write failed: " + c.werr.Error(), cause: c.werr}
	default:
		c.err = endedBy(cause)
	}
	for id, cs := range c.inflight {
		close(cs.ch)
		if cs.gone != nil {
			close(cs.gone)
		}
		delete(c.inflight, id)
	}
	for name, chs := range c.subs {
		for _, ch := range chs {
			close(ch)
		}
		delete(c.subs, name)
	}
}

// closeError is why a connection ended, other than Close: it wraps
// ErrClosed and the cause.
type closeError struct {
	reason string // what happened, for the message
	cause  error
	read   error // the read loop's error, when cause is the worker's exit
}

func (e *closeError) Error() string { return ErrClosed.Error() + ": " + e.reason }
func (e *closeError) Unwrap() []error {
	if e.read != nil {
		return []error{ErrClosed, e.cause, e.read}
	}
	return []error{ErrClosed, e.cause}
}

// endedBy describes the read loop's failure.
func endedBy(cause error) error {
	var pe *wire.ProtocolError
	switch {
	case errors.Is(cause, io.EOF):
		return &closeError{reason: "the worker closed the connection", cause: cause}
	case errors.Is(cause, wire.ErrTruncated):
		return &closeError{reason: "the worker closed the connection in the middle of a frame", cause: cause}
	case errors.As(cause, &pe):
		return &closeError{reason: fmt.Sprintf("protocol violation: %s (%v)", pe.Reason, pe.Header), cause: cause}
	}
	return &closeError{reason: "read failed: " + cause.Error(), cause: cause}
}

// closeReason returns the reason part of a connection's end, for logs and
// exit reasons: "closed by the parent" for ErrClosed itself.
func closeReason(err error) string {
	var ce *closeError
	if errors.As(err, &ce) {
		return ce.reason
	}
	if err == ErrClosed {
		return "closed by the parent"
	}
	return fmt.Sprint(err)
}
