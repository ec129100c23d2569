package parent

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/procwire/procwire-go/protocol"
)

// State is a Module's lifecycle state.
type State int

// Module states.
const (
	Starting State = iota
	Ready
	Disconnected
	Restarting
	Closed
)

// String returns the state's name, as in logs.
func (s State) String() string {
	return [...]string{"starting", "ready", "disconnected", "restarting", "closed"}[s]
}

// Errors of the module lifecycle.
var (
	// ErrNotReady is returned, wrapped with the module's state and why its
	// last process ended, by calls made while the module is not ready.
	ErrNotReady = errors.New("procwire/parent: module not ready")
	// ErrTimeout is wrapped by the error of a call that ran out of time.
	ErrTimeout = errors.New("procwire/parent: request timed out")
)

// Module is a spawned worker process and its connection. It is safe for
// concurrent use. A Module lives from Start to its close (Shutdown, or a
// crash it does not restart from); to spawn the worker again, Start a new
// one (a Manager does so by name).
//
// Goroutines: the caller's (Start, calls, Events, Shutdown); one supervisor
// per running instance (supervise.go), which alone handles the instance's
// end (exited) and starts the restart goroutine; per instance the process
// goroutines of process.go and control.go; one event forwarder per
// instance and subscribed event (events.go); one goroutine per OnEvent
// callback. Lifecycle subscribers run on the goroutine that caused the
// event (lifecycle.go).
type Module struct {
	// Immutable after newModule.
	name string
	cmd  Command
	opts Options // defaults filled in
	log  *slog.Logger

	mu       sync.Mutex
	state    State       // guarded by mu; changed by setState only
	cur      *instance   // guarded by mu; set by spawnOnce once ready, cleared by exited
	restarts []time.Time // guarded by mu; restart times within the window (exited)
	closing  bool        // guarded by mu; set once, by Shutdown
	lastExit error       // guarded by mu; why the last process ended (nil before any did)

	// The module's event subscriptions (events.go), guarded by subMu
	// (taken after mu when both are). They outlive restarts; a channel is
	// closed by its Subscription's Close or by closeSubs only, under
	// subMu, and the forwarders send under subMu.
	subMu    sync.Mutex
	subs     map[string][]chan Event
	fwd      map[string]bool // the names forwarded from cur's connection
	subsDone bool            // closeSubs ran: new subscriptions get a closed channel

	lc emitter // lifecycle events (lifecycle.go)

	// Statistics (stats.go). stats holds the counts of ended connections
	// and the events the forwarders dropped; statsMu guards the fold of a
	// connection's counters into it (adoptLocked, taken after mu), and
	// the fields after it.
	stats        counters
	restartCount atomic.Uint64 // Restart events delivered
	statsMu      sync.Mutex
	statsConn    *Conn     // the connection whose counters are live
	prevStats    *counters // the counters of the connection before it

	// life ends when Shutdown begins: it cancels a spawn or restart in
	// progress (its wait for $init, its retry and restart delays).
	life     context.Context
	stopLife context.CancelFunc

	wg       sync.WaitGroup // every goroutine of the module but the OnEvent callbacks
	handlers sync.WaitGroup // OnEvent callbacks
	closed   chan struct{}  // closed when the first Shutdown returns
}

// Start spawns the worker and returns once it is ready. If it cannot,
// after the retries of opts, it returns a *SpawnError with the last
// attempt's error.
func Start(ctx context.Context, name string, cmd Command, opts Options) (*Module, error) {
	m, err := newModule(name, cmd, opts, nil)
	if err != nil {
		return nil, err
	}
	if err := m.start(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// newModule makes a module that has not spawned yet; hook, if not nil,
// receives its lifecycle events after the subscribers of opts.
func newModule(name string, cmd Command, opts Options, hook func(Lifecycle)) (*Module, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	m := &Module{name: name, cmd: cmd, opts: opts, log: opts.Logger.With("module", name), subs: make(map[string][]chan Event), closed: make(chan struct{})}
	m.life, m.stopLife = context.WithCancel(context.Background())
	// First, so that the other subscribers of a Restart see it in Stats.
	m.lc.subscribe(func(l Lifecycle) {
		if l.Kind == Restart {
			m.restartCount.Add(1)
		}
	})
	if fn := opts.OnStateChange; fn != nil {
		m.lc.subscribe(func(l Lifecycle) {
			if l.Kind == StateChange {
				fn(l.State)
			}
		})
	}
	if opts.OnLifecycle != nil {
		m.lc.subscribe(opts.OnLifecycle)
	}
	if hook != nil {
		m.lc.subscribe(hook)
	}
	return m, nil
}

// start spawns the worker; if that fails, it closes the module.
func (m *Module) start(ctx context.Context) error {
	if err := m.spawn(ctx); err != nil {
		m.stopLife()
		m.closeSubs()
		m.setState(Closed)
		m.lc.wait()
		return err
	}
	return nil
}

// Name returns the module's name.
func (m *Module) Name() string { return m.name }

// State returns the current state.
func (m *Module) State() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state
}

// PID returns the worker's process id, or 0 when none runs.
func (m *Module) PID() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur == nil || m.cur.proc.Process == nil {
		return 0
	}
	return m.cur.proc.Process.Pid
}

// Schema returns the schema of the running worker.
func (m *Module) Schema() protocol.Schema {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur == nil {
		return protocol.Schema{}
	}
	return m.cur.schema
}

func (m *Module) setState(s State) {
	m.mu.Lock()
	m.setStateLocked(s)
	m.mu.Unlock()
	m.lc.deliver()
}

// setStateLocked changes the state and queues the event, if the state
// changes; m.mu is held, and the caller calls m.lc.deliver after
// releasing it.
func (m *Module) setStateLocked(s State) {
	if s == Ready {
		m.adoptLocked() // the new instance's connection, before any call on it
	}
	if m.state == s {
		return
	}
	m.state = s
	m.lc.enqueue(Lifecycle{Module: m.name, Kind: StateChange, State: s})
}

// setLastExit records why a process of the module ended.
func (m *Module) setLastExit(reason error) {
	m.mu.Lock()
	m.lastExit = reason
	m.mu.Unlock()
}

// conn returns the ready connection, or ErrNotReady wrapped with the state
// and the last exit reason.
func (m *Module) conn() (*Conn, *instance, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur == nil || m.state != Ready {
		if m.lastExit != nil {
			return nil, nil, fmt.Errorf("%w (state %s; last worker exit: %v)", ErrNotReady, m.state, m.lastExit)
		}
		return nil, nil, fmt.Errorf("%w (state %s)", ErrNotReady, m.state)
	}
	return m.cur.conn, m.cur, nil
}

// timeout returns the request timeout of a method (none if ≤ 0): the
// declared one (none if negative), else the worker's schema one, else the
// module default, in core's precedence.
func (m *Module) timeout(in *instance, method string) time.Duration {
	if t := m.opts.Methods[method].Timeout; t != 0 {
		return t
	}
	if sm, ok := in.schema.Methods[method]; ok && sm.Timeout > 0 {
		return time.Duration(sm.Timeout) * time.Millisecond
	}
	return m.opts.RequestTimeout
}

// Call sends a request to a result or ack method and decodes the response
// into out (which may be nil). A worker error is a *protocol.Error; a
// timeout wraps ErrTimeout; if ctx ends first, a cancellable method is
// aborted. A call the connection's end interrupts fails with an error
// wrapping ErrClosed that says why (see Conn.Err).
func (m *Module) Call(ctx context.Context, method string, in, out any) error {
	c, inst, err := m.conn()
	if err != nil {
		return err
	}
	return c.call(ctx, method, in, out, m.timeout(inst, method))
}

// Ack is Call for ack methods.
func (m *Module) Ack(ctx context.Context, method string, in, out any) error {
	return m.Call(ctx, method, in, out)
}

// Notify sends a request to a method of response type "none".
func (m *Module) Notify(method string, in any) error {
	c, _, err := m.conn()
	if err != nil {
		return err
	}
	return c.Notify(method, in)
}

// Stream sends a request to a stream method and yields its chunks (see
// Conn.Stream). Streams have no default timeout.
func (m *Module) Stream(ctx context.Context, method string, in any) iter.Seq2[*Chunk, error] {
	c, _, err := m.conn()
	if err != nil {
		return func(yield func(*Chunk, error) bool) { yield(nil, err) }
	}
	return c.Stream(ctx, method, in)
}
