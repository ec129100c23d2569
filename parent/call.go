package parent

// Requests: registering them, sending them, and waiting for and decoding
// their responses.
//
// Ownership of a callState: the caller creates it and registers it in
// Conn.inflight (start); from then on whoever removes it from inflight,
// under Conn.mu, decides its end: the read loop when the response (or a
// stream's last frame) arrives, the caller when it gives up (forget: abort,
// timeout, end of a stream), or the read loop's finish when the connection
// ends (closing ch). Only the read loop sends on ch.

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/protocol"
	"github.com/procwire/procwire-go/wire"
)

// callState is the parent's state of one request awaiting its response.
type callState struct {
	response protocol.ResponseType
	ch       chan frame // read loop (or the direct caller) → caller; closed by finish
	direct   bool       // the caller holds the read role and reads the response itself (read.go)
	lone     bool       // nothing else was in flight when it registered (read.go)
	// Streams only.
	gone   chan struct{} // closed, under Conn.mu, when the consumer no longer reads
	queued atomic.Int64  // payload bytes delivered and not yet consumed
	space  chan struct{} // signalled when queued falls to streamLowWater
}

// callStatePool recycles the state of result and ack calls that completed
// normally (the read loop has forgotten them by then).
var callStatePool = sync.Pool{New: func() any { return &callState{ch: make(chan frame, 1)} }}

// timerPool recycles request timers (a call's timeout costs no allocation).
var timerPool sync.Pool

func getTimer(d time.Duration) *time.Timer {
	if t, ok := timerPool.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

func putTimer(t *time.Timer) {
	t.Stop() // since Go 1.23 no stale tick can be received after Stop
	timerPool.Put(t)
}

// start registers a request and sends it. It returns the method (nil if
// there is no such method of a wanted response type), and, if that is not
// nil, counts the request in the method's counters: a failure to send it
// is counted here, else the caller counts its outcome.
func (c *Conn) start(method string, in any, begin time.Time, want ...protocol.ResponseType) (*connMethod, uint32, *callState, error) {
	m, ok := c.methods[method]
	if !ok {
		return nil, 0, nil, fmt.Errorf("procwire/parent: unknown method %q", method)
	}
	okType := false
	for _, rt := range want {
		okType = okType || m.Response == rt
	}
	if !okType {
		return nil, 0, nil, fmt.Errorf("procwire/parent: method %q answers with %q", method, m.Response)
	}
	m.stats.requests.Add(1)
	id, cs, err := c.register(m, in)
	if err != nil {
		m.stats.end(outcomeError, begin)
	}
	return m, id, cs, err
}

// register encodes the request, registers it under a fresh id and sends it.
func (c *Conn) register(m *connMethod, in any) (uint32, *callState, error) {
	payload, err := marshal(m.RequestCodec, in)
	if err != nil {
		return 0, nil, err
	}
	var cs *callState
	if m.Response == protocol.ResponseStream {
		cs = &callState{response: protocol.ResponseStream, ch: make(chan frame, streamBuffer), gone: make(chan struct{}), space: make(chan struct{}, 1)}
	} else {
		cs = callStatePool.Get().(*callState)
		cs.response = m.Response
	}
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return 0, nil, err
	}
	c.nextID++
	if c.nextID == 0 {
		c.nextID = 1
	}
	id := c.nextID
	c.inflight[id] = cs
	cs.lone = len(c.inflight) == 1
	cs.direct = c.claim(cs.lone && cs.response != protocol.ResponseStream)
	c.mu.Unlock()
	cork := !cs.lone // other requests in flight: their callers may be about to send
	h := wire.Header{Method: m.ID, RequestID: id}
	if m.RequestCodec == codec.MsgPack {
		// The payload is the connection's (marshal's own buffer): the
		// frame may be written by another caller, after this one has
		// started waiting; a failed write fails the call through the
		// end of the connection.
		c.post(h, payload, cork)
		return id, cs, nil
	}
	// Other codecs may return the caller's memory (codec.Raw does),
	// which must not be read once the call returned: wait for the write.
	if err := c.send(h, payload, cork); err != nil {
		c.forget(id)
		if cs.direct {
			c.mu.Lock()
			c.toLoop()
			c.mu.Unlock()
		}
		return 0, nil, err
	}
	return id, cs, nil
}

// forget removes a request the caller gives up on; the read loop drops its
// later frames.
func (c *Conn) forget(id uint32) {
	c.mu.Lock()
	if cs := c.inflight[id]; cs != nil {
		if cs.gone != nil {
			close(cs.gone)
		}
		delete(c.inflight, id)
	}
	c.mu.Unlock()
}

// abort forgets the request and, for a cancellable method, tells the
// worker to cancel it.
func (c *Conn) abort(m *connMethod, id uint32) {
	c.forget(id)
	if m.Cancellable {
		c.post(wire.Header{Method: wire.MethodAbort, RequestID: id}, nil, false)
	}
}

// Call sends a request to a result or ack method and decodes the response
// into out (which may be nil). A worker error is a *protocol.Error. When ctx
// ends first, the request is aborted and ctx's error returned. If the
// connection ends first, the error is Err's: it wraps ErrClosed.
func (c *Conn) Call(ctx context.Context, method string, in, out any) error {
	return c.call(ctx, method, in, out, 0)
}

// call is Call with a timeout (none if d <= 0), which fails the call with
// an error wrapping ErrTimeout; the worker is not told, as with Node.
func (c *Conn) call(ctx context.Context, method string, in, out any, d time.Duration) error {
	begin := time.Now()
	m, id, cs, err := c.start(method, in, begin, protocol.ResponseResult, protocol.ResponseAck)
	if err != nil {
		return err
	}
	if cs.direct {
		var deadline time.Time
		if d > 0 {
			deadline = begin.Add(d)
		}
		switch c.readDirect(ctx, cs, deadline) {
		case directGot:
			f, ok := <-cs.ch
			return c.responded(m, cs, f, ok, out, begin)
		case directTimeout:
			return c.timedOut(m, id, method, d, begin)
		case directCanceled:
			return c.canceled(ctx, m, id, begin)
		}
		// The loop reads on: wait as any call does.
	}
	var expired <-chan time.Time
	if d > 0 {
		t := getTimer(d)
		defer putTimer(t)
		expired = t.C
	}
	select {
	case f, ok := <-cs.ch:
		return c.responded(m, cs, f, ok, out, begin)
	case <-ctx.Done():
		return c.canceled(ctx, m, id, begin)
	case <-expired:
		return c.timedOut(m, id, method, d, begin)
	}
}

// responded ends a call with what it received from cs.ch (ok false: the
// connection ended).
func (c *Conn) responded(m *connMethod, cs *callState, f frame, ok bool, out any, begin time.Time) error {
	if !ok {
		m.stats.end(outcomeError, begin)
		return c.Err() // set before finish closed ch
	}
	callStatePool.Put(cs) // the read loop forgot it before sending
	err := decodeResponse(m.ResponseCodec, f, out)
	m.stats.endErr(err, begin)
	return err
}

// canceled ends a call whose context ended first.
func (c *Conn) canceled(ctx context.Context, m *connMethod, id uint32, begin time.Time) error {
	c.abort(m, id)
	m.stats.end(outcomeAborted, begin)
	return ctx.Err()
}

// timedOut ends a call whose timeout passed first.
func (c *Conn) timedOut(m *connMethod, id uint32, method string, d time.Duration, begin time.Time) error {
	c.forget(id)
	m.stats.end(outcomeTimeout, begin)
	return fmt.Errorf("%w: %q after %v", ErrTimeout, method, d)
}

// Ack is Call for ack methods: it returns once the worker acknowledged.
func (c *Conn) Ack(ctx context.Context, method string, in, out any) error {
	return c.Call(ctx, method, in, out)
}

// Notify sends a request to a method of response type "none".
func (c *Conn) Notify(method string, in any) error {
	begin := time.Now()
	m, ok := c.methods[method]
	if !ok {
		return fmt.Errorf("procwire/parent: unknown method %q", method)
	}
	m.stats.requests.Add(1)
	payload, err := marshal(m.RequestCodec, in)
	if err == nil {
		err = c.send(wire.Header{Method: m.ID}, payload, true)
	}
	m.stats.endErr(err, begin)
	return err
}
