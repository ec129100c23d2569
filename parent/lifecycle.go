package parent

// Lifecycle events: their kinds, SpawnError, and their delivery.
//
// Ownership: a Module and a Manager each have one emitter. An event is
// queued under emitter.mu (a module's state change while Module.mu is
// held as well, so that the queue's order is the order of the changes)
// and delivered by whichever goroutine finds no delivery in progress: it
// takes the delivering role, calls the subscribers in order with no lock
// held, and drains the queue, events that other goroutines queued
// meanwhile included. So subscribers are called in order and never
// concurrently, without a goroutine of their own.

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// LifecycleKind says what a Lifecycle event reports.
type LifecycleKind int

// Lifecycle event kinds. The comments say which fields each one sets
// (beside Module, Kind and State, which all set).
const (
	// StateChange: the module entered State.
	StateChange LifecycleKind = iota + 1
	// SpawnRetry: a spawn attempt failed (Err says why); retry number
	// Attempt (from 1) follows after Delay. Core's module:retrying.
	SpawnRetry
	// SpawnFailure: spawning gave up after Attempt attempts; Err is the
	// *SpawnError that Start (or the restart) returns.
	SpawnFailure
	// Crash: the process of a ready worker ended unexpectedly. ExitCode is
	// its exit code (-1 if a signal ended it), Signal the signal (nil if
	// none), Err why (exit status, signal, or why the parent killed it).
	// Core's module:error with processCrashed.
	Crash
	// HeartbeatTimeout: the worker left a $ping unanswered for
	// Heartbeat.Timeout (Delay) and was killed; a Crash follows.
	HeartbeatTimeout
	// DataChannelLoss: the data channel closed while the process ran;
	// the worker was killed (Err says why the channel ended); a Crash
	// follows.
	DataChannelLoss
	// Restart: restart number Attempt within RestartWindow begins after
	// Delay; Err is the crash that caused it. Core's module:restarting.
	Restart
	// RestartLimit: the worker crashed with MaxRestarts (Attempt) restarts
	// made within RestartWindow: the module closes instead. Core's
	// module:error with tooManyRestarts.
	RestartLimit
	// Failure: an error no other kind describes (Err): today, a worker
	// that Shutdown had to kill.
	Failure
)

// String returns the kind's name.
func (k LifecycleKind) String() string {
	names := [...]string{"", "state", "spawn-retry", "spawn-failure", "crash", "heartbeat-timeout", "data-channel-loss", "restart", "restart-limit", "failure"}
	if k <= 0 || int(k) >= len(names) {
		return fmt.Sprintf("LifecycleKind(%d)", int(k))
	}
	return names[k]
}

// Lifecycle is one lifecycle event of a module: a state change, a crash,
// a retry, … (see LifecycleKind for which fields each kind sets). It is
// not the worker's own events, which are Event.
//
// Every kind but StateChange and Restart reports a failure in Err: a
// program that wants to react to errors only (core's module:error) checks
// Err != nil && Kind != Restart.
type Lifecycle struct {
	Module   string // the module's name
	Kind     LifecycleKind
	State    State         // the state when the event happened (the new one for StateChange)
	Attempt  int           // SpawnRetry, SpawnFailure, Restart, RestartLimit
	Delay    time.Duration // SpawnRetry, Restart; HeartbeatTimeout: the timeout
	ExitCode int           // Crash
	Signal   os.Signal     // Crash, nil if no signal ended the process
	Err      error
}

// String describes the event in one line.
func (l Lifecycle) String() string {
	s := fmt.Sprintf("%s: %s", l.Module, l.Kind)
	switch l.Kind {
	case StateChange:
		return s + " " + l.State.String()
	case SpawnRetry, Restart:
		s += fmt.Sprintf(" #%d in %v", l.Attempt, l.Delay)
	case Crash:
		s += fmt.Sprintf(" (exit code %d, signal %v)", l.ExitCode, l.Signal)
	}
	if l.Err != nil {
		s += ": " + l.Err.Error()
	}
	return s
}

// SpawnError is the error of a spawn that gave up: Start's, a restart's,
// Manager.Spawn's. Err is the last attempt's error (or the context's, if
// it ended first); errors.Is and errors.As see through it.
type SpawnError struct {
	Module   string
	Attempts int // attempts made
	Err      error
}

func (e *SpawnError) Error() string {
	return fmt.Sprintf("procwire/parent: start %s after %d attempt(s): %v", e.Module, e.Attempts, e.Err)
}

func (e *SpawnError) Unwrap() error { return e.Err }

// emitter queues lifecycle events and delivers them to its subscribers
// (see the file comment). The zero value is ready to use.
type emitter struct {
	mu         sync.Mutex
	queue      []Lifecycle  // guarded by mu
	delivering bool         // guarded by mu: a goroutine holds the delivering role
	idle       *sync.Cond   // on mu, made by wait: broadcast when delivering ends
	subs       []*lifecycle // guarded by mu; copied on write, so a snapshot stays valid
}

// lifecycle is one subscriber.
type lifecycle struct {
	fn      func(Lifecycle)
	stopped atomic.Bool
}

// subscribe adds fn and returns the function that removes it: fn receives
// no event whose delivery begins after that, and stop returns at once (it
// does not wait for a call of fn in progress, so fn may call it).
func (e *emitter) subscribe(fn func(Lifecycle)) (stop func()) {
	s := &lifecycle{fn: fn}
	e.mu.Lock()
	e.subs = append(slices.Clip(e.subs), s)
	e.mu.Unlock()
	return func() {
		if s.stopped.Swap(true) {
			return
		}
		e.mu.Lock()
		e.subs = slices.DeleteFunc(slices.Clone(e.subs), func(x *lifecycle) bool { return x == s })
		e.mu.Unlock()
	}
}

// enqueue queues l; deliver delivers it.
func (e *emitter) enqueue(l Lifecycle) {
	e.mu.Lock()
	e.queue = append(e.queue, l)
	e.mu.Unlock()
}

// emit queues l and delivers it.
func (e *emitter) emit(l Lifecycle) {
	e.enqueue(l)
	e.deliver()
}

// deliver drains the queue, unless another goroutine is doing so (it will
// deliver what was queued too).
func (e *emitter) deliver() {
	e.mu.Lock()
	if e.delivering {
		e.mu.Unlock()
		return
	}
	e.delivering = true
	e.mu.Unlock()
	drained := false
	defer func() {
		if !drained { // a subscriber panicked: the role must not stay taken
			e.mu.Lock()
			e.release()
			e.mu.Unlock()
		}
	}()
	for {
		e.mu.Lock()
		if len(e.queue) == 0 {
			e.queue = nil
			e.release()
			e.mu.Unlock()
			drained = true
			return
		}
		l := e.queue[0]
		e.queue[0] = Lifecycle{}
		e.queue = e.queue[1:]
		subs := e.subs
		e.mu.Unlock()
		for _, s := range subs {
			if !s.stopped.Load() {
				s.fn(l)
			}
		}
	}
}

// release gives the delivering role up; e.mu is held.
func (e *emitter) release() {
	e.delivering = false
	if e.idle != nil {
		e.idle.Broadcast()
	}
}

// wait returns once every event queued so far has been delivered. It
// must not be called by a subscriber.
func (e *emitter) wait() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.idle == nil {
		e.idle = sync.NewCond(&e.mu)
	}
	for e.delivering || len(e.queue) > 0 {
		e.idle.Wait()
	}
}

// emit delivers a lifecycle event of the module (not a state change: see
// setState), with its name and current state filled in.
func (m *Module) emit(l Lifecycle) {
	l.Module = m.name
	l.State = m.State()
	m.lc.emit(l)
}

// OnLifecycle subscribes fn to the module's lifecycle events from now on,
// with the guarantees of Options.OnLifecycle, and returns the function
// that ends the subscription (fn may call it; it does not wait for a call
// of fn in progress).
func (m *Module) OnLifecycle(fn func(Lifecycle)) (stop func()) {
	return m.lc.subscribe(fn)
}

// killEvent returns the event saying why the parent killed an instance,
// if it killed it for a reason that has one (supervise gives the
// reasons); m.mu is held.
func (m *Module) killEvent(in *instance) (Lifecycle, bool) {
	in.killMu.Lock()
	kind, reason := in.killKind, in.killReason
	in.killMu.Unlock()
	l := Lifecycle{Module: m.name, State: m.state}
	switch kind {
	case HeartbeatTimeout:
		l.Kind, l.Delay = HeartbeatTimeout, m.opts.Heartbeat.Timeout
		l.Err = fmt.Errorf("procwire/parent: module %q missed its heartbeat (no $pong within %v)", m.name, l.Delay)
	case DataChannelLoss:
		l.Kind = DataChannelLoss
		l.Err = fmt.Errorf("procwire/parent: module %q %s", m.name, reason)
	default:
		return l, false
	}
	return l, true
}
