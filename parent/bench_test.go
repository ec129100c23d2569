package parent_test

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/procwire/procwire-go"
	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/wire"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/parent"
	"github.com/procwire/procwire-go/protocol"
)

// BenchmarkSpawnToReady measures Start (spawn, $init, connect) of the Go
// conformance worker under the Go parent; Shutdown is not timed.
func BenchmarkSpawnToReady(b *testing.B) {
	path := conformance(b)
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
	m, err := parent.Start(context.Background(), "w", parent.Command{Path: conformance(b)}, parent.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
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

// sdkPump is a Go worker (this test binary run with PROCWIRE_FAKE=sdk-pump)
// whose stream method pump sends the same 1 MiB raw chunk as many times as
// the 4-byte request says: the worker SDK's frame path, without the
// conformance worker's filling of every chunk.
func sdkPump() {
	w := procwire.NewWorker(procwire.Options{})
	buf := make([]byte, 1<<20)
	procwire.HandleStream(w, "pump", func(ctx context.Context, n []byte, out *procwire.Stream[[]byte]) error {
		for i := uint32(0); i < binary.BigEndian.Uint32(n); i++ {
			if err := out.Send(buf); err != nil {
				return err
			}
		}
		return nil
	}, procwire.MethodOptions{Codec: codec.Raw})
	if err := w.Run(context.Background()); err != nil {
		os.Exit(1)
	}
}

// BenchmarkStream1MiB measures raw 1 MiB chunks from a Go worker to the Go
// parent (compare with BenchmarkRawPump).
func BenchmarkStream1MiB(b *testing.B) {
	self, _ := os.Executable()
	m, err := parent.Start(context.Background(), "w", parent.Command{Path: self, Env: append(os.Environ(), "PROCWIRE_FAKE=sdk-pump")}, parent.Options{
		Methods: map[string]parent.MethodSpec{"pump": {Response: protocol.ResponseStream, Codec: codec.Raw}},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	req := binary.BigEndian.AppendUint32(nil, uint32(b.N))
	b.SetBytes(1 << 20)
	b.ResetTimer()
	for _, err := range m.Stream(context.Background(), "pump", req) {
		if err != nil {
			b.Fatal(err)
		}
	}
}

// The raw socket between two processes, with no parent, no worker and no
// codec: the ceiling the benchmarks above are compared with. rawPeer is the
// child side (the test binary run with PROCWIRE_FAKE=raw-echo or raw-pump).
func rawPeer(mode string) {
	nc, err := net.Dial("unix", os.Getenv("PROCWIRE_RAW_SOCKET"))
	if err != nil {
		os.Exit(2)
	}
	defer nc.Close()
	r := wire.NewReader(nc, 0, 0)
	w := wire.NewWriter(nc)
	var scratch []byte
	if mode == "raw-echo" {
		for {
			h, p, s, err := r.Next(scratch)
			if err != nil {
				return
			}
			scratch = s
			h.Flags |= wire.FlagResponse
			if _, err := w.WriteFrame(h, p); err != nil {
				return
			}
		}
	}
	// raw-pump: the request says how many 1 MiB frames to send.
	h, _, _, err := r.Next(scratch)
	if err != nil {
		return
	}
	buf := make([]byte, 1<<20)
	for i := uint32(0); i < h.RequestID; i++ {
		if _, err := w.WriteFrame(wire.Header{Method: 1, Flags: wire.FlagResponse | wire.FlagStream, RequestID: 1, Length: 1 << 20}, buf); err != nil {
			return
		}
	}
}

func rawConn(b *testing.B, mode string) net.Conn {
	dir := b.TempDir()
	path := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	self, _ := os.Executable()
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), "PROCWIRE_FAKE="+mode, "PROCWIRE_RAW_SOCKET="+path)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Wait() })
	nc, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	return nc
}

// BenchmarkRawPingPong is the raw socket's round trip of a small frame
// (compare with BenchmarkRoundTrip).
func BenchmarkRawPingPong(b *testing.B) {
	nc := rawConn(b, "raw-echo")
	r := wire.NewReader(nc, 0, 0)
	w := wire.NewWriter(nc)
	payload := make([]byte, 100)
	var scratch []byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := w.WriteFrame(wire.Header{Method: 1, RequestID: uint32(i + 1), Length: 100}, payload); err != nil {
			b.Fatal(err)
		}
		_, _, s, err := r.Next(scratch)
		if err != nil {
			b.Fatal(err)
		}
		scratch = s
	}
}

// BenchmarkRawPump is the raw socket's throughput for 1 MiB frames from
// child to parent, read into one reused buffer (compare with
// BenchmarkStream1MiB).
func BenchmarkRawPump(b *testing.B) {
	nc := rawConn(b, "raw-pump")
	r := wire.NewReader(nc, 0, 0)
	w := wire.NewWriter(nc)
	b.SetBytes(1 << 20)
	b.ResetTimer()
	if _, err := w.WriteFrame(wire.Header{Method: 1, RequestID: uint32(b.N)}, nil); err != nil {
		b.Fatal(err)
	}
	var scratch []byte
	for i := 0; i < b.N; i++ {
		_, _, s, err := r.Next(scratch)
		if err != nil {
			b.Fatal(err)
		}
		scratch = s
	}
}

// BenchmarkRoundTripRaw is BenchmarkRoundTrip without codec work: 100 raw
// bytes through echoRaw.
func BenchmarkRoundTripRaw(b *testing.B) {
	m, err := parent.Start(context.Background(), "w", parent.Command{Path: conformance(b)}, parent.Options{
		Methods: map[string]parent.MethodSpec{"echoRaw": {Codec: codec.Raw}},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	in := make([]byte, 100)
	var out []byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := m.Call(context.Background(), "echoRaw", in, &out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConnRawPeer is the Go parent's own cost: parent.Conn calling a
// raw echo peer (no worker SDK, no codec work).
func BenchmarkConnRawPeer(b *testing.B) {
	nc := rawConn(b, "raw-echo")
	c := parent.NewConn(nc, 0, []protocol.MethodDesc{{Name: "echo", ID: 1, Response: protocol.ResponseResult, RequestCodec: codec.Raw, ResponseCodec: codec.Raw}}, nil)
	defer c.Close()
	in := make([]byte, 100)
	var out []byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := c.Call(context.Background(), "echo", in, &out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWorkerRawClient is the Go worker's own cost: a raw client
// (no parent SDK) calling echoRaw of the conformance worker.
func BenchmarkWorkerRawClient(b *testing.B) {
	cmd := exec.Command(conformance(b))
	cmd.Stderr = os.Stderr
	w := testenv.Spawn(b, cmd)
	nc, err := testenv.Dial(w.Init.Pipe)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	id := w.MethodID("echoRaw")
	r := wire.NewReader(nc, 0, 0)
	ww := wire.NewWriter(nc)
	payload := make([]byte, 100)
	var scratch []byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ww.WriteFrame(wire.Header{Method: id, RequestID: uint32(i + 1), Length: 100}, payload); err != nil {
			b.Fatal(err)
		}
		_, _, s, err := r.Next(scratch)
		if err != nil {
			b.Fatal(err)
		}
		scratch = s
	}
}
