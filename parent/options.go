package parent

// What the caller declares: the command, the methods and events it expects
// and the module's options, their defaults, and how the declarations are
// checked against and merged with the worker's $init schema. Everything
// here is immutable once Start has filled in the defaults.

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/protocol"
)

// Command is the worker process to spawn.
type Command struct {
	Path string
	Args []string
	Dir  string
	// Env is the worker's environment (the parent's own if nil).
	// PROCWIRE_MODULE_NAME is added, and PROCWIRE_TOKEN set or removed.
	Env []string
}

// MethodSpec declares a method the parent expects the worker to have.
type MethodSpec struct {
	// Response is the response type the worker must declare; empty
	// accepts whatever the worker's schema says.
	Response protocol.ResponseType
	// Codec is used both ways unless RequestCodec/ResponseCodec are set
	// (codec.MsgPack if nil).
	Codec, RequestCodec, ResponseCodec codec.Codec
	// Timeout overrides the worker's schema timeout and the default.
	Timeout time.Duration
	// Cancellable methods get an abort frame when a call's context ends.
	Cancellable bool
}

// EventSpec declares an event the parent expects the worker to have.
type EventSpec struct {
	Codec codec.Codec // codec.MsgPack if nil
}

// Heartbeat configures $ping/$pong supervision.
type Heartbeat struct {
	Interval time.Duration // between pings
	Timeout  time.Duration // a ping unanswered this long kills the worker
}

// Options configure a Module. The zero value is usable.
type Options struct {
	// Methods and Events the worker must have, checked against its $init
	// schema (a missing method or event, or a different response type,
	// fails the start). Methods the worker has but that are not declared
	// can still be called, with MessagePack both ways.
	Methods map[string]MethodSpec
	Events  map[string]EventSpec

	InitTimeout    time.Duration // wait for $init (default 30 s)
	ConnectTimeout time.Duration // connect to the socket (default 10 s)
	// RequestTimeout applies to result and ack calls without a method or
	// schema timeout (default 30 s; negative: none).
	RequestTimeout time.Duration
	// Retries is how many more spawn attempts follow a failed one, with
	// RetryDelay (default 1 s) between them (doubled each time if
	// RetryBackoff).
	Retries      int
	RetryDelay   time.Duration
	RetryBackoff bool
	// Restart respawns a worker that crashed while ready, at most
	// MaxRestarts times (default 5) within RestartWindow (default 1 min).
	Restart       bool
	MaxRestarts   int
	RestartWindow time.Duration
	Heartbeat     *Heartbeat
	// Auth generates a fresh 32-byte token per spawn, passes it as
	// PROCWIRE_TOKEN and sends it in the AUTH frame first.
	Auth bool
	// ShutdownTimeout is how long Shutdown waits for the worker to exit
	// before killing it (default 5 s).
	ShutdownTimeout time.Duration
	MaxPayloadSize  uint32
	// SocketBufferSize, if positive, sets the kernel's send and receive
	// buffer sizes of the data channel (SO_SNDBUF/SO_RCVBUF, as the Node
	// parent's socketBufferSize does; Unix sockets only).
	SocketBufferSize int
	// Logger receives the worker's stderr, line by line, and the module's
	// own logs (slog.Default() if nil).
	Logger *slog.Logger
	// OnStateChange, if set, is called on every state change.
	OnStateChange func(State)
}

// withDefaults returns o with every unset option given its default, or an
// error if o is invalid.
func (o Options) withDefaults() (Options, error) {
	if o.Heartbeat != nil && (o.Heartbeat.Interval <= 0 || o.Heartbeat.Timeout <= 0) {
		return o, errors.New("procwire/parent: heartbeat interval and timeout must be > 0")
	}
	if o.InitTimeout <= 0 {
		o.InitTimeout = 30 * time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = 30 * time.Second
	}
	if o.MaxRestarts <= 0 {
		o.MaxRestarts = 5
	}
	if o.RestartWindow <= 0 {
		o.RestartWindow = time.Minute
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 5 * time.Second
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

// validate checks the worker's schema against the declared methods and
// events, with the Node parent's rules and messages.
func (m *Module) validate(s protocol.Schema) error {
	for name, spec := range m.opts.Methods {
		got, ok := s.Methods[name]
		if !ok {
			return fmt.Errorf("procwire/parent: module %q: child did not register expected method %q", m.name, name)
		}
		want := spec.Response
		if want != "" && got.Response != want {
			return fmt.Errorf("procwire/parent: module %q: method %q response type mismatch (parent declared %q, child declared %q)", m.name, name, want, got.Response)
		}
	}
	for name := range m.opts.Events {
		if _, ok := s.Events[name]; !ok {
			return fmt.Errorf("procwire/parent: module %q: child did not register expected event %q", m.name, name)
		}
	}
	return nil
}

// describe merges the schema with the declared specs.
func (m *Module) describe(s protocol.Schema) ([]protocol.MethodDesc, []protocol.EventDesc) {
	var methods []protocol.MethodDesc
	for name, sm := range s.Methods {
		spec := m.opts.Methods[name]
		methods = append(methods, protocol.MethodDesc{
			Name: name, ID: sm.ID, Response: sm.Response,
			RequestCodec:  first(spec.RequestCodec, spec.Codec),
			ResponseCodec: first(spec.ResponseCodec, spec.Codec),
			Cancellable:   spec.Cancellable,
		})
	}
	var events []protocol.EventDesc
	for name, se := range s.Events {
		events = append(events, protocol.EventDesc{Name: name, ID: se.ID, Codec: first(m.opts.Events[name].Codec)})
	}
	return methods, events
}

// first returns the first non-nil codec, else codec.MsgPack.
func first(cs ...codec.Codec) codec.Codec {
	for _, c := range cs {
		if c != nil {
			return c
		}
	}
	return codec.MsgPack
}
