package testenv_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/wire"
)

// TestRawPeer checks the raw floor's protocol: method 1 echoes, method 2
// pumps n chunks of 1 MiB, any other method ends the peer.
func TestRawPeer(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	a, b := testenv.SocketPair(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		testenv.RawPeer(b)
	}()
	r, w := wire.NewReader(a, 0, 0), wire.NewWriter(a)
	if _, err := w.WriteFrame(wire.Header{Method: 1, RequestID: 7}, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	h, p, _, err := r.Next(nil)
	if err != nil || h.Method != 1 || h.Flags != wire.FlagsResult || h.RequestID != 7 || string(p) != "ping" {
		t.Fatalf("echo: %+v %q %v", h, p, err)
	}
	if _, err := w.WriteFrame(wire.Header{Method: 2, RequestID: 1}, binary.BigEndian.AppendUint32(nil, 3)); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		h, p, _, err := r.Next(nil)
		if err != nil || h.Flags != wire.FlagsStreamChunk || len(p) != 1<<20 {
			t.Fatalf("chunk %d: %+v, %d bytes, %v", i, h, len(p), err)
		}
	}
	if _, err := w.WriteFrame(wire.Header{Method: 3}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("RawPeer did not return after method 3")
	}
}
