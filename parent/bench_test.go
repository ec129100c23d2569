package parent_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/parent"
)

// BenchmarkSpawnToReady measures Start (spawn, $init, connect) of the Go
// conformance worker under the Go parent; Shutdown is not timed.
func BenchmarkSpawnToReady(b *testing.B) {
	t := &testing.T{}
	path := conformance(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var total time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		m, err := parent.Start(context.Background(), "w", parent.Command{Path: path, Env: os.Environ()}, parent.Options{Logger: log})
		if err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		b.StopTimer()
		m.Shutdown(context.Background())
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms/spawn")
}

// BenchmarkRoundTrip measures a small msgpack echo through the Go parent
// and the Go worker in another process.
func BenchmarkRoundTrip(b *testing.B) {
	m, err := parent.Start(context.Background(), "w", parent.Command{Path: conformance(&testing.T{})}, parent.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	in := map[string]any{"id": 12345, "name": "procwire benchmark", "tags": []string{"alpha", "beta", "gamma"}, "score": 98.6}
	var out map[string]any
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := m.Call(context.Background(), "echo", in, &out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStream1MiB measures raw 1 MiB chunks from the Go worker.
func BenchmarkStream1MiB(b *testing.B) {
	m, err := parent.Start(context.Background(), "w", parent.Command{Path: conformance(&testing.T{})}, parent.Options{
		Methods: map[string]parent.MethodSpec{"blob": {Response: parent.Stream, Codec: codec.Raw}},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	req := []byte{0, 0, 0, 0, 0, 0x10, 0, 0}
	req[0], req[1], req[2], req[3] = byte(b.N>>24), byte(b.N>>16), byte(b.N>>8), byte(b.N)
	b.SetBytes(1 << 20)
	b.ResetTimer()
	for _, err := range m.Stream(context.Background(), "blob", req) {
		if err != nil {
			b.Fatal(err)
		}
	}
}
