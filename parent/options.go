package parent

// What the caller declares: the command, the methods and events it expects
// and the module's options, their defaults, and how the declarations are
// checked against and merged with the worker's $init schema. Everything
// here is immutable once Start has filled in the defaults.

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/protocol"
)

// Command is the worker process to spawn.
//
// On Unix the worker leads a process group of its own, and the processes
// it starts are killed with it: when the parent kills it (missed
// heartbeat, Shutdown timeout, failed start) and when it exits. So a
// terminal's Ctrl-C does not reach the worker directly; it exits at the
// end of its stdin when the parent is gone. On Windows only the worker
// process itself is killed.
type Command struct {
	Path string
	Args []string
	Dir  string
	// Env holds "KEY=value" entries merged into the parent's own
	// environment, winning over it (as @procwire/core merges an
	// executable's env into process.env); with ReplaceEnv it is the whole
	// environment instead. Either way PROCWIRE_MODULE_NAME is set, and
	// PROCWIRE_TOKEN set (Options.Auth) or removed.
	Env []string
	// ReplaceEnv makes Env the worker's whole environment, as exec.Cmd.Env
	// would be.
	ReplaceEnv bool
	// ShowWindow, on Windows, gives the worker a console window; by
	// default it has none (CREATE_NO_WINDOW, as Node's windowsHide: true).
	// Ignored elsewhere.
	ShowWindow bool
}

// MethodSpec declares a method the parent expects the worker to have.
type MethodSpec struct {
	// Response is the response type the worker must declare; empty
	// accepts whatever the worker's schema says.
	Response protocol.ResponseType
	// Codec is used both ways unless RequestCodec/ResponseCodec are set
	// (codec.MsgPack if nil).
	Codec, RequestCodec, ResponseCodec codec.Codec
	// Timeout of a result or ack call: zero leaves it to the worker's
	// schema, else to Options.RequestTimeout; negative: none (this method's
	// calls never time out, whatever the schema and the default say).
	Timeout time.Duration
	// Cancellable methods get an abort frame when a call's context ends.
	Cancellable bool
}

// EventSpec declares an event the parent expects the worker to have.
type EventSpec struct {
	Codec codec.Codec // codec.MsgPack if nil
}

// Heartbeat configures $ping/$pong supervision. The first $ping goes out
// as soon as the worker is ready; the next one Interval after it was
// answered. A $ping unanswered for Timeout kills the worker (which then
// counts as a crash: see Options.Restart).
type Heartbeat struct {
	Interval time.Duration // between an answered ping and the next (> 0)
	Timeout  time.Duration // a ping unanswered this long kills the worker (> 0)
}

// Options configure a Module. The zero value is usable and means the
// defaults of the Node parent, @procwire/core 1.5.0.
//
// One rule for the numbers: zero means the default. Where "none" makes
// sense — Retries, RetryDelay, RestartDelay, RequestTimeout and
// MethodSpec.Timeout — a negative value means none: no retry, no delay, no
// timeout. The other durations and counts (InitTimeout, ConnectTimeout,
// MaxRetryDelay, MaxRestarts, RestartWindow, ShutdownTimeout) have no
// "none": any value ≤ 0 means the default.
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

	// Retries is how many more spawn attempts follow a failed one (default
	// 3; negative: none). The delay before retry n is RetryDelay·2ⁿ⁻¹
	// (RetryDelay default 1 s; negative: no delay), at most MaxRetryDelay
	// (default 30 s, or RetryDelay if that is longer). For a fixed delay,
	// set MaxRetryDelay to RetryDelay. A schema mismatch or a malformed
	// $init is not retried: the same worker would fail the same way.
	Retries       int
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration
	// Deprecated: the delay doubles by default; RetryBackoff is ignored.
	// For a fixed delay set MaxRetryDelay to RetryDelay.
	RetryBackoff bool

	// Restart respawns a worker that crashed while ready (core's
	// restartOnCrash, off by default), RestartDelay after the crash
	// (default 1 s; negative: at once), with the spawn retries above, at
	// most MaxRestarts times (default 5) within RestartWindow (default 1
	// min); beyond that the module closes (a RestartLimit event).
	Restart       bool
	RestartDelay  time.Duration
	MaxRestarts   int
	RestartWindow time.Duration
	// Heartbeat, if set, pings the worker on its control plane (off by
	// default, as in core).
	Heartbeat *Heartbeat
	// Auth generates a fresh 32-byte token per spawn, passes it as
	// PROCWIRE_TOKEN and sends it in the AUTH frame first.
	Auth bool
	// ShutdownTimeout is how long Shutdown waits for the worker to exit
	// before killing it (default 5 s).
	ShutdownTimeout time.Duration
	// MaxPayloadSize limits the payload of a frame from the worker
	// (default and cap as wire.DefaultMaxPayload and wire.MaxPayloadLimit).
	MaxPayloadSize uint32
	// SocketBufferSize, if positive, sets the kernel's send and receive
	// buffer sizes of the data channel (SO_SNDBUF/SO_RCVBUF, as the Node
	// parent's socketBufferSize does; Unix sockets only).
	SocketBufferSize int
	// Logger receives the worker's stderr, line by line, and the module's
	// own logs (slog.Default() if nil).
	Logger *slog.Logger
	// OnStateChange, if set, is called on every state change, in order,
	// with the same guarantees as OnLifecycle.
	OnStateChange func(State)
	// OnLifecycle, if set, receives every lifecycle event of the module
	// (see Lifecycle), from its first spawn attempt on: in order, never
	// concurrently, and never while the module holds a lock. It runs on
	// the goroutine that caused the event (Start's caller, the supervisor,
	// Shutdown's caller), so it must not block for long nor call Shutdown
	// itself (start a goroutine for that).
	OnLifecycle func(Lifecycle)
}

// Defaults of @procwire/core 1.5.0 (manager-core.js DEFAULT_SPAWN_POLICY,
// RESTART_WAIT_DELAY_MS, FORCE_KILL_TIMEOUT_MS; module-core.js
// DEFAULT_REQUEST_TIMEOUT_MS), and of this package where core has none.
const (
	DefaultInitTimeout     = 30 * time.Second
	DefaultConnectTimeout  = 10 * time.Second
	DefaultRequestTimeout  = 30 * time.Second
	DefaultRetries         = 3
	DefaultRetryDelay      = time.Second
	DefaultMaxRetryDelay   = 30 * time.Second
	DefaultRestartDelay    = time.Second
	DefaultMaxRestarts     = 5
	DefaultRestartWindow   = time.Minute
	DefaultShutdownTimeout = 5 * time.Second
)

// withDefaults returns o with every unset option given its default, or an
// error if o is invalid. Negative values ("none") are kept as they are, so
// that withDefaults can be applied twice; the accessors below read them.
func (o Options) withDefaults() (Options, error) {
	if o.Heartbeat != nil && (o.Heartbeat.Interval <= 0 || o.Heartbeat.Timeout <= 0) {
		return o, fmt.Errorf("procwire/parent: heartbeat interval and timeout must be > 0 (got interval %v, timeout %v)", o.Heartbeat.Interval, o.Heartbeat.Timeout)
	}
	def := func(d *time.Duration, v time.Duration, none bool) {
		if *d == 0 || (*d < 0 && !none) {
			*d = v
		}
	}
	def(&o.InitTimeout, DefaultInitTimeout, false)
	def(&o.ConnectTimeout, DefaultConnectTimeout, false)
	def(&o.RequestTimeout, DefaultRequestTimeout, true)
	def(&o.RetryDelay, DefaultRetryDelay, true)
	def(&o.MaxRetryDelay, max(DefaultMaxRetryDelay, o.RetryDelay), false)
	def(&o.RestartDelay, DefaultRestartDelay, true)
	def(&o.RestartWindow, DefaultRestartWindow, false)
	def(&o.ShutdownTimeout, DefaultShutdownTimeout, false)
	if o.Retries == 0 {
		o.Retries = DefaultRetries
	}
	if o.MaxRestarts <= 0 {
		o.MaxRestarts = DefaultMaxRestarts
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

// retries returns how many retries follow a failed spawn attempt.
func (o *Options) retries() int { return max(0, o.Retries) }

// retryDelay returns the delay before retry n (n ≥ 1): RetryDelay·2ⁿ⁻¹,
// at most MaxRetryDelay, as core's exponential retryDelay.
func (o *Options) retryDelay(n int) time.Duration {
	d := max(0, o.RetryDelay)
	if d == 0 {
		return 0
	}
	for i := 1; i < n && d < o.MaxRetryDelay; i++ {
		d *= 2
	}
	return min(d, o.MaxRetryDelay)
}

// restartDelay returns the wait between a crash and the respawn.
func (o *Options) restartDelay() time.Duration { return max(0, o.RestartDelay) }

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
