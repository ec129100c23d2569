package procwire

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/wire"
)

// A handler that ignores its context cannot hold shutdown beyond
// ShutdownTimeout; abort and other requests keep working meanwhile.
func TestHandlerThatNeverReturns(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	release := make(chan struct{})
	var ran atomic.Int32
	p := startWorker(t, Options{ShutdownTimeout: 300 * time.Millisecond}, func(w *Worker) {
		basicWorker(w)
		Handle(w, "stuck", func(ctx context.Context, in any) (any, error) {
			ran.Add(1)
			<-release // ignores ctx
			return nil, nil
		})
	})
	defer close(release) // lets the stuck handler end after the test's checks
	c := p.dial()
	c.sendValue(p.methodID("stuck"), 1, nil)
	time.Sleep(20 * time.Millisecond)
	c.send(wire.MethodAbort, 1, nil) // honoured: nothing will be sent for 1
	c.sendValue(p.methodID("echo"), 2, "still serving")
	if h, _ := c.recv(2 * time.Second); h.RequestID != 2 {
		t.Fatalf("got %v", h)
	}
	start := time.Now()
	p.control(`{"jsonrpc":"2.0","method":"$shutdown"}`)
	p.waitRun(2 * time.Second)
	if d := time.Since(start); d < 250*time.Millisecond || d > time.Second {
		t.Errorf("shutdown took %v, want about the 300 ms grace period", d)
	}
	if !strings.Contains(p.logs.String(), "still running after the shutdown timeout") {
		t.Errorf("no log line about the stuck handler")
	}
}

// sendWork sends requests 1 to n for method from another goroutine, each
// with its request id as its value.
func (c *conn) sendWork(method uint16, n int) {
	go func() {
		for i := 1; i <= n; i++ {
			c.sendValue(method, uint32(i), i)
		}
	}()
}

// A burst of 10 000 requests with MaxConcurrentHandlers = 8: every request
// is answered, none dropped, and the goroutine count stays bounded.
func TestBurstWithBoundedConcurrency(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	base := runtime.NumGoroutine()
	var peak atomic.Int64
	p := startWorker(t, Options{MaxConcurrentHandlers: 8, MaxQueuedRequests: 64}, func(w *Worker) {
		Handle(w, "work", func(ctx context.Context, in int) (int, error) {
			if n := int64(runtime.NumGoroutine()); n > peak.Load() {
				peak.Store(n)
			}
			return in, nil
		})
	})
	c := p.dial()
	const n = 10000
	c.sendWork(p.methodID("work"), n)
	seen := make([]bool, n+1)
	for got := 0; got < n; got++ {
		h, pl := c.recv(10 * time.Second)
		if decode[int](t, pl) != int(h.RequestID) || seen[h.RequestID] {
			t.Fatalf("bad or duplicate answer for %d", h.RequestID)
		}
		seen[h.RequestID] = true
	}
	// The worker's own goroutines: control reader, acceptor, reader,
	// watchdog, the test's helpers, and at most 8 handlers.
	if extra := peak.Load() - int64(base); extra > 8+12 {
		t.Errorf("peak goroutines %d above the baseline %d", peak.Load(), base)
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
	c.sendWork(p.methodID("work"), n)
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

// The socket directory is unusable: $error on stdout, Run fails.
func TestSocketDirectoryChecks(t *testing.T) {
	if !testenv.SocketFiles {
		t.Skip("named pipes have no directory")
	}
	testenv.VerifyNoLeaks(t)
	file := t.TempDir() + "/file"
	os.WriteFile(file, nil, 0o600)
	open := t.TempDir()
	os.Chmod(open, 0o777) // world-writable without the sticky bit
	for _, dir := range []string{"/nonexistent/procwire", file, open} {
		_, _, err := listen(dir)
		if err == nil {
			t.Errorf("listen(%q) succeeded", dir)
		}
	}
	if ln, path, err := listen(t.TempDir()); err != nil {
		t.Errorf("listen in a private directory: %v", err)
	} else {
		ln.Close()
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket not removed on close")
		}
	}
}
