package procwire_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/procwire/procwire-go"
	"github.com/procwire/procwire-go/procwiretest"
)

// logRequests logs one line per request with slog: the module, method and
// request id from the context, how long the handler took and how it ended.
func logRequests(log *slog.Logger) procwire.Interceptor {
	return procwire.HandlerInterceptorFunc(func(next procwire.HandlerFunc) procwire.HandlerFunc {
		return func(ctx context.Context, req *procwire.Request, rw *procwire.ResponseWriter) error {
			start := time.Now()
			err := next(ctx, req, rw)
			info, _ := procwire.RequestInfoFromContext(ctx)
			attrs := []any{"module", info.Module, "method", info.Method, "id", info.ID, "duration", time.Since(start)}
			var pe *procwire.PanicError
			switch {
			case errors.Is(context.Cause(ctx), procwire.ErrAborted):
				log.Info("request aborted", attrs...)
			case errors.As(err, &pe):
				log.Error("request panicked", append(attrs, "panic", pe.Value)...)
			case err != nil:
				log.Warn("request failed", append(attrs, "error", err)...)
			default:
				log.Info("request", attrs...)
			}
			return err
		}
	})
}

// An interceptor that logs every request with log/slog. (The example's
// output leaves out the time and the duration.)
func ExampleInterceptor_logging() {
	os.Setenv("PROCWIRE_MODULE_NAME", "greeter") // what a Procwire parent sets
	defer os.Unsetenv("PROCWIRE_MODULE_NAME")
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration" {
				return slog.Attr{}
			}
			return a
		},
	}))

	w := procwire.NewWorker(procwire.Options{
		Interceptors: []procwire.Interceptor{logRequests(log)},
		Logger:       slog.New(slog.DiscardHandler),
	})
	procwire.Handle(w, "greet", func(ctx context.Context, name string) (string, error) {
		if name == "" {
			return "", errors.New("no name")
		}
		return "hello, " + name, nil
	})

	p := procwiretest.New(&testing.T{}, w) // in a test, its *testing.T
	defer p.Close()
	p.Call(context.Background(), "greet", "Ada", nil)
	p.Call(context.Background(), "greet", "", nil)
	p.Handled(context.Background(), "greet") // the log lines are written
	p.Handled(context.Background(), "greet")
	// Output:
	// level=INFO msg=request module=greeter method=greet id=1
	// level=WARN msg="request failed" module=greeter method=greet id=2 error="no name"
}

// errorCounter counts the requests that failed, per method.
type errorCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

// Interceptor returns the interceptor that counts.
func (c *errorCounter) Interceptor() procwire.Interceptor {
	return procwire.HandlerInterceptorFunc(func(next procwire.HandlerFunc) procwire.HandlerFunc {
		return func(ctx context.Context, req *procwire.Request, rw *procwire.ResponseWriter) error {
			err := next(ctx, req, rw)
			if err != nil {
				c.mu.Lock()
				c.counts[req.Method]++
				c.mu.Unlock()
			}
			return err
		}
	})
}

// An interceptor that counts errors per method (a panic is an error too).
func ExampleInterceptor_errorCount() {
	errs := &errorCounter{counts: map[string]int{}}
	w := procwire.NewWorker(procwire.Options{
		Interceptors: []procwire.Interceptor{errs.Interceptor()},
		Logger:       slog.New(slog.DiscardHandler),
	})
	procwire.Handle(w, "div", func(ctx context.Context, in [2]int) (int, error) {
		if in[1] == 0 {
			return 0, procwire.Errorf("E_DIV_ZERO", "division by zero")
		}
		return in[0] / in[1], nil
	})
	procwire.Handle(w, "crash", func(ctx context.Context, _ any) (any, error) { panic("bug") })

	p := procwiretest.New(&testing.T{}, w) // in a test, its *testing.T
	defer p.Close()
	ctx := context.Background()
	for _, in := range [][2]int{{6, 3}, {1, 0}, {2, 0}} {
		p.Call(ctx, "div", in, nil)
	}
	p.Call(ctx, "crash", nil, nil)
	for range 4 {
		p.Handled(ctx, "") // every request has ended
	}

	errs.mu.Lock()
	defer errs.mu.Unlock()
	for _, method := range slices.Sorted(maps.Keys(errs.counts)) {
		fmt.Println(method, errs.counts[method])
	}
	// Output:
	// crash 1
	// div 2
}

// A handler that learns which request it serves from its context.
func ExampleRequestInfoFromContext() {
	w := procwire.NewWorker(procwire.Options{})
	procwire.Handle(w, "whoami", func(ctx context.Context, _ any) (string, error) {
		info, _ := procwire.RequestInfoFromContext(ctx)
		return fmt.Sprintf("%s (method %d), request %d", info.Method, info.MethodID, info.ID), nil
	})

	p := procwiretest.New(&testing.T{}, w) // in a test, its *testing.T
	defer p.Close()
	var out string
	p.Call(context.Background(), "whoami", nil, &out)
	fmt.Println(out)
	// Output: whoami (method 1), request 1
}
