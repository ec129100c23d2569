package procwire

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/wire"
)

// conn is one data-plane connection of the fake parent.
type conn struct {
	t  *testing.T
	nc net.Conn
	r  *wire.Reader
	w  *wire.Writer
}

func (p *fakeParent) dial() *conn {
	p.t.Helper()
	nc, err := testenv.Dial(p.init.Pipe)
	if err != nil {
		p.t.Fatalf("dial %s: %v", p.init.Pipe, err)
	}
	p.t.Cleanup(func() { nc.Close() })
	return &conn{t: p.t, nc: nc, r: wire.NewReader(nc, 0, 0), w: wire.NewWriter(nc)}
}

func (c *conn) send(method uint16, id uint32, payload []byte) {
	c.t.Helper()
	if _, err := c.w.WriteFrame(wire.Header{Method: method, RequestID: id}, payload); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *conn) sendValue(method uint16, id uint32, v any) {
	c.t.Helper()
	b, err := codec.MsgPack.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(method, id, b)
}

// recv reads the next frame, failing the test after d.
func (c *conn) recv(d time.Duration) (wire.Header, []byte) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(d))
	h, p, err := c.r.ReadFrame()
	if err != nil {
		c.t.Fatalf("recv: %v", err)
	}
	return h, p
}

// recvErr reads the next frame and returns the error instead of failing.
func (c *conn) recvErr(d time.Duration) (wire.Header, []byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(d))
	return c.r.ReadFrame()
}

// receive returns the next value from ch, failing the test with msg if
// none arrives within d.
func receive[T any](t *testing.T, ch <-chan T, d time.Duration, msg string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatal(msg)
		var zero T
		return zero
	}
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := codec.MsgPack.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %x: %v", b, err)
	}
	return v
}

// expectClosed checks that the worker closed the connection.
func (c *conn) expectClosed(d time.Duration) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(d))
	var b [1]byte
	for {
		_, err := c.nc.Read(b[:])
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("connection still open after %v", d)
		}
		return
	}
}

// basicWorker registers a small set of methods used by several tests.
func basicWorker(w *Worker) {
	Handle(w, "echo", func(ctx context.Context, in any) (any, error) { return in, nil })
	HandleAck(w, "ack", func(ctx context.Context, in any) (any, error) { return nil, nil })
	HandleStream(w, "count", func(ctx context.Context, n int, out *Stream[int]) error {
		for i := 0; i < n; i++ {
			if err := out.Send(i); err != nil {
				return err
			}
		}
		return nil
	})
	HandleStream(w, "streamFail", func(ctx context.Context, in any, out *Stream[int]) error {
		out.Send(7)
		return errors.New("stream broke")
	})
	Handle(w, "fail", func(ctx context.Context, in string) (any, error) { return nil, errors.New("failed: " + in) })
	Handle(w, "structured", func(ctx context.Context, in any) (any, error) {
		return nil, &Error{Message: "bad thing", Code: "E_BAD", Details: map[string]any{"input": in}}
	})
	Handle(w, "panic", func(ctx context.Context, in any) (any, error) { panic("boom") })
	Handle(w, "raw", func(ctx context.Context, in []byte) ([]byte, error) { return in, nil }, MethodOptions{Codec: codec.Raw})
	Handle(w, "wait", func(ctx context.Context, in any) (any, error) {
		<-ctx.Done()
		return nil, context.Cause(ctx)
	})
}

func TestRequestsAndResponses(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	p := startWorker(t, Options{}, basicWorker)
	c := p.dial()

	tests := []struct {
		name      string
		method    string
		id        uint32
		payload   any
		raw       []byte
		wantFlags []wire.Flags
		check     func(t *testing.T, payloads [][]byte)
	}{
		{name: "result echoes the value", method: "echo", id: 1, payload: map[string]any{"a": 1.5, "b": "x"},
			wantFlags: []wire.Flags{wire.FlagsResult},
			check: func(t *testing.T, ps [][]byte) {
				got := decode[map[string]any](t, ps[0])
				if got["a"] != 1.5 || got["b"] != "x" {
					t.Errorf("echo = %v", got)
				}
			}},
		{name: "request id 0xFFFFFFFF is echoed", method: "echo", id: 0xFFFFFFFF, payload: "max",
			wantFlags: []wire.Flags{wire.FlagsResult}},
		{name: "ack without data is msgpack nil", method: "ack", id: 2, payload: nil,
			wantFlags: []wire.Flags{wire.FlagsAck},
			check: func(t *testing.T, ps [][]byte) {
				if string(ps[0]) != "\xc0" {
					t.Errorf("ack payload = %x, want c0", ps[0])
				}
			}},
		{name: "stream sends chunks then an empty end", method: "count", id: 3, payload: 3,
			wantFlags: []wire.Flags{wire.FlagsStreamChunk, wire.FlagsStreamChunk, wire.FlagsStreamChunk, wire.FlagsStreamEnd},
			check: func(t *testing.T, ps [][]byte) {
				for i := 0; i < 3; i++ {
					if v := decode[int](t, ps[i]); v != i {
						t.Errorf("chunk %d = %d", i, v)
					}
				}
				if len(ps[3]) != 0 {
					t.Errorf("stream end payload = %x, want empty", ps[3])
				}
			}},
		{name: "stream error carries the stream bit", method: "streamFail", id: 4, payload: nil,
			wantFlags: []wire.Flags{wire.FlagsStreamChunk, wire.FlagsStreamError},
			check: func(t *testing.T, ps [][]byte) {
				if msg := decode[string](t, ps[1]); msg != "stream broke" {
					t.Errorf("stream error = %q", msg)
				}
			}},
		{name: "an error is sent as its message", method: "fail", id: 5, payload: "x",
			wantFlags: []wire.Flags{wire.FlagsError},
			check: func(t *testing.T, ps [][]byte) {
				if msg := decode[string](t, ps[0]); msg != "failed: x" {
					t.Errorf("error = %q", msg)
				}
			}},
		{name: "a structured error is sent as a map", method: "structured", id: 6, payload: "in",
			wantFlags: []wire.Flags{wire.FlagsError},
			check: func(t *testing.T, ps [][]byte) {
				m := decode[map[string]any](t, ps[0])
				if m["message"] != "bad thing" || m["code"] != "E_BAD" || m["input"] != "in" {
					t.Errorf("structured error = %v", m)
				}
			}},
		{name: "a panic becomes an error", method: "panic", id: 7, payload: nil,
			wantFlags: []wire.Flags{wire.FlagsError},
			check: func(t *testing.T, ps [][]byte) {
				if msg := decode[string](t, ps[0]); !strings.Contains(msg, "boom") {
					t.Errorf("panic error = %q", msg)
				}
			}},
		{name: "a payload that does not decode fails that request", method: "fail", id: 8, raw: []byte{0xc1},
			wantFlags: []wire.Flags{wire.FlagsError},
			check: func(t *testing.T, ps [][]byte) {
				m := decode[map[string]any](t, ps[0])
				if m["code"] != CodeBadRequest || m["message"] != "fail: want string, got the invalid byte 0xc1" {
					t.Errorf("decode error = %v", m)
				}
			}},
		{name: "raw bytes come back unchanged", method: "raw", id: 9, raw: []byte{0, 1, 2, 0xff},
			wantFlags: []wire.Flags{wire.FlagsResult},
			check: func(t *testing.T, ps [][]byte) {
				if string(ps[0]) != "\x00\x01\x02\xff" {
					t.Errorf("raw = %x", ps[0])
				}
			}},
		{name: "raw empty payload gives an empty result", method: "raw", id: 10, raw: []byte{},
			wantFlags: []wire.Flags{wire.FlagsResult},
			check: func(t *testing.T, ps [][]byte) {
				if len(ps[0]) != 0 {
					t.Errorf("raw = %x", ps[0])
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.raw != nil {
				c.send(p.methodID(tt.method), tt.id, tt.raw)
			} else {
				c.sendValue(p.methodID(tt.method), tt.id, tt.payload)
			}
			var payloads [][]byte
			for i, want := range tt.wantFlags {
				h, pl := c.recv(5 * time.Second)
				if h.Flags != want || h.RequestID != tt.id || h.Method != p.methodID(tt.method) {
					t.Fatalf("frame %d = %v, want flags %v request %d method %d", i, h, want, tt.id, p.methodID(tt.method))
				}
				payloads = append(payloads, pl)
			}
			if tt.check != nil {
				tt.check(t, payloads)
			}
		})
	}
	// The worker still serves after all of that.
	c.sendValue(p.methodID("echo"), 99, "alive")
	if h, pl := c.recv(5 * time.Second); h.RequestID != 99 || decode[string](t, pl) != "alive" {
		t.Fatalf("after errors: %v %x", h, pl)
	}
	if err := p.stop(); err != nil {
		t.Errorf("Run = %v after stdin EOF, want nil", err)
	}
}

func TestUnknownMethodID(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	p := startWorker(t, Options{}, basicWorker)
	c := p.dial()
	c.sendValue(999, 5, nil)
	h, pl := c.recv(5 * time.Second)
	if h.Flags != wire.FlagsError || h.RequestID != 5 || h.Method != 999 {
		t.Fatalf("got %v", h)
	}
	if msg := decode[string](t, pl); msg != "Unknown method ID: 999" {
		t.Errorf("message = %q", msg)
	}
	// Without a request id nothing is answered; the next request is.
	c.sendValue(999, 0, nil)
	c.sendValue(p.methodID("echo"), 6, 1)
	if h, _ := c.recv(5 * time.Second); h.RequestID != 6 {
		t.Errorf("got %v, want the answer to request 6", h)
	}
}

func TestNotifyIsNeverAnswered(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	got := make(chan any, 2)
	p := startWorker(t, Options{}, func(w *Worker) {
		HandleNotify(w, "note", func(ctx context.Context, in any) error { got <- in; return errors.New("ignored") })
		Handle(w, "echo", func(ctx context.Context, in any) (any, error) { return in, nil })
	})
	c := p.dial()
	c.sendValue(p.methodID("note"), 0, "hi")
	if v := receive(t, got, 5*time.Second, "notify handler not called"); v != "hi" {
		t.Errorf("notify got %v", v)
	}
	c.sendValue(p.methodID("echo"), 1, "next")
	if h, _ := c.recv(5 * time.Second); h.RequestID != 1 || h.Method != p.methodID("echo") {
		t.Fatalf("first frame after a notify is %v; a notify must not be answered", h)
	}
}

func TestEvents(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	var ev *Event[map[string]int]
	var early error
	p := startWorker(t, Options{}, func(w *Worker) {
		NewEvent[string](w, "other")
		ev = NewEvent[map[string]int](w, "progress")
		early = ev.Emit(map[string]int{"i": -1})
		Handle(w, "emit", func(ctx context.Context, n int) (int, error) {
			for i := 0; i < n; i++ {
				if err := ev.Emit(map[string]int{"i": i}); err != nil {
					return 0, err
				}
			}
			return n, nil
		})
	})
	if !errors.Is(early, ErrNotConnected) {
		t.Errorf("Emit before a connection = %v, want ErrNotConnected", early)
	}
	c := p.dial()
	c.sendValue(p.methodID("emit"), 1, 3)
	for i := 0; i < 3; i++ {
		h, pl := c.recv(5 * time.Second)
		if h.Flags != wire.FlagsEvent || h.RequestID != 0 || h.Method != 2 {
			t.Fatalf("event frame = %v, want flags 0x01, request 0, method = event id 2", h)
		}
		if m := decode[map[string]int](t, pl); m["i"] != i {
			t.Errorf("event %d = %v", i, m)
		}
	}
	if h, _ := c.recv(5 * time.Second); h.Flags != wire.FlagsResult {
		t.Errorf("after events: %v", h)
	}
}

func TestAbort(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	causes := make(chan error, 1)
	p := startWorker(t, Options{}, func(w *Worker) {
		basicWorker(w)
		Handle(w, "observe", func(ctx context.Context, in any) (any, error) {
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return "late answer", nil
		})
	})
	c := p.dial()
	c.send(wire.MethodAbort, 12345, nil) // unknown id: ignored
	c.sendValue(p.methodID("observe"), 1, nil)
	time.Sleep(20 * time.Millisecond)
	c.send(wire.MethodAbort, 1, nil)
	if err := receive(t, causes, 5*time.Second, "handler context not cancelled by abort"); !errors.Is(err, ErrAborted) {
		t.Errorf("cause = %v, want ErrAborted", err)
	}
	c.sendValue(p.methodID("echo"), 2, "after")
	h, _ := c.recv(5 * time.Second)
	if h.RequestID != 2 {
		t.Fatalf("got a frame for request %d after its abort", h.RequestID)
	}
}

func TestAbortRacingResponses(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	p := startWorker(t, Options{}, basicWorker)
	c := p.dial()
	const n = 10000
	echo := p.methodID("echo")
	go func() {
		for i := uint32(1); i <= n; i++ {
			c.sendValue(echo, i, int(i))
			if i%2 == 0 {
				c.send(wire.MethodAbort, i, nil)
			}
		}
		c.sendValue(echo, n+1, "end")
	}()
	// Every request that was not aborted is answered exactly once; an
	// aborted one at most once (its answer may have been sent before the
	// abort arrived). Handlers run concurrently: answers come in any order.
	seen := map[uint32]bool{}
	missing := func() int {
		m := 0
		for i := uint32(1); i <= n+1; i++ {
			if (i%2 == 1 || i == n+1) && !seen[i] {
				m++
			}
		}
		return m
	}
	for missing() > 0 {
		h, pl, err := c.recvErr(10 * time.Second)
		if err != nil {
			t.Fatalf("%d requests not answered: %v", missing(), err)
		}
		if seen[h.RequestID] {
			t.Fatalf("request %d answered twice", h.RequestID)
		}
		seen[h.RequestID] = true
		if h.RequestID == n+1 {
			continue
		}
		if v := decode[int](t, pl); uint32(v) != h.RequestID {
			t.Fatalf("request %d answered with %d", h.RequestID, v)
		}
	}
}

func TestPingAnsweredWhileDataPlaneIsBlocked(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	p := startWorker(t, Options{}, func(w *Worker) {
		HandleStream(w, "flood", func(ctx context.Context, in any, out *Stream[[]byte]) error {
			buf := make([]byte, 1<<20)
			for ctx.Err() == nil {
				if err := out.Send(buf); err != nil {
					return err
				}
			}
			return nil
		}, MethodOptions{Codec: codec.Raw})
	})
	c := p.dial()
	for i := uint32(1); i <= 4; i++ {
		c.sendValue(p.methodID("flood"), i, nil)
	}
	time.Sleep(100 * time.Millisecond) // the socket is full: every writer is blocked
	for i := 0; i < 5; i++ {
		start := time.Now()
		p.control(`{"jsonrpc":"2.0","method":"$ping"}`)
		if line := p.readLine(2 * time.Second); line != `{"jsonrpc":"2.0","method":"$pong"}` {
			t.Fatalf("answer to $ping = %q", line)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("$pong took %v", d)
		}
	}
}

func TestBackpressureTimeout(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	results := make(chan error, 1)
	p := startWorker(t, Options{BackpressureTimeout: 100 * time.Millisecond}, func(w *Worker) {
		HandleStream(w, "flood", func(ctx context.Context, in any, out *Stream[[]byte]) error {
			buf := make([]byte, 256<<10)
			for {
				if err := out.Send(buf); err != nil {
					results <- err
					return err
				}
			}
		}, MethodOptions{Codec: codec.Raw})
		Handle(w, "echo", func(ctx context.Context, in any) (any, error) { return in, nil })
	})
	c := p.dial()
	c.sendValue(p.methodID("flood"), 1, nil)
	if err := receive(t, results, 5*time.Second, "no backpressure timeout"); !errors.Is(err, ErrBackpressureTimeout) {
		t.Fatalf("Send = %v, want ErrBackpressureTimeout", err)
	}
	// Reading resumes: every frame is whole, the stream fails cleanly, and
	// the worker answers new requests.
	c.sendValue(p.methodID("echo"), 2, "after")
	var chunks int
	for {
		h, pl, err := c.recvErr(5 * time.Second)
		if err != nil {
			t.Fatalf("after %d chunks: %v (h=%v buffered=%d)", chunks, err, h, c.r.Buffered())
		}
		if h.RequestID == 2 {
			break
		}
		switch h.Flags {
		case wire.FlagsStreamChunk:
			if len(pl) != 256<<10 {
				t.Fatalf("chunk of %d bytes", len(pl))
			}
			chunks++
		case wire.FlagsStreamError:
			if msg := decode[string](t, pl); !strings.Contains(msg, "backpressure") {
				t.Errorf("stream error = %q", msg)
			}
		default:
			t.Fatalf("unexpected frame %v", h)
		}
	}
	if chunks == 0 {
		t.Error("no chunk arrived")
	}
}

func TestGarbageControlLinesAreIgnored(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	p := startWorker(t, Options{}, basicWorker)
	for _, line := range []string{
		"", "not json", "{", "[1,2]", `{"method":"$unknown"}`, `{"method":42}`, ` {"method":"$shutdown"}x`,
		strings.Repeat("x", 200<<10), "{" + strings.Repeat(" ", 100<<10) + `"method":"$shutdown"}`, "\x00\xff\r",
	} {
		p.control(line)
	}
	p.control(`{"jsonrpc":"2.0","method":"$ping"}`)
	if line := p.readLine(2 * time.Second); line != `{"jsonrpc":"2.0","method":"$pong"}` {
		t.Fatalf("answer to $ping = %q", line)
	}
	c := p.dial()
	c.sendValue(p.methodID("echo"), 1, "ok")
	if h, _ := c.recv(2 * time.Second); h.RequestID != 1 {
		t.Fatal("worker not serving after garbage control lines")
	}
}

// blockedHandler starts a worker with one request in flight whose handler
// waits for its context and reports the cause.
func blockedHandler(t *testing.T) (*fakeParent, *conn, <-chan error) {
	return blockedHandlers(t, 1)
}

// blockedHandlers is blockedHandler with n requests in flight, and their
// handlers running.
func blockedHandlers(t *testing.T, n int) (*fakeParent, *conn, <-chan error) {
	causes := make(chan error, n)
	var started sync.WaitGroup
	started.Add(n)
	p := startWorker(t, Options{}, func(w *Worker) {
		Handle(w, "block", func(ctx context.Context, in any) (any, error) {
			started.Done()
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return nil, nil
		})
	})
	c := p.dial()
	for i := range n {
		c.sendValue(p.methodID("block"), uint32(i+1), nil)
	}
	started.Wait()
	return p, c, causes
}

// TestDisconnectCancelsEveryRunningHandler checks that the end of the
// connection reaches each of many running handlers (their contexts are
// cancelled one by one: they are not the connection context's children).
func TestDisconnectCancelsEveryRunningHandler(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	const n = 20
	p, c, causes := blockedHandlers(t, n)
	c.nc.Close()
	for i := range n {
		select {
		case cause := <-causes:
			if !errors.Is(cause, ErrDisconnected) {
				t.Errorf("handler %d: cause %v, want ErrDisconnected", i, cause)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of %d handlers were not cancelled", n-i, n)
		}
	}
	p.waitRun(2 * time.Second)
}

func TestShutdown(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	p, c, causes := blockedHandler(t)
	start := time.Now()
	p.control(`{"jsonrpc":"2.0","method":"$shutdown","params":{}}`)
	if err := p.waitRun(2 * time.Second); err != nil {
		t.Errorf("Run after $shutdown = %v, want nil", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("shutdown took %v", d)
	}
	if err := <-causes; !errors.Is(err, ErrShutdown) {
		t.Errorf("handler cause = %v, want ErrShutdown", err)
	}
	c.expectClosed(time.Second)
	if _, err := os.Stat(p.init.Pipe); testenv.SocketFiles && !os.IsNotExist(err) {
		t.Errorf("socket file still exists: %v", err)
	}
}

func TestStdinEOFBeforeConnectionEndsTheWorker(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	p := startWorker(t, Options{}, basicWorker)
	p.stdin.Close()
	if err := p.waitRun(2 * time.Second); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	if _, err := os.Stat(p.init.Pipe); testenv.SocketFiles && !os.IsNotExist(err) {
		t.Errorf("socket file still exists after exit: %v", err)
	}
}

func TestContextCancelEndsRun(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	p := startWorker(t, Options{}, basicWorker)
	p.dial()
	p.cancel()
	if err := p.waitRun(2 * time.Second); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

func TestParentDisconnectCancelsHandlersAndEndsRun(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	p, c, causes := blockedHandler(t)
	c.nc.Close()
	err := p.waitRun(2 * time.Second)
	if !errors.Is(err, ErrDisconnected) {
		t.Errorf("Run = %v, want ErrDisconnected", err)
	}
	if cause := <-causes; !errors.Is(cause, ErrDisconnected) {
		t.Errorf("handler cause = %v, want ErrDisconnected", cause)
	}
}

// The parent vanishes (stdin and socket gone at once) while a request and a
// stream are in flight: Run returns promptly and no goroutine survives.
func TestParentVanishesMidStream(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	started := make(chan struct{}, 2)
	p := startWorker(t, Options{}, func(w *Worker) {
		HandleStream(w, "forever", func(ctx context.Context, in any, out *Stream[[]byte]) error {
			started <- struct{}{}
			buf := make([]byte, 64<<10)
			for {
				if err := out.Send(buf); err != nil {
					return err
				}
			}
		}, MethodOptions{Codec: codec.Raw})
		Handle(w, "block", func(ctx context.Context, in any) (any, error) {
			started <- struct{}{}
			<-ctx.Done()
			return nil, ctx.Err()
		})
	})
	c := p.dial()
	c.sendValue(p.methodID("forever"), 1, nil)
	c.sendValue(p.methodID("block"), 2, nil)
	<-started
	<-started
	c.recv(time.Second) // the stream is flowing
	start := time.Now()
	c.nc.Close()
	p.stdin.Close()
	p.waitRun(time.Second)
	if d := time.Since(start); d > time.Second {
		t.Errorf("Run returned %v after the parent vanished", d)
	}
}

func TestAuth(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	auth := func(tok string) []byte {
		return append(wire.Header{Method: wire.MethodAuth, Length: uint32(len(tok))}.Append(nil), tok...)
	}
	request := func(p *fakeParent, id uint32) []byte {
		b, _ := codec.MsgPack.Marshal("x")
		return append(wire.Header{Method: p.methodID("count"), RequestID: id, Length: uint32(len(b))}.Append(nil), b...)
	}
	tests := []struct {
		name  string
		first func(p *fakeParent) []byte
	}{
		{"wrong token with a request packed behind it", func(p *fakeParent) []byte { return append(auth(token[:63]+"0"), request(p, 7)...) }},
		{"short token", func(p *fakeParent) []byte { return auth(token[:10]) }},
		{"empty token", func(p *fakeParent) []byte { return auth("") }},
		{"request instead of AUTH", func(p *fakeParent) []byte { return request(p, 7) }},
		{"abort instead of AUTH", func(p *fakeParent) []byte { return wire.Header{Method: wire.MethodAbort, RequestID: 7}.Append(nil) }},
		{"oversized AUTH", func(p *fakeParent) []byte { return auth(strings.Repeat("a", 5000)) }},
		{"bad header", func(p *fakeParent) []byte { return wire.Header{Method: 0}.Append(nil) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testenv.VerifyNoLeaks(t)
			var calls atomic.Int32
			p := startWorker(t, Options{Token: token}, func(w *Worker) {
				HandleStream(w, "count", func(ctx context.Context, in any, out *Stream[int]) error {
					calls.Add(1)
					return nil
				})
			})
			bad := p.dial()
			bad.nc.Write(tt.first(p))
			bad.expectClosed(2 * time.Second)
			if !strings.Contains(p.logs.String(), "unauthenticated") {
				t.Errorf("no log line for the refused connection")
			}
			if strings.Contains(p.logs.String(), token) {
				t.Errorf("token logged")
			}
			// The real parent still gets in.
			good := p.dial()
			good.nc.Write(append(auth(token), request(p, 1)...))
			h, _ := good.recv(2 * time.Second)
			if h.RequestID != 1 || h.Flags != wire.FlagsStreamEnd {
				t.Fatalf("authenticated request: %v", h)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("handler ran %d times; frames behind a bad AUTH must never be dispatched", n)
			}
		})
	}
}

func TestRegistrationMistakesPanic(t *testing.T) {
	fn := func(ctx context.Context, in any) (any, error) { return nil, nil }
	tests := []struct {
		name string
		do   func(w *Worker)
	}{
		{"duplicate method", func(w *Worker) { Handle(w, "a", fn); Handle(w, "a", fn) }},
		{"duplicate event", func(w *Worker) { NewEvent[int](w, "e"); NewEvent[int](w, "e") }},
		{"empty name", func(w *Worker) { Handle(w, "", fn) }},
		{"bad response type", func(w *Worker) { w.HandleFunc("x", "sometimes", nil) }},
		{"two option structs", func(w *Worker) { Handle(w, "a", fn, MethodOptions{}, MethodOptions{}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tt.do(NewWorker(Options{}))
		})
	}
}

func TestStats(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	p := startWorker(t, Options{LogRequests: true}, basicWorker)
	c := p.dial()
	c.sendValue(p.methodID("echo"), 1, "a")
	c.recv(2 * time.Second)
	c.sendValue(p.methodID("echo"), 2, "b")
	c.recv(2 * time.Second)
	c.sendValue(p.methodID("fail"), 3, "x")
	c.recv(2 * time.Second)
	c.sendValue(p.methodID("panic"), 4, nil)
	c.recv(2 * time.Second)
	c.sendValue(p.methodID("wait"), 5, nil)
	// Abort it once it runs (an abort that arrives first is ignored).
	for start := time.Now(); p.w.Stats().Methods["wait"].Requests == 0 && time.Since(start) < 5*time.Second; {
		time.Sleep(time.Millisecond)
	}
	c.send(wire.MethodAbort, 5, nil)
	c.sendValue(p.methodID("echo"), 6, "c")
	c.recv(2 * time.Second)

	var s Stats
	deadline := time.Now().Add(2 * time.Second)
	for {
		s = p.w.Stats()
		if s.Methods["wait"].Aborted == 1 && s.Methods["echo"].OK == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	echo := s.Methods["echo"]
	if echo.Requests != 3 || echo.OK != 3 || echo.Latency.Count != 3 || echo.Latency.P99 < echo.Latency.P50 || echo.Latency.Max < echo.Latency.Mean {
		t.Errorf("echo stats = %+v", echo)
	}
	if f := s.Methods["fail"]; f.Errors != 1 || f.OK != 0 {
		t.Errorf("fail stats = %+v", f)
	}
	if pn := s.Methods["panic"]; pn.Errors != 1 || pn.Panics != 1 {
		t.Errorf("panic stats = %+v", pn)
	}
	if wt := s.Methods["wait"]; wt.Aborted != 1 {
		t.Errorf("wait stats = %+v", wt)
	}
	if s.Aborts != 1 || s.FramesIn != 7 || s.FramesOut != 5 || s.BytesIn < 7*wire.HeaderSize || s.BytesOut < 5*wire.HeaderSize || s.InFlight != 0 {
		t.Errorf("stats = %+v", s)
	}
	if !strings.Contains(p.logs.String(), `msg="procwire: request" method=echo request_id=1`) {
		t.Errorf("no request log line:\n%s", p.logs.String())
	}
}

// A handler that blocks on the reading goroutine loses the reading role to
// the watchdog, also when the watchdog was parked after idling.
func TestBlockingHandlerDoesNotStopReading(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	p := startWorker(t, Options{}, basicWorker)
	c := p.dial()
	for _, idle := range []time.Duration{0, 400 * time.Millisecond} {
		time.Sleep(idle) // long enough for the watchdog to park
		c.sendValue(p.methodID("wait"), 1, nil)
		time.Sleep(5 * time.Millisecond)
		start := time.Now()
		c.sendValue(p.methodID("echo"), 2, "while blocked")
		if h, _ := c.recv(2 * time.Second); h.RequestID != 2 {
			t.Fatalf("idle %v: got %v, want the answer to request 2", idle, h)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("idle %v: second request waited %v behind a blocked handler", idle, d)
		}
		c.send(wire.MethodAbort, 1, nil)
	}
}

// countingConn counts the writes the worker makes on its connection.
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestPipelinedResponsesLeaveTogether sends a burst of requests in one
// write: every response arrives, in full and matched to its request, and
// the worker sends them in far fewer writes than there are responses (they
// are corked while more requests are buffered). The scheduler adapts to
// how long handlers take, and on a loaded machine under -race one burst
// may find them slow and run them in parallel instead; so up to three
// bursts are sent, and one of them must leave combined.
func TestPipelinedResponsesLeaveTogether(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	const n = 200
	w := NewWorker(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	Handle(w, "echo", func(ctx context.Context, in []byte) ([]byte, error) { return in, nil }, MethodOptions{Codec: codec.Raw})
	server, client := testenv.SocketPair(t)
	cc := &countingConn{Conn: server}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.ServeConn(ctx, cc) }()
	defer func() {
		cancel()
		<-done
	}()
	id := w.Methods()[0].ID
	r := wire.NewReader(client, 0, 0)
	var writes []int64
	for round := 0; round < 3; round++ {
		base := uint32(round * n)
		var burst []byte
		for i := base + 1; i <= base+n; i++ {
			burst = wire.Header{Method: id, RequestID: i, Length: 4}.Append(burst)
			burst = append(burst, byte(i>>24), byte(i>>16), byte(i>>8), byte(i))
		}
		cc.writes.Store(0)
		if _, err := client.Write(burst); err != nil {
			t.Fatal(err)
		}
		client.SetReadDeadline(time.Now().Add(5 * time.Second))
		seen := make(map[uint32]bool)
		for len(seen) < n {
			h, p, err := r.ReadFrame()
			if err != nil {
				t.Fatalf("after %d responses: %v", len(seen), err)
			}
			want := []byte{byte(h.RequestID >> 24), byte(h.RequestID >> 16), byte(h.RequestID >> 8), byte(h.RequestID)}
			if h.Flags != wire.FlagsResult || string(p) != string(want) || seen[h.RequestID] || h.RequestID <= base || h.RequestID > base+n {
				t.Fatalf("response %v with payload %x", h, p)
			}
			seen[h.RequestID] = true
		}
		writes = append(writes, cc.writes.Load())
		if writes[round] <= n/4 {
			return
		}
	}
	t.Errorf("%d responses took %v writes in three bursts; pipelined responses should be combined", n, writes)
}
