package parent_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/parent"
)

// TestManager registers the Go and the Node conformance workers, spawns
// them together, uses them, shuts them down together, spawns one again,
// and checks the errors of unknown and duplicate names, the events of all
// modules in one place, and that nothing is left behind.
func TestManager(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	ctx := context.Background()
	g := parent.NewManager()
	rec := newRecorder()
	stop := g.OnLifecycle(rec.record)
	defer stop()
	for _, w := range workers {
		if err := g.Register(w.name, w.cmd(t), spec()); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Register("go", workers[0].cmd(t), spec()); !errors.Is(err, parent.ErrAlreadyRegistered) {
		t.Errorf("Register twice = %v", err)
	}
	if _, err := g.Get("go"); !errors.Is(err, parent.ErrNotSpawned) {
		t.Errorf("Get before Spawn = %v", err)
	}
	if _, err := g.Get("nope"); !errors.Is(err, parent.ErrNotRegistered) {
		t.Errorf("Get unknown = %v", err)
	}
	if err := g.Spawn(ctx, "nope"); !errors.Is(err, parent.ErrNotRegistered) {
		t.Errorf("Spawn unknown = %v", err)
	}
	if names := g.Names(); !slices.Equal(names, []string{"go", "node"}) {
		t.Errorf("Names = %v", names)
	}

	if err := g.Spawn(ctx); err != nil {
		t.Fatal(err)
	}
	pids := map[string]int{}
	for _, name := range g.Names() {
		m, err := g.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		var s string
		if err := m.Call(ctx, "echo", name, &s); err != nil || s != name {
			t.Errorf("%s: echo = %q, %v", name, s, err)
		}
		pids[name] = m.PID()
	}
	err := g.Spawn(ctx)
	if !errors.Is(err, parent.ErrSpawnNotAllowed) || len(err.(interface{ Unwrap() []error }).Unwrap()) != 2 {
		t.Errorf("Spawn of running modules = %v; want both not allowed", err)
	}

	if err := g.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for name, pid := range pids {
		if alive(pid) {
			t.Errorf("%s (pid %d) alive after Shutdown", name, pid)
		}
		if m, _ := g.Get(name); m.State() != parent.Closed {
			t.Errorf("%s: state %v after Shutdown", name, m.State())
		}
	}
	// Spawned again after Shutdown: a new module.
	old, _ := g.Get("go")
	if err := g.Spawn(ctx, "go"); err != nil {
		t.Fatal(err)
	}
	m, _ := g.Get("go")
	if m == old || m.State() != parent.Ready || m.PID() == pids["go"] {
		t.Errorf("spawned again: same module %v, state %v, pid %d (was %d)", m == old, m.State(), m.PID(), pids["go"])
	}
	if err := g.Shutdown(ctx, "go", "nope"); !errors.Is(err, parent.ErrNotRegistered) {
		t.Errorf("Shutdown with an unknown name = %v", err)
	}
	if m.State() != parent.Closed {
		t.Errorf("state %v after Shutdown(go)", m.State())
	}
	if err := g.Unregister(ctx, "go"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Get("go"); !errors.Is(err, parent.ErrNotRegistered) {
		t.Errorf("Get after Unregister = %v", err)
	}
	if err := g.Unregister(ctx, "go"); !errors.Is(err, parent.ErrNotRegistered) {
		t.Errorf("Unregister twice = %v", err)
	}

	// Every module's events in one place, with its name.
	count := map[string]int{}
	for _, l := range rec.list() {
		count[l.Module+" "+kinds([]parent.Lifecycle{l})[0]]++
	}
	want := map[string]int{"go state:ready": 2, "go state:closed": 2, "node state:ready": 1, "node state:closed": 1}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("%d %q events, want %d; all: %v", count[k], k, n, count)
		}
	}
	rec.check(t)
}

// TestManagerSpawnErrors: Spawn returns every module's error, joined (a
// *SpawnError each), and spawns the others; Register rejects what Start
// would.
func TestManagerSpawnErrors(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	ctx := context.Background()
	g := parent.NewManager()
	defer g.Shutdown(ctx)
	opts := parent.Options{Retries: -1, Logger: quiet()}
	g.Register("good", lifeCmd("serve"), opts)
	g.Register("missing", parent.Command{Path: filepath.Join(t.TempDir(), "no-such-worker")}, opts)
	g.Register("failing", lifeCmd("fail-first", "PROCWIRE_LIFE_MARK="+filepath.Join(t.TempDir(), "runs"), "PROCWIRE_LIFE_FAILS=100"), opts)
	err := g.Spawn(ctx)
	errs := err.(interface{ Unwrap() []error }).Unwrap()
	if len(errs) != 2 {
		t.Fatalf("Spawn = %v; want two errors", err)
	}
	for i, name := range []string{"failing", "missing"} {
		var se *parent.SpawnError
		if !errors.As(errs[i], &se) || se.Module != name || se.Attempts != 1 {
			t.Errorf("error %d = %v; want a *SpawnError of %s", i, errs[i], name)
		}
	}
	if m, err := g.Get("good"); err != nil || m.State() != parent.Ready {
		t.Errorf("good: %v", err)
	}
	if m, _ := g.Get("failing"); m.State() != parent.Closed {
		t.Errorf("failing: state %v", m.State())
	}

	if err := g.Register("empty", parent.Command{}, opts); err == nil {
		t.Error("Register without a path succeeded")
	}
	if err := g.Register("hb", lifeCmd("serve"), parent.Options{Heartbeat: &parent.Heartbeat{}}); err == nil {
		t.Error("Register with a zero heartbeat succeeded")
	}
}

// TestManagerShutdownDuringSpawn: a Shutdown while a module waits for its
// $init cancels the spawn (which fails with a *SpawnError) and kills the
// process; nothing is left behind.
func TestManagerShutdownDuringSpawn(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	ctx := context.Background()
	mark := filepath.Join(t.TempDir(), "pid")
	g := parent.NewManager()
	g.Register("mute", lifeCmd("mute", "PROCWIRE_LIFE_MARK="+mark), parent.Options{Logger: quiet()})
	errc := make(chan error, 1)
	go func() { errc <- g.Spawn(ctx) }()
	pid := waitPIDFile(t, mark, "the worker did not start")
	start := time.Now()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown during a spawn took %v", d)
	}
	var se *parent.SpawnError
	if err := <-errc; !errors.As(err, &se) {
		t.Errorf("Spawn = %v; want a *SpawnError", err)
	}
	if alive(pid) {
		t.Errorf("the worker (pid %d) outlived Shutdown", pid)
	}
}

// TestManagerConcurrent drives one Manager from several goroutines at once
// (Spawn, Shutdown, Get, Names, a call) under the race detector; a last
// Shutdown leaves nothing behind.
func TestManagerConcurrent(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	ctx := context.Background()
	g := parent.NewManager()
	for i := range 3 {
		g.Register(fmt.Sprint("w", i), lifeCmd("serve"), parent.Options{Logger: quiet()})
	}
	var wg sync.WaitGroup
	for i := range 9 { // each operation on each module
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprint("w", i/3)
			for range 3 {
				switch i % 3 {
				case 0:
					g.Spawn(ctx, name)
				case 1:
					g.Shutdown(ctx, name)
				case 2:
					if m, err := g.Get(name); err == nil {
						m.Call(ctx, "echo", 1, nil)
					}
					g.Names()
				}
			}
		}()
	}
	wg.Wait()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range g.Names() {
		if m, err := g.Get(name); err == nil && m.State() != parent.Closed {
			t.Errorf("%s: state %v after Shutdown", name, m.State())
		}
	}
}
