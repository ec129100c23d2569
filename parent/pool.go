package parent

// Pool: N instances of one worker behind one handle.
//
// Ownership. Each instance is a Module of its own (a member), spawned by
// StartPool or Resize and shut down by Resize or Shutdown, which Pool.mu
// and Pool.resizeMu serialize. The instances calls may go to are
// Pool.members, guarded by Pool.mu; Pool.route is an immutable copy of it,
// replaced under mu, that calls read without a lock. A request counts in
// its member's inflight from the moment it was routed there to its end
// (a stream: to the end of its iteration); the routing reads the counts
// without a lock, so two concurrent calls may both take the same least
// loaded member. Resize removes a member from route first and marks it
// retired, then waits for its inflight to reach zero: a caller adds itself
// to inflight before it reads retired, the resizer sets retired before it
// reads inflight (sequentially consistent atomics), so either the caller
// backs off or the resizer waits for it.
//
// Events. The pool's subscriptions live on hub, a Module that never
// spawns: Subscribe, Events and OnEvent are its own, with its Subscription
// type, buffers and close. For every event name subscribed (Pool.names,
// guarded by mu) each member has one Module subscription, and one
// forwarder goroutine copies it to the hub's subscribers, without
// blocking, until the member closes. The lifecycle events of every member
// go to Pool.lc as well (the members' hook), which delivers them in order.
//
// Lock order: Pool.resizeMu, then Pool.mu, then a member's locks; hub's
// subMu is taken by the forwarders alone, with no other lock held.

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrPoolClosed is wrapped by the errors of a Pool after its Shutdown:
// calls (with ErrNotReady) and Resize.
var ErrPoolClosed = errors.New("procwire/parent: pool shut down")

// DefaultDrainTimeout bounds how long Resize waits for the requests in
// flight on the instances it removes, when its ctx has no earlier deadline.
const DefaultDrainTimeout = 30 * time.Second

// Pool runs several instances of one worker behind one handle: each
// request goes to the least loaded ready instance (the fewest of the
// pool's requests in flight; among equals, in turn), so a pool of N
// single-threaded workers serves N requests at once. It is safe for
// concurrent use.
//
// Each instance is a Module of its own, named name#k (k counts from 1 and
// is never reused), which is its PROCWIRE_MODULE_NAME, its log attribute
// and its Lifecycle.Module. Each has the heartbeat, restart policy and
// timeouts of the Options given to StartPool. An instance that crashes
// gets no requests until it is ready again (if Options.Restart restarts
// it); the requests in flight on it fail as they would on a Module (an
// error wrapping ErrClosed), the others go on. An instance that closes
// for good (it crashed without Restart, or hit its restart limit) stays in
// the pool as Closed, gets no requests, and is replaced by the next
// Resize.
//
// Options.OnLifecycle and Options.OnStateChange are given to every
// instance: each instance calls them in order, but two instances may call
// them at the same time. Pool.OnLifecycle delivers all the instances'
// events in one order, never concurrently.
type Pool struct {
	// Immutable after StartPool.
	name string
	cmd  Command
	opts Options // as given: each instance fills in the defaults
	log  *slog.Logger
	hub  *Module // the pool's event subscriptions (never spawns)

	route atomic.Pointer[[]*member] // members, for routing; replaced under mu
	next  atomic.Uint64             // where the next search for the least loaded begins

	mu       sync.Mutex
	members  []*member       // guarded by mu: the instances requests go to, by id
	retiring []*member       // guarded by mu: removed by a Resize in progress, not yet shut down
	lastID   int             // guarded by mu: the last instance number given
	names    map[string]bool // guarded by mu: the events subscribed to
	closing  bool            // guarded by mu: Shutdown began

	resizeMu sync.Mutex // held by Resize, and by Shutdown while it shuts the instances down

	lc emitter // every instance's lifecycle events

	// life ends when Shutdown begins: spawns and drains of a Resize in
	// progress give up.
	life     context.Context
	stopLife context.CancelFunc

	wg     sync.WaitGroup // the event forwarders
	closed chan struct{}  // closed when the first Shutdown returns
}

// member is one instance of a pool.
type member struct {
	id       int
	m        *Module
	ready    atomic.Bool   // the module's state is Ready (its StateChange events)
	inflight atomic.Int64  // the pool's requests on it
	requests atomic.Uint64 // requests routed to it
	retired  atomic.Bool   // Resize removed it: take no more requests
	idle     chan struct{} // signalled when inflight falls to zero once retired
}

// release ends one of the member's requests.
func (mem *member) release() {
	if mem.inflight.Add(-1) == 0 && mem.retired.Load() {
		select {
		case mem.idle <- struct{}{}:
		default:
		}
	}
}

// InstanceInfo describes one instance of a Pool (Pool.Instances).
type InstanceInfo struct {
	Name     string // the instance's module name, pool name#k
	PID      int    // the worker's process id, 0 when none runs
	State    State
	InFlight int    // the pool's requests on it now (calls, notifications being sent, open streams)
	Requests uint64 // requests routed to it since it was added
	// Retiring: a Resize removed it; it finishes its requests and is shut
	// down.
	Retiring bool
}

// StartPool spawns size instances of the worker (cmd) in parallel, each a
// Module with opts (see Start), and returns once all are ready. If any
// cannot start, StartPool shuts the others down and returns the errors
// (each a *SpawnError, errors.As finds the first) joined.
func StartPool(ctx context.Context, name string, cmd Command, opts Options, size int) (*Pool, error) {
	if size < 1 {
		return nil, fmt.Errorf("procwire/parent: pool %q: size must be at least 1 (got %d)", name, size)
	}
	full, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	hub, err := newModule(name, Command{}, Options{Logger: full.Logger}, nil)
	if err != nil {
		return nil, err
	}
	p := &Pool{name: name, cmd: cmd, opts: opts, log: full.Logger.With("pool", name), hub: hub, names: make(map[string]bool), closed: make(chan struct{})}
	p.life, p.stopLife = context.WithCancel(context.Background())
	p.route.Store(new([]*member))
	p.resizeMu.Lock()
	err = p.grow(ctx, size)
	p.resizeMu.Unlock()
	if err != nil {
		p.Shutdown(context.Background())
		return nil, err
	}
	return p, nil
}

// Name returns the pool's name.
func (p *Pool) Name() string { return p.name }

// Size returns the number of instances requests may go to, whatever their
// state (not counting those a Resize is removing).
func (p *Pool) Size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.members)
}

// Instances describes every instance: those requests may go to, by
// number, then those a Resize is removing.
func (p *Pool) Instances() []InstanceInfo {
	p.mu.Lock()
	ms := slices.Concat(p.members, p.retiring)
	p.mu.Unlock()
	infos := make([]InstanceInfo, len(ms))
	for i, mem := range ms {
		infos[i] = InstanceInfo{
			Name:     mem.m.Name(),
			PID:      mem.m.PID(),
			State:    mem.m.State(),
			InFlight: int(mem.inflight.Load()),
			Requests: mem.requests.Load(),
			Retiring: mem.retired.Load(),
		}
	}
	return infos
}

// acquire routes one request: it returns the ready member with the fewest
// requests in flight (among equals, the first from a starting point that
// moves on at every request), with the request counted in its inflight, or
// ErrNotReady, wrapped with why, if no member but those in tried is ready.
func (p *Pool) acquire(tried []*member) (*member, error) {
	for {
		ms := *p.route.Load()
		var best *member
		var load int64
		if n := uint64(len(ms)); n > 0 {
			start := p.next.Add(1)
			for i := range n {
				mem := ms[(start+i)%n]
				if !mem.ready.Load() || slices.Contains(tried, mem) {
					continue
				}
				if l := mem.inflight.Load(); best == nil || l < load {
					best, load = mem, l
				}
			}
		}
		if best == nil {
			return nil, p.notReady()
		}
		best.inflight.Add(1)
		if !best.retired.Load() {
			best.requests.Add(1)
			return best, nil
		}
		best.release() // a Resize removed it meanwhile: route again
	}
}

// notReady returns ErrNotReady wrapped with why no instance takes requests.
func (p *Pool) notReady() error {
	p.mu.Lock()
	closing, ms := p.closing, slices.Clone(p.members)
	p.mu.Unlock()
	if closing {
		return fmt.Errorf("%w: pool %q: %w", ErrNotReady, p.name, ErrPoolClosed)
	}
	var why []string
	for _, mem := range ms {
		if _, _, err := mem.m.conn(); err != nil {
			why = append(why, mem.m.Name()+" "+strings.TrimPrefix(err.Error(), ErrNotReady.Error()+" "))
		} else {
			why = append(why, mem.m.Name()+" (ready now)")
		}
	}
	return fmt.Errorf("%w: pool %q: no instance ready: %s", ErrNotReady, p.name, strings.Join(why, ", "))
}

// Call sends a request to a result or ack method of the least loaded ready
// instance and decodes the response into out, as Module.Call. It fails
// with ErrNotReady (wrapped with each instance's state and last exit) when
// no instance is ready. An instance found not ready when the request was
// about to leave (it crashed a moment before) is skipped for another one;
// a request that left is never sent twice.
func (p *Pool) Call(ctx context.Context, method string, in, out any) error {
	return p.onReady(func(m *Module) error { return m.Call(ctx, method, in, out) })
}

// onReady runs send on the least loaded ready instance, and again on another
// one while it fails with ErrNotReady (the instance crashed a moment
// before the request left); it fails with ErrNotReady when none is left.
func (p *Pool) onReady(send func(*Module) error) error {
	var buf [4]*member
	tried := buf[:0]
	for {
		mem, err := p.acquire(tried)
		if err != nil {
			return err
		}
		err = send(mem.m)
		mem.release()
		if err == nil || !errors.Is(err, ErrNotReady) {
			return err
		}
		tried = append(tried, mem)
	}
}

// Ack is Call for ack methods.
func (p *Pool) Ack(ctx context.Context, method string, in, out any) error {
	return p.Call(ctx, method, in, out)
}

// Notify sends a request to a method of response type "none" on the least
// loaded ready instance (see Call).
func (p *Pool) Notify(method string, in any) error {
	return p.onReady(func(m *Module) error { return m.Notify(method, in) })
}

// Stream sends a request to a stream method and yields its chunks, as
// Module.Stream. The instance is chosen when the iteration begins (each
// iteration of the returned sequence is a request of its own), and the
// whole stream runs on it: it counts as one request in flight there until
// the iteration ends. If that instance crashes, the stream fails (an
// error wrapping ErrClosed); it does not move.
func (p *Pool) Stream(ctx context.Context, method string, in any) iter.Seq2[*Chunk, error] {
	return func(yield func(*Chunk, error) bool) {
		var buf [4]*member
		tried := buf[:0]
		for {
			mem, err := p.acquire(tried)
			if err != nil {
				yield(nil, err)
				return
			}
			if !p.streamOn(ctx, mem, method, in, yield) {
				return
			}
			tried = append(tried, mem)
		}
	}
}

// streamOn runs one stream on mem and reports whether mem turned out not
// to be ready before the request left (then nothing was yielded, and the
// caller tries another instance).
func (p *Pool) streamOn(ctx context.Context, mem *member, method string, in any, yield func(*Chunk, error) bool) (notReady bool) {
	defer mem.release()
	first := true
	for c, err := range mem.m.Stream(ctx, method, in) {
		if first && c == nil && errors.Is(err, ErrNotReady) {
			return true
		}
		first = false
		if !yield(c, err) {
			return false
		}
	}
	return false
}

// Subscribe subscribes to an event of every instance, across restarts and
// resizes: the subscription receives its emissions from now until Close or
// the pool's Shutdown. The emissions of one instance arrive in the order it
// emitted them; those of different instances interleave in no defined
// order. An emission that finds C full is dropped (and the drops logged).
func (p *Pool) Subscribe(name string) *Subscription {
	s := p.hub.Subscribe(name)
	p.watch(name)
	return s
}

// watch makes every instance, present and future, forward the named
// event to the pool's subscribers.
func (p *Pool) watch(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closing && !p.names[name] {
		p.names[name] = true
		for _, mem := range p.members {
			p.forward(mem, name)
		}
	}
}

// Events subscribes to an event of every instance and returns the channel
// of its emissions (Subscribe's C), until the pool is shut down.
func (p *Pool) Events(name string) <-chan Event {
	return p.Subscribe(name).C
}

// OnEvent calls fn with each emission of the named event by any instance,
// on a goroutine of its own and never concurrently, until stop is called
// or the pool is shut down (see Module.OnEvent and, for the order,
// Subscribe).
func (p *Pool) OnEvent(name string, fn func(Event)) (stop func()) {
	stop = p.hub.OnEvent(name, fn)
	p.watch(name)
	return stop
}

// forward starts the goroutine that copies one event of mem to the
// pool's subscribers, until mem closes; p.mu is held.
func (p *Pool) forward(mem *member, name string) {
	sub := mem.m.Subscribe(name)
	hub := p.hub
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		var (
			dropped  int
			reported time.Time
		)
		for e := range sub.C {
			hub.subMu.Lock()
			for _, ch := range hub.subs[name] {
				select {
				case ch <- e:
				default:
					dropped++
				}
			}
			hub.subMu.Unlock()
			if dropped > 0 && time.Since(reported) >= dropReportInterval {
				p.log.Warn("procwire/parent: pool event subscriber full; events dropped", "event", name, "instance", mem.m.Name(), "dropped", dropped)
				dropped, reported = 0, time.Now()
			}
		}
		if dropped > 0 {
			p.log.Warn("procwire/parent: pool event subscriber full; events dropped", "event", name, "instance", mem.m.Name(), "dropped", dropped)
		}
	}()
}

// OnLifecycle subscribes fn to the lifecycle events of every instance
// (Lifecycle.Module names the instance), from now on, and returns the
// function that ends the subscription. fn is called in order and never
// concurrently across all instances, never while a lock is held, on the
// goroutine that caused the event; it must not block for long, nor call
// Resize or Shutdown itself.
func (p *Pool) OnLifecycle(fn func(Lifecycle)) (stop func()) {
	return p.lc.subscribe(fn)
}
