package procwire

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// call is one request in flight.
//
// A *call is also its handler's context: the embedded Context is the
// call's own (cancelled on abort, disconnect, shutdown, timeout), and
// Value adds the request's metadata (interceptor.go), so that
// RequestInfoFromContext costs no allocation.
type call struct {
	context.Context // set when the handler starts

	m       *method
	payload []byte
	cancel  context.CancelCauseFunc // set when the handler starts; guarded by serverConn.mu
	// The list of running calls (serverConn.active), guarded by
	// serverConn.mu.
	prevActive, nextActive *call
	id                     uint32
	aborted                atomic.Bool // set when the parent aborted: nothing more is sent
	req                    Request     // the handler's view, allocated with the call
	rw                     ResponseWriter
	x                      *callHooks // the worker's interceptors and observers, nil if none
}

func (c *serverConn) serveCall(cl *call) {
	m := cl.m
	// The call's context is not a child of the connection's: close
	// cancels the running calls one by one (see serverConn.active), so
	// that starting and ending a call does not lock the connection
	// context's list of children, which every handler goroutine would
	// contend for.
	ctx, cancel := context.WithCancelCause(c.callParent)
	if m.Timeout > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, m.Timeout)
		defer stop()
	}
	c.mu.Lock()
	cl.cancel = cancel
	aborted := cl.aborted.Load()
	closed := c.closeCause
	if closed == nil {
		c.activate(cl)
	}
	c.mu.Unlock()
	// An abort, or the connection's end, that came before the context
	// existed is honoured here.
	switch {
	case aborted:
		cancel(ErrAborted)
	case closed != nil:
		cancel(closed)
	}
	defer cancel(context.Canceled)

	cl.Context = ctx
	if x := c.w.hooks(); x != nil {
		cl.x = &callHooks{hooks: x}
		if x.observe != nil {
			cl.x.obs = new(callObs)
		}
	}
	cl.req = Request{Method: m.Name, MethodID: m.ID, ID: cl.id, Payload: cl.payload, codec: m.RequestCodec}
	cl.rw = ResponseWriter{c: c, call: cl}
	req, rw := &cl.req, &cl.rw
	var err error
	start := now()
	st := m.stats
	st.requests.Add(1)
	c.w.stats.inFlight.Add(1)
	defer func() {
		d := now() - start
		m.observeCost(d)
		c.w.stats.inFlight.Add(-1)
		st.observe(d)
		outcome := "ok"
		switch {
		case cl.aborted.Load():
			st.aborted.Add(1)
			outcome = "aborted"
		case err != nil:
			st.errors.Add(1)
			outcome = "error"
		default:
			st.ok.Add(1)
		}
		if c.w.opts.LogRequests {
			c.log.Debug("procwire: request", "method", m.Name, "request_id", cl.id, "duration", d,
				"bytes", len(cl.payload), "outcome", outcome, "error", err)
		}
	}()
	err = c.invoke(cl, req, rw)
	if cl.x != nil && cl.x.obs != nil {
		cause := context.Cause(ctx)
		c.complete(cl, rw, err)
		c.observed(cl, err, cause)
		return
	}
	c.complete(cl, rw, err)
}

// complete sends what the handler's return calls for: the error, or the
// natural end of its response type if it sent no final response.
func (c *serverConn) complete(cl *call, rw *ResponseWriter, err error) {
	m := cl.m
	switch {
	case cl.aborted.Load() || c.closingNow():
		return
	case err != nil:
		if m.Response == ResponseNone || cl.id == 0 {
			c.log.Warn("procwire: handler failed", "method", m.Name, "error", err)
			return
		}
		if rw.done {
			c.log.Warn("procwire: handler failed after its response was sent", "method", m.Name, "request_id", cl.id, "error", err)
			return
		}
		if werr := rw.Error(err); werr != nil {
			c.logWriteErr(m, cl, werr)
		}
	case !rw.done:
		var werr error
		switch m.Response {
		case ResponseResult:
			werr = rw.Result(nil)
		case ResponseAck:
			werr = rw.Ack(nil)
		case ResponseStream:
			werr = rw.End()
		}
		if werr != nil {
			c.logWriteErr(m, cl, werr)
		}
	}
}

func (c *serverConn) logWriteErr(m *method, cl *call, err error) {
	if errors.Is(err, ErrAborted) || c.closingNow() {
		return
	}
	c.log.Warn("procwire: could not send the response", "method", m.Name, "request_id", cl.id, "error", err)
}

// invoke calls the handler, through the interceptors if there are any,
// turning a panic into an error. ctx is the call itself.
func (c *serverConn) invoke(cl *call, req *Request, rw *ResponseWriter) (err error) {
	defer c.recoverHandler(cl, &err)
	if cl.x != nil && cl.x.handler != nil {
		return cl.x.handler(cl, req, rw)
	}
	return cl.m.serve(cl, req, rw)
}

// clockBase is the origin of now: time.Since of a fixed time reads the
// monotonic clock alone, where time.Now reads the wall clock too.
var clockBase = time.Now()

// now reads the monotonic clock, to time a request or a write.
func now() time.Duration { return time.Since(clockBase) }
