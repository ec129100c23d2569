package procwiretest_test

import (
	"context"
	"errors"
	"iter"
	"log/slog"
	"testing"
	"time"

	"github.com/procwire/procwire-go"
	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/procwiretest"
)

type pair struct {
	A int `msgpack:"a"`
	B int `msgpack:"b"`
}

func newWorker() (*procwire.Worker, chan error) {
	w := procwire.NewWorker(procwire.Options{})
	causes := make(chan error, 1)
	progress := procwire.NewEvent[int](w, "progress")
	procwire.Handle(w, "add", func(ctx context.Context, in pair) (int, error) { return in.A + in.B, nil })
	procwire.Handle(w, "raw", func(ctx context.Context, in []byte) ([]byte, error) { return append(in, '!'), nil },
		procwire.MethodOptions{Codec: codec.Raw})
	procwire.HandleAck(w, "ack", func(ctx context.Context, in string) (map[string]string, error) {
		return map[string]string{"got": in}, nil
	})
	procwire.HandleNotify(w, "note", func(ctx context.Context, n int) error { return progress.Emit(n) })
	procwire.HandleStream(w, "count", func(ctx context.Context, n int, out *procwire.Stream[int]) error {
		for i := 0; i < n; i++ {
			if err := out.Send(i); err != nil {
				return err
			}
			progress.Emit(i)
		}
		return nil
	})
	procwire.HandleStream(w, "broken", func(ctx context.Context, in any, out *procwire.Stream[int]) error {
		out.Send(1)
		return &procwire.Error{Message: "broke", Code: "E_BROKE"}
	})
	procwire.Handle(w, "fail", func(ctx context.Context, in any) (any, error) {
		return nil, &procwire.Error{Message: "nope", Code: "E_NOPE", Details: map[string]any{"why": "testing"}}
	})
	procwire.Handle(w, "wait", func(ctx context.Context, in any) (any, error) {
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return nil, ctx.Err()
	})
	procwire.HandleStream(w, "forever", func(ctx context.Context, in any, out *procwire.Stream[int]) error {
		for i := 0; ; i++ {
			if err := out.Send(i); err != nil {
				return err
			}
		}
	})
	return w, causes
}

// receive returns the next value from ch, failing the test with msg if none
// arrives within 2 s.
func receive[T any](t *testing.T, ch <-chan T, msg string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(2 * time.Second):
		t.Fatal(msg)
		var zero T
		return zero
	}
}

// drain counts the chunks of a stream until it ends or fails, and returns
// the count and the stream's error; after max chunks (if max > 0) it
// breaks out instead, which aborts the stream.
func drain[C any](stream iter.Seq2[C, error], max int) (n int, err error) {
	for _, err := range stream {
		if err != nil {
			return n, err
		}
		if n++; n == max {
			break
		}
	}
	return n, nil
}

func TestCallsStreamsAndEvents(t *testing.T) {
	w, _ := newWorker()
	p := procwiretest.New(t, w)
	ctx := context.Background()

	var sum int
	if err := p.Call(ctx, "add", pair{2, 3}, &sum); err != nil || sum != 5 {
		t.Fatalf("add = %d, %v", sum, err)
	}
	var raw []byte
	if err := p.Call(ctx, "raw", []byte("hi"), &raw); err != nil || string(raw) != "hi!" {
		t.Fatalf("raw = %q, %v", raw, err)
	}
	var ack map[string]string
	if err := p.Ack(ctx, "ack", "x", &ack); err != nil || ack["got"] != "x" {
		t.Fatalf("ack = %v, %v", ack, err)
	}

	events := p.Events("progress")
	if err := p.Notify("note", 42); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := receive(t, events, "no event").Decode(&n); err != nil || n != 42 {
		t.Fatalf("event = %d, %v", n, err)
	}

	var got []int
	for v, err := range procwiretest.StreamOf[int](ctx, p, "count", 5) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if len(got) != 5 || got[4] != 4 {
		t.Fatalf("count = %v", got)
	}
	for i := 0; i < 5; i++ {
		if e := <-events; e.Name != "progress" {
			t.Fatalf("event %v", e)
		}
	}
}

func TestErrors(t *testing.T) {
	w, _ := newWorker()
	p := procwiretest.New(t, w)
	ctx := context.Background()
	err := p.Call(ctx, "fail", nil, nil)
	var re *procwire.Error
	if !errors.As(err, &re) || re.Message != "nope" || re.Code != "E_NOPE" || re.Details["why"] != "testing" {
		t.Fatalf("err = %#v", err)
	}
	chunks, err := drain(p.Stream(ctx, "broken", nil), 0)
	if err != nil && (!errors.As(err, &re) || re.Code != "E_BROKE") {
		t.Fatalf("stream error = %v", err)
	}
	if chunks != 1 {
		t.Fatalf("chunks = %d", chunks)
	}
	if err := p.Call(ctx, "missing", nil, nil); err == nil {
		t.Fatal("unknown method accepted")
	}
	if err := p.Call(ctx, "count", 1, nil); err == nil {
		t.Fatal("Call on a stream method accepted")
	}
}

func TestCancellationAborts(t *testing.T) {
	w, causes := newWorker()
	p := procwiretest.New(t, w)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.Call(ctx, "wait", nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Call = %v", err)
	}
	if cause := receive(t, causes, "handler not cancelled"); !errors.Is(cause, procwire.ErrAborted) {
		t.Fatalf("handler cause = %v, want ErrAborted", cause)
	}
	// Breaking out of a stream aborts it; the worker stays usable.
	if _, err := drain(p.Stream(context.Background(), "forever", nil), 1000); err != nil {
		t.Fatal(err)
	}
	var sum int
	if err := p.Call(context.Background(), "add", pair{1, 1}, &sum); err != nil || sum != 2 {
		t.Fatalf("after abort: %d, %v", sum, err)
	}
}

// TestHandled checks that Handled reports how each request ended on the
// worker's side: its result, its error or panic, its chunks, and an abort
// seen by the handler (the cause of its context) or before it started.
func TestHandled(t *testing.T) {
	w := procwire.NewWorker(procwire.Options{MaxConcurrentHandlers: 1, Logger: slog.New(slog.DiscardHandler)})
	procwire.Handle(w, "add", func(ctx context.Context, in pair) (int, error) { return in.A + in.B, nil })
	procwire.Handle(w, "fail", func(ctx context.Context, in any) (any, error) {
		return nil, &procwire.Error{Message: "nope", Code: "E_NOPE"}
	})
	procwire.Handle(w, "panic", func(ctx context.Context, in any) (any, error) { panic("boom") })
	procwire.HandleStream(w, "count", func(ctx context.Context, n int, out *procwire.Stream[int]) error {
		for i := range n {
			if err := out.Send(i); err != nil {
				return err
			}
		}
		return nil
	})
	procwire.Handle(w, "raw", func(ctx context.Context, in []byte) ([]byte, error) { return in, nil }, procwire.MethodOptions{Codec: codec.Raw})
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	procwire.Handle(w, "sleep", func(ctx context.Context, in any) (any, error) {
		started <- struct{}{}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-release:
			return "woke", nil
		}
	})
	p := procwiretest.New(t, w)
	ctx := context.Background()
	wait := func(method string) procwiretest.Outcome {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		o, err := p.Handled(ctx, method)
		if err != nil {
			t.Fatal(err)
		}
		if o.Method != method {
			t.Fatalf("outcome of %s for %s", o.Method, method)
		}
		return o
	}

	if err := p.Call(ctx, "add", pair{2, 3}, nil); err != nil {
		t.Fatal(err)
	}
	if o := wait("add"); !o.Ran || !o.HasResult || o.Result != 5 || o.Err != nil || o.Cause != nil || o.Aborted || o.ID == 0 {
		t.Errorf("add: %+v", o)
	}
	p.Call(ctx, "fail", nil, nil)
	var re *procwire.Error
	if o := wait("fail"); !errors.As(o.Err, &re) || re.Code != "E_NOPE" || o.HasResult || o.Panicked {
		t.Errorf("fail: %+v", o)
	}
	p.Call(ctx, "panic", nil, nil)
	var pe *procwire.PanicError
	if o := wait("panic"); !o.Panicked || !errors.As(o.Err, &pe) || pe.Value != "boom" {
		t.Errorf("panic: %+v", o)
	}
	if n, err := drain(p.Stream(ctx, "count", 3), 0); n != 3 || err != nil {
		t.Fatal(n, err)
	}
	if o := wait("count"); o.Chunks != 3 || o.HasResult || o.Err != nil {
		t.Errorf("count: %+v", o)
	}
	p.Call(ctx, "raw", []byte("hi"), nil)
	if o := wait("raw"); string(o.Result.([]byte)) != "hi" {
		t.Errorf("raw: %+v", o)
	}

	// The parent gives up: the handler's context is cancelled with
	// ErrAborted, and Handled says so once the handler has returned.
	callCtx, cancel := context.WithCancel(ctx)
	go func() {
		<-started
		cancel()
	}()
	if err := p.Call(callCtx, "sleep", nil, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("sleep: %v", err)
	}
	if o := wait("sleep"); !o.Ran || !o.Aborted || !errors.Is(o.Cause, procwire.ErrAborted) || !errors.Is(o.Err, context.Canceled) || o.HasResult {
		t.Errorf("aborted sleep: %+v", o)
	}

	// An abort before the handler started (the one handler slot is busy):
	// the handler never runs.
	done := make(chan error, 1)
	go func() { done <- p.Call(ctx, "sleep", nil, nil) }()
	<-started
	callCtx, cancel = context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	aborts := w.Stats().Aborts
	if err := p.Call(callCtx, "add", pair{1, 1}, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("queued add: %v", err)
	}
	// The abort is on its way: release the slot once the worker read it.
	for deadline := time.Now().Add(10 * time.Second); w.Stats().Aborts == aborts; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the worker did not read the abort")
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if o := wait("sleep"); o.Result != "woke" || o.Aborted {
		t.Errorf("released sleep: %+v", o)
	}
	if o := wait("add"); o.Ran || !o.Aborted || !errors.Is(o.Cause, procwire.ErrAborted) {
		t.Errorf("add aborted in the queue: %+v", o)
	}

	// Nothing more: Handled gives up with ctx, and after Close.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := p.Handled(short, ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Handled with nothing to report: %v", err)
	}
	p.Call(ctx, "add", pair{}, nil)
	p.Close()
	if o, err := p.Handled(ctx, "add"); err != nil || o.Result != 0 {
		t.Errorf("after Close, the outcome recorded before: %+v, %v", o, err)
	}
	if _, err := p.Handled(ctx, "add"); !errors.Is(err, procwiretest.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}
