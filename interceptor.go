package procwire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/procwire/procwire-go/internal/observe"
	"github.com/procwire/procwire-go/protocol"
	"github.com/procwire/procwire-go/wire"
)

// This file holds what a handler learns about its request from its context
// (RequestInfo), the interceptors that wrap every handler and every message
// the worker sends (Interceptor), and the hook through which package
// procwiretest learns how each request ended.

// RequestInfo describes the request a handler serves. Get it with
// RequestInfoFromContext from the handler's context, or from any context
// derived from it.
type RequestInfo struct {
	// Module is the worker's module name: the name its parent gave it
	// (the name of @procwire/core's Module, or of the Go parent's
	// module), which a Procwire parent passes to the worker in the
	// PROCWIRE_MODULE_NAME environment variable. It is empty when the
	// process was not started by a Procwire parent (or in procwiretest).
	Module string
	// Method is the method's name and MethodID its id in the schema.
	Method   string
	MethodID uint16
	// ID is the parent's request id, 0 for methods that do not answer.
	ID uint32
}

// requestInfoKey is the context key under which a handler's context holds
// its *call.
type requestInfoKey struct{}

// RequestInfoFromContext returns the metadata of the request whose handler
// ctx belongs to (the ctx a handler receives, or one derived from it), and
// whether ctx has any: like http.Request.Context and connect's
// CallInfoForHandlerContext, it lets a typed handler, an interceptor or a
// function deep in the call learn which request it serves.
//
// It costs no allocation: the handler's context is allocated with the
// request.
func RequestInfoFromContext(ctx context.Context) (RequestInfo, bool) {
	cl, ok := ctx.Value(requestInfoKey{}).(*call)
	if !ok {
		return RequestInfo{}, false
	}
	return RequestInfo{
		Module:   os.Getenv("PROCWIRE_MODULE_NAME"),
		Method:   cl.m.Name,
		MethodID: cl.m.ID,
		ID:       cl.id,
	}, true
}

// Value returns the request's metadata for requestInfoKey and otherwise
// what the call's context holds. With the embedded Context it makes *call
// the handler's context: the request's metadata is a context value that
// costs no allocation of its own. The context package still finds the
// cancelCtx beneath it, so contexts derived from it need no goroutine.
func (cl *call) Value(key any) any {
	if _, ok := key.(requestInfoKey); ok {
		return cl
	}
	return cl.Context.Value(key)
}

// String names the context as the context package's contexts do.
func (cl *call) String() string {
	return fmt.Sprintf("%v.WithRequest(%s, %d)", cl.Context, cl.m.Name, cl.id)
}

// An Interceptor wraps what a worker does for its parent: every request's
// handler and every message the worker sends — results, acks, stream
// chunks and ends, error responses, and events. Logging, metrics,
// authorisation and tracing belong here instead of in every handler.
//
// Interceptors are given in Options.Interceptors, and the first one is the
// outermost: with [a, b], a request runs a's handler wrapper, which calls
// b's, which calls the handler; a message passes a's send wrapper, then
// b's, then is sent (as with connect's WithInterceptors and net/http
// middleware applied first to last). Each Wrap method is called once, when
// the worker serves its first request or sends its first event, not per
// request (they must not emit events themselves); Options.Interceptors
// must not change after NewWorker.
//
// A handler wrapper sees every request of every method (typed handlers,
// HandlerFunc, unknown methods and rejected duplicate ids alike) and how it
// ended: the error the handler returned (a panic arrives as a *PanicError,
// still inside the wrapper), and, through context.Cause(ctx) once next
// returns, whether the parent aborted it (ErrAborted), the worker is
// shutting down (ErrShutdown) or the method's timeout expired. It may
// answer without calling next (authorisation) or return another error. The
// result itself is a message: a send wrapper sees it, with the handler's
// context.
//
// A Wrap method that returns nil keeps next unchanged; one that panics
// makes every request fail with an error saying so. A panic in a wrapper
// at run time is turned into an error response like a handler's.
type Interceptor interface {
	WrapHandler(next HandlerFunc) HandlerFunc
	WrapSend(next SendFunc) SendFunc
}

// HandlerInterceptorFunc is an Interceptor that wraps handlers only (its
// WrapSend returns next).
type HandlerInterceptorFunc func(next HandlerFunc) HandlerFunc

// WrapHandler returns f(next).
func (f HandlerInterceptorFunc) WrapHandler(next HandlerFunc) HandlerFunc { return f(next) }

// WrapSend returns next.
func (f HandlerInterceptorFunc) WrapSend(next SendFunc) SendFunc { return next }

// SendInterceptorFunc is an Interceptor that wraps sent messages only (its
// WrapHandler returns next).
type SendInterceptorFunc func(next SendFunc) SendFunc

// WrapHandler returns next.
func (f SendInterceptorFunc) WrapHandler(next HandlerFunc) HandlerFunc { return next }

// WrapSend returns f(next).
func (f SendInterceptorFunc) WrapSend(next SendFunc) SendFunc { return f(next) }

// SendFunc sends one message to the parent. ctx is the handler's context
// for a response (RequestInfoFromContext works on it) and
// context.Background() for an event. It returns what the write returned:
// ErrAborted after an abort, ErrBackpressureTimeout, ErrResponded, an
// encoding error.
type SendFunc func(ctx context.Context, msg Message) error

// MessageKind says what a Message is.
type MessageKind uint8

// The kinds of messages a worker sends.
const (
	MessageResult MessageKind = iota + 1 // ResponseWriter.Result/WriteResult, a typed handler's result
	MessageAck                           // ResponseWriter.Ack/WriteAck, a HandleAck handler's return
	MessageChunk                         // a stream chunk: Stream.Send/SendRaw, ResponseWriter.Send/WriteChunk
	MessageEnd                           // the end of a stream
	MessageError                         // an error response, the handler's returned error included
	MessageEvent                         // an event: Event.Emit
)

var messageKinds = [...]string{"", "result", "ack", "chunk", "end", "error", "event"}

// String returns the kind's name: "result", "ack", "chunk", "end",
// "error" or "event".
func (k MessageKind) String() string {
	if int(k) < len(messageKinds) && k != 0 {
		return messageKinds[k]
	}
	return fmt.Sprintf("MessageKind(%d)", k)
}

// Message is one message the worker sends, as a send interceptor sees it:
// before it is encoded. An interceptor may pass on a changed copy (another
// Value, Raw or Err); the message is sent as its Kind says, to the request
// or event it came from.
type Message struct {
	Kind MessageKind
	// Name is the method's name, or the event's.
	Name string
	// RequestID is the request's id; 0 for an event, and for a method
	// that does not answer.
	RequestID uint32
	// Value is the value to encode with the method's or event's codec,
	// for a result, ack, chunk or event that is not pre-encoded.
	Value any
	// Raw holds the bytes of a pre-encoded result, ack or chunk
	// (WriteResult, WriteAck, WriteChunk, Stream.SendRaw), written back to
	// back; when it is not nil it is sent instead of Value.
	Raw [][]byte
	// Err is the error an error message sends.
	Err error

	raw bool                // pre-encoded (Raw may be empty)
	rw  *ResponseWriter     // a response's writer
	w   *Worker             // an event's worker
	ev  *protocol.EventDesc // an event
}

// PanicError is the error a handler's panic becomes: interceptors see it,
// and the parent receives its message.
type PanicError struct {
	Method string // the method whose handler panicked
	Value  any    // the value passed to panic
	Stack  []byte // the goroutine's stack at the panic
}

// Error returns the message the parent receives: `panic in handler
// "METHOD": VALUE`.
func (e *PanicError) Error() string {
	return fmt.Sprintf("panic in handler %q: %v", e.Method, e.Value)
}

// hooks are what a worker runs around its handlers and sends beyond the
// plain path: the interceptor chains of Options.Interceptors and
// procwiretest's observers. They are immutable once published.
type hooks struct {
	handler HandlerFunc // nil without interceptors
	send    SendFunc    // never nil
	observe func(observe.Outcome)
}

func init() {
	observe.Register = func(w any, fn func(observe.Outcome)) {
		w.(*Worker).addObserver(fn)
	}
}

// hooks returns the worker's hooks, or nil when it has none: always nil,
// at the cost of one atomic load and a length check, for a worker without
// interceptors that procwiretest does not watch. They are built on first
// use, from Options alone.
func (w *Worker) hooks() *hooks {
	if x := w.hooked.Load(); x != nil || len(w.opts.Interceptors) == 0 {
		return x
	}
	w.hooksMu.Lock()
	defer w.hooksMu.Unlock()
	return w.storeHooks(func(*hooks) {})
}

// storeHooks publishes a copy of the worker's hooks (built from Options if
// there are none yet) with change applied. It runs under hooksMu.
func (w *Worker) storeHooks(change func(*hooks)) *hooks {
	var x hooks
	if old := w.hooked.Load(); old != nil {
		x = *old
	} else {
		x = w.buildHooks()
	}
	change(&x)
	w.hooked.Store(&x)
	return &x
}

func (w *Worker) addObserver(fn func(observe.Outcome)) {
	w.hooksMu.Lock()
	defer w.hooksMu.Unlock()
	w.storeHooks(func(x *hooks) {
		if prev := x.observe; prev != nil {
			x.observe = func(o observe.Outcome) { prev(o); fn(o) }
		} else {
			x.observe = fn
		}
	})
}

// buildHooks chains the worker's interceptors, the first outermost, around
// the innermost handler and send. If a Wrap method panics, every request
// fails with an error that says so (and sends go out unwrapped), rather
// than being served without an interceptor that may guard it.
func (w *Worker) buildHooks() (x hooks) {
	x.send = sendMessage
	ics := w.opts.Interceptors
	if len(ics) == 0 {
		return x
	}
	i := len(ics) - 1
	defer func() {
		if p := recover(); p != nil {
			err := fmt.Errorf("procwire: interceptor %d (%T) panicked while wrapping: %v", i, ics[i], p)
			w.log.Error("procwire: every request fails: an interceptor panicked while wrapping", "interceptor", i, "panic", p)
			x.send = sendMessage
			x.handler = func(context.Context, *Request, *ResponseWriter) error { return err }
		}
	}()
	h := HandlerFunc(serveHandler)
	for ; i >= 0; i-- {
		if ics[i] == nil {
			continue
		}
		if next := ics[i].WrapHandler(h); next != nil {
			h = next
		}
		if next := ics[i].WrapSend(x.send); next != nil {
			x.send = next
		}
	}
	x.handler = h
	return x
}

// serveHandler is the innermost handler of an interceptor chain: the
// method's handler, with a panic turned into an error inside the chain.
func serveHandler(ctx context.Context, req *Request, rw *ResponseWriter) (err error) {
	if rw == nil || rw.call == nil {
		return errors.New("procwire: an interceptor called the handler without its ResponseWriter")
	}
	defer rw.c.recoverHandler(rw.call, &err)
	return rw.call.m.serve(ctx, req, rw)
}

// recoverHandler turns a panic of the handler serving cl (or of an
// interceptor) into a *PanicError in *err. It must be deferred directly.
func (c *serverConn) recoverHandler(cl *call, err *error) {
	p := recover()
	if p == nil {
		return
	}
	pe := &PanicError{Method: cl.m.Name, Value: p, Stack: stack()}
	c.log.Error("procwire: handler panicked", "method", cl.m.Name, "request_id", cl.id, "panic", p, "stack", string(pe.Stack))
	*err = pe
	if cl.x != nil && cl.x.obs != nil {
		cl.x.obs.Panicked = true
	}
	if cl.m.stats != nil {
		cl.m.stats.panics.Add(1)
	}
}

// stack returns the calling goroutine's stack.
func stack() []byte {
	buf := make([]byte, 4096)
	for {
		n := runtime.Stack(buf, false)
		if n < len(buf) {
			return buf[:n]
		}
		if len(buf) >= 1<<20 {
			return buf
		}
		buf = make([]byte, 2*len(buf))
	}
}

// intercept sends msg, a message of rw's request, through the send chain.
func (rw *ResponseWriter) intercept(msg Message) error {
	cl := rw.call
	msg.Name, msg.RequestID, msg.rw = cl.m.Name, cl.id, rw
	return cl.x.send(cl, msg)
}

// sendMessage is the innermost send of the chain: it sends msg as its
// kind says.
func sendMessage(_ context.Context, msg Message) error {
	switch {
	case msg.rw != nil:
		return msg.rw.sendMessage(msg)
	case msg.w != nil && msg.Kind == MessageEvent:
		if msg.raw || msg.Raw != nil {
			return msg.w.emitRaw(msg.ev, msg.Raw)
		}
		return msg.w.emit(msg.ev, msg.Value)
	}
	return fmt.Errorf("procwire: cannot send a %s message that its worker did not make", msg.Kind)
}

// sendMessage sends a response message.
func (rw *ResponseWriter) sendMessage(msg Message) error {
	switch msg.Kind {
	case MessageResult, MessageAck, MessageChunk:
	case MessageEnd:
		return rw.send(wire.FlagsStreamEnd, true)
	case MessageError:
		return rw.writeError(msg.Err)
	default:
		return fmt.Errorf("procwire: method %q cannot send a %s message", rw.m().Name, msg.Kind)
	}
	flags, final := responseFrame(msg.Kind)
	var err error
	if msg.raw || msg.Raw != nil {
		err = rw.send(flags, final, msg.Raw...)
	} else {
		err = rw.encodeAndSend(flags, msg.Value, final)
	}
	if o := rw.call.x.obs; o != nil && err == nil {
		if msg.Kind == MessageChunk {
			o.Chunks++
		} else {
			o.HasResult = true
			o.Result = msg.Value
			if msg.raw || msg.Raw != nil {
				o.Result = bytes.Join(msg.Raw, nil)
			}
		}
	}
	return err
}

// emit sends an event's value, encoded with its codec.
func (w *Worker) emit(e *protocol.EventDesc, v any) error {
	c := w.conn.Load()
	if c == nil {
		return ErrNotConnected
	}
	p, err := e.Codec.Marshal(v)
	if err != nil {
		return fmt.Errorf("procwire: encode event %q: %w", e.Name, err)
	}
	if len(p) == 0 && e.Codec.Name() == "msgpack" {
		p = msgpackNil
	}
	return c.out.write(wire.Header{Method: e.ID, Flags: wire.FlagsEvent}, nil, p)
}

// emitRaw sends an event's pre-encoded bytes (an interceptor's Raw).
func (w *Worker) emitRaw(e *protocol.EventDesc, parts [][]byte) error {
	c := w.conn.Load()
	if c == nil {
		return ErrNotConnected
	}
	return c.out.write(wire.Header{Method: e.ID, Flags: wire.FlagsEvent}, nil, parts...)
}

// emitIntercepted sends an event through the interceptors' send chain.
func (w *Worker) emitIntercepted(e *protocol.EventDesc, v any) error {
	x := w.hooks()
	if x == nil {
		return w.emit(e, v)
	}
	return x.send(context.Background(), Message{Kind: MessageEvent, Name: e.Name, Value: v, w: w, ev: e})
}

// callHooks are a call's view of its worker's hooks, allocated with the
// call only when the worker has some (the call itself stays small).
type callHooks struct {
	*hooks
	obs *callObs // what the observers are told, nil if none observes
}

// callObs is what an observed call records for procwiretest.
type callObs = observe.Outcome

// observed reports the outcome of cl to the observers.
func (c *serverConn) observed(cl *call, err, cause error) {
	o := cl.x.obs
	o.Method, o.ID, o.Ran = cl.m.Name, cl.id, true
	o.Err, o.Cause, o.Aborted = err, cause, cl.aborted.Load()
	cl.x.observe(*o)
}

// dropped reports a call aborted before its handler started.
func (c *serverConn) dropped(cl *call) {
	x := c.w.hooks()
	if x == nil || x.observe == nil {
		return
	}
	x.observe(observe.Outcome{Method: cl.m.Name, ID: cl.id, Aborted: true, Cause: ErrAborted})
}
