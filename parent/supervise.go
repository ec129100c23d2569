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
	"errors"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/procwire/procwire-go/protocol"
)

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
		in.kill("start failed: " + err.Error())
		<-in.exited
		return err
	}

	initTimer := time.NewTimer(m.opts.InitTimeout)
	defer initTimer.Stop()
	var init protocol.Init
	select {
	case raw := <-in.initMsg:
		if init, err = protocol.ParseInit(raw); err != nil {
			return fail(fmt.Errorf("procwire/parent: module %q sent an %w", m.name, err))
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
		return fail(err)
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
	names := make([]string, 0, len(m.subs))
	for name := range m.subs {
		names = append(names, name)
	}
	m.mu.Unlock()
	for _, name := range names {
		m.forwardEvents(in, name)
	}
	m.wg.Add(1)
	go m.supervise(in)
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
			in.kill("missed heartbeat")
			deadline = nil
		case <-connDone:
			connDone = nil
			if !m.isClosing() {
				reason := closeReason(in.conn.Err())
				m.log.Error("procwire/parent: worker lost its data channel; killing it", "reason", reason)
				in.kill("lost its data channel: " + reason)
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

// exited handles the end of an instance: restart or close.
func (m *Module) exited(in *instance) {
	m.mu.Lock()
	if m.cur != in || m.closing {
		m.mu.Unlock()
		return
	}
	m.cur = nil
	// The state changes with cur, under the same lock: no one sees a
	// ready module without an instance.
	changed := m.state != Disconnected
	m.state = Disconnected
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
	m.log.Error("procwire/parent: worker exited unexpectedly", "reason", in.exitReason)
	if changed && m.opts.OnStateChange != nil {
		m.opts.OnStateChange(Disconnected)
	}
	if !restart {
		if m.opts.Restart {
			m.log.Error("procwire/parent: too many restarts, giving up", "max", m.opts.MaxRestarts, "window", m.opts.RestartWindow, "reason", in.exitReason)
		}
		m.closeSubs()
		m.setState(Closed)
		return
	}
	m.setState(Restarting)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := m.spawn(m.life); err != nil {
			if m.life.Err() == nil {
				m.log.Error("procwire/parent: restart failed", "error", err)
			}
			m.closeSubs()
			m.setState(Closed)
		}
	}()
}

// errShuttingDown fails a restart that Shutdown overtook.
var errShuttingDown = errors.New("procwire/parent: module shutting down")

// Shutdown asks the worker to exit ($shutdown), closes the connection (so
// calls in flight fail at once with ErrClosed), waits for the process up
// to ShutdownTimeout or ctx, then kills it. It returns when every goroutine
// of the module has ended.
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
	m.stopLife() // a restart in progress gives up; spawnOnce sees closing
	if in != nil {
		in.control(protocol.ShutdownLine)
		in.conn.Close()
		t := time.NewTimer(m.opts.ShutdownTimeout)
		select {
		case <-in.exited:
		case <-t.C:
			m.log.Warn("procwire/parent: worker did not exit in time; killing it", "timeout", m.opts.ShutdownTimeout)
			in.kill(fmt.Sprintf("did not exit within %v of $shutdown", m.opts.ShutdownTimeout))
			<-in.exited
		case <-ctx.Done():
			in.kill("shutdown: " + ctx.Err().Error())
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
