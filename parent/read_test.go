package parent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/internal/testenv"
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

// TestReadRoleStress mixes, from several goroutines, what makes the read
// role change hands: lone calls and concurrent ones, calls that time out or
// are cancelled while their response is half written, streams and events,
// over a Unix socket to a fake worker that answers in any order, splits
// frames and pauses inside them. Every call that succeeds must get its own
// payload back, every stream its own chunks, and the connection must
// survive.
func TestReadRoleStress(t *testing.T) {
	pc, wc := testenv.SocketPair(t)
	conn := NewConn(pc, 0, []protocol.MethodDesc{
		{Name: "call", ID: 1, Response: protocol.ResponseResult, RequestCodec: codec.Raw, ResponseCodec: codec.Raw},
		{Name: "stream", ID: 2, Response: protocol.ResponseStream, RequestCodec: codec.Raw, ResponseCodec: codec.Raw},
	}, []protocol.EventDesc{{Name: "e", ID: 9, Codec: codec.Raw}})
	var wmu sync.Mutex // the fake worker's writes, one frame (or piece) at a time
	write := func(b []byte) {
		wmu.Lock()
		defer wmu.Unlock()
		wc.Write(b)
	}
	frame := func(h wire.Header, p []byte) []byte {
		h.Length = uint32(len(p))
		return append(h.Append(nil), p...)
	}
	var answering sync.WaitGroup
	go func() {
		r := wire.NewReader(wc, 0, 0)
		for n := 0; ; n++ {
			h, p, err := r.ReadFrame()
			if err != nil {
				return
			}
			if h.Method != 1 && h.Method != 2 {
				continue // an abort
			}
			answering.Add(1)
			go func() {
				defer answering.Done()
				time.Sleep(time.Duration(n%7) * 100 * time.Microsecond)
				if n%5 == 0 {
					write(frame(wire.Header{Method: 9, Flags: wire.FlagsEvent}, []byte("ev")))
				}
				if h.Method == 2 {
					for i := range 3 {
						write(frame(wire.Header{Method: 2, Flags: wire.FlagResponse | wire.FlagStream, RequestID: h.RequestID}, append(bytes.Clone(p), byte('0'+i))))
					}
					write(frame(wire.Header{Method: 2, Flags: wire.FlagResponse | wire.FlagStream | wire.FlagStreamEnd, RequestID: h.RequestID}, nil))
					return
				}
				f := frame(wire.Header{Method: 1, Flags: wire.FlagResponse, RequestID: h.RequestID}, p)
				if n%3 == 0 { // split, with a pause inside the frame
					cut := 1 + n%(len(f)-1)
					wmu.Lock()
					wc.Write(f[:cut])
					time.Sleep(300 * time.Microsecond)
					wc.Write(f[cut:])
					wmu.Unlock()
					return
				}
				write(f)
			}()
		}
	}()
	events := conn.Events("e")
	go func() {
		for range events {
		}
	}()

	// op runs one operation of kind k (0 to 5) with payload in; false if
	// it failed.
	op := func(k int, in []byte) bool {
		switch k {
		case 0, 1, 2: // a plain call; a lone one when the others pause
			var out []byte
			if err := conn.call(context.Background(), "call", in, &out, 5*time.Second); err != nil || !bytes.Equal(out, in) {
				t.Errorf("call %s: %q, %v", in, out, err)
				return false
			}
		case 3: // a timeout that may strike before the response
			var out []byte
			err := conn.call(context.Background(), "call", in, &out, 300*time.Microsecond)
			if err != nil && !errors.Is(err, ErrTimeout) || err == nil && !bytes.Equal(out, in) {
				t.Errorf("call %s with a short timeout: %q, %v", in, out, err)
				return false
			}
		case 4: // a context that may end before the response
			ctx, cancel := context.WithTimeout(context.Background(), 400*time.Microsecond)
			defer cancel()
			var out []byte
			err := conn.Call(ctx, "call", in, &out)
			if err != nil && !errors.Is(err, context.DeadlineExceeded) || err == nil && !bytes.Equal(out, in) {
				t.Errorf("call %s with a short context: %q, %v", in, out, err)
				return false
			}
		case 5: // a stream (no time limit of its own: bounded here)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			n := 0
			for c, err := range conn.Stream(ctx, "stream", in) {
				if err != nil {
					t.Errorf("stream %s: %v", in, err)
					return false
				}
				if want := append(bytes.Clone(in), byte('0'+n)); !bytes.Equal(c.Payload, want) {
					t.Errorf("stream %s: chunk %q, want %q", in, c.Payload, want)
					return false
				}
				n++
			}
			if n != 3 {
				t.Errorf("stream %s: %d chunks, want 3", in, n)
				return false
			}
		}
		return true
	}
	// Every fifth round of a goroutine is solo: three operations with the
	// others held back, so that its calls are lone and, after the first,
	// read their own responses.
	var solo sync.RWMutex
	round := func(g, i int) bool {
		reps := 1
		if i%5 == 0 {
			solo.Lock()
			defer solo.Unlock()
			reps = 3
		} else {
			solo.RLock()
			defer solo.RUnlock()
		}
		for k := range reps {
			if !op((g+i)%6, fmt.Appendf(nil, "g%d-%d-%d", g, i, k)) {
				return false
			}
		}
		return true
	}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			for i := range 150 {
				if !round(g, i) {
					return
				}
				if i%10 == 0 {
					time.Sleep(2 * time.Millisecond) // let the role go free, and back
				}
			}
		})
	}
	wg.Wait()
	if err := conn.Err(); err != nil {
		t.Fatalf("the connection ended: %v", err)
	}
	conn.mu.Lock()
	claims := conn.rd.claims
	conn.mu.Unlock()
	st := conn.Stats().Methods["call"]
	t.Logf("calls that read their own response: %d; call outcomes: %+v", claims, st)
	if claims == 0 || st.Timeouts == 0 || st.Aborted == 0 {
		t.Errorf("not every path was taken: %d direct reads, %d timeouts, %d cancelled", claims, st.Timeouts, st.Aborted)
	}
	conn.Close()
	wc.Close()
	answering.Wait()
}
