package parent_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/procwire/procwire-go"
	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/parent"
)

// The test binary run with PROCWIRE_LIFE=mode is the worker of the
// lifecycle, timeout, environment and manager tests (before TestMain:
// parent_test.go's TestMain has the PROCWIRE_FAKE workers).
func init() {
	if mode := os.Getenv("PROCWIRE_LIFE"); mode != "" {
		os.Exit(lifeWorker(mode))
	}
}

// lifeWorker runs as mode says:
//
//   - fail-first: the file PROCWIRE_LIFE_MARK counts the runs; the first
//     PROCWIRE_LIFE_FAILS of them exit with status 5 before $init, the
//     others serve;
//   - mute: writes its pid into PROCWIRE_LIFE_MARK and never sends $init;
//   - serve: serves echo, slow (a schema timeout of 100 ms; sleeps the
//     milliseconds asked, whatever its context says), env (the value of a variable) and exit (exits
//     with the status asked).
func lifeWorker(mode string) int {
	switch mode {
	case "fail-first":
		mark := os.Getenv("PROCWIRE_LIFE_MARK")
		b, _ := os.ReadFile(mark)
		n, _ := strconv.Atoi(string(b))
		os.WriteFile(mark, []byte(strconv.Itoa(n+1)), 0o600)
		if fails, _ := strconv.Atoi(os.Getenv("PROCWIRE_LIFE_FAILS")); n < fails {
			fmt.Fprintln(os.Stderr, "failing on purpose")
			return 5
		}
	case "mute":
		os.WriteFile(os.Getenv("PROCWIRE_LIFE_MARK"), []byte(strconv.Itoa(os.Getpid())), 0o600)
		io.Copy(io.Discard, os.Stdin)
		return 0
	}
	w := procwire.NewWorker(procwire.Options{})
	procwire.Handle(w, "echo", func(ctx context.Context, in any) (any, error) { return in, nil })
	// slow ignores its context (which the SDK ends at the schema timeout),
	// so that the parent's timeouts decide.
	procwire.Handle(w, "slow", func(ctx context.Context, ms int64) (int64, error) {
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return ms, nil
	}, procwire.MethodOptions{Timeout: 100 * time.Millisecond})
	procwire.Handle(w, "env", func(ctx context.Context, key string) (string, error) { return os.Getenv(key), nil })
	procwire.Handle(w, "exit", func(ctx context.Context, code int) (any, error) {
		os.Exit(code)
		return nil, nil
	})
	if err := w.Run(context.Background()); err != nil {
		return 1
	}
	return 0
}

// lifeCmd is the test binary as a life worker in the given mode.
func lifeCmd(mode string, env ...string) parent.Command {
	self, _ := os.Executable()
	return parent.Command{Path: self, Env: testenv.WorkerEnv(append([]string{"PROCWIRE_LIFE=" + mode}, env...)...)}
}

// quiet is a logger that drops everything.
func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// recorder collects lifecycle events, and checks that its callback is
// never called concurrently.
type recorder struct {
	mu      sync.Mutex
	events  []parent.Lifecycle
	calling bool
	overlap bool
	changed chan struct{} // a token per event (never blocks)
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{}, 1)} }

func (r *recorder) record(l parent.Lifecycle) {
	r.mu.Lock()
	if r.calling {
		r.overlap = true
	}
	r.calling = true
	r.mu.Unlock()
	time.Sleep(time.Millisecond) // widen the window of a concurrent call
	r.mu.Lock()
	r.events = append(r.events, l)
	r.calling = false
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// list returns the events so far.
func (r *recorder) list() []parent.Lifecycle {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]parent.Lifecycle(nil), r.events...)
}

// wait waits until an event satisfies ok, and returns it.
func (r *recorder) wait(t *testing.T, what string, ok func(parent.Lifecycle) bool) parent.Lifecycle {
	t.Helper()
	return r.waitN(t, what, ok, 1)
}

// waitN waits until n events satisfy ok, and returns the nth.
func (r *recorder) waitN(t *testing.T, what string, ok func(parent.Lifecycle) bool, n int) parent.Lifecycle {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		seen := 0
		for _, l := range r.list() {
			if ok(l) {
				if seen++; seen == n {
					return l
				}
			}
		}
		select {
		case <-r.changed:
		case <-deadline:
			t.Fatalf("no %s event; events: %v", what, r.list())
		}
	}
}

// check fails t if the callback was ever called concurrently.
func (r *recorder) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.overlap {
		t.Error("lifecycle callback called concurrently")
	}
}

// kinds returns the events as "kind" or "state:<state>" strings.
func kinds(ls []parent.Lifecycle) []string {
	var out []string
	for _, l := range ls {
		if l.Kind == parent.StateChange {
			out = append(out, "state:"+l.State.String())
		} else {
			out = append(out, l.Kind.String())
		}
	}
	return out
}

func isState(s parent.State) func(parent.Lifecycle) bool {
	return func(l parent.Lifecycle) bool { return l.Kind == parent.StateChange && l.State == s }
}

func isKind(k parent.LifecycleKind) func(parent.Lifecycle) bool {
	return func(l parent.Lifecycle) bool { return l.Kind == k }
}
