package parent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/protocol"
	"github.com/procwire/procwire-go/wire"
)

// readConn returns a Conn over one end of a synchronous pipe, with a
// result method "call" (raw both ways) and an event "e" (ID 9), and a
// fake worker on the other end that runs serve with each request (and
// the worker's end, for bytes that are not whole frames).
func readConn(t *testing.T, serve func(wc net.Conn, w *wire.Writer, h wire.Header, payload []byte)) *Conn {
	t.Helper()
	pc, wc := net.Pipe()
	conn := NewConn(pc, 0, []protocol.MethodDesc{
		{Name: "call", ID: 1, Response: protocol.ResponseResult, RequestCodec: codec.Raw, ResponseCodec: codec.Raw},
	}, []protocol.EventDesc{{Name: "e", ID: 9, Codec: codec.Raw}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		r, w := wire.NewReader(wc, 0, 0), wire.NewWriter(wc)
		for {
			h, p, err := r.ReadFrame()
			if err != nil {
				return
			}
			serve(wc, w, h, p)
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		wc.Close()
		<-done
	})
	return conn
}

// respond writes the response to h carrying p.
func respond(w *wire.Writer, h wire.Header, p []byte) {
	w.WriteFrame(wire.Header{Method: h.Method, Flags: wire.FlagResponse, RequestID: h.RequestID}, p)
}

// awaitLoopRole waits until the read loop holds the role again.
func awaitLoopRole(t *testing.T, c *Conn, when string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.roleNow() != roleLoop {
		if time.Now().After(deadline) {
			t.Fatal("the loop did not take the role back " + when)
		}
		time.Sleep(time.Millisecond)
	}
}

func (c *Conn) roleNow() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.role
}

// TestLoneCallsReadTheirResponses checks that sequential calls read their
// own responses (the role is free after each, and each call claimed it),
// that the loop takes the role back once the connection stays idle, and
// that it then sees an event as it comes.
func TestLoneCallsReadTheirResponses(t *testing.T) {
	emit := make(chan struct{})
	conn := readConn(t, func(wc net.Conn, w *wire.Writer, h wire.Header, p []byte) {
		if string(p) == "emit" {
			// Later, on the idle connection (the worker waits for a
			// request meanwhile: no other write).
			go func() {
				<-emit
				wire.NewWriter(wc).WriteFrame(wire.Header{Method: 9, Flags: wire.FlagsEvent}, []byte("ev"))
			}()
		}
		respond(w, h, append([]byte("re:"), p...))
	})
	events := conn.Events("e")
	for i := range 20 {
		var out []byte
		if err := conn.Call(context.Background(), "call", []byte{byte(i)}, &out); err != nil || string(out) != "re:"+string([]byte{byte(i)}) {
			t.Fatalf("call %d: %q, %v", i, out, err)
		}
		if r := conn.roleNow(); r != roleFree {
			t.Fatalf("after call %d the role is %d, want free (%d)", i, r, roleFree)
		}
	}
	conn.mu.Lock()
	claims := conn.rd.claims
	conn.mu.Unlock()
	if claims < 19 {
		t.Errorf("%d of 20 calls read their own response, want at least 19", claims)
	}
	if err := conn.Call(context.Background(), "call", []byte("emit"), nil); err != nil {
		t.Fatal(err)
	}
	awaitLoopRole(t, conn, "from an idle connection")
	close(emit)
	select {
	case e := <-events:
		if string(e.Payload) != "ev" {
			t.Errorf("event payload %q", e.Payload)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("an event on the idle connection was not delivered")
	}
}

// TestLoneCallEnds checks the ways a call reading its own response ends
// early, each with the response's frame half read (its header or its
// payload): its timeout and its context. The loop then reads the rest of that frame (dropped: nobody
// waits for it), and the next calls get their own responses.
func TestLoneCallEnds(t *testing.T) {
	tests := []struct {
		name string
		call func(c *Conn) error
		want error
	}{
		{"timeout", func(c *Conn) error {
			return c.call(context.Background(), "call", []byte("stall"), nil, 50*time.Millisecond)
		}, ErrTimeout},
		{"context", func(c *Conn) error {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			return c.Call(ctx, "call", []byte("stall"), nil)
		}, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		for _, cut := range []int{5, wire.HeaderSize + 4} { // in the header, in the payload
			t.Run(fmt.Sprintf("%s/cut at %d", tc.name, cut), func(t *testing.T) {
				resume := make(chan struct{})
				conn := readConn(t, func(wc net.Conn, w *wire.Writer, h wire.Header, p []byte) {
					if string(p) != "stall" {
						respond(w, h, append([]byte("re:"), p...))
						return
					}
					frame := wire.Header{Method: 1, Flags: wire.FlagResponse, RequestID: h.RequestID, Length: 8}.Append(nil)
					frame = append(frame, "late-one"...)
					wc.Write(frame[:cut])
					<-resume
					wc.Write(frame[cut:])
				})
				// A first call, read by the loop, which then frees the
				// role: the next reads its own response.
				if err := conn.Call(context.Background(), "call", []byte("warm"), nil); err != nil {
					t.Fatal(err)
				}
				if r := conn.roleNow(); r != roleFree {
					t.Fatalf("after a call the role is %d, want free (%d)", r, roleFree)
				}
				start := time.Now()
				if err := tc.call(conn); !errors.Is(err, tc.want) {
					t.Fatalf("call = %v, want %v", err, tc.want)
				}
				if took := time.Since(start); took > 2*time.Second {
					t.Errorf("the call ended after %v (its limit: 50 ms)", took)
				}
				close(resume)
				for i := range 3 {
					in := []byte{'a' + byte(i)}
					var out []byte
					if err := conn.Call(context.Background(), "call", in, &out); err != nil || string(out) != "re:"+string(in) {
						t.Fatalf("call %d after: %q, %v", i, out, err)
					}
				}
				if err := conn.Err(); err != nil {
					t.Errorf("the connection ended: %v", err)
				}
			})
		}
	}
}

// TestLoneCallLeavesEventsToTheLoop checks that a call reading its own
// response leaves an event that comes first to the loop, which delivers
// it, and still gets its response.
func TestLoneCallLeavesEventsToTheLoop(t *testing.T) {
	conn := readConn(t, func(_ net.Conn, w *wire.Writer, h wire.Header, p []byte) {
		w.WriteFrame(wire.Header{Method: 9, Flags: wire.FlagsEvent}, []byte("first"))
		respond(w, h, p)
	})
	events := conn.Events("e")
	for i := range 3 {
		var out []byte
		if err := conn.Call(context.Background(), "call", []byte("x"), &out); err != nil || string(out) != "x" {
			t.Fatalf("call %d: %q, %v", i, out, err)
		}
		select {
		case e := <-events:
			if string(e.Payload) != "first" {
				t.Fatalf("event %q", e.Payload)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("call %d: the event before its response was not delivered", i)
		}
	}
}

// TestLongLoneCallQuietsTheClock checks that the loop stops ticking
// through a call that reads its own response for longer than a tick, and
// takes back the role the call frees at its end as after a short one.
func TestLongLoneCallQuietsTheClock(t *testing.T) {
	conn := readConn(t, func(_ net.Conn, w *wire.Writer, h wire.Header, p []byte) {
		if string(p) == "slow" {
			time.Sleep(100 * time.Millisecond)
		}
		respond(w, h, p)
	})
	if err := conn.Call(context.Background(), "call", []byte("warm"), nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- conn.Call(context.Background(), "call", []byte("slow"), nil) }()
	time.Sleep(50 * time.Millisecond)
	conn.mu.Lock()
	role, ticking := conn.role, conn.rd.ticking
	conn.mu.Unlock()
	if role != roleCaller || ticking {
		t.Errorf("during a long call: role %d, clock ticking %v; want %d (the caller reads), not ticking", role, ticking, roleCaller)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	awaitLoopRole(t, conn, "after a long call")
}
