package procwire

import (
	"io"
	"log/slog"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/protocol"
)

// Defaults for Options fields left zero.
const (
	DefaultMaxConcurrentHandlers = 256
	DefaultMaxQueuedRequests     = 4096
	DefaultShutdownTimeout       = 2 * time.Second
	DefaultAuthTimeout           = 10 * time.Second
)

// ResponseType is how a method answers, as announced in the schema
// (protocol.ResponseType: one type for the worker and the parent).
type ResponseType = protocol.ResponseType

// The response types of the protocol (see protocol.ResponseResult …).
const (
	ResponseResult = protocol.ResponseResult
	ResponseAck    = protocol.ResponseAck
	ResponseStream = protocol.ResponseStream
	ResponseNone   = protocol.ResponseNone
)

// Options configure a Worker. The zero value is ready to use.
type Options struct {
	// MaxConcurrentHandlers bounds the number of handlers running at once
	// (DefaultMaxConcurrentHandlers if 0). Requests beyond it wait in
	// arrival order.
	MaxConcurrentHandlers int
	// MaxQueuedRequests bounds the requests waiting for a handler slot
	// (DefaultMaxQueuedRequests if 0). When the queue is full the worker
	// stops reading the socket until a slot frees, which pushes back on the
	// parent. The control plane (pings) is not affected.
	MaxQueuedRequests int
	// MaxPayloadSize is the largest payload accepted from the parent
	// (wire.DefaultMaxPayload, 1 GiB, if 0; at most wire.MaxPayloadLimit).
	// A frame declaring more closes the connection before anything is
	// allocated for it.
	MaxPayloadSize int
	// BackpressureTimeout bounds how long one frame write may wait for the
	// parent to read (0: no limit). A write that waits longer fails with
	// ErrBackpressureTimeout for its handler; other handlers carry on.
	BackpressureTimeout time.Duration
	// ShutdownTimeout is how long Run waits for cancelled handlers to
	// return before it returns anyway (DefaultShutdownTimeout if 0).
	ShutdownTimeout time.Duration
	// Codec is the default codec of methods and events (codec.MsgPack if
	// nil). Error payloads are always MessagePack.
	Codec codec.Codec
	// Logger receives the library's logs (stderr, text, level Info if nil).
	Logger *slog.Logger
	// Token is the authentication token the parent must present in its
	// first frame. If empty, the PROCWIRE_TOKEN environment variable is
	// used; if that is empty too, the first connection is adopted.
	Token string
	// SocketDir is the directory of the Unix socket (default
	// $XDG_RUNTIME_DIR, else $TMPDIR, else /tmp). Unused on Windows.
	SocketDir string
	// ReadBufferSize is the size of the socket read buffer
	// (wire.DefaultReadBufferSize if 0).
	ReadBufferSize int
	// LogRequests logs one Debug line per request (method, id, duration,
	// payload bytes, outcome).
	LogRequests bool
	// Stdin and Stdout carry the control plane (os.Stdin and os.Stdout if
	// nil). Tests use pipes.
	Stdin  io.Reader
	Stdout io.Writer
	// Interceptors wrap every handler and every message sent (see
	// Interceptor); the first is the outermost. None costs nothing.
	Interceptors []Interceptor
	// Strict makes the MessagePack requests of every method refuse a map
	// key that names no field of the struct they decode into
	// (codec.MsgPackStrict): the request fails with CodeBadRequest. It
	// applies to the methods that take their request codec from Codec; a
	// method that names its own (MethodOptions.Codec or RequestCodec)
	// gets exactly that one, unless its own Strict is set.
	Strict bool

	// errorLinger is how long Run waits after writing $error, so the
	// parent reads it before the process exits. Tests shorten it.
	errorLinger time.Duration
}

// MethodOptions configure one method. Pass at most one to a Handle
// function.
type MethodOptions struct {
	// Codec is the codec of requests and responses (Options.Codec if nil).
	Codec codec.Codec
	// RequestCodec and ResponseCodec override Codec for one direction.
	RequestCodec  codec.Codec
	ResponseCodec codec.Codec
	// Timeout is announced in the schema as the method's request timeout,
	// which the parent uses unless it configured its own; the handler's
	// context also expires after it. 0 announces nothing.
	Timeout time.Duration
	// Cancellable says that the handler honours an abort (its context is
	// cancelled with ErrAborted). Whether a parent sends aborts is the
	// parent's decision (the Node parent's `cancellable: true` method
	// option): Cancellable goes into the worker's contract, from which
	// `procwire gen ts` writes that option, not into the $init schema.
	Cancellable bool
	// Strict makes this method's MessagePack requests refuse unknown
	// fields, as Options.Strict does for every method. It only adds: in a
	// strict worker, a method opts out by naming its request codec
	// (Codec or RequestCodec: codec.MsgPack).
	Strict bool
}

// EventOptions configure one event.
type EventOptions struct {
	// Codec is the event's codec (Options.Codec if nil).
	Codec codec.Codec
}

// A Worker serves the methods registered on it to one parent process. Create
// it with NewWorker, register methods with Handle, HandleAck, HandleStream,
// HandleNotify or HandleFunc and events with NewEvent, then call Run.
// Registration must happen before Run.
type Worker struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	methods  []*method // index = id-1
	byName   map[string]*method
	events   []*protocol.EventDesc
	evTypes  []reflect.Type // the Go type of each event's value, nil if unknown
	evByName map[string]*protocol.EventDesc
	started  atomic.Bool

	conn atomic.Pointer[serverConn] // the adopted connection, if any

	// hooked holds the interceptor chains and procwiretest's observer
	// (interceptor.go): nil until first needed, replaced under hooksMu.
	hooked  atomic.Pointer[hooks]
	hooksMu sync.Mutex
	stats   counters
}

// method is a registered method: its description and its handler.
type method struct {
	protocol.MethodDesc
	serve HandlerFunc
	sig   *signature // nil for HandleFunc
	stats *methodCounters
	cost  atomic.Int64 // moving average of handler durations, ns
}

// cheapHandler is the average handler duration under which requests that
// arrive in a burst still run one after the other on the reading goroutine:
// starting a goroutine for them would cost more than it gains.
const cheapHandler = 20 * time.Microsecond

// cheap reports whether the method's handlers have been quick lately.
func (m *method) cheap() bool { return m.cost.Load() < int64(cheapHandler) }

// observeCost folds one handler duration into the moving average (weight
// 1/8).
func (m *method) observeCost(d time.Duration) {
	old := m.cost.Load()
	m.cost.Store(old + (int64(d)-old)/8)
}

// NewWorker returns a Worker with the given options.
func NewWorker(opts Options) *Worker {
	if opts.Codec == nil {
		opts.Codec = codec.MsgPack
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
		if name := os.Getenv("PROCWIRE_MODULE_NAME"); name != "" {
			opts.Logger = opts.Logger.With("module", name)
		}
	}
	if opts.MaxConcurrentHandlers <= 0 {
		opts.MaxConcurrentHandlers = DefaultMaxConcurrentHandlers
	}
	if opts.MaxQueuedRequests <= 0 {
		opts.MaxQueuedRequests = DefaultMaxQueuedRequests
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = DefaultShutdownTimeout
	}
	if opts.errorLinger == 0 {
		opts.errorLinger = 300 * time.Millisecond
	}
	return &Worker{
		opts:     opts,
		log:      opts.Logger,
		byName:   make(map[string]*method),
		evByName: make(map[string]*protocol.EventDesc),
	}
}

func (w *Worker) method(id uint16) *method {
	if id == 0 || int(id) > len(w.methods) {
		return nil
	}
	return w.methods[id-1]
}

// Schema returns the schema the worker announces in $init: methods
// numbered 1, 2, … in registration order, events numbered the same way in
// their own id space.
func (w *Worker) Schema() protocol.Schema {
	return protocol.NewSchema(w.Methods(), w.Events())
}

// Methods returns the registered methods in id order.
func (w *Worker) Methods() []protocol.MethodDesc {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]protocol.MethodDesc, len(w.methods))
	for i, m := range w.methods {
		out[i] = m.MethodDesc
	}
	return out
}

// Events returns the registered events in id order.
func (w *Worker) Events() []protocol.EventDesc {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]protocol.EventDesc, len(w.events))
	for i, e := range w.events {
		out[i] = *e
	}
	return out
}
