package parent

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
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
	// RetryDelay between them (doubled each time if RetryBackoff).
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

func (s State) String() string {
	return [...]string{"starting", "ready", "disconnected", "restarting", "closed"}[s]
}

// Errors of the module lifecycle.
var (
	ErrNotReady = errors.New("procwire/parent: module not ready")
	ErrTimeout  = errors.New("procwire/parent: request timed out")
)

// Module is a spawned worker process and its connection.
type Module struct {
	name string
	cmd  Command
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	state    State
	cur      *instance
	subs     map[string][]chan Event
	restarts []time.Time
	closing  bool
	wg       sync.WaitGroup
	handlers sync.WaitGroup // OnEvent callbacks
}

// instance is one spawned process.
type instance struct {
	proc      *exec.Cmd
	stdin     io.WriteCloser
	conn      *Conn
	schema    protocol.Schema
	exited    chan struct{}
	exitErr   error
	pong      chan struct{}
	stop      chan struct{}
	stdinMu   sync.Mutex
	abandoned bool
}

// Start spawns the worker and returns once it is ready, or the error of
// the last attempt.
func Start(ctx context.Context, name string, cmd Command, opts Options) (*Module, error) {
	if opts.InitTimeout <= 0 {
		opts.InitTimeout = 30 * time.Second
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	if opts.RequestTimeout == 0 {
		opts.RequestTimeout = 30 * time.Second
	}
	if opts.MaxRestarts <= 0 {
		opts.MaxRestarts = 5
	}
	if opts.RestartWindow <= 0 {
		opts.RestartWindow = time.Minute
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 5 * time.Second
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = time.Second
	}
	if opts.Heartbeat != nil && (opts.Heartbeat.Interval <= 0 || opts.Heartbeat.Timeout <= 0) {
		return nil, errors.New("procwire/parent: heartbeat interval and timeout must be > 0")
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	m := &Module{name: name, cmd: cmd, opts: opts, log: log.With("module", name), subs: make(map[string][]chan Event)}
	if err := m.spawn(ctx); err != nil {
		m.setState(Closed)
		return nil, err
	}
	return m, nil
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
	changed := m.state != s
	m.state = s
	m.mu.Unlock()
	if changed && m.opts.OnStateChange != nil {
		m.opts.OnStateChange(s)
	}
}

// spawn starts the worker, with retries.
func (m *Module) spawn(ctx context.Context) error {
	delay := m.opts.RetryDelay
	var err error
	for attempt := 0; attempt <= m.opts.Retries; attempt++ {
		if attempt > 0 {
			m.log.Warn("procwire/parent: spawn failed; retrying", "attempt", attempt, "delay", delay, "error", err)
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return ctx.Err()
			}
			if m.opts.RetryBackoff {
				delay *= 2
			}
		}
		m.setState(Starting)
		if err = m.spawnOnce(ctx); err == nil {
			m.setState(Ready)
			return nil
		}
	}
	return fmt.Errorf("procwire/parent: start %s after %d attempt(s): %w", m.name, m.opts.Retries+1, err)
}

func (m *Module) spawnOnce(ctx context.Context) error {
	token := ""
	if m.opts.Auth {
		b := make([]byte, 32)
		rand.Read(b)
		token = hex.EncodeToString(b)
	}
	proc := exec.Command(m.cmd.Path, m.cmd.Args...)
	proc.Dir = m.cmd.Dir
	proc.Env = workerEnv(m.cmd.Env, m.name, token)
	stdin, err := proc.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := proc.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := proc.StderrPipe()
	if err != nil {
		return err
	}
	if err := proc.Start(); err != nil {
		return fmt.Errorf("procwire/parent: spawn %s: %w", m.cmd.Path, err)
	}
	in := &instance{proc: proc, stdin: stdin, exited: make(chan struct{}), pong: make(chan struct{}, 1), stop: make(chan struct{})}
	initCh := make(chan json.RawMessage, 1)
	errCh := make(chan string, 1)
	var pipes sync.WaitGroup
	pipes.Add(2)
	m.wg.Add(1)
	go func() {
		defer pipes.Done()
		m.forwardStderr(stderr)
	}()
	go func() {
		defer pipes.Done()
		m.readStdout(stdout, in, initCh, errCh)
	}()
	go func() {
		defer m.wg.Done()
		pipes.Wait() // Wait closes the pipes: read them to the end first
		in.exitErr = proc.Wait()
		close(in.exited)
	}()
	fail := func(err error) error {
		in.abandoned = true
		proc.Process.Kill()
		<-in.exited
		return err
	}

	initTimer := time.NewTimer(m.opts.InitTimeout)
	defer initTimer.Stop()
	var init protocol.Init
	select {
	case raw := <-initCh:
		if init, err = protocol.ParseInit(raw); err != nil {
			return fail(fmt.Errorf("procwire/parent: module %q sent an %w", m.name, err))
		}
	case msg := <-errCh:
		return fail(fmt.Errorf("procwire/parent: module %q error: %s", m.name, msg))
	case <-in.exited:
		return fmt.Errorf("procwire/parent: module %q exited before $init: %v", m.name, in.exitErr)
	case <-initTimer.C:
		return fail(fmt.Errorf("procwire/parent: module %q did not send $init within %v", m.name, m.opts.InitTimeout))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	schema := init.Schema
	if err := m.validate(schema); err != nil {
		return fail(err)
	}
	in.schema = schema

	nc, err := dial(init.Pipe, m.opts.ConnectTimeout)
	if err != nil {
		return fail(fmt.Errorf("procwire/parent: data channel connect failed: %w", err))
	}
	if size := m.opts.SocketBufferSize; size > 0 {
		if b, ok := nc.(interface {
			SetReadBuffer(int) error
			SetWriteBuffer(int) error
		}); ok {
			b.SetReadBuffer(size)
			b.SetWriteBuffer(size)
		}
	}
	methods, events := m.describe(schema)
	in.conn = NewConn(nc, m.opts.MaxPayloadSize, methods, events)
	if token != "" {
		if err := in.conn.SendAuth(token); err != nil {
			in.conn.Close()
			return fail(err)
		}
	}
	m.mu.Lock()
	m.cur = in
	subs := make(map[string]int, len(m.subs))
	for name, chs := range m.subs {
		subs[name] = len(chs)
	}
	m.mu.Unlock()
	for name := range subs {
		m.forwardEvents(in, name)
	}
	m.wg.Add(1)
	go m.supervise(in)
	return nil
}

// workerEnv builds the worker's environment.
func workerEnv(base []string, name, token string) []string {
	if base == nil {
		base = os.Environ()
	}
	env := make([]string, 0, len(base)+2)
	for _, kv := range base {
		if strings.HasPrefix(kv, "PROCWIRE_TOKEN=") || strings.HasPrefix(kv, "PROCWIRE_MODULE_NAME=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "PROCWIRE_MODULE_NAME="+name)
	if token != "" {
		env = append(env, "PROCWIRE_TOKEN="+token)
	}
	return env
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

func first(cs ...codec.Codec) codec.Codec {
	for _, c := range cs {
		if c != nil {
			return c
		}
	}
	return codec.MsgPack
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

func (m *Module) forwardStderr(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m.log.Info(sc.Text(), "stream", "stderr")
	}
	io.Copy(io.Discard, r)
}

// readStdout reads control lines: $init and $error until ready, $pong
// after; other lines go to the logger.
func (m *Module) readStdout(r io.Reader, in *instance, initCh chan<- json.RawMessage, errCh chan<- string) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if line != "" {
			m.controlLine(line, in, initCh, errCh)
		}
		if err != nil {
			return
		}
	}
}

func (m *Module) controlLine(line string, in *instance, initCh chan<- json.RawMessage, errCh chan<- string) {
	msg, err := protocol.ParseMessage([]byte(line))
	if err != nil {
		m.log.Info(line, "stream", "stdout")
		return
	}
	switch msg.Method {
	case protocol.MethodInit:
		select {
		case initCh <- msg.Params:
		default:
		}
	case protocol.MethodError:
		select {
		case errCh <- protocol.ErrorMessage(msg.Params):
		default:
		}
	case protocol.MethodPong:
		select {
		case in.pong <- struct{}{}:
		default:
		}
	}
}

// control writes one control line to the worker's stdin.
func (in *instance) control(line []byte) error {
	in.stdinMu.Lock()
	defer in.stdinMu.Unlock()
	_, err := in.stdin.Write(line)
	return err
}

// supervise watches one instance: heartbeat, data-channel loss, exit.
func (m *Module) supervise(in *instance) {
	defer m.wg.Done()
	var tick <-chan time.Time
	var deadline <-chan time.Time
	if hb := m.opts.Heartbeat; hb != nil {
		t := time.NewTicker(hb.Interval)
		defer t.Stop()
		tick = t.C
	}
	connDone := in.conn.Done()
	for {
		select {
		case <-tick:
			if deadline == nil {
				if in.control(protocol.PingLine) == nil {
					deadline = time.After(m.opts.Heartbeat.Timeout)
				}
			}
		case <-in.pong:
			deadline = nil
		case <-deadline:
			m.log.Error("procwire/parent: worker missed its heartbeat; killing it", "timeout", m.opts.Heartbeat.Timeout)
			in.proc.Process.Kill()
			deadline = nil
		case <-connDone:
			connDone = nil
			if !m.isClosing() {
				m.log.Error("procwire/parent: worker lost its data channel; killing it")
				in.proc.Process.Kill()
			}
		case <-in.exited:
			in.conn.Close()
			m.exited(in)
			return
		case <-in.stop:
			return
		}
	}
}

func (m *Module) isClosing() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closing
}

// exited handles the end of an instance: restart or close.
func (m *Module) exited(in *instance) {
	m.mu.Lock()
	if m.cur != in || m.closing {
		m.mu.Unlock()
		return
	}
	m.cur = nil
	now := time.Now()
	kept := m.restarts[:0]
	for _, t := range m.restarts {
		if now.Sub(t) < m.opts.RestartWindow {
			kept = append(kept, t)
		}
	}
	m.restarts = kept
	restart := m.opts.Restart && len(m.restarts) < m.opts.MaxRestarts
	if restart {
		m.restarts = append(m.restarts, now)
	}
	m.mu.Unlock()
	m.log.Error("procwire/parent: worker exited unexpectedly", "error", in.exitErr)
	m.setState(Disconnected)
	if !restart {
		if m.opts.Restart {
			m.log.Error("procwire/parent: too many restarts, giving up", "max", m.opts.MaxRestarts, "window", m.opts.RestartWindow)
		}
		m.closeSubs()
		m.setState(Closed)
		return
	}
	m.setState(Restarting)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := m.spawn(context.Background()); err != nil {
			m.log.Error("procwire/parent: restart failed", "error", err)
			m.closeSubs()
			m.setState(Closed)
		}
	}()
}

// conn returns the ready connection.
func (m *Module) conn() (*Conn, *instance, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur == nil || m.state != Ready {
		return nil, nil, fmt.Errorf("%w (state %s)", ErrNotReady, m.state)
	}
	return m.cur.conn, m.cur, nil
}

// timeout returns the request timeout of a method: the declared one, else
// the worker's schema one, else the module default.
func (m *Module) timeout(in *instance, method string) time.Duration {
	if t := m.opts.Methods[method].Timeout; t > 0 {
		return t
	}
	if sm, ok := in.schema.Methods[method]; ok && sm.Timeout > 0 {
		return time.Duration(sm.Timeout) * time.Millisecond
	}
	return m.opts.RequestTimeout
}

// Call sends a request to a result or ack method and decodes the response
// into out (which may be nil). A worker error is a *RemoteError; a timeout
// wraps ErrTimeout; if ctx ends first, a cancellable method is aborted.
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

// Events subscribes to an event across restarts: the channel receives its
// emissions until the module is closed.
func (m *Module) Events(name string) <-chan Event {
	ch := make(chan Event, eventBuffer)
	m.mu.Lock()
	m.subs[name] = append(m.subs[name], ch)
	first := len(m.subs[name]) == 1
	in := m.cur
	m.mu.Unlock()
	if first && in != nil {
		m.forwardEvents(in, name)
	}
	return ch
}

// OnEvent calls fn with each emission of the named event, in order, on a
// goroutine of its own, across restarts, until the module is shut down
// (Shutdown waits for the last call to return, so fn must not call
// Shutdown itself).
func (m *Module) OnEvent(name string, fn func(Event)) {
	ch := m.Events(name)
	m.handlers.Add(1)
	go func() {
		defer m.handlers.Done()
		for e := range ch {
			fn(e)
		}
	}()
}

// forwardEvents copies one event from an instance's connection to the
// module's subscribers.
func (m *Module) forwardEvents(in *instance, name string) {
	src := in.conn.Events(name)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for e := range src {
			m.mu.Lock()
			subs := append([]chan Event(nil), m.subs[name]...)
			m.mu.Unlock()
			for _, ch := range subs {
				select {
				case ch <- e:
				default:
					m.log.Warn("procwire/parent: event subscriber full; event dropped", "event", name)
				}
			}
		}
	}()
}

func (m *Module) closeSubs() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, chs := range m.subs {
		for _, ch := range chs {
			close(ch)
		}
		delete(m.subs, name)
	}
}

// Shutdown asks the worker to exit ($shutdown), closes the connection (so
// pending calls fail at once), waits for the process up to ShutdownTimeout
// or ctx, then kills it. It returns when every goroutine of the module has
// ended.
func (m *Module) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	if m.closing {
		m.mu.Unlock()
		m.wg.Wait()
		return nil
	}
	m.closing = true
	in := m.cur
	m.mu.Unlock()
	if in != nil {
		in.control(protocol.ShutdownLine)
		in.conn.Close()
		t := time.NewTimer(m.opts.ShutdownTimeout)
		select {
		case <-in.exited:
		case <-t.C:
			m.log.Warn("procwire/parent: worker did not exit in time; killing it", "timeout", m.opts.ShutdownTimeout)
			in.proc.Process.Kill()
			<-in.exited
		case <-ctx.Done():
			in.proc.Process.Kill()
			<-in.exited
		}
		t.Stop()
		in.stdin.Close()
	}
	m.wg.Wait()
	m.closeSubs()
	m.handlers.Wait()
	m.setState(Closed)
	return nil
}
