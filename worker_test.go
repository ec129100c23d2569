package procwire

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/protocol"
	"github.com/procwire/procwire-go/wire"
)

type echoMsg struct {
	S string `msgpack:"s"`
	N int    `msgpack:"n"`
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

func TestInitAnnouncesSchema(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	p := startWorker(t, Options{}, func(w *Worker) {
		Handle(w, "a", func(ctx context.Context, in any) (any, error) { return nil, nil })
		HandleStream(w, "b", func(ctx context.Context, in any, out *Stream[int]) error { return nil })
		HandleAck(w, "c", func(ctx context.Context, in any) (any, error) { return nil, nil }, MethodOptions{Timeout: 1500 * time.Millisecond})
		HandleNotify(w, "d", func(ctx context.Context, in any) error { return nil })
		NewEvent[int](w, "e1")
		NewEvent[int](w, "e2")
	})
	want := protocol.Schema{
		Methods: map[string]protocol.MethodSchema{
			"a": {ID: 1, Response: ResponseResult},
			"b": {ID: 2, Response: ResponseStream},
			"c": {ID: 3, Response: ResponseAck, Timeout: 1500},
			"d": {ID: 4, Response: ResponseNone},
		},
		Events: map[string]protocol.EventSchema{"e1": {ID: 1}, "e2": {ID: 2}},
	}
	got, _ := json.Marshal(p.init.Schema)
	exp, _ := json.Marshal(want)
	if string(got) != string(exp) {
		t.Errorf("schema = %s, want %s", got, exp)
	}
	if p.init.Version != "1.0.0" {
		t.Errorf("version = %q", p.init.Version)
	}
	if !strings.Contains(p.init.Pipe, "procwire-") {
		t.Errorf("pipe path %q", p.init.Pipe)
	}
	if !testenv.SocketFiles {
		return
	}
	fi, err := os.Stat(p.init.Pipe)
	if err != nil {
		t.Fatalf("socket not created before $init: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %v, want 0600", fi.Mode().Perm())
	}
	if !strings.HasSuffix(p.init.Pipe, ".sock") {
		t.Errorf("pipe path %q", p.init.Pipe)
	}
}

func TestInitEventsIsAnObjectWithoutEvents(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	w := NewWorker(Options{})
	msg, err := protocol.InitLine(protocol.Init{Pipe: "/x", Schema: w.Schema()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(msg), "{") || !strings.Contains(string(msg), `"events":{}`) || !strings.Contains(string(msg), `"methods":{}`) {
		t.Errorf("$init = %s; want events and methods as {}", msg)
	}
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
				if msg := decode[string](t, ps[0]); !strings.Contains(msg, "decode") {
					t.Errorf("decode error = %q", msg)
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
	select {
	case v := <-got:
		if v != "hi" {
			t.Errorf("notify got %v", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("notify handler not called")
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
	select {
	case err := <-causes:
		if !errors.Is(err, ErrAborted) {
			t.Errorf("cause = %v, want ErrAborted", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("handler context not cancelled by abort")
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

func TestBoundedConcurrency(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	var running, peak atomic.Int32
	p := startWorker(t, Options{MaxConcurrentHandlers: 3, MaxQueuedRequests: 5}, func(w *Worker) {
		Handle(w, "work", func(ctx context.Context, in int) (int, error) {
			n := running.Add(1)
			for {
				old := peak.Load()
				if n <= old || peak.CompareAndSwap(old, n) {
					break
				}
			}
			time.Sleep(2 * time.Millisecond)
			running.Add(-1)
			return in, nil
		})
	})
	c := p.dial()
	const n = 200
	go func() {
		for i := 1; i <= n; i++ {
			c.sendValue(p.methodID("work"), uint32(i), i)
		}
	}()
	seen := map[uint32]bool{}
	for len(seen) < n {
		h, pl := c.recv(10 * time.Second)
		if decode[int](t, pl) != int(h.RequestID) {
			t.Fatalf("wrong answer for %d", h.RequestID)
		}
		seen[h.RequestID] = true
	}
	if got := peak.Load(); got > 3 || got < 2 {
		t.Errorf("peak concurrency = %d, want ≤ 3 (and > 1)", got)
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
	causes := make(chan error, 1)
	p := startWorker(t, Options{}, func(w *Worker) {
		Handle(w, "block", func(ctx context.Context, in any) (any, error) {
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return nil, nil
		})
	})
	c := p.dial()
	c.sendValue(p.methodID("block"), 1, nil)
	time.Sleep(20 * time.Millisecond)
	return p, c, causes
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

func TestProtocolViolationsCloseTheConnection(t *testing.T) {
	hdr := func(h wire.Header) []byte { return h.Append(nil) }
	tests := []struct {
		name   string
		bytes  []byte
		reason string
	}{
		{"method id 0", hdr(wire.Header{Method: 0, RequestID: 1}), "method id 0"},
		{"reserved flag bit 6", hdr(wire.Header{Method: 1, Flags: 0x40, RequestID: 1}), "reserved flag"},
		{"reserved flag bit 7", hdr(wire.Header{Method: 1, Flags: 0x80, RequestID: 1}), "reserved flag"},
		{"length over the limit", hdr(wire.Header{Method: 1, RequestID: 1, Length: 4097}), "exceeds the limit"},
		{"length at the absolute cap", hdr(wire.Header{Method: 1, RequestID: 1, Length: 0xFFFFFFFF}), "exceeds the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testenv.VerifyNoLeaks(t)
			p := startWorker(t, Options{MaxPayloadSize: 4096}, basicWorker)
			c := p.dial()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			c.nc.Write(tt.bytes)
			c.expectClosed(2 * time.Second)
			err := p.waitRun(2 * time.Second)
			var pe *wire.ProtocolError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Run = %v, want a protocol error mentioning %q", err, tt.reason)
			}
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if grown := after.TotalAlloc - before.TotalAlloc; grown > 8<<20 {
				t.Errorf("allocated %d bytes handling a bad header", grown)
			}
			if !strings.Contains(p.logs.String(), tt.reason) {
				t.Errorf("no log line saying why; log:\n%s", p.logs.String())
			}
		})
	}
}

func TestHugeDeclaredPayloadCostsNothingUntilSent(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	p := startWorker(t, Options{}, basicWorker)
	c := p.dial()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	// A valid header declaring 1 GiB, then only 10 bytes and a hang-up.
	c.nc.Write(wire.Header{Method: p.methodID("raw"), RequestID: 1, Length: 1 << 30}.Append(nil))
	c.nc.Write(make([]byte, 10))
	time.Sleep(50 * time.Millisecond)
	c.nc.Close()
	if err := p.waitRun(2 * time.Second); !errors.Is(err, ErrDisconnected) {
		t.Errorf("Run = %v, want ErrDisconnected (truncated frame)", err)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 100<<20 {
		t.Errorf("allocated %d MiB for a frame that never arrived", grown>>20)
	}
}

func TestTruncatedFrames(t *testing.T) {
	for _, n := range []int{1, 5, 10, 11, 15} {
		t.Run(strings.Repeat("x", 0)+string(rune('0'+n%10))+"bytes", func(t *testing.T) {
			testenv.VerifyNoLeaks(t)
			p := startWorker(t, Options{}, basicWorker)
			c := p.dial()
			frame := wire.Header{Method: p.methodID("raw"), RequestID: 1, Length: 8}.Append(nil)
			frame = append(frame, 1, 2, 3, 4, 5, 6, 7, 8)
			c.nc.Write(frame[:n])
			c.nc.Close()
			if err := p.waitRun(2 * time.Second); !errors.Is(err, ErrDisconnected) {
				t.Errorf("Run = %v, want ErrDisconnected", err)
			}
		})
	}
}

func TestOnlyOneConnectionIsAdopted(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	p := startWorker(t, Options{}, basicWorker)
	c := p.dial()
	c.sendValue(p.methodID("echo"), 1, "first")
	c.recv(2 * time.Second)
	if nc, err := testenv.Dial(p.init.Pipe); err == nil {
		nc.Close()
		t.Fatal("a second connection was accepted")
	}
	c.sendValue(p.methodID("echo"), 2, "still")
	if h, _ := c.recv(2 * time.Second); h.RequestID != 2 {
		t.Fatal("first connection disturbed")
	}
}

func TestStrayAuthFrameAfterAdoptionIsIgnored(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	p := startWorker(t, Options{}, basicWorker)
	c := p.dial()
	c.send(wire.MethodAuth, 0, []byte("whatever"))
	c.sendValue(p.methodID("echo"), 1, "ok")
	if h, _ := c.recv(2 * time.Second); h.RequestID != 1 || h.Flags != wire.FlagsResult {
		t.Fatalf("got %v", h)
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
	select {
	case err := <-results:
		if !errors.Is(err, ErrBackpressureTimeout) {
			t.Fatalf("Send = %v, want ErrBackpressureTimeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no backpressure timeout")
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

func TestSocketDirectoryErrorSendsError(t *testing.T) {
	if !testenv.SocketFiles {
		t.Skip("named pipes have no directory")
	}
	testenv.VerifyNoLeaks(t)
	inR, inW := io.Pipe()
	defer inW.Close()
	outR, outW := io.Pipe()
	w := NewWorker(Options{SocketDir: "/nonexistent/procwire", Stdin: inR, Stdout: outW, errorLinger: time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()); outW.Close() }()
	line, _ := bufio.NewReader(outR).ReadString('\n')
	var msg struct {
		Method string `json:"method"`
		Params struct {
			Message string `json:"message"`
		} `json:"params"`
	}
	if err := json.Unmarshal([]byte(line), &msg); err != nil || msg.Method != "$error" || !strings.Contains(msg.Params.Message, "/nonexistent") {
		t.Fatalf("stdout = %q, want $error naming the directory", line)
	}
	if err := <-done; err == nil {
		t.Error("Run = nil, want the error")
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
