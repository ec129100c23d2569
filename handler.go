package procwire

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/protocol"
	"github.com/procwire/procwire-go/wire"
)

// HandlerFunc is the low-level form of a method handler: it sees the raw
// request and answers through rw. Returning a non-nil error sends it to the
// parent as an error response, unless a final response was already sent.
// Returning nil without a final response completes the request with the
// response type's natural end: a nil result, an ack without data, or the end
// of a stream.
type HandlerFunc func(ctx context.Context, req *Request, rw *ResponseWriter) error

// Request is one request as received from the parent.
type Request struct {
	// Method is the method's name and MethodID its id in the schema.
	Method   string
	MethodID uint16
	// ID is the parent's request id, 0 for methods that do not answer.
	ID uint32
	// Payload is the encoded request, in a buffer of its own: the handler
	// may keep it, the worker never reuses it.
	Payload []byte

	codec codec.Codec
}

// Decode decodes the payload with the method's request codec. A payload
// that does not decode gives an *Error with Code CodeBadRequest, whose
// Message and Details say which field, what it wants and what came (for
// MessagePack, from the codec.DecodeError it wraps); a handler that
// returns it sends exactly that to the parent.
//
// The decoded value may reference Payload where the codec decodes a payload
// given up without copying (codec.OwnedUnmarshaler: Arrow's record batches
// do, as codec.Raw's bytes do): modify neither while the other is in use.
func (r *Request) Decode(v any) error {
	if err := codec.UnmarshalOwned(r.codec, r.Payload, v); err != nil {
		return badRequest(r.Method, r.codec.Name(), err)
	}
	return nil
}

// ResponseWriter answers one request. It is used by one goroutine at a time,
// like http.ResponseWriter. Every write blocks until the frame is handed to
// the socket (see Options.BackpressureTimeout); after the request was
// aborted, writes are dropped and report ErrAborted.
type ResponseWriter struct {
	c    *serverConn
	call *call
	done bool
}

func (rw *ResponseWriter) m() *method { return rw.call.m }

// Result sends v, encoded with the method's response codec, as the result.
func (rw *ResponseWriter) Result(v any) error {
	if rw.call.x != nil {
		return rw.intercept(Message{Kind: MessageResult, Value: v})
	}
	return rw.encodeAndSend(wire.FlagsResult, v, true)
}

// WriteResult sends pre-encoded bytes (written back to back) as the result.
func (rw *ResponseWriter) WriteResult(parts ...[]byte) error {
	if rw.call.x != nil {
		return rw.intercept(Message{Kind: MessageResult, Raw: parts, raw: true})
	}
	return rw.send(wire.FlagsResult, true, parts...)
}

// Ack acknowledges the request with v as data. A nil v is sent as "no
// data" (MessagePack nil, which the parent decodes as null/undefined). The
// handler may keep working after acknowledging.
func (rw *ResponseWriter) Ack(v any) error {
	if rw.call.x != nil {
		return rw.intercept(Message{Kind: MessageAck, Value: v})
	}
	return rw.encodeAndSend(wire.FlagsAck, v, true)
}

// WriteAck acknowledges with pre-encoded bytes.
func (rw *ResponseWriter) WriteAck(parts ...[]byte) error {
	if rw.call.x != nil {
		return rw.intercept(Message{Kind: MessageAck, Raw: parts, raw: true})
	}
	return rw.send(wire.FlagsAck, true, parts...)
}

// Send sends v, encoded with the method's response codec, as a stream chunk.
func (rw *ResponseWriter) Send(v any) error {
	if rw.call.x != nil {
		return rw.intercept(Message{Kind: MessageChunk, Value: v})
	}
	return rw.encodeAndSend(wire.FlagsStreamChunk, v, false)
}

// WriteChunk sends pre-encoded bytes as one stream chunk; several parts go
// out in one vectored write without being concatenated. The parts must not
// be modified until WriteChunk returns (or, after ErrBackpressureTimeout,
// at all: the frame may still be being written).
func (rw *ResponseWriter) WriteChunk(parts ...[]byte) error {
	if rw.call.x != nil {
		return rw.intercept(Message{Kind: MessageChunk, Raw: parts, raw: true})
	}
	return rw.send(wire.FlagsStreamChunk, false, parts...)
}

// End ends a stream.
func (rw *ResponseWriter) End() error {
	if rw.call.x != nil {
		return rw.intercept(Message{Kind: MessageEnd})
	}
	return rw.send(wire.FlagsStreamEnd, true)
}

// Error sends err as the request's error response: the fields of an *Error
// in its chain, or its message. The payload is MessagePack whatever the
// method's codec.
func (rw *ResponseWriter) Error(err error) error {
	if rw.call.x != nil {
		return rw.intercept(Message{Kind: MessageError, Err: err})
	}
	return rw.writeError(err)
}

func (rw *ResponseWriter) writeError(err error) error {
	if err == nil {
		err = fmt.Errorf("procwire: nil error")
	}
	p, merr := codec.MsgPack.Marshal(protocol.ErrorPayload(err))
	if merr != nil {
		p, _ = codec.MsgPack.Marshal(err.Error())
	}
	flags := wire.FlagsError
	if rw.m().Response == ResponseStream {
		flags = wire.FlagsStreamError
	}
	return rw.send(flags, true, p)
}

// Responded reports whether the final response was sent.
func (rw *ResponseWriter) Responded() bool { return rw.done }

func (rw *ResponseWriter) encodeAndSend(flags wire.Flags, v any, final bool) error {
	if err := rw.check(flags); err != nil {
		return err
	}
	c := rw.m().ResponseCodec
	if cm, ok := c.(codec.ChunkMarshaler); ok {
		parts, err := cm.MarshalChunks(v)
		if err != nil {
			return fmt.Errorf("procwire: encode %s response for %q: %w", c.Name(), rw.m().Name, err)
		}
		return rw.send(flags, final, parts...)
	}
	if am, ok := c.(codec.AppendMarshaler); ok {
		bp := bufPool.Get().(*[]byte)
		p, err := am.AppendMarshal((*bp)[:0], v)
		if err != nil {
			bufPool.Put(bp)
			return fmt.Errorf("procwire: encode %s response for %q: %w", c.Name(), rw.m().Name, err)
		}
		if len(p) == 0 && c.Name() == "msgpack" {
			p = msgpackNil
		}
		err = rw.send(flags, final, p)
		// The buffer is free again unless a timed-out write may still be
		// finishing it in the background.
		if !errors.Is(err, ErrBackpressureTimeout) && cap(p) <= maxPooledBuffer {
			*bp = p[:0]
			bufPool.Put(bp)
		}
		return err
	}
	p, err := c.Marshal(v)
	if err != nil {
		return fmt.Errorf("procwire: encode %s response for %q: %w", c.Name(), rw.m().Name, err)
	}
	if len(p) == 0 && c.Name() == "msgpack" {
		p = msgpackNil
	}
	return rw.send(flags, final, p)
}

// Encoded responses are built in pooled buffers of up to maxPooledBuffer.
const maxPooledBuffer = 64 << 10

var bufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 512)
	return &b
}}

var msgpackNil = []byte{0xc0}

// check rejects frames the method's response type does not allow.
func (rw *ResponseWriter) check(flags wire.Flags) error {
	if rw.done {
		return ErrResponded
	}
	rt := rw.m().Response
	var ok bool
	switch flags {
	case wire.FlagsError, wire.FlagsStreamError:
		ok = rt != ResponseNone
	case wire.FlagsResult:
		ok = rt == ResponseResult || rt == ResponseAck
	case wire.FlagsAck:
		ok = rt == ResponseAck
	case wire.FlagsStreamChunk, wire.FlagsStreamEnd:
		ok = rt == ResponseStream
	}
	if !ok {
		return fmt.Errorf("procwire: method %q (response %q) cannot send a %s frame", rw.m().Name, rt, flags)
	}
	return nil
}

func (rw *ResponseWriter) send(flags wire.Flags, final bool, parts ...[]byte) error {
	if err := rw.check(flags); err != nil {
		return err
	}
	if rw.call.id == 0 {
		// Requests without an id (response type none, or a parent that
		// sent one) are never answered.
		if final {
			rw.done = true
		}
		return nil
	}
	if final {
		rw.done = true
	}
	h := wire.Header{Method: rw.call.m.ID, Flags: flags, RequestID: rw.call.id}
	return rw.c.out.write(h, rw.call, parts...)
}

// Handle registers a method whose handler returns one result (response type
// "result"). The request is decoded into Req and the returned Resp encoded
// with the method's codecs; a returned error becomes the parent's error.
func Handle[Req, Resp any](w *Worker, name string, fn func(ctx context.Context, in Req) (Resp, error), opts ...MethodOptions) {
	w.register(name, ResponseResult, unary(fn, (*ResponseWriter).Result), opts, typesOf[Req, Resp]())
}

// HandleAck registers a method that acknowledges each request (response
// type "ack"). The returned value is the ack's data; return a nil-able Resp
// such as any or a pointer with nil for an ack without data.
func HandleAck[Req, Resp any](w *Worker, name string, fn func(ctx context.Context, in Req) (Resp, error), opts ...MethodOptions) {
	w.register(name, ResponseAck, unary(fn, (*ResponseWriter).Ack), opts, typesOf[Req, Resp]())
}

// unary adapts a typed one-value handler; send writes its value.
func unary[Req, Resp any](fn func(context.Context, Req) (Resp, error), send func(*ResponseWriter, any) error) HandlerFunc {
	return func(ctx context.Context, req *Request, rw *ResponseWriter) error {
		var in Req
		if err := req.Decode(&in); err != nil {
			return err
		}
		out, err := fn(ctx, in)
		if err != nil {
			return err
		}
		return send(rw, out)
	}
}

// HandleStream registers a method that answers with a stream (response type
// "stream"): each Stream.Send is one chunk; returning nil ends the stream,
// returning an error fails it.
func HandleStream[Req, Item any](w *Worker, name string, fn func(ctx context.Context, in Req, out *Stream[Item]) error, opts ...MethodOptions) {
	w.register(name, ResponseStream, func(ctx context.Context, req *Request, rw *ResponseWriter) error {
		var in Req
		if err := req.Decode(&in); err != nil {
			return err
		}
		return fn(ctx, in, &Stream[Item]{rw: rw})
	}, opts, typesOf[Req, Item]())
}

// HandleNotify registers a method that never answers (response type
// "none"). A returned error is logged.
func HandleNotify[Req any](w *Worker, name string, fn func(ctx context.Context, in Req) error, opts ...MethodOptions) {
	w.register(name, ResponseNone, func(ctx context.Context, req *Request, rw *ResponseWriter) error {
		var in Req
		if err := req.Decode(&in); err != nil {
			return err
		}
		return fn(ctx, in)
	}, opts, typesOf[Req, none]())
}

// HandleFunc registers a low-level handler with the given response type.
func (w *Worker) HandleFunc(name string, response ResponseType, h HandlerFunc, opts ...MethodOptions) {
	switch response {
	case ResponseResult, ResponseAck, ResponseStream, ResponseNone:
	default:
		panic(fmt.Sprintf("procwire: method %s: unknown response type %q", name, response))
	}
	w.register(name, response, h, opts, nil)
}

// Stream sends the chunks of a stream response.
type Stream[T any] struct {
	rw *ResponseWriter
}

// Send sends one chunk. It blocks while the parent is not reading (see
// Options.BackpressureTimeout) and fails once the request was aborted or the
// connection dropped; the handler should then return.
func (s *Stream[T]) Send(v T) error { return s.rw.Send(v) }

// SendRaw sends pre-encoded bytes as one chunk (see ResponseWriter.WriteChunk).
func (s *Stream[T]) SendRaw(parts ...[]byte) error { return s.rw.WriteChunk(parts...) }

// Event is an event the worker emits to the parent.
type Event[T any] struct {
	w *Worker
	e *protocol.EventDesc
}

// NewEvent registers an event named name, with ids assigned 1, 2, … in
// registration order.
func NewEvent[T any](w *Worker, name string, opts ...EventOptions) *Event[T] {
	return &Event[T]{w: w, e: w.registerEvent(name, opts, typeOf[T]())}
}

// Name returns the event's name.
func (ev *Event[T]) Name() string { return ev.e.Name }

// Emit sends v to the parent. It returns ErrNotConnected before a parent
// connected, and blocks while the parent is not reading (see
// Options.BackpressureTimeout). Events and responses sent by one goroutine
// arrive in the order they were sent.
func (ev *Event[T]) Emit(v T) error {
	if len(ev.w.opts.Interceptors) != 0 {
		return ev.w.emitIntercepted(ev.e, v) // interceptor.go
	}
	return ev.w.emit(ev.e, v)
}
