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

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/wire"
)

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
	go func() {
		for i := 1; i <= n; i++ {
			c.sendValue(p.methodID("work"), uint32(i), i)
		}
	}()
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
