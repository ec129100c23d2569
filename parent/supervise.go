package parent

// Spawning with retries, the supervision of a running instance, the
// restart policy and Shutdown.
//
// Ownership: spawn runs on the caller's goroutine (Start) or on the
// restart goroutine started by exited, never two at once for one module.
// Each published instance has one supervisor goroutine (supervise), the
// only one to call exited for it. The restart times (Module.restarts) are
// guarded by Module.mu and used by exited only.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/procwire/procwire-go/protocol"
)

// spawn starts the worker, with retries, as core's spawnModule: retry n
// follows the failed attempt after Options.retryDelay(n). Shutdown
// cancels it (through m.life), as ctx does. Every failure is a
// *SpawnError, also reported as a SpawnFailure unless Shutdown caused it.
func (m *Module) spawn(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer context.AfterFunc(m.life, func() { cancel(errShuttingDown) })()
	var err error
	attempts := 0
	for retry := 0; retry <= m.opts.retries(); retry++ {
		if retry > 0 {
			delay := m.opts.retryDelay(retry)
			m.log.Warn("procwire/parent: spawn failed; retrying", "attempt", retry, "delay", delay, "error", err)
			m.emit(Lifecycle{Kind: SpawnRetry, Attempt: retry, Delay: delay, Err: err})
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		if ctx.Err() != nil {
			err = context.Cause(ctx)
			break
		}
		m.setState(Starting)
		attempts++
		if err = m.spawnOnce(ctx); err == nil {
			return nil
		}
		if ctx.Err() != nil {
			err = context.Cause(ctx)
			break
		}
		if p, ok := err.(permanent); ok {
			err = p.error
			break
		}
	}
	serr := &SpawnError{Module: m.name, Attempts: attempts, Err: err}
	if m.life.Err() == nil {
		m.emit(Lifecycle{Kind: SpawnFailure, Attempt: attempts, Err: serr})
	}
	return serr
}

// permanent marks an error of spawnOnce that another attempt would meet
// again (a schema mismatch, a malformed $init): spawn does not retry it.
type permanent struct{ error }

// spawnOnce makes one attempt: spawn the process, wait for its $init,
// check the schema, connect (and authenticate), then publish the instance
// and start supervising it.
func (m *Module) spawnOnce(ctx context.Context) error {
	token := ""
	if m.opts.Auth {
		b := make([]byte, 32)
		rand.Read(b)
		token = hex.EncodeToString(b)
	}
	in, err := m.startProcess(token)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		in.kill(0, "start failed: "+err.Error())
		<-in.exited
		return err
	}

	initTimer := time.NewTimer(m.opts.InitTimeout)
	defer initTimer.Stop()
	var init protocol.Init
	select {
	case raw := <-in.initMsg:
		if init, err = protocol.ParseInit(raw); err != nil {
			return permanent{fail(fmt.Errorf("procwire/parent: module %q sent an %w", m.name, err))}
		}
	case msg := <-in.errMsg:
		return fail(fmt.Errorf("procwire/parent: module %q error: %s", m.name, msg))
	case <-in.exited:
		return fmt.Errorf("procwire/parent: module %q exited before $init: %v", m.name, in.exitReason)
	case <-initTimer.C:
		return fail(fmt.Errorf("procwire/parent: module %q did not send $init within %v", m.name, m.opts.InitTimeout))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	if err := m.validate(init.Schema); err != nil {
		return permanent{fail(err)}
	}
	in.schema = init.Schema

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
	methods, events := m.describe(in.schema)
	in.conn = NewConn(nc, m.opts.MaxPayloadSize, methods, events)
	// Before any call can be made (supervise, which sets it too, may start
	// later: after the first heartbeat).
	in.conn.watchExit(in.dead, func() error { return in.reason(in.waitErr) })
	if token != "" {
		if err := in.conn.SendAuth(token); err != nil {
			in.conn.Close()
			return fail(err)
		}
	}
	m.mu.Lock()
	if m.closing {
		// Shutdown began while this instance started (a restart): it
		// must not outlive the module.
		m.mu.Unlock()
		in.conn.Close()
		return fail(errShuttingDown)
	}
	m.cur = in
	m.subMu.Lock()
	m.fwd = make(map[string]bool, len(m.subs))
	names := make([]string, 0, len(m.subs))
	for name := range m.subs {
		m.fwd[name] = true
		names = append(names, name)
	}
	m.subMu.Unlock()
	// The state changes with cur, under the same lock: no one sees a
	// ready module without an instance.
	m.setStateLocked(Ready)
	m.mu.Unlock()
	for _, name := range names {
		m.forwardEvents(in, name)
	}
	m.wg.Add(1)
	go func() {
		if m.opts.Heartbeat != nil {
			m.firstPing(in) // at once, as core's startHeartbeat
		}
		m.supervise(in)
	}()
	m.lc.deliver()
	return nil
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
	// The connection names the worker's exit as the cause of its end.
	in.conn.watchExit(in.dead, func() error { return in.reason(in.waitErr) })
	connDone := in.conn.Done()
	for {
		select {
		case <-tick:
			if deadline == nil {
				// A ping that cannot be written (stdin closed, or full
				// and unread) is not answered either: the deadline runs.
				in.control(protocol.PingLine)
				deadline = time.After(m.opts.Heartbeat.Timeout)
			}
		case <-in.pong:
			deadline = nil
		case <-deadline:
			m.log.Error("procwire/parent: worker missed its heartbeat; killing it", "timeout", m.opts.Heartbeat.Timeout)
			in.kill(HeartbeatTimeout, "missed heartbeat")
			deadline = nil
		case <-connDone:
			connDone = nil
			select {
			case <-in.dead:
				continue // the process ended: the exit case says why
			default:
			}
			if !m.isClosing() {
				reason := closeReason(in.conn.Err())
				m.log.Error("procwire/parent: worker lost its data channel; killing it", "reason", reason)
				in.kill(DataChannelLoss, "lost its data channel: "+reason)
			}
		case <-in.exited:
			in.conn.Close()
			m.exited(in)
			return
		}
	}
}

func (m *Module) isClosing() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closing
}

// exited handles the end of an instance: restart or close, as core's
// handleProcessExit, with its lifecycle events.
func (m *Module) exited(in *instance) {
	m.mu.Lock()
	if m.cur != in || m.closing {
		m.mu.Unlock()
		return
	}
	// Why the parent killed it, if it did, comes first, as in core.
	if l, ok := m.killEvent(in); ok {
		m.lc.enqueue(l)
	}
	m.cur = nil
	// The state changes with cur, under the same lock: no one sees a
	// ready module without an instance.
	m.setStateLocked(Disconnected)
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
	restarts := len(m.restarts)
	m.mu.Unlock()
	m.lc.deliver()
	m.log.Error("procwire/parent: worker exited unexpectedly", "reason", in.exitReason)
	code, sig := exitStatus(in)
	m.emit(Lifecycle{Kind: Crash, ExitCode: code, Signal: sig, Err: in.exitReason})
	if !restart {
		if m.opts.Restart {
			m.log.Error("procwire/parent: too many restarts, giving up", "max", m.opts.MaxRestarts, "window", m.opts.RestartWindow, "reason", in.exitReason)
			m.emit(Lifecycle{Kind: RestartLimit, Attempt: restarts,
				Err: fmt.Errorf("procwire/parent: module %q: too many restarts (%d within %v), giving up", m.name, restarts, m.opts.RestartWindow)})
		}
		m.closeSubs()
		m.setState(Closed)
		return
	}
	delay := m.opts.restartDelay()
	m.emit(Lifecycle{Kind: Restart, Attempt: restarts, Delay: delay, Err: in.exitReason})
	m.setState(Restarting)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if delay > 0 { // core's RESTART_WAIT_DELAY_MS; Shutdown cancels it
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-m.life.Done():
				t.Stop()
				return
			}
		}
		if err := m.spawn(m.life); err != nil {
			if m.life.Err() == nil {
				m.log.Error("procwire/parent: restart failed", "error", err)
			}
			m.closeSubs()
			m.setState(Closed)
		}
	}()
}

// waitClosed waits for a second Shutdown: until closed (the first one
// returned) or ctx ends.
func waitClosed(ctx context.Context, closed <-chan struct{}) error {
	select {
	case <-closed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startClosing is how a Shutdown that runs once begins (a Module's, a
// Pool's): under mu, it reports whether *closing was still false, and if
// so sets it and calls first (which sees the owner's state as the
// shutdown begins). A later Shutdown gets false and waits (waitClosed).
func startClosing(mu *sync.Mutex, closing *bool, first func()) bool {
	mu.Lock()
	defer mu.Unlock()
	if *closing {
		return false
	}
	*closing = true
	first()
	return true
}

// errShuttingDown fails a restart that Shutdown overtook.
var errShuttingDown = errors.New("procwire/parent: module shutting down")

// Shutdown asks the worker to exit ($shutdown), closes the connection (so
// calls in flight fail at once with ErrClosed), waits for the process up
// to ShutdownTimeout or ctx, then kills it. A spawn or restart in progress
// gives up. Shutdown returns when every goroutine of the module has ended
// and every lifecycle event has been delivered; a second call waits for
// the first (or ctx).
func (m *Module) Shutdown(ctx context.Context) error {
	var in *instance
	if !startClosing(&m.mu, &m.closing, func() { in = m.cur }) {
		return waitClosed(ctx, m.closed)
	}
	m.stopLife() // a spawn or restart in progress gives up; spawnOnce sees closing
	if in != nil {
		in.control(protocol.ShutdownLine)
		in.conn.Close()
		t := time.NewTimer(m.opts.ShutdownTimeout)
		var killed string
		select {
		case <-in.exited:
		case <-t.C:
			m.log.Warn("procwire/parent: worker did not exit in time; killing it", "timeout", m.opts.ShutdownTimeout)
			killed = fmt.Sprintf("did not exit within %v of $shutdown", m.opts.ShutdownTimeout)
		case <-ctx.Done():
			killed = "shutdown: " + ctx.Err().Error()
		}
		if killed != "" {
			in.kill(0, killed)
			<-in.exited
			m.emit(Lifecycle{Kind: Failure, Err: fmt.Errorf("procwire/parent: module %q %s; killed", m.name, killed)})
		}
		t.Stop()
		in.stdin.Close()
	}
	m.wg.Wait()
	m.closeSubs()
	m.handlers.Wait()
	m.setState(Closed)
	m.lc.wait()
	close(m.closed)
	return nil
}
