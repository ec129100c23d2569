package procwire

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/procwire/procwire-go/protocol"
	"github.com/procwire/procwire-go/wire"
)

// This file holds the reader: the goroutine with the reading role decodes
// frames, handles aborts itself and hands requests to the scheduler. It
// owns serverConn.r.

// readLoop reads frames until the connection ends (returning why) or it
// decides to run a request on the calling goroutine (returning it).
func (c *serverConn) readLoop() (*call, error) {
	for {
		if c.r.Buffered() < wire.HeaderSize {
			c.out.setCork(false) // about to wait for the socket
		}
		h, err := c.r.ReadHeader()
		if err != nil {
			var pe *wire.ProtocolError
			switch {
			case errors.As(err, &pe):
				c.log.Error("procwire: closing the parent connection", "reason", pe.Reason, "header", pe.Header.String())
				return nil, err
			case errors.Is(err, io.EOF):
				return nil, ErrDisconnected
			case c.ctx.Err() != nil:
				return nil, context.Cause(c.ctx)
			default:
				return nil, fmt.Errorf("%w: %w", ErrDisconnected, err)
			}
		}
		c.w.stats.framesIn.Add(1)
		c.w.stats.bytesIn.Add(uint64(wire.HeaderSize) + uint64(h.Length))
		switch h.Method {
		case wire.MethodAbort:
			if err := c.r.Discard(); err != nil {
				return nil, c.readErr(err)
			}
			c.abort(h.RequestID)
			continue
		case wire.MethodAuth:
			// A stray AUTH frame after adoption is ignored.
			if err := c.r.Discard(); err != nil {
				return nil, c.readErr(err)
			}
			continue
		}
		if c.r.Buffered() < int(h.Length) {
			c.out.setCork(false)
		}
		// The payload is the handler's to keep: a new buffer per request,
		// which grows as its bytes arrive when the declared length is large
		// (wire.MaxEagerPayload). A large one reuses the last one's memory
		// (internal/heap).
		payload, err := c.r.AppendPayload(c.bufs.Get(min(int(h.Length), wire.MaxEagerPayload)))
		if err != nil {
			return nil, c.readErr(err)
		}
		m := c.w.method(h.Method)
		if m == nil {
			if h.RequestID == 0 {
				c.log.Warn("procwire: request for an unknown method", "method_id", h.Method)
				continue
			}
			m = unknownMethod(h.Method)
		}
		if cl := c.dispatch(h.RequestID, m, payload); cl != nil {
			return cl, nil
		}
	}
}

func (c *serverConn) readErr(err error) error {
	if c.ctx.Err() != nil {
		return context.Cause(c.ctx)
	}
	return fmt.Errorf("%w: %w", ErrDisconnected, err)
}

// unknownMethod answers a request for a method id the worker does not have.
func unknownMethod(id uint16) *method {
	return &method{
		MethodDesc: protocol.MethodDesc{Name: fmt.Sprintf("#%d", id), ID: id, Response: ResponseResult},
		serve: func(context.Context, *Request, *ResponseWriter) error {
			//lint:ignore ST1005 @procwire/runtime-core's message, word for word
			return fmt.Errorf("Unknown method ID: %d", id)
		},
		stats: new(methodCounters),
	}
}
