package parent_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/parent"
)

// TestLifecycleCrashAndRestart kills a ready worker: the events say so in
// core's order (disconnected, the crash with its signal, the restart with
// its delay, then starting and ready again), the respawn waits for
// RestartDelay, and the callback is never called concurrently.
func TestLifecycleCrashAndRestart(t *testing.T) {
	eachWorker(t, func(t *testing.T, w worker) {
		rec := newRecorder()
		opts := spec()
		opts.Restart = true
		opts.RestartDelay = 300 * time.Millisecond
		opts.OnLifecycle = rec.record
		m := startWorker(t, w, opts)
		// A subscription on the module sees the same events until stopped.
		sub := newRecorder()
		stop := m.OnLifecycle(sub.record)
		pid := m.PID()
		p, _ := os.FindProcess(pid)
		killed := time.Now()
		p.Kill()
		rec.waitN(t, "ready after the restart", isState(parent.Ready), 2)
		sub.wait(t, "ready after the restart", isState(parent.Ready))
		if d := time.Since(killed); d < opts.RestartDelay {
			t.Errorf("ready again %v after the crash, before RestartDelay %v", d, opts.RestartDelay)
		}
		stop()
		// The socket's close can beat the exit: the parent then kills the
		// dying worker for its lost data channel first, as core does.
		lost := func(k string) bool { return k == "data-channel-loss" }
		got := slices.DeleteFunc(kinds(rec.list()), lost)
		want := []string{"state:ready", "state:disconnected", "crash", "restart", "state:restarting", "state:starting", "state:ready"}
		if !slices.Equal(got, want) {
			t.Errorf("events = %v, want %v", got, want)
		}
		if g := slices.DeleteFunc(kinds(sub.list()), lost); !slices.Equal(g, want[1:]) {
			t.Errorf("Module.OnLifecycle events = %v, want %v", g, want[1:])
		}
		for _, l := range rec.list() {
			if l.Module != "conformance-"+w.name {
				t.Errorf("event %v names module %q", l, l.Module)
			}
			switch l.Kind {
			case parent.Crash:
				if l.ExitCode != -1 || l.Signal != syscall.SIGKILL || l.Err == nil || l.State != parent.Disconnected {
					t.Errorf("crash event = %+v, want exit code -1, SIGKILL, an error, state disconnected", l)
				}
			case parent.Restart:
				if l.Attempt != 1 || l.Delay != opts.RestartDelay || l.Err == nil {
					t.Errorf("restart event = %+v, want attempt 1, delay %v and the crash", l, opts.RestartDelay)
				}
			}
		}
		// After stop, the subscription gets nothing more.
		n := len(sub.list())
		m.Shutdown(context.Background())
		if len(sub.list()) != n {
			t.Errorf("events after stop: %v", kinds(sub.list()[n:]))
		}
		if l := rec.list(); l[len(l)-1].Kind != parent.StateChange || l[len(l)-1].State != parent.Closed {
			t.Errorf("last event after Shutdown = %v, want state closed", l[len(l)-1])
		}
		rec.check(t)
	})
}

// TestRestartLimit: with MaxRestarts 1, the second crash within the
// window closes the module with a RestartLimit event (and an exit code).
func TestRestartLimit(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	rec := newRecorder()
	m, err := parent.Start(context.Background(), "limit", lifeCmd("serve"), parent.Options{
		Restart: true, MaxRestarts: 1, RestartDelay: -1, Logger: quiet(), OnLifecycle: rec.record,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	m.Call(context.Background(), "exit", 7, nil)
	rec.waitN(t, "ready after the first restart", isState(parent.Ready), 2)
	m.Call(context.Background(), "exit", 8, nil)
	limit := rec.wait(t, "restart limit", isKind(parent.RestartLimit))
	rec.wait(t, "closed", isState(parent.Closed))
	if limit.Attempt != 1 || limit.Err == nil || !strings.Contains(limit.Err.Error(), "too many restarts") {
		t.Errorf("restart limit event = %+v", limit)
	}
	var codes []int
	for _, l := range rec.list() {
		if l.Kind == parent.Crash {
			codes = append(codes, l.ExitCode)
			if l.Signal != nil {
				t.Errorf("crash by exit has signal %v", l.Signal)
			}
		}
	}
	if !slices.Equal(codes, []int{7, 8}) {
		t.Errorf("crash exit codes = %v, want [7 8]", codes)
	}
	if m.State() != parent.Closed {
		t.Errorf("state = %v", m.State())
	}
	rec.check(t)
}

// TestSpawnRetries: a worker whose first two runs fail before $init is
// started on the third attempt, after delays doubling from RetryDelay, and
// each retry is an event with its attempt, delay and the error.
func TestSpawnRetries(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	rec := newRecorder()
	mark := filepath.Join(t.TempDir(), "runs")
	m, err := parent.Start(context.Background(), "retry", lifeCmd("fail-first", "PROCWIRE_LIFE_MARK="+mark, "PROCWIRE_LIFE_FAILS=2"), parent.Options{
		RetryDelay: 20 * time.Millisecond, Logger: quiet(), OnLifecycle: rec.record,
	})
	if err != nil {
		t.Fatal(err)
	}
	m.Shutdown(context.Background())
	var retries []parent.Lifecycle
	for _, l := range rec.list() {
		if l.Kind == parent.SpawnRetry {
			retries = append(retries, l)
		}
	}
	if len(retries) != 2 {
		t.Fatalf("events = %v, want two retries", kinds(rec.list()))
	}
	for i, l := range retries {
		if l.Attempt != i+1 || l.Delay != 20*time.Millisecond<<i || l.Err == nil || !strings.Contains(l.Err.Error(), "exit status 5") {
			t.Errorf("retry %d = %+v", i+1, l)
		}
	}
	rec.check(t)
}

// TestSpawnFailure: a worker that never starts fails Start with a
// *SpawnError (attempts and last error), reported as a SpawnFailure; with
// Retries -1 there is one attempt. A schema mismatch is not retried.
func TestSpawnFailure(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	mark := filepath.Join(t.TempDir(), "runs")
	cmd := lifeCmd("fail-first", "PROCWIRE_LIFE_MARK="+mark, "PROCWIRE_LIFE_FAILS=100")
	for _, tt := range []struct {
		retries, attempts int
	}{{2, 3}, {-1, 1}} {
		rec := newRecorder()
		_, err := parent.Start(context.Background(), "never", cmd, parent.Options{
			Retries: tt.retries, RetryDelay: 5 * time.Millisecond, Logger: quiet(), OnLifecycle: rec.record,
		})
		var se *parent.SpawnError
		if !errors.As(err, &se) || se.Attempts != tt.attempts || se.Module != "never" || !strings.Contains(se.Err.Error(), "exit status 5") {
			t.Fatalf("Retries %d: Start = %v; want a *SpawnError after %d attempts", tt.retries, err, tt.attempts)
		}
		f := rec.wait(t, "spawn failure", isKind(parent.SpawnFailure))
		if f.Err != err || f.Attempt != tt.attempts {
			t.Errorf("spawn failure event = %+v", f)
		}
		if l := rec.list(); !isState(parent.Closed)(l[len(l)-1]) {
			t.Errorf("events = %v, want the last one closed", kinds(l))
		}
	}

	start := time.Now()
	opts := spec()
	opts.Methods["nope"] = parent.MethodSpec{}
	_, err := parent.Start(context.Background(), "mismatch", parent.Command{Path: conformance(t)}, opts)
	var se *parent.SpawnError
	if !errors.As(err, &se) || se.Attempts != 1 || !strings.Contains(err.Error(), `did not register expected method "nope"`) {
		t.Errorf("schema mismatch: Start = %v; want one attempt", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("schema mismatch failed after %v: retried", d)
	}
}

// TestHeartbeatFirstPingAtReady: the first $ping goes out when the module
// is ready, not an Interval later: a deaf worker is killed after Timeout
// though Interval is a minute, with a HeartbeatTimeout then a Crash event.
func TestHeartbeatFirstPingAtReady(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	rec := newRecorder()
	self, _ := os.Executable()
	hb := &parent.Heartbeat{Interval: time.Minute, Timeout: 200 * time.Millisecond}
	start := time.Now()
	m, err := parent.Start(context.Background(), "deaf", parent.Command{Path: self, Env: []string{"PROCWIRE_FAKE=deaf"}},
		parent.Options{Heartbeat: hb, Logger: quiet(), OnLifecycle: rec.record})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	rec.wait(t, "closed", isState(parent.Closed))
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the deaf worker was closed after %v", d)
	}
	got := startedKinds(t, rec)
	want := []string{"state:ready", "heartbeat-timeout", "state:disconnected", "crash", "state:closed"}
	if !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
	if l := rec.wait(t, "heartbeat timeout", isKind(parent.HeartbeatTimeout)); l.Delay != hb.Timeout || l.Err == nil || l.State != parent.Ready {
		t.Errorf("heartbeat timeout event = %+v", l)
	}
}

// TestDataChannelLossEvent: a worker that hangs up on the data channel
// is killed, with a DataChannelLoss event before its Crash.
func TestDataChannelLossEvent(t *testing.T) {
	rec := newRecorder()
	m := startFake(t, "hangup", parent.Options{Logger: quiet(), OnLifecycle: rec.record})
	m.Call(context.Background(), "echo", 1, nil)
	rec.wait(t, "closed", isState(parent.Closed))
	got := startedKinds(t, rec)
	want := []string{"state:ready", "data-channel-loss", "state:disconnected", "crash", "state:closed"}
	if !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
	if l := rec.wait(t, "loss", isKind(parent.DataChannelLoss)); l.Err == nil || !strings.Contains(l.Err.Error(), "lost its data channel") {
		t.Errorf("data channel loss event = %+v", l)
	}
}

// TestRequestTimeouts: a method's declared timeout beats the worker's
// schema one, which beats the default; a negative MethodSpec.Timeout
// disables the timeout of that method, a negative RequestTimeout the
// default.
func TestRequestTimeouts(t *testing.T) {
	ctx := context.Background()
	start := func(opts parent.Options) *parent.Module {
		t.Helper()
		opts.Logger = quiet()
		m, err := parent.Start(ctx, "timeouts", lifeCmd("serve"), opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Shutdown(ctx) })
		return m
	}
	testenv.VerifyNoLeaks(t)
	elapsed := func(m *parent.Module, method string, ms int) (time.Duration, error) {
		t0 := time.Now()
		err := m.Call(ctx, method, ms, nil)
		return time.Since(t0), err
	}
	// The schema's 100 ms, whatever the default.
	m := start(parent.Options{RequestTimeout: time.Minute})
	if d, err := elapsed(m, "slow", 600); !errors.Is(err, parent.ErrTimeout) || d > 500*time.Millisecond {
		t.Errorf("schema timeout: %v after %v", err, d)
	}
	// The method's own, shorter or longer than the schema's.
	m = start(parent.Options{Methods: map[string]parent.MethodSpec{"slow": {Timeout: 300 * time.Millisecond}}})
	if _, err := elapsed(m, "slow", 150); err != nil {
		t.Errorf("150 ms within a declared 300 ms: %v", err)
	}
	// Disabled for the method: longer than schema and default.
	m = start(parent.Options{RequestTimeout: 50 * time.Millisecond, Methods: map[string]parent.MethodSpec{"slow": {Timeout: -1}}})
	if _, err := elapsed(m, "slow", 300); err != nil {
		t.Errorf("a disabled timeout: %v", err)
	}
	// The default applies to a method with no other timeout; negative
	// disables it.
	if d, err := elapsed(m, "echo", 0); err != nil || d > time.Second {
		t.Errorf("echo = %v", err)
	}
	d := start(parent.Options{RequestTimeout: -1})
	if _, err := elapsed(d, "echo", 0); err != nil {
		t.Errorf("echo with no default timeout: %v", err)
	}
}

// TestEnvMerged: Command.Env is merged into the parent's environment (its
// entries win), as core does; PROCWIRE_MODULE_NAME is the module's name.
func TestEnvMerged(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	t.Setenv("PW_LIFE_PARENT", "parent")
	t.Setenv("PW_LIFE_BOTH", "parent")
	self, _ := os.Executable()
	m, err := parent.Start(context.Background(), "env", parent.Command{Path: self, Env: []string{
		"PROCWIRE_LIFE=serve", "GORACE=atexit_sleep_ms=0", "PW_LIFE_BOTH=worker", "PROCWIRE_MODULE_NAME=not-this",
	}}, parent.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	for key, want := range map[string]string{"PW_LIFE_PARENT": "parent", "PW_LIFE_BOTH": "worker", "PROCWIRE_MODULE_NAME": "env", "PATH": os.Getenv("PATH")} {
		var got string
		if err := m.Call(context.Background(), "env", key, &got); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", key, got, err, want)
		}
	}
}

// startedKinds returns kinds of the events from the first on which the
// start was not retried: a fake worker (parent_test.go) can fail its
// first start on a loaded machine, which is not these tests' subject.
func startedKinds(t *testing.T, rec *recorder) []string {
	t.Helper()
	got := kinds(rec.list())
	for len(got) > 0 && got[0] == "spawn-retry" {
		t.Logf("the start was retried: %v", rec.list()[len(kinds(rec.list()))-len(got)])
		got = got[1:]
	}
	return got
}

// TestEventUnsubscribe: a Subscription ends with Close (its channel
// closes), an OnEvent callback with its stop function; the other
// subscribers go on, a new subscription after all others ended gets each
// event once, and one made after the module closed is closed already.
func TestEventUnsubscribe(t *testing.T) {
	eachWorker(t, func(t *testing.T, w worker) {
		m := startWorker(t, w, spec())
		ctx := context.Background()
		progress := func(n int) {
			t.Helper()
			if err := m.Call(ctx, "progress", map[string]int{"n": n}, nil); err != nil {
				t.Fatal(err)
			}
		}
		receive := func(ch <-chan parent.Event, n int) {
			t.Helper()
			for i := range n {
				select {
				case _, ok := <-ch:
					if !ok {
						t.Fatalf("event %d: channel closed", i)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("event %d of %d missing", i, n)
				}
			}
		}

		sub := m.Subscribe("progress")
		keep := m.Subscribe("progress")
		var calls atomic.Int32
		stop := m.OnEvent("progress", func(parent.Event) { calls.Add(1) })
		progress(3)
		receive(sub.C, 3)
		receive(keep.C, 3)
		for deadline := time.Now().Add(5 * time.Second); calls.Load() != 3; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("OnEvent: %d calls, want 3", calls.Load())
			}
		}

		sub.Close()
		sub.Close() // twice is fine
		stop()
		if _, ok := <-sub.C; ok {
			t.Fatal("a closed subscription received an event")
		}
		progress(5)
		receive(keep.C, 5) // the events were delivered
		time.Sleep(20 * time.Millisecond)
		if n := calls.Load(); n != 3 {
			t.Errorf("OnEvent after stop: %d calls, want 3", n)
		}

		// With no subscriber left, a new one gets every event once (the
		// forwarder is not started twice).
		keep.Close()
		again := m.Subscribe("progress")
		progress(4)
		receive(again.C, 4)
		time.Sleep(20 * time.Millisecond)
		if n := len(again.C); n != 0 {
			t.Errorf("%d events more than emitted", n)
		}

		m.Shutdown(ctx)
		if _, ok := <-again.C; ok {
			t.Error("subscription open after Shutdown")
		}
		if _, ok := <-m.Subscribe("progress").C; ok {
			t.Error("a subscription to a closed module is open")
		}
		m.OnEvent("progress", func(parent.Event) {})() // ends at once
	})
}
