package procwire

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// call is one request in flight.
type call struct {
	id      uint32
	m       *method
	payload []byte
	cancel  context.CancelCauseFunc // set when the handler starts; guarded by serverConn.mu
	aborted atomic.Bool             // set when the parent aborted: nothing more is sent
	req     Request                 // the handler's view, allocated with the call
	rw      ResponseWriter
}

func (c *serverConn) serveCall(cl *call) {
	m := cl.m
	ctx, cancel := context.WithCancelCause(c.ctx)
	if m.Timeout > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, m.Timeout)
		defer stop()
	}
	c.mu.Lock()
	cl.cancel = cancel
	aborted := cl.aborted.Load()
	c.mu.Unlock()
	// An abort that arrived before the context existed is honoured here.
	if aborted {
		cancel(ErrAborted)
	}
	defer cancel(context.Canceled)

	cl.req = Request{Method: m.Name, MethodID: m.ID, ID: cl.id, Payload: cl.payload, codec: m.RequestCodec}
	cl.rw = ResponseWriter{c: c, call: cl}
	req, rw := &cl.req, &cl.rw
	var err error
	start := time.Now()
	st := m.stats
	st.requests.Add(1)
	c.w.stats.inFlight.Add(1)
	defer func() {
		d := time.Since(start)
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
	err = c.invoke(ctx, m, req, rw)
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

// invoke calls the handler, turning a panic into an error.
func (c *serverConn) invoke(ctx context.Context, m *method, req *Request, rw *ResponseWriter) (err error) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("procwire: handler panicked", "method", m.Name, "request_id", req.ID, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("panic in handler %q: %v", m.Name, p)
			if m.stats != nil {
				m.stats.panics.Add(1)
			}
		}
	}()
	return m.serve(ctx, req, rw)
}
