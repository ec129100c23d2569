package parent_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/parent"
	"github.com/procwire/procwire-go/wire"
)

// TestMaxPayloadSize: a response larger than Options.MaxPayloadSize ends
// the connection with a protocol violation (core's FrameBuffer
// maxPayloadSize); the default is core's 1 GiB, capped at 2 GiB - 1.
func TestMaxPayloadSize(t *testing.T) {
	if wire.DefaultMaxPayload != 1<<30 || wire.MaxPayloadLimit != 1<<31-1 {
		t.Errorf("wire limits %d, %d; want core's DEFAULT_MAX_PAYLOAD_SIZE and ABSOLUTE_MAX_PAYLOAD_SIZE", wire.DefaultMaxPayload, wire.MaxPayloadLimit)
	}
	eachWorker(t, func(t *testing.T, w worker) {
		opts := spec()
		opts.MaxPayloadSize = 1 << 10
		m := startWorker(t, w, opts)
		var out []byte
		if err := m.Call(context.Background(), "echoRaw", []byte("small"), &out); err != nil || string(out) != "small" {
			t.Fatalf("a small echo = %q, %v", out, err)
		}
		err := m.Call(context.Background(), "echoRaw", bytes.Repeat([]byte("x"), 4<<10), &out)
		var pe *wire.ProtocolError
		if !errors.Is(err, parent.ErrClosed) || !errors.As(err, &pe) || !strings.Contains(err.Error(), "exceeds the limit of 1024") {
			t.Errorf("a 4 KiB response over a 1 KiB limit = %v; want a protocol violation", err)
		}
	})
}

// TestInitTimeout: a worker that never sends $init fails the start after
// InitTimeout with core's message, and is killed.
func TestInitTimeout(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	cmd := lifeCmd("mute", "PROCWIRE_LIFE_MARK="+filepath.Join(t.TempDir(), "pid"))
	start := time.Now()
	_, err := parent.Start(context.Background(), "mute", cmd, parent.Options{InitTimeout: 100 * time.Millisecond, Retries: -1, Logger: quiet()})
	var se *parent.SpawnError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), `module "mute" did not send $init within 100ms`) {
		t.Errorf("Start = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("failed after %v", d)
	}
}
