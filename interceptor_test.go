package procwire_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/procwire/procwire-go"
	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/procwiretest"
)

// TestRequestInfo checks that every kind of handler learns its request's
// metadata from its context, and from contexts derived from it.
func TestRequestInfo(t *testing.T) {
	t.Setenv("PROCWIRE_MODULE_NAME", "thumbnails")
	infos := make(chan procwire.RequestInfo, 10)
	record := func(ctx context.Context) error {
		info, ok := procwire.RequestInfoFromContext(ctx)
		if !ok {
			return errors.New("no request info")
		}
		// Derived contexts keep it.
		derived, cancel := context.WithTimeout(context.WithValue(ctx, testKey{}, 1), time.Minute)
		defer cancel()
		if again, ok := procwire.RequestInfoFromContext(derived); !ok || again != info {
			return fmt.Errorf("derived context: %+v, %v", again, ok)
		}
		infos <- info
		return nil
	}
	w := procwire.NewWorker(procwire.Options{})
	procwire.Handle(w, "result", func(ctx context.Context, _ any) (any, error) { return nil, record(ctx) })
	procwire.HandleStream(w, "stream", func(ctx context.Context, _ any, _ *procwire.Stream[int]) error { return record(ctx) })
	procwire.HandleNotify(w, "none", func(ctx context.Context, _ any) error { return record(ctx) })
	w.HandleFunc("raw", procwire.ResponseAck, func(ctx context.Context, req *procwire.Request, rw *procwire.ResponseWriter) error {
		if info, _ := procwire.RequestInfoFromContext(ctx); info.ID != req.ID || info.Method != req.Method || info.MethodID != req.MethodID {
			return fmt.Errorf("info %+v, request %s #%d id %d", info, req.Method, req.MethodID, req.ID)
		}
		return record(ctx)
	})
	p := procwiretest.New(t, w)
	ctx := context.Background()

	if err := p.Call(ctx, "result", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := drain(p.Stream(ctx, "stream", nil)); err != nil {
		t.Fatal(err)
	}
	if err := p.Notify("none", nil); err != nil {
		t.Fatal(err)
	}
	if err := p.Ack(ctx, "raw", nil, nil); err != nil {
		t.Fatal(err)
	}
	want := map[string]uint16{"result": 1, "stream": 2, "none": 3, "raw": 4}
	ids := map[uint32]bool{}
	for range want {
		info := receive(t, infos)
		if info.Module != "thumbnails" || info.MethodID != want[info.Method] {
			t.Errorf("info %+v", info)
		}
		if (info.ID == 0) != (info.Method == "none") || ids[info.ID] {
			t.Errorf("request id %d for %s (seen: %v)", info.ID, info.Method, ids)
		}
		ids[info.ID] = true
	}
	if _, ok := procwire.RequestInfoFromContext(ctx); ok {
		t.Error("RequestInfoFromContext(Background) reported a request")
	}
}

type testKey struct{}

// recorder is an interceptor that logs what it sees as "name: ..." lines.
type recorder struct {
	name string
	mu   *sync.Mutex
	log  *[]string
}

func (r recorder) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.log = append(*r.log, r.name+": "+fmt.Sprintf(format, args...))
}

func (r recorder) WrapHandler(next procwire.HandlerFunc) procwire.HandlerFunc {
	return func(ctx context.Context, req *procwire.Request, rw *procwire.ResponseWriter) error {
		r.add("handle %s", req.Method)
		err := next(ctx, req, rw)
		var pe *procwire.PanicError
		switch {
		case errors.Is(context.Cause(ctx), procwire.ErrAborted):
			r.add("aborted %s", req.Method)
		case errors.As(err, &pe):
			r.add("panicked %s: %v", pe.Method, pe.Value)
		case err != nil:
			r.add("failed %s: %v", req.Method, err)
		default:
			r.add("handled %s", req.Method)
		}
		return err
	}
}

func (r recorder) WrapSend(next procwire.SendFunc) procwire.SendFunc {
	return func(ctx context.Context, msg procwire.Message) error {
		info, _ := procwire.RequestInfoFromContext(ctx)
		switch {
		case msg.Kind == procwire.MessageError:
			r.add("send %s %s #%d: %v", msg.Kind, msg.Name, info.ID, msg.Err)
		case msg.Raw != nil:
			r.add("send %s %s #%d: raw %q", msg.Kind, msg.Name, info.ID, msg.Raw)
		default:
			r.add("send %s %s #%d: %v", msg.Kind, msg.Name, info.ID, msg.Value)
		}
		err := next(ctx, msg)
		if err != nil {
			r.add("send %s %s failed: %v", msg.Kind, msg.Name, err)
		}
		return err
	}
}

// TestInterceptors runs each kind of request through two interceptors and
// checks what each saw, in which order: the first outermost.
func TestInterceptors(t *testing.T) {
	var (
		mu  sync.Mutex
		log []string
	)
	a, b := recorder{"a", &mu, &log}, recorder{"b", &mu, &log}
	w := procwire.NewWorker(procwire.Options{Interceptors: []procwire.Interceptor{a, b}, Logger: quiet})
	started := make(chan struct{}, 1)
	progress := procwire.NewEvent[int](w, "progress")
	procwire.Handle(w, "ok", func(ctx context.Context, n int) (int, error) { return n + 1, nil })
	procwire.Handle(w, "fail", func(ctx context.Context, _ any) (any, error) { return nil, errors.New("no") })
	procwire.Handle(w, "panic", func(ctx context.Context, _ any) (any, error) { panic("boom") })
	procwire.Handle(w, "wait", func(ctx context.Context, _ any) (any, error) {
		started <- struct{}{}
		<-ctx.Done()
		return nil, context.Cause(ctx)
	})
	procwire.HandleStream(w, "count", func(ctx context.Context, n int, out *procwire.Stream[int]) error {
		for i := range n {
			if err := out.Send(i); err != nil {
				return err
			}
		}
		return out.SendRaw([]byte{0x07})
	})
	procwire.Handle(w, "raw", func(ctx context.Context, in []byte) ([]byte, error) { return in, nil },
		procwire.MethodOptions{Codec: codec.Raw})
	procwire.HandleNotify(w, "emit", func(ctx context.Context, n int) error { return progress.Emit(n) })
	p := procwiretest.New(t, w)
	ctx := context.Background()

	// take returns the log so far and empties it.
	take := func() []string {
		mu.Lock()
		defer mu.Unlock()
		l := log
		log = nil
		return l
	}
	tests := []struct {
		name string
		do   func() error
		want []string
	}{
		{"result", func() error {
			var out int
			if err := p.Call(ctx, "ok", 1, &out); err != nil || out != 2 {
				return fmt.Errorf("ok = %d, %v", out, err)
			}
			return nil
		}, []string{
			"a: handle ok", "b: handle ok", "a: send result ok #1: 2", "b: send result ok #1: 2", "b: handled ok", "a: handled ok",
		}},
		{"error, sent after the handler returned", func() error {
			if err := p.Call(ctx, "fail", nil, nil); err == nil || err.Error() != "no" {
				return fmt.Errorf("fail: %v", err)
			}
			return nil
		}, []string{
			"a: handle fail", "b: handle fail", "b: failed fail: no", "a: failed fail: no", "a: send error fail #2: no", "b: send error fail #2: no",
		}},
		{"panic", func() error {
			if err := p.Call(ctx, "panic", nil, nil); err == nil || !strings.Contains(err.Error(), `panic in handler "panic": boom`) {
				return fmt.Errorf("panic: %v", err)
			}
			return nil
		}, []string{
			"a: handle panic", "b: handle panic", "b: panicked panic: boom", "a: panicked panic: boom",
			`a: send error panic #3: panic in handler "panic": boom`, `b: send error panic #3: panic in handler "panic": boom`,
		}},
		{"stream", func() error {
			n, err := drain(p.Stream(ctx, "count", 2))
			if n != 3 || err != nil {
				return fmt.Errorf("count: %d chunks, %v", n, err)
			}
			return nil
		}, []string{
			"a: handle count", "b: handle count",
			"a: send chunk count #4: 0", "b: send chunk count #4: 0", "a: send chunk count #4: 1", "b: send chunk count #4: 1",
			`a: send chunk count #4: raw ["\a"]`, `b: send chunk count #4: raw ["\a"]`,
			"b: handled count", "a: handled count", "a: send end count #4: <nil>", "b: send end count #4: <nil>",
		}},
		{"raw codec", func() error {
			var out []byte
			if err := p.Call(ctx, "raw", []byte("hi"), &out); err != nil || string(out) != "hi" {
				return fmt.Errorf("raw = %q, %v", out, err)
			}
			return nil
		}, []string{
			"a: handle raw", "b: handle raw", "a: send result raw #5: [104 105]", "b: send result raw #5: [104 105]", "b: handled raw", "a: handled raw",
		}},
		{"event", func() error {
			events := p.Events("progress")
			if err := p.Notify("emit", 7); err != nil {
				return err
			}
			select {
			case <-events:
			case <-time.After(5 * time.Second):
				return errors.New("no event")
			}
			return nil
		}, []string{
			// The request id of an event's context is none: events have no
			// request, even when a handler emits them.
			"a: handle emit", "b: handle emit", "a: send event progress #0: 7", "b: send event progress #0: 7", "b: handled emit", "a: handled emit",
		}},
		{"abort", func() error {
			ctx, cancel := context.WithCancel(ctx)
			go func() {
				<-started
				cancel()
			}()
			if err := p.Call(ctx, "wait", nil, nil); !errors.Is(err, context.Canceled) {
				return fmt.Errorf("wait: %v", err)
			}
			if o, err := p.Handled(context.Background(), "wait"); err != nil || !o.Aborted {
				return fmt.Errorf("wait's outcome %+v, %v", o, err)
			}
			return nil
		}, []string{
			// Nothing is sent for an aborted request.
			"a: handle wait", "b: handle wait", "b: aborted wait", "a: aborted wait",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			take()
			if err := tt.do(); err != nil {
				t.Fatal(err)
			}
			// The log is complete once the request has ended on the
			// worker's side.
			if tt.name != "abort" {
				if _, err := p.Handled(waitCtx(t), ""); err != nil {
					t.Fatal(err)
				}
			}
			if got := take(); !slices.Equal(got, tt.want) {
				t.Errorf("saw\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
		})
	}
}

// TestInterceptorsChangeTheOutcome checks that an interceptor can refuse a
// request without calling the handler, change what is sent, and that its
// own panic becomes an error response like a handler's.
func TestInterceptorsChangeTheOutcome(t *testing.T) {
	var handled []string
	var mu sync.Mutex
	auth := procwire.HandlerInterceptorFunc(func(next procwire.HandlerFunc) procwire.HandlerFunc {
		return func(ctx context.Context, req *procwire.Request, rw *procwire.ResponseWriter) error {
			switch req.Method {
			case "secret":
				return &procwire.Error{Message: "denied", Code: "E_DENIED"}
			case "crash":
				panic("interceptor bug")
			}
			return next(ctx, req, rw)
		}
	})
	redact := procwire.SendInterceptorFunc(func(next procwire.SendFunc) procwire.SendFunc {
		return func(ctx context.Context, msg procwire.Message) error {
			if s, ok := msg.Value.(string); ok {
				msg.Value = strings.ReplaceAll(s, "password", "********")
			}
			return next(ctx, msg)
		}
	})
	w := procwire.NewWorker(procwire.Options{Interceptors: []procwire.Interceptor{nil, auth, redact}, Logger: quiet})
	for _, name := range []string{"secret", "crash", "echo"} {
		procwire.Handle(w, name, func(ctx context.Context, in string) (string, error) {
			mu.Lock()
			handled = append(handled, name)
			mu.Unlock()
			return in, nil
		})
	}
	p := procwiretest.New(t, w)
	ctx := context.Background()

	var re *procwire.Error
	if err := p.Call(ctx, "secret", "x", nil); !errors.As(err, &re) || re.Code != "E_DENIED" {
		t.Fatalf("secret: %v", err)
	}
	if err := p.Call(ctx, "crash", "x", nil); err == nil || !strings.Contains(err.Error(), "interceptor bug") {
		t.Fatalf("crash: %v", err)
	}
	var out string
	if err := p.Call(ctx, "echo", "my password", &out); err != nil || out != "my ********" {
		t.Fatalf("echo = %q, %v", out, err)
	}
	o, err := p.Handled(waitCtx(t), "crash")
	var pe *procwire.PanicError
	if err != nil || !o.Panicked || !errors.As(o.Err, &pe) || pe.Value != "interceptor bug" || len(pe.Stack) == 0 {
		t.Fatalf("crash outcome %+v, %v", o, err)
	}
	if o, err := p.Handled(waitCtx(t), "echo"); err != nil || o.Result != "my ********" {
		t.Fatalf("echo outcome %+v, %v", o, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(handled, []string{"echo"}) {
		t.Errorf("handlers run: %v", handled)
	}
	if st := w.Stats().Methods["crash"]; st.Panics != 1 || st.Errors != 1 {
		t.Errorf("crash stats %+v", st)
	}
}

// waitCtx bounds a wait in a test.
func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// drain counts a stream's chunks until it ends.
func drain[C any](stream func(func(C, error) bool)) (n int, err error) {
	for _, err := range stream {
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// receive returns the next value of ch, failing the test after 5 s.
func receive[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received")
		var zero T
		return zero
	}
}

// quiet is the logger of workers whose handlers panic on purpose.
var quiet = slog.New(slog.DiscardHandler)

// countingWraps counts its Wrap calls.
type countingWraps struct{ handler, send *int }

func (c countingWraps) WrapHandler(next procwire.HandlerFunc) procwire.HandlerFunc {
	*c.handler++
	return next
}

func (c countingWraps) WrapSend(next procwire.SendFunc) procwire.SendFunc {
	*c.send++
	return nil // the same as next
}

// panicWrap panics when asked to wrap a handler.
type panicWrap struct{}

func (panicWrap) WrapHandler(next procwire.HandlerFunc) procwire.HandlerFunc { panic("bad wrap") }
func (panicWrap) WrapSend(next procwire.SendFunc) procwire.SendFunc          { return next }

// TestInterceptorWraps checks that Wrap methods run once per worker, not
// per request, that a nil wrapper keeps next, and that a Wrap that panics
// fails every request instead of serving it unguarded or crashing.
func TestInterceptorWraps(t *testing.T) {
	var handlerWraps, sendWraps int
	w := procwire.NewWorker(procwire.Options{Interceptors: []procwire.Interceptor{countingWraps{&handlerWraps, &sendWraps}}})
	ev := procwire.NewEvent[string](w, "ev")
	if err := ev.Emit("early"); !errors.Is(err, procwire.ErrNotConnected) {
		t.Fatalf("Emit before a parent connected: %v", err)
	}
	procwire.Handle(w, "echo", func(ctx context.Context, in int) (int, error) { return in, nil })
	p := procwiretest.New(t, w)
	for i := range 20 {
		var out int
		if err := p.Call(context.Background(), "echo", i, &out); err != nil || out != i {
			t.Fatalf("echo %d = %d, %v", i, out, err)
		}
	}
	if handlerWraps != 1 || sendWraps != 1 {
		t.Errorf("WrapHandler called %d times, WrapSend %d; want once each", handlerWraps, sendWraps)
	}

	w = procwire.NewWorker(procwire.Options{Interceptors: []procwire.Interceptor{panicWrap{}}, Logger: quiet})
	procwire.Handle(w, "echo", func(ctx context.Context, in int) (int, error) { return in, nil })
	p = procwiretest.New(t, w)
	for range 2 {
		if err := p.Call(context.Background(), "echo", 1, nil); err == nil || !strings.Contains(err.Error(), "interceptor 0 (procwire_test.panicWrap) panicked while wrapping: bad wrap") {
			t.Fatalf("echo with a panicking wrap: %v", err)
		}
	}
}
