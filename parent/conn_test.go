package parent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/protocol"
	"github.com/procwire/procwire-go/wire"
)

// TestStreamBackpressure checks that a lagging stream consumer stops the
// connection from reading (the worker's writes block once the chunks
// waiting exceed the high-water mark) and that the stream then completes
// intact, with every recycled buffer holding its own chunk.
func TestStreamBackpressure(t *testing.T) {
	const chunks, size = 64, 1 << 20
	pc, wc := net.Pipe() // synchronous: a write completes only when read
	conn := streamConn(pc, codec.Raw)
	defer conn.Close()

	var written atomic.Int64
	answerFirst(wc, func(w *wire.Writer, h wire.Header) {
		buf := make([]byte, size)
		for i := 0; i < chunks; i++ {
			for j := range buf {
				buf[j] = byte(i)
			}
			if _, err := w.WriteFrame(wire.Header{Method: 1, Flags: wire.FlagResponse | wire.FlagStream, RequestID: h.RequestID}, buf); err != nil {
				return
			}
			written.Add(size)
		}
		w.WriteFrame(wire.Header{Method: 1, Flags: wire.FlagResponse | wire.FlagStream | wire.FlagStreamEnd, RequestID: h.RequestID}, nil)
	})

	n := 0
	for c, err := range conn.Stream(context.Background(), "s", []byte{0}) {
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Payload) != size || c.Payload[0] != byte(n) || c.Payload[size-1] != byte(n) {
			t.Fatalf("chunk %d: %d bytes starting with %d", n, len(c.Payload), c.Payload[0])
		}
		if n == 0 {
			time.Sleep(300 * time.Millisecond) // the consumer lags
			if got := written.Load(); got > streamHighWater+2*size {
				t.Fatalf("the worker wrote %d MiB while the consumer was stuck (high water %d MiB)", got>>20, streamHighWater>>20)
			} else if got < streamHighWater/2 {
				t.Fatalf("only %d MiB read ahead while the consumer lagged", got>>20)
			}
		}
		n++
	}
	if n != chunks {
		t.Fatalf("%d chunks, want %d", n, chunks)
	}
}

// TestChunkKeep checks that a kept payload is not reused for later chunks.
func TestChunkKeep(t *testing.T) {
	pc, wc := net.Pipe()
	conn := streamConn(pc, codec.Raw)
	defer conn.Close()
	answerFirst(wc, func(w *wire.Writer, h wire.Header) {
		for i := 0; i < 8; i++ {
			buf := make([]byte, 64<<10)
			for j := range buf {
				buf[j] = byte(i)
			}
			w.WriteFrame(wire.Header{Method: 1, Flags: wire.FlagResponse | wire.FlagStream, RequestID: h.RequestID}, buf)
		}
		w.WriteFrame(wire.Header{Method: 1, Flags: wire.FlagResponse | wire.FlagStream | wire.FlagStreamEnd, RequestID: h.RequestID}, nil)
	})
	var kept [][]byte
	for c, err := range conn.Stream(context.Background(), "s", []byte{0}) {
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, c.Keep())
	}
	for i, p := range kept {
		for _, b := range p {
			if b != byte(i) {
				t.Fatalf("kept chunk %d was overwritten with %d", i, b)
			}
		}
	}
}

// FuzzConnFrames feeds arbitrary bytes from the worker's side to a parent
// connection with a call, a stream and an event subscription waiting: the
// connection never panics, and every waiter returns once the bytes are
// consumed and the worker end is closed.
func FuzzConnFrames(f *testing.F) {
	result := wire.Header{Method: 1, Flags: wire.FlagsResult, RequestID: 1, Length: 1}.Append(nil)
	result = append(result, 0xc0)
	chunk := append(wire.Header{Method: 2, Flags: wire.FlagsStreamChunk, RequestID: 2, Length: 1}.Append(nil), 7)
	end := wire.Header{Method: 2, Flags: wire.FlagsStreamEnd, RequestID: 2}.Append(nil)
	errFrame := append(wire.Header{Method: 1, Flags: wire.FlagsError, RequestID: 1, Length: 3}.Append(nil), 0xa2, 'n', 'o')
	event := append(wire.Header{Method: 1, Flags: wire.FlagsEvent, Length: 1}.Append(nil), 0x01)
	f.Add(append(append(append(append([]byte{}, result...), chunk...), end...), event...))
	f.Add(errFrame)
	f.Add(append(chunk, wire.Header{Method: 2, Flags: wire.FlagsStreamError, RequestID: 2, Length: 1}.Append(nil)...))
	f.Add(wire.Header{Method: 1, Flags: wire.FlagsResult, RequestID: 1, Length: 1 << 30}.Append(nil))
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		pc, wc := net.Pipe()
		methods := []protocol.MethodDesc{
			{Name: "call", ID: 1, Response: protocol.ResponseResult, RequestCodec: codec.MsgPack, ResponseCodec: codec.MsgPack},
			{Name: "stream", ID: 2, Response: protocol.ResponseStream, RequestCodec: codec.MsgPack, ResponseCodec: codec.MsgPack},
		}
		conn := NewConn(pc, 1<<16, methods, []protocol.EventDesc{{Name: "ev", ID: 1, Codec: codec.MsgPack}})
		defer conn.Close()
		events := conn.Events("ev")
		go func() {
			// The worker side: swallow the two requests, send the input,
			// hang up.
			r := wire.NewReader(wc, 0, 0)
			r.ReadFrame()
			r.ReadFrame()
			wc.Write(data)
			wc.Close()
		}()
		done := make(chan struct{}, 2)
		go func() {
			var out any
			conn.Call(context.Background(), "call", nil, &out)
			done <- struct{}{}
		}()
		go func() {
			// Wait for the call's request to be sent first, so ids are 1
			// and 2 as the seeds expect.
			time.Sleep(time.Millisecond)
			for c, err := range conn.Stream(context.Background(), "stream", nil) {
				if err != nil {
					break
				}
				var v any
				c.Decode(&v)
			}
			done <- struct{}{}
		}()
		go func() {
			for e := range events {
				var v any
				e.Decode(&v)
			}
		}()
		for range 2 {
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("a waiter did not return after the worker hung up")
			}
		}
	})
}

// TestRequestIDsWrapAndSkipZero checks that request ids wrap within uint32
// and never use 0 (the id of events and of none requests).
func TestRequestIDsWrapAndSkipZero(t *testing.T) {
	pc, wc := net.Pipe()
	conn := NewConn(pc, 0, []protocol.MethodDesc{{Name: "e", ID: 1, Response: protocol.ResponseResult, RequestCodec: codec.Raw, ResponseCodec: codec.Raw}}, nil)
	defer conn.Close()
	conn.nextID = 1<<32 - 3
	ids := make(chan uint32, 8)
	go echoPeer(wc, func(h wire.Header) { ids <- h.RequestID })
	for i := 0; i < 4; i++ {
		if err := conn.Call(context.Background(), "e", []byte{1}, nil); err != nil {
			t.Fatal(err)
		}
	}
	want := []uint32{1<<32 - 2, 1<<32 - 1, 1, 2}
	for i, w := range want {
		if got := <-ids; got != w {
			t.Fatalf("request %d has id %d, want %d", i, got, w)
		}
	}
}

// pipeConn returns a Conn over one end of a synchronous pipe, with a result
// method "call", a stream method "stream" and a none method "note", and
// the worker's end.
func pipeConn(t *testing.T) (*Conn, net.Conn) {
	t.Helper()
	pc, wc := net.Pipe()
	conn := NewConn(pc, 0, []protocol.MethodDesc{
		{Name: "call", ID: 1, Response: protocol.ResponseResult, RequestCodec: codec.Raw, ResponseCodec: codec.Raw},
		{Name: "stream", ID: 2, Response: protocol.ResponseStream, RequestCodec: codec.Raw, ResponseCodec: codec.Raw},
		{Name: "note", ID: 3, Response: protocol.ResponseNone, RequestCodec: codec.Raw},
	}, nil)
	t.Cleanup(func() {
		conn.Close()
		wc.Close()
	})
	return conn, wc
}

// callAndStream starts a call and a stream, waits until the worker has read
// both requests, runs then, and returns the errors the call and the stream
// end with.
func callAndStream(t *testing.T, conn *Conn, wc net.Conn, then func()) (callErr, streamErr error) {
	t.Helper()
	callDone, streamDone := make(chan error, 1), make(chan error, 1)
	go func() { callDone <- conn.Call(context.Background(), "call", []byte{1}, nil) }()
	go func() {
		var last error
		for _, err := range conn.Stream(context.Background(), "stream", []byte{2}) {
			last = err
		}
		streamDone <- last
	}()
	r := wire.NewReader(wc, 0, 0)
	for range 2 {
		if _, _, err := r.ReadFrame(); err != nil {
			t.Fatal(err)
		}
	}
	if err := conn.Err(); err != nil {
		t.Fatalf("Err of an open connection = %v", err)
	}
	then()
	for _, ch := range []chan error{callDone, streamDone} {
		select {
		case err := <-ch:
			if ch == callDone {
				callErr = err
			} else {
				streamErr = err
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a call in flight did not fail when the connection ended")
		}
	}
	return callErr, streamErr
}

// TestConnErrProtocolViolation checks that a frame with reserved flag bits
// ends the connection and that calls in flight, Err and later calls report
// the violation: the error is ErrClosed and the *wire.ProtocolError.
func TestConnErrProtocolViolation(t *testing.T) {
	conn, wc := pipeConn(t)
	flags := wire.FlagResponse | 0x40
	callErr, streamErr := callAndStream(t, conn, wc, func() {
		bad := wire.Header{Method: 1, Flags: flags, RequestID: 1}.Append(nil)
		if _, err := wc.Write(bad); err != nil {
			t.Error(err)
		}
	})
	<-conn.Done()
	want := fmt.Sprintf("procwire/parent: connection closed: protocol violation: reserved flag bits set (flags 0x%02X)", uint8(flags))
	for _, err := range []error{callErr, streamErr, conn.Err(), conn.Call(context.Background(), "call", nil, nil)} {
		var pe *wire.ProtocolError
		if !errors.Is(err, ErrClosed) || !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("error = %v; want ErrClosed and a *wire.ProtocolError, %q", err, want)
		}
	}
}

// TestConnErrWorkerClosed checks that a worker hanging up is named as the
// cause of the failures.
func TestConnErrWorkerClosed(t *testing.T) {
	conn, wc := pipeConn(t)
	callErr, streamErr := callAndStream(t, conn, wc, func() { wc.Close() })
	<-conn.Done()
	const want = "procwire/parent: connection closed: the worker closed the connection"
	for _, err := range []error{callErr, streamErr, conn.Err(), conn.Call(context.Background(), "call", nil, nil), conn.Notify("note", []byte{3})} {
		if !errors.Is(err, ErrClosed) || !errors.Is(err, io.EOF) || err.Error() != want {
			t.Errorf("error = %v; want %q", err, want)
		}
	}
}

// TestConnErrClosedByUs checks that Close fails everything with ErrClosed
// itself.
func TestConnErrClosedByUs(t *testing.T) {
	conn, wc := pipeConn(t)
	callErr, streamErr := callAndStream(t, conn, wc, func() { conn.Close() })
	for _, err := range []error{callErr, streamErr, conn.Err(), conn.Call(context.Background(), "call", nil, nil), conn.Notify("note", []byte{3})} {
		if err != ErrClosed {
			t.Errorf("error = %v; want ErrClosed itself", err)
		}
	}
}

// TestStrayFramesToAStream checks what a stream call does with frames that
// are not stream frames, as @procwire/core does: a plain result or ack is
// dropped and the stream goes on; an error without the stream flag (older
// workers sent stream errors that way) ends it with that error.
func TestStrayFramesToAStream(t *testing.T) {
	tests := []struct {
		name    string
		last    wire.Flags // the frame that should end the stream
		wantErr string
	}{
		{"plain result and ack dropped", wire.FlagsStreamEnd, ""},
		{"error without the stream flag ends it", wire.FlagsError, "old-style stream error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc, wc := net.Pipe()
			conn := streamConn(pc, codec.MsgPack)
			defer conn.Close()
			answerFirst(wc, func(w *wire.Writer, h wire.Header) {
				one, _ := codec.MsgPack.Marshal(1)
				w.WriteFrame(wire.Header{Method: 1, Flags: wire.FlagsResult, RequestID: h.RequestID}, one)
				w.WriteFrame(wire.Header{Method: 1, Flags: wire.FlagsAck, RequestID: h.RequestID}, one)
				w.WriteFrame(wire.Header{Method: 1, Flags: wire.FlagsStreamChunk, RequestID: h.RequestID}, one)
				var last []byte
				if tt.wantErr != "" {
					last, _ = codec.MsgPack.Marshal(tt.wantErr)
				}
				w.WriteFrame(wire.Header{Method: 1, Flags: tt.last, RequestID: h.RequestID}, last)
			})
			var chunks int
			var gotErr error
			for c, err := range StreamOf[int](context.Background(), conn, "s", nil) {
				if err != nil {
					gotErr = err
					break
				}
				if c != 1 {
					t.Fatalf("chunk %d", c)
				}
				chunks++
			}
			if chunks != 1 {
				t.Errorf("%d chunks, want the one stream chunk", chunks)
			}
			if tt.wantErr == "" && gotErr != nil || tt.wantErr != "" && (gotErr == nil || !strings.Contains(gotErr.Error(), tt.wantErr)) {
				t.Errorf("stream ended with %v, want %q", gotErr, tt.wantErr)
			}
		})
	}
}

// streamConn returns a Conn over pc whose only method, "s" (ID 1), is a
// stream method with codec c both ways.
func streamConn(pc net.Conn, c codec.Codec) *Conn {
	return NewConn(pc, 0, []protocol.MethodDesc{{Name: "s", ID: 1, Response: protocol.ResponseStream, RequestCodec: c, ResponseCodec: c}}, nil)
}

// answerFirst plays a worker on wc in a goroutine of its own: it reads the
// first request and calls answer with a writer on wc and the request's
// header. It gives up quietly when wc fails before a request arrives.
func answerFirst(wc net.Conn, answer func(w *wire.Writer, req wire.Header)) {
	go func() {
		h, _, err := wire.NewReader(wc, 0, 0).ReadFrame()
		if err != nil {
			return
		}
		answer(wire.NewWriter(wc), h)
	}()
}
