package procwire

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/wire"
)

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
// are corked while more requests are buffered).
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

	var burst []byte
	for i := 1; i <= n; i++ {
		burst = wire.Header{Method: id, RequestID: uint32(i), Length: 4}.Append(burst)
		burst = append(burst, byte(i>>24), byte(i>>16), byte(i>>8), byte(i))
	}
	if _, err := client.Write(burst); err != nil {
		t.Fatal(err)
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := wire.NewReader(client, 0, 0)
	seen := make(map[uint32]bool)
	for len(seen) < n {
		h, p, err := r.ReadFrame()
		if err != nil {
			t.Fatalf("after %d responses: %v", len(seen), err)
		}
		want := []byte{byte(h.RequestID >> 24), byte(h.RequestID >> 16), byte(h.RequestID >> 8), byte(h.RequestID)}
		if h.Flags != wire.FlagsResult || string(p) != string(want) || seen[h.RequestID] {
			t.Fatalf("response %v with payload %x", h, p)
		}
		seen[h.RequestID] = true
	}
	if got := cc.writes.Load(); got > n/4 {
		t.Errorf("%d responses took %d writes; pipelined responses should be combined", n, got)
	}
}
