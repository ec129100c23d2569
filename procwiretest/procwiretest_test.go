package procwiretest_test

import (
	"context"
	"errors"
	"iter"
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
