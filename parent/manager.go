package parent

// Manager: modules by name, as core's ModuleManager.
//
// Ownership: Manager.mods is guarded by Manager.mu, which is never held
// while a module spawns or shuts down, nor while a lifecycle subscriber
// runs (it may be held while a module's own lock is taken, never the
// other way round). A registration's module is replaced only by spawn,
// after the previous one closed; the replaced one is shut down (it only
// waits for its last goroutines) before the new one starts.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// Errors of a Manager's registry: Register with a name already taken, and
// every method given a name never registered.
var (
	ErrAlreadyRegistered = errors.New("procwire/parent: module already registered")
	ErrNotRegistered     = errors.New("procwire/parent: module not registered")
)

// Manager holds modules by name, as @procwire/core's ModuleManager: a
// module is registered (a name, a Command and Options) and spawned later,
// all at once or one by one, and spawned again after it was shut down or
// closed. The lifecycle events of every module reach the subscribers of
// OnLifecycle. A Manager is safe for concurrent use; the zero value is
// ready to use.
//
// Each spawn makes a new *Module (see Get): one that closed stays closed.
type Manager struct {
	mu   sync.Mutex
	mods map[string]*registration // guarded by mu

	lc emitter // lifecycle events of every module
}

// registration is one registered module.
type registration struct {
	cmd  Command
	opts Options
	mod  *Module // guarded by Manager.mu: the last one spawned, nil before that
}

// NewManager returns an empty Manager.
func NewManager() *Manager { return new(Manager) }

// Register registers a module under a unique name, without spawning it.
// It fails with ErrAlreadyRegistered for a name in use, or if opts are
// invalid (as Start would).
func (g *Manager) Register(name string, cmd Command, opts Options) error {
	if _, err := opts.withDefaults(); err != nil {
		return err
	}
	if cmd.Path == "" {
		return fmt.Errorf("procwire/parent: module %q: executable not configured", name)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.mods[name]; ok {
		return fmt.Errorf("%w: %q", ErrAlreadyRegistered, name)
	}
	if g.mods == nil {
		g.mods = make(map[string]*registration)
	}
	g.mods[name] = &registration{cmd: cmd, opts: opts}
	return nil
}

// Unregister removes a module, shutting it down first if it runs (core's
// unregister with force: true), so that the name can be registered again.
// It fails with ErrNotRegistered for an unknown name.
func (g *Manager) Unregister(ctx context.Context, name string) error {
	return g.shutdownOne(ctx, name, true)
}

// shutdownOne shuts the named module down if it was spawned, removing its
// registration first if unregister is set (then no spawn can replace it:
// the name is gone). An unknown name is ErrNotRegistered.
func (g *Manager) shutdownOne(ctx context.Context, name string, unregister bool) error {
	g.mu.Lock()
	r, ok := g.mods[name]
	var m *Module
	if ok {
		m = r.mod
		if unregister {
			delete(g.mods, name)
		}
	}
	g.mu.Unlock()
	switch {
	case !ok:
		return fmt.Errorf("%w: %q", ErrNotRegistered, name)
	case m == nil:
		return nil
	}
	return m.Shutdown(ctx)
}

// ErrNotSpawned is returned by Get for a module registered but never
// spawned.
var ErrNotSpawned = errors.New("procwire/parent: module not spawned")

// Get returns the module last spawned under name (it may be starting,
// ready, restarting or closed), or an error wrapping ErrNotRegistered or
// ErrNotSpawned.
func (g *Manager) Get(name string) (*Module, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r, ok := g.mods[name]
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: %q", ErrNotRegistered, name)
	case r.mod == nil:
		return nil, fmt.Errorf("%w: %q", ErrNotSpawned, name)
	}
	return r.mod, nil
}

// Names returns the registered names, sorted.
func (g *Manager) Names() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Sorted(maps.Keys(g.mods))
}

// ErrSpawnNotAllowed is returned by Spawn for a module that is running or
// spawning (not closed), as core's spawnNotAllowed.
var ErrSpawnNotAllowed = errors.New("procwire/parent: module running or spawning")

// Spawn spawns the named modules, or every registered one if no name is
// given, in parallel, each with the retries of its Options, and returns
// once all are ready or have failed: the errors joined (errors.Join), in
// the order of the names. A module that failed returns a *SpawnError; an
// unknown name ErrNotRegistered; a module that is running or spawning
// ErrSpawnNotAllowed (a closed or shut down one is spawned again).
func (g *Manager) Spawn(ctx context.Context, names ...string) error {
	if len(names) == 0 {
		names = g.Names()
	}
	return inParallel(names, func(name string) error { return g.spawn(ctx, name) })
}

// spawn spawns one module.
func (g *Manager) spawn(ctx context.Context, name string) error {
	g.mu.Lock()
	r, ok := g.mods[name]
	if !ok {
		g.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrNotRegistered, name)
	}
	old := r.mod
	if old != nil {
		if s := old.State(); s != Closed {
			g.mu.Unlock()
			return fmt.Errorf("%w: %q (state %s)", ErrSpawnNotAllowed, name, s)
		}
	}
	m, err := newModule(name, r.cmd, r.opts, g.lc.emit)
	if err != nil {
		g.mu.Unlock()
		return err
	}
	// The start counts among the module's goroutines before anyone can
	// see the module: a Shutdown waits for it (and cancels it).
	m.wg.Add(1)
	r.mod = m
	g.mu.Unlock()
	defer m.wg.Done()
	if old != nil {
		old.Shutdown(ctx) // closed already: it waits for its last goroutines
	}
	return m.start(ctx)
}

// Shutdown shuts the named modules down, or every registered one if no
// name is given, in parallel, and returns when all have (see
// Module.Shutdown) and every lifecycle event has been delivered: no
// goroutine or process of theirs is left. A spawn in progress gives up.
// An unknown name is an error (ErrNotRegistered), joined with the others.
func (g *Manager) Shutdown(ctx context.Context, names ...string) error {
	if len(names) == 0 {
		names = g.Names()
	}
	err := inParallel(names, func(name string) error {
		return g.shutdownOne(ctx, name, false)
	})
	g.lc.wait()
	return err
}

// inParallel runs fn for every item in parallel and joins the errors in
// the order of the items.
func inParallel[T any](items []T, fn func(T) error) error {
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, item := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(item)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// OnLifecycle subscribes fn to the lifecycle events of every module (each
// names its module), from now on, and returns the function that ends the
// subscription (fn may call it; it does not wait for a call of fn in
// progress). fn is called in order and never concurrently, across all
// modules, never while a lock is held, on the goroutine that caused the
// event; it must not block for long, nor call Shutdown itself.
func (g *Manager) OnLifecycle(fn func(Lifecycle)) (stop func()) {
	return g.lc.subscribe(fn)
}
