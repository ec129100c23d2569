package parent_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/parent"
)

// poolSpec is the conformance contract with burn, as the parent declares it.
func poolSpec() parent.Options {
	opts := spec()
	opts.Methods["burn"] = parent.MethodSpec{}
	return opts
}

// startPool starts a pool of size instances of w, shut down when the test
// ends; then none of the processes it ever ran (by pidsOf) may be alive.
func startPool(t *testing.T, w worker, opts parent.Options, size int) *parent.Pool {
	t.Helper()
	cmd := w.cmd(t)
	testenv.VerifyNoLeaks(t)
	p, err := parent.StartPool(context.Background(), "pool-"+w.name, cmd, opts, size)
	if err != nil {
		t.Fatal(err)
	}
	seen := pidsOf(p)
	t.Cleanup(func() {
		if err := p.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown = %v", err)
		}
		for _, pid := range seen {
			if alive(pid) {
				t.Errorf("worker %d outlived the pool's Shutdown", pid)
			}
		}
	})
	return p
}

// pidsOf returns the process ids of the pool's instances.
func pidsOf(p *parent.Pool) []int {
	var pids []int
	for _, in := range p.Instances() {
		if in.PID != 0 {
			pids = append(pids, in.PID)
		}
	}
	return pids
}

// pidInfo is the response of info.
type pidInfo struct {
	PID int `msgpack:"pid"`
}

// callInfo calls info through the pool and returns the pid that answered.
func callInfo(ctx context.Context, p *parent.Pool) (int, error) {
	var out pidInfo
	err := p.Call(ctx, "info", nil, &out)
	return out.PID, err
}

// countHits calls info n times one after the other, pause apart, and
// counts the calls each worker (by pid) answered.
func countHits(t *testing.T, ctx context.Context, p *parent.Pool, n int, pause time.Duration) map[int]int {
	t.Helper()
	hits := map[int]int{}
	for range n {
		pid, err := callInfo(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		hits[pid]++
		time.Sleep(pause)
	}
	return hits
}

// waitFor polls cond every 5 ms until it holds, or fails the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// busyInstance returns the instance with requests in flight, once exactly
// one has.
func busyInstance(t *testing.T, p *parent.Pool) parent.InstanceInfo {
	t.Helper()
	var busy parent.InstanceInfo
	waitFor(t, 5*time.Second, "one busy instance", func() bool {
		n := 0
		for _, in := range p.Instances() {
			if in.InFlight > 0 {
				busy = in
				n++
			}
		}
		return n == 1
	})
	return busy
}

func TestPoolDistribution(t *testing.T) {
	eachWorker(t, func(t *testing.T, w worker) {
		p := startPool(t, w, poolSpec(), 3)
		if p.Size() != 3 || p.Name() != "pool-"+w.name {
			t.Fatalf("Size %d, Name %q", p.Size(), p.Name())
		}
		ins := p.Instances()
		for i, in := range ins {
			if want := fmt.Sprintf("pool-%s#%d", w.name, i+1); in.Name != want || in.State != parent.Ready || in.PID == 0 || in.Retiring {
				t.Errorf("instance %d = %+v, want %s, ready", i, in, want)
			}
		}
		// 200 concurrent calls reach every instance.
		var mu sync.Mutex
		hits := map[int]int{}
		var wg sync.WaitGroup
		for range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pid, err := callInfo(context.Background(), p)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				hits[pid]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		var total uint64
		for _, in := range p.Instances() {
			if hits[in.PID] == 0 {
				t.Errorf("instance %s (pid %d) got no call: %v", in.Name, in.PID, hits)
			}
			if in.Requests != uint64(hits[in.PID]) || in.InFlight != 0 {
				t.Errorf("instance %s: Requests %d, InFlight %d; answered %d", in.Name, in.Requests, in.InFlight, hits[in.PID])
			}
			total += in.Requests
		}
		if len(hits) != 3 || total != 200 {
			t.Errorf("hits %v, %d requests", hits, total)
		}
		// Quick calls one after another take the instances in turn.
		var order []int
		for range 6 {
			pid, err := callInfo(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			order = append(order, pid)
		}
		if order[0] == order[1] || order[1] == order[2] || order[0] == order[2] || !slices.Equal(order[:3], order[3:]) {
			t.Errorf("sequential calls went to %v, want the three in turn", order)
		}
		// Ack and burn too.
		var ack map[string]bool
		if err := p.Ack(context.Background(), "ack", nil, &ack); err != nil || !ack["ok"] {
			t.Errorf("Ack = %v, %v", ack, err)
		}
		var burnt map[string]int
		if err := p.Call(context.Background(), "burn", map[string]any{"ms": 3}, &burnt); err != nil || burnt["ms"] != 3 {
			t.Errorf("burn = %v, %v", burnt, err)
		}
	})
}

func TestPoolLeastLoaded(t *testing.T) {
	eachWorker(t, func(t *testing.T, w worker) {
		p := startPool(t, w, poolSpec(), 3)
		ctx := context.Background()
		slow := make(chan error, 1)
		go func() {
			var out map[string]int
			slow <- p.Call(ctx, "sleep", 800, &out)
		}()
		pinned := busyInstance(t, p)
		hits := countHits(t, ctx, p, 30, 0)
		if hits[pinned.PID] != 0 || len(hits) != 2 {
			t.Errorf("with %s busy, quick calls went to %v", pinned.Name, hits)
		}
		if err := <-slow; err != nil {
			t.Errorf("sleep = %v", err)
		}
		// Two slow calls: the third instance takes the quick ones.
		for range 2 {
			go func() { slow <- p.Call(ctx, "sleep", 500, nil) }()
		}
		waitFor(t, 5*time.Second, "two busy instances", func() bool {
			n := 0
			for _, in := range p.Instances() {
				if in.InFlight == 1 {
					n++
				}
			}
			return n == 2
		})
		var free int
		for _, in := range p.Instances() {
			if in.InFlight == 0 {
				free = in.PID
			}
		}
		for range 10 {
			if pid, err := callInfo(ctx, p); err != nil || pid != free {
				t.Fatalf("quick call went to %d (%v), want the free instance %d", pid, err, free)
			}
		}
		for range 2 {
			if err := <-slow; err != nil {
				t.Error(err)
			}
		}
	})
}

func TestPoolStream(t *testing.T) {
	eachWorker(t, func(t *testing.T, w worker) {
		p := startPool(t, w, poolSpec(), 3)
		ctx := context.Background()
		// StreamOf works on a pool.
		var got []int
		for n, err := range parent.StreamOf[int](ctx, p, "count", map[string]int{"n": 5}) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, n)
		}
		if !slices.Equal(got, []int{0, 1, 2, 3, 4}) {
			t.Fatalf("count = %v", got)
		}
		// An endless stream stays on its instance while the others serve.
		ticks := make(chan int, 1024)
		stop := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			for n, err := range parent.StreamOf[int](ctx, p, "tick", nil) {
				if err != nil {
					done <- err
					return
				}
				ticks <- n
				select {
				case <-stop:
					done <- nil
					return
				default:
				}
			}
			done <- errors.New("tick ended")
		}()
		<-ticks
		pinned := busyInstance(t, p)
		hits := countHits(t, ctx, p, 20, 2*time.Millisecond)
		if hits[pinned.PID] != 0 || len(hits) != 2 {
			t.Errorf("with a stream on %s, calls went to %v", pinned.Name, hits)
		}
		for _, in := range p.Instances() {
			if (in.InFlight == 1) != (in.PID == pinned.PID) {
				t.Errorf("instance %+v during the stream (pinned %s)", in, pinned.Name)
			}
		}
		n := len(ticks)
		time.Sleep(50 * time.Millisecond)
		if len(ticks) <= n {
			t.Errorf("the stream stopped: %d ticks, then %d", n, len(ticks))
		}
		close(stop)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		waitFor(t, 2*time.Second, "the stream's end", func() bool {
			for _, in := range p.Instances() {
				if in.InFlight != 0 {
					return false
				}
			}
			return true
		})
	})
}

func TestPoolEvents(t *testing.T) {
	eachWorker(t, func(t *testing.T, w worker) {
		p := startPool(t, w, poolSpec(), 3)
		ctx := context.Background()
		sub := p.Subscribe("notified")
		events := p.Events("notified")
		for i := range 30 {
			if err := p.Notify("notify", i); err != nil {
				t.Fatal(err)
			}
		}
		for _, in := range p.Instances() {
			if in.Requests != 10 {
				t.Errorf("instance %s got %d notifications, want 10", in.Name, in.Requests)
			}
		}
		for _, c := range []<-chan parent.Event{sub.C, events} {
			seen := map[int]bool{}
			for len(seen) < 30 {
				select {
				case e := <-c:
					var v int
					if err := e.Decode(&v); err != nil || seen[v] {
						t.Fatalf("event %v: %v (seen %v)", v, err, seen)
					}
					seen[v] = true
				case <-time.After(5 * time.Second):
					t.Fatalf("%d of 30 events from the instances", len(seen))
				}
			}
		}
		sub.Close()
		if _, ok := <-sub.C; ok {
			t.Error("Close left C open")
		}
		// OnEvent sees every instance's events.
		var mu sync.Mutex
		count := 0
		stop := p.OnEvent("progress", func(parent.Event) {
			mu.Lock()
			count++
			mu.Unlock()
		})
		var wg sync.WaitGroup
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := p.Call(ctx, "progress", map[string]int{"n": 20}, nil); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		waitFor(t, 5*time.Second, "120 progress events", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return count == 120
		})
		stop()
	})
}

func TestPoolCrashAndRestart(t *testing.T) {
	eachWorker(t, func(t *testing.T, w worker) {
		opts := poolSpec()
		opts.Restart = true
		opts.RestartDelay = 200 * time.Millisecond
		p := startPool(t, w, opts, 3)
		var mu sync.Mutex
		var crashes []string
		p.OnLifecycle(func(l parent.Lifecycle) {
			if l.Kind == parent.Crash {
				mu.Lock()
				crashes = append(crashes, l.Module)
				mu.Unlock()
			}
		})
		victim := p.Instances()[0]
		healthy := pidsOf(p)[1:]

		var (
			stop   atomic.Bool
			wg     sync.WaitGroup
			served sync.Map // pid → true
			failMu sync.Mutex
			fails  []error
		)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					pid, err := callInfo(context.Background(), p)
					if err != nil {
						failMu.Lock()
						fails = append(fails, err)
						failMu.Unlock()
						continue
					}
					served.Store(pid, true)
				}
			}()
		}
		time.Sleep(50 * time.Millisecond)
		proc, _ := os.FindProcess(victim.PID)
		proc.Signal(syscall.SIGKILL)
		var restarted parent.InstanceInfo
		waitFor(t, 10*time.Second, "the restart", func() bool {
			restarted = p.Instances()[0]
			return restarted.State == parent.Ready && restarted.PID != victim.PID && restarted.PID != 0
		})
		waitFor(t, 5*time.Second, "a call served by the new instance", func() bool {
			_, ok := served.Load(restarted.PID)
			return ok
		})
		stop.Store(true)
		wg.Wait()
		for _, pid := range healthy {
			if _, ok := served.Load(pid); !ok {
				t.Errorf("healthy instance %d served nothing", pid)
			}
		}
		// The only failures are calls that were on the killed instance.
		for _, err := range fails {
			if !errors.Is(err, parent.ErrClosed) || !strings.Contains(err.Error(), "killed") {
				t.Errorf("call failed: %v", err)
			}
		}
		t.Logf("%d calls failed with the killed instance", len(fails))
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(crashes, []string{victim.Name}) {
			t.Errorf("crash events %v, want %s", crashes, victim.Name)
		}
	})
}

func TestPoolNotReady(t *testing.T) {
	w := workers[0]
	opts := poolSpec()
	opts.Restart = true
	opts.RestartDelay = 300 * time.Millisecond
	p := startPool(t, w, opts, 1)
	pid := pidsOf(p)[0]
	proc, _ := os.FindProcess(pid)
	proc.Kill()
	waitFor(t, 2*time.Second, "the crash", func() bool { return p.Instances()[0].State != parent.Ready })
	_, err := callInfo(context.Background(), p)
	if !errors.Is(err, parent.ErrNotReady) || !strings.Contains(err.Error(), "pool-go#1 (state ") || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("call during the restart = %v, want ErrNotReady naming the instance, its state and exit", err)
	}
	for _, err := range p.Stream(context.Background(), "count", map[string]int{"n": 1}) {
		if !errors.Is(err, parent.ErrNotReady) {
			t.Fatalf("stream during the restart = %v", err)
		}
	}
	if err := p.Notify("notify", 1); !errors.Is(err, parent.ErrNotReady) {
		t.Fatalf("notify during the restart = %v", err)
	}
	waitFor(t, 5*time.Second, "the restart", func() bool { return p.Instances()[0].State == parent.Ready })
	if _, err := callInfo(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

// TestPoolReplacesClosed: an instance that closed for good (no restart)
// stays in the pool, gets nothing, and the next Resize replaces it.
func TestPoolReplacesClosed(t *testing.T) {
	w := workers[0]
	p := startPool(t, w, poolSpec(), 2)
	first := p.Instances()[0]
	proc, _ := os.FindProcess(first.PID)
	proc.Kill()
	waitFor(t, 2*time.Second, "the close", func() bool { return p.Instances()[0].State == parent.Closed })
	for range 5 {
		if pid, err := callInfo(context.Background(), p); err != nil || pid == first.PID {
			t.Fatalf("call = %d, %v", pid, err)
		}
	}
	if p.Size() != 2 {
		t.Fatalf("Size = %d with a closed instance, want 2", p.Size())
	}
	if err := p.Resize(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	ins := p.Instances()
	if len(ins) != 2 || ins[0].Name != "pool-go#2" || ins[1].Name != "pool-go#3" || ins[1].State != parent.Ready {
		t.Fatalf("after Resize: %+v", ins)
	}
}

func TestPoolResize(t *testing.T) {
	eachWorker(t, func(t *testing.T, w worker) {
		p := startPool(t, w, poolSpec(), 2)
		events := p.Events("notified")
		var (
			stop   atomic.Bool
			wg     sync.WaitGroup
			calls  atomic.Int64
			failMu sync.Mutex
			fails  []error
			pidMu  sync.Mutex
			served = map[int]bool{}
		)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					var err error
					if i%2 == 0 { // slow calls: some are in flight on every instance removed
						err = p.Call(context.Background(), "sleep", 20, nil)
					} else {
						var pid int
						pid, err = callInfo(context.Background(), p)
						pidMu.Lock()
						served[pid] = true
						pidMu.Unlock()
					}
					calls.Add(1)
					if err != nil {
						failMu.Lock()
						fails = append(fails, err)
						failMu.Unlock()
					}
				}
			}()
		}
		time.Sleep(50 * time.Millisecond)
		if err := p.Resize(context.Background(), 4); err != nil {
			t.Fatal(err)
		}
		if p.Size() != 4 || len(p.Instances()) != 4 {
			t.Fatalf("after growing: Size %d, %+v", p.Size(), p.Instances())
		}
		grown := pidsOf(p)
		waitFor(t, 5*time.Second, "calls on the new instances", func() bool {
			pidMu.Lock()
			defer pidMu.Unlock()
			return served[grown[2]] && served[grown[3]]
		})
		// Events come from the new instances too.
		for i := range 40 {
			if err := p.Notify("notify", i); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 40 {
			select {
			case <-events:
			case <-time.After(5 * time.Second):
				t.Fatalf("%d of 40 events after growing", i)
			}
		}
		before := calls.Load()
		if err := p.Resize(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
		ins := p.Instances()
		if p.Size() != 1 || len(ins) != 1 || ins[0].Retiring {
			t.Fatalf("after shrinking: Size %d, %+v", p.Size(), ins)
		}
		for _, pid := range grown {
			if pid != ins[0].PID && alive(pid) {
				t.Errorf("removed instance %d still runs", pid)
			}
		}
		waitFor(t, 5*time.Second, "calls after shrinking", func() bool { return calls.Load() > before+20 })
		if err := p.Resize(context.Background(), 0); err == nil {
			t.Error("Resize(0) succeeded")
		}
		if err := p.Resize(context.Background(), 2); err != nil {
			t.Fatal(err)
		}
		stop.Store(true)
		wg.Wait()
		for _, err := range fails {
			t.Errorf("call failed during the resizes: %v", err)
		}
		t.Logf("%d calls during the resizes", calls.Load())
	})
}

// TestPoolResizeDrainTimeout: a request longer than Resize's ctx fails
// with ErrClosed when its instance is removed, and Resize says why.
func TestPoolResizeDrainTimeout(t *testing.T) {
	p := startPool(t, workers[0], poolSpec(), 2)
	slow := make(chan error, 2)
	go func() { slow <- p.Call(context.Background(), "sleep", 5000, nil) }()
	busyInstance(t, p)
	// Both instances hold a request: the one without the slow call
	// would be chosen otherwise.
	go func() { slow <- p.Call(context.Background(), "sleep", 5000, nil) }()
	waitFor(t, 5*time.Second, "two busy instances", func() bool {
		ins := p.Instances()
		return ins[0].InFlight == 1 && ins[1].InFlight == 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := p.Resize(ctx, 1)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
		t.Fatalf("Resize = %v after %v", err, time.Since(start))
	}
	if err := <-slow; !errors.Is(err, parent.ErrClosed) {
		t.Fatalf("the removed instance's call = %v, want ErrClosed", err)
	}
	// Among equals the newest goes.
	if ins := p.Instances(); len(ins) != 1 || ins[0].Name != "pool-go#1" {
		t.Fatalf("after Resize: %+v", ins)
	}
}

func TestPoolShutdown(t *testing.T) {
	eachWorker(t, func(t *testing.T, w worker) {
		p := startPool(t, w, poolSpec(), 2)
		ctx := context.Background()
		pids := pidsOf(p)
		events := p.Events("notified")
		called := make(chan struct{})
		var once sync.Once
		p.OnEvent("notified", func(parent.Event) { once.Do(func() { close(called) }) })
		if err := p.Notify("notify", 1); err != nil {
			t.Fatal(err)
		}
		<-called
		inflight := make(chan error, 2)
		go func() { inflight <- p.Call(ctx, "sleep", 1000, nil) }() // Node exits once the timer fires
		go func() {
			for _, err := range p.Stream(ctx, "tick", nil) {
				if err != nil {
					inflight <- err
					return
				}
			}
			inflight <- nil
		}()
		waitFor(t, 5*time.Second, "two requests in flight", func() bool {
			ins := p.Instances()
			return ins[0].InFlight+ins[1].InFlight == 2
		})
		// A Resize in progress gives up.
		resized := make(chan error, 1)
		go func() { resized <- p.Resize(ctx, 4) }()
		if err := p.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		<-resized
		for range 2 {
			if err := <-inflight; !errors.Is(err, parent.ErrClosed) {
				t.Errorf("request in flight at Shutdown = %v, want ErrClosed", err)
			}
		}
		for _, pid := range pids {
			if alive(pid) {
				t.Errorf("worker %d outlived Shutdown", pid)
			}
		}
		if _, err := callInfo(ctx, p); !errors.Is(err, parent.ErrNotReady) || !errors.Is(err, parent.ErrPoolClosed) {
			t.Errorf("call after Shutdown = %v", err)
		}
		if err := p.Resize(ctx, 2); !errors.Is(err, parent.ErrPoolClosed) {
			t.Errorf("Resize after Shutdown = %v", err)
		}
		for range events {
		}
		if _, ok := <-p.Events("notified"); ok {
			t.Error("a subscription after Shutdown is open")
		}
		if err := p.Shutdown(ctx); err != nil || p.Size() != 0 || len(p.Instances()) != 0 {
			t.Errorf("second Shutdown = %v; Size %d", err, p.Size())
		}
	})
}

func TestPoolStartErrors(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	ctx := context.Background()
	if _, err := parent.StartPool(ctx, "p", parent.Command{Path: conformance(t)}, spec(), 0); err == nil {
		t.Error("StartPool of size 0 succeeded")
	}
	if _, err := parent.StartPool(ctx, "p", parent.Command{Path: conformance(t)}, parent.Options{Heartbeat: &parent.Heartbeat{}}, 2); err == nil {
		t.Error("StartPool with an invalid heartbeat succeeded")
	}
	_, err := parent.StartPool(ctx, "p", parent.Command{Path: "/nonexistent/worker"}, parent.Options{Retries: -1, Logger: spec().Logger}, 2)
	var se *parent.SpawnError
	if !errors.As(err, &se) || !strings.HasPrefix(se.Module, "p#") {
		t.Fatalf("StartPool of a missing worker = %v, want a *SpawnError", err)
	}
	// A worker whose schema lacks a declared method: every instance fails,
	// and the ones that started are shut down.
	opts := spec()
	opts.Methods["nope"] = parent.MethodSpec{}
	if _, err := parent.StartPool(ctx, "p", parent.Command{Path: conformance(t)}, opts, 3); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("StartPool with a missing method = %v", err)
	}
}
