package procwire

import (
	"context"
	"errors"
	"fmt"
	"reflect"
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
func (rw *ResponseWriter) Result(v any) error { return rw.respond(MessageResult, v) }

// WriteResult sends pre-encoded bytes (written back to back) as the result.
func (rw *ResponseWriter) WriteResult(parts ...[]byte) error {
	return rw.respondRaw(MessageResult, parts)
}

// Ack acknowledges the request with v as data. A nil v is sent as "no
// data" (MessagePack nil, which the parent decodes as null/undefined). The
// handler may keep working after acknowledging.
func (rw *ResponseWriter) Ack(v any) error { return rw.respond(MessageAck, v) }

// WriteAck acknowledges with pre-encoded bytes.
func (rw *ResponseWriter) WriteAck(parts ...[]byte) error { return rw.respondRaw(MessageAck, parts) }

// Send sends v, encoded with the method's response codec, as a stream chunk.
func (rw *ResponseWriter) Send(v any) error { return rw.respond(MessageChunk, v) }

// WriteChunk sends pre-encoded bytes as one stream chunk; several parts go
// out in one vectored write without being concatenated. The parts must not
// be modified until WriteChunk returns (or, after ErrBackpressureTimeout,
// at all: the frame may still be being written).
func (rw *ResponseWriter) WriteChunk(parts ...[]byte) error {
	return rw.respondRaw(MessageChunk, parts)
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

// respond sends v, encoded with the method's response codec, as a message
// of kind k (a result, an ack or a chunk), through the interceptors if the
// worker has any.
func (rw *ResponseWriter) respond(k MessageKind, v any) error {
	if rw.call.x != nil {
		return rw.intercept(Message{Kind: k, Value: v})
	}
	flags, final := responseFrame(k)
	return rw.encodeAndSend(flags, v, final)
}

// respondRaw sends pre-encoded parts as a message of kind k (a result, an
// ack or a chunk), through the interceptors if the worker has any.
func (rw *ResponseWriter) respondRaw(k MessageKind, parts [][]byte) error {
	if rw.call.x != nil {
		return rw.intercept(Message{Kind: k, Raw: parts, raw: true})
	}
	flags, final := responseFrame(k)
	return rw.send(flags, final, parts...)
}

// responseFrame says which frame carries a response message of kind k (a
// result, an ack or a chunk), and whether it is the request's final
// response.
func responseFrame(k MessageKind) (flags wire.Flags, final bool) {
	switch k {
	case MessageResult:
		return wire.FlagsResult, true
	case MessageAck:
		return wire.FlagsAck, true
	default: // MessageChunk
		return wire.FlagsStreamChunk, false
	}
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
	var ins decoder[Req]
	return func(ctx context.Context, req *Request, rw *ResponseWriter) error {
		in, err := ins.decode(req)
		if err != nil {
			return err
		}
		out, err := fn(ctx, in)
		if err != nil {
			return err
		}
		return send(rw, out)
	}
}

// decoder decodes the requests of a typed method into values of type Req.
// A value decoded into escapes to the heap (the codec takes it as an
// interface), so it is pooled and copied out: the handler gets its own copy
// and the request costs no allocation for it.
type decoder[Req any] struct{ pool sync.Pool }

func (d *decoder[Req]) decode(req *Request) (Req, error) {
	p, _ := d.pool.Get().(*Req)
	if p == nil {
		p = new(Req)
	}
	err := req.Decode(p)
	in := *p
	var zero Req
	*p = zero // nothing of this request stays reachable from the pool
	d.pool.Put(p)
	return in, err
}

// HandleStream registers a method that answers with a stream (response type
// "stream"): each Stream.Send is one chunk; returning nil ends the stream,
// returning an error fails it.
func HandleStream[Req, Item any](w *Worker, name string, fn func(ctx context.Context, in Req, out *Stream[Item]) error, opts ...MethodOptions) {
	var ins decoder[Req]
	w.register(name, ResponseStream, func(ctx context.Context, req *Request, rw *ResponseWriter) error {
		in, err := ins.decode(req)
		if err != nil {
			return err
		}
		return fn(ctx, in, &Stream[Item]{rw: rw})
	}, opts, typesOf[Req, Item]())
}

// HandleNotify registers a method that never answers (response type
// "none"). A returned error is logged.
func HandleNotify[Req any](w *Worker, name string, fn func(ctx context.Context, in Req) error, opts ...MethodOptions) {
	var ins decoder[Req]
	w.register(name, ResponseNone, func(ctx context.Context, req *Request, rw *ResponseWriter) error {
		in, err := ins.decode(req)
		if err != nil {
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

// signature is the Go types of a method registered through the typed API
// (Handle, HandleAck, HandleStream, HandleNotify), for its contract.
type signature struct {
	req, resp reflect.Type // resp is nil for response type none
}

// none is the response type parameter of typesOf for a method that does
// not answer.
type none struct{}

// typesOf returns the signature of a method with request Req and response
// (or stream item) Resp.
func typesOf[Req, Resp any]() *signature {
	s := &signature{req: typeOf[Req]()}
	if t := typeOf[Resp](); t != reflect.TypeFor[none]() {
		s.resp = t
	}
	return s
}

// typeOf returns the reflect.Type of T (an interface type for interfaces).
func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

func (w *Worker) register(name string, rt ResponseType, h HandlerFunc, opts []MethodOptions, sig *signature) {
	if h == nil {
		panic("procwire: nil handler for method " + name)
	}
	o := optional("method", name, opts)
	w.mu.Lock()
	defer w.mu.Unlock()
	_, dup := w.byName[name]
	w.checkRegistration("method", name, dup, len(w.methods))
	m := &method{
		MethodDesc: protocol.MethodDesc{
			Name:          name,
			ID:            uint16(len(w.methods) + 1),
			Response:      rt,
			RequestCodec:  w.requestCodec(o),
			ResponseCodec: firstCodec(o.ResponseCodec, o.Codec, w.opts.Codec),
			Timeout:       o.Timeout,
			Cancellable:   o.Cancellable,
		},
		serve: h,
		sig:   sig,
		stats: new(methodCounters),
	}
	w.methods = append(w.methods, m)
	w.byName[name] = m
}

func (w *Worker) registerEvent(name string, opts []EventOptions, typ reflect.Type) *protocol.EventDesc {
	o := optional("event", name, opts)
	w.mu.Lock()
	defer w.mu.Unlock()
	_, dup := w.evByName[name]
	w.checkRegistration("event", name, dup, len(w.events))
	e := &protocol.EventDesc{Name: name, ID: uint16(len(w.events) + 1), Codec: firstCodec(o.Codec, w.opts.Codec)}
	w.events = append(w.events, e)
	w.evTypes = append(w.evTypes, typ)
	w.evByName[name] = e
	return e
}

// optional returns the one options value passed, or the zero value.
func optional[T any](kind, name string, opts []T) T {
	var o T
	switch len(opts) {
	case 0:
	case 1:
		o = opts[0]
	default:
		panic(fmt.Sprintf("procwire: more than one options value for %s %s", kind, name))
	}
	return o
}

// checkRegistration panics on a registration mistake: after Run, an empty
// or duplicate name, or no id left.
func (w *Worker) checkRegistration(kind, name string, dup bool, count int) {
	switch {
	case w.started.Load():
		panic("procwire: " + kind + " " + name + " registered after Run")
	case name == "":
		panic("procwire: empty " + kind + " name")
	case dup:
		panic("procwire: " + kind + " " + name + " registered twice")
	case count >= int(wire.MaxID):
		panic("procwire: too many " + kind + "s")
	}
}

// requestCodec is the request codec of a method with options o: the
// strict variant of MessagePack when the method or the worker asks for it
// (see Options.Strict).
func (w *Worker) requestCodec(o MethodOptions) codec.Codec {
	c := firstCodec(o.RequestCodec, o.Codec, w.opts.Codec)
	if c == codec.MsgPack && (o.Strict || w.opts.Strict && o.RequestCodec == nil && o.Codec == nil) {
		return codec.MsgPackStrict
	}
	return c
}

func firstCodec(cs ...codec.Codec) codec.Codec {
	for _, c := range cs {
		if c != nil {
			return c
		}
	}
	return codec.MsgPack
}
