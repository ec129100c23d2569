package parent

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/protocol"
	"github.com/procwire/procwire-go/wire"
)

// echoPeer answers every request on nc with a result carrying the request's
// payload, until nc fails; seen, if not nil, is given each request's header
// first.
func echoPeer(nc net.Conn, seen func(wire.Header)) {
	r := wire.NewReader(nc, 0, 0)
	w := wire.NewWriter(nc)
	for {
		h, p, err := r.ReadFrame()
		if err != nil {
			return
		}
		if seen != nil {
			seen(h)
		}
		w.Queue(wire.Header{Method: h.Method, Flags: wire.FlagsResult, RequestID: h.RequestID}, p)
		if r.Buffered() == 0 {
			if _, _, err := w.Flush(); err != nil {
				return
			}
		}
	}
}

// TestConcurrentCallsCombined checks that 64 concurrent callers each get
// their own response, intact, while their requests go out combined: fewer
// writes than requests.
func TestConcurrentCallsCombined(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	pc, wc := testenv.SocketPair(t)
	conn := NewConn(pc, 0, []protocol.MethodDesc{
		{Name: "echo", ID: 1, Response: protocol.ResponseResult, RequestCodec: codec.MsgPack, ResponseCodec: codec.MsgPack},
	}, nil)
	go echoPeer(wc, nil)
	const callers, calls = 64, 200
	var wg sync.WaitGroup
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				in := map[string]int{"g": g, "i": i}
				var out map[string]int
				if err := conn.Call(context.Background(), "echo", in, &out); err != nil {
					t.Error(err)
					return
				}
				if out["g"] != g || out["i"] != i {
					t.Errorf("caller %d call %d: got %v", g, i, out)
					return
				}
			}
		}()
	}
	wg.Wait()
	if s := conn.Stats(); s.FramesOut != callers*calls || s.Methods["echo"].OK != callers*calls {
		t.Errorf("stats: %d frames out, %d calls OK; want %d", s.FramesOut, s.Methods["echo"].OK, callers*calls)
	}
	conn.sq.smu.Lock()
	batches := conn.sq.batches
	conn.sq.smu.Unlock()
	t.Logf("%d requests in %d writes", callers*calls, batches)
	if batches >= callers*calls {
		t.Errorf("%d requests in %d writes: none were combined", callers*calls, batches)
	}
	conn.Close()
	wc.Close()
}

// failingConn is a net.Conn whose writes fail once fail is closed.
type failingConn struct {
	net.Conn
	fail chan struct{}
}

var errInjected = errors.New("injected write failure")

func (c *failingConn) Write(p []byte) (int, error) {
	select {
	case <-c.fail:
		return 0, errInjected
	default:
		return c.Conn.Write(p)
	}
}

// TestWriteFailureEndsConnection checks that a failed write ends the
// connection: the calls in flight (whose requests went out earlier), the
// call whose request failed, and later calls all fail with an error that
// wraps ErrClosed and the write error and says so.
func TestWriteFailureEndsConnection(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	pc, wc := testenv.SocketPair(t)
	fc := &failingConn{Conn: pc, fail: make(chan struct{})}
	conn := NewConn(fc, 0, []protocol.MethodDesc{
		{Name: "echo", ID: 1, Response: protocol.ResponseResult, RequestCodec: codec.MsgPack, ResponseCodec: codec.MsgPack},
		{Name: "raw", ID: 2, Response: protocol.ResponseResult, RequestCodec: codec.Raw, ResponseCodec: codec.Raw},
	}, nil)
	defer conn.Close()
	defer wc.Close()
	inflight := make(chan error, 1)
	go func() { inflight <- conn.Call(context.Background(), "echo", 1, nil) }()
	r := wire.NewReader(wc, 0, 0)
	if _, _, err := r.ReadFrame(); err != nil { // the first request arrived
		t.Fatal(err)
	}
	close(fc.fail)
	errs := map[string]error{
		"msgpack call whose write failed": conn.Call(context.Background(), "echo", 2, nil),
		"raw call whose write failed":     conn.Call(context.Background(), "raw", []byte{3}, nil),
	}
	select {
	case errs["call in flight"] = <-inflight:
	case <-time.After(5 * time.Second):
		t.Fatal("the call in flight did not fail")
	}
	errs["later call"] = conn.Call(context.Background(), "echo", 4, nil)
	errs["Err"] = conn.Err()
	for what, err := range errs {
		if !errors.Is(err, ErrClosed) || !errors.Is(err, errInjected) || !strings.Contains(err.Error(), "write failed: injected write failure") {
			t.Errorf("%s: error = %v; want ErrClosed wrapping the write failure", what, err)
		}
	}
}
