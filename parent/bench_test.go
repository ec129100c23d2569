package parent_test

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/rpc"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/internal/cputime"
	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/parent"
	"github.com/procwire/procwire-go/protocol"
	"github.com/procwire/procwire-go/wire"
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
	m := benchModule(b, parent.Command{Path: conformance(b)}, parent.Options{})
	in := map[string]any{"id": 12345, "name": "procwire benchmark", "tags": []string{"alpha", "beta", "gamma"}, "score": 98.6}
	benchCalls(b, m, "echo", in, new(map[string]any))
}

// benchModule starts cmd as module "w" with opts and a logger that
// discards; b's cleanup shuts it down.
func benchModule(b *testing.B, cmd parent.Command, opts parent.Options) *parent.Module {
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := parent.Start(context.Background(), "w", cmd, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Shutdown(context.Background()) })
	return m
}

// caller is a *parent.Module or a *parent.Conn.
type caller interface {
	Call(ctx context.Context, method string, in, out any) error
}

// benchCalls calls method b.N times with in, decoding each result into out.
func benchCalls(b *testing.B, c caller, method string, in, out any) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := c.Call(context.Background(), method, in, out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStream1MiB measures raw 1 MiB chunks from a Go worker to the Go
// parent (compare with BenchmarkRawPump).
func BenchmarkStream1MiB(b *testing.B) {
	self, _ := os.Executable()
	m := benchModule(b, parent.Command{Path: self, Env: append(os.Environ(), "PROCWIRE_FAKE=sdk-pump")}, parent.Options{
		Methods: map[string]parent.MethodSpec{"pump": {Response: protocol.ResponseStream, Codec: codec.Raw}},
	})
	req := binary.BigEndian.AppendUint32(nil, uint32(b.N))
	b.SetBytes(1 << 20)
	b.ResetTimer()
	for _, err := range m.Stream(context.Background(), "pump", req) {
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawPingPong is the raw socket's round trip of a small frame
// (compare with BenchmarkRoundTrip).
func BenchmarkRawPingPong(b *testing.B) { rawEchoes(b, rawConn(b, "raw-echo"), 1) }

// rawEchoes sends b.N frames of 100 bytes for method on nc, each after the
// answer to the one before, with no SDK on this side.
func rawEchoes(b *testing.B, nc net.Conn, method uint16) {
	r := wire.NewReader(nc, 0, 0)
	w := wire.NewWriter(nc)
	payload := make([]byte, 100)
	var scratch []byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := w.WriteFrame(wire.Header{Method: method, RequestID: uint32(i + 1), Length: 100}, payload); err != nil {
			b.Fatal(err)
		}
		scratch = next(b, r, scratch)
	}
}

// next reads a frame from r into scratch and returns the buffer to read the
// frame after it into.
func next(b *testing.B, r *wire.Reader, scratch []byte) []byte {
	_, _, s, err := r.Next(scratch)
	if err != nil {
		b.Fatal(err)
	}
	return s
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
		scratch = next(b, r, scratch)
	}
}

// BenchmarkRoundTripRaw is BenchmarkRoundTrip without codec work: 100 raw
// bytes through echoRaw.
func BenchmarkRoundTripRaw(b *testing.B) {
	m := benchModule(b, parent.Command{Path: conformance(b)}, parent.Options{
		Methods: map[string]parent.MethodSpec{"echoRaw": {Codec: codec.Raw}},
	})
	benchCalls(b, m, "echoRaw", make([]byte, 100), new([]byte))
}

// BenchmarkConnRawPeer is the Go parent's own cost: parent.Conn calling a
// raw echo peer (no worker SDK, no codec work).
func BenchmarkConnRawPeer(b *testing.B) {
	nc := rawConn(b, "raw-echo")
	c := parent.NewConn(nc, 0, []protocol.MethodDesc{{Name: "echo", ID: 1, Response: protocol.ResponseResult, RequestCodec: codec.Raw, ResponseCodec: codec.Raw}}, nil)
	defer c.Close()
	benchCalls(b, c, "echo", make([]byte, 100), new([]byte))
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
	rawEchoes(b, nc, w.MethodID("echoRaw"))
}

// SmallStruct is the ~100-byte request of the small-call benchmarks, the
// shape of bench/compare's echo.
type SmallStruct struct {
	Name  string  `msgpack:"name"`
	ID    int64   `msgpack:"id"`
	Count int32   `msgpack:"count"`
	Score float64 `msgpack:"score"`
	OK    bool    `msgpack:"ok"`
	Tags  []int64 `msgpack:"tags"`
	Note  string  `msgpack:"note"`
}

var small = SmallStruct{Name: "procwire benchmark", ID: 1 << 40, Count: 12345, Score: 98.6, OK: true,
	Tags: []int64{1, 2, 3, 4, 5, 6, 7, 8}, Note: "a small struct echoed through the worker"}

// BenchmarkCallParallel measures 64 concurrent callers of a small struct
// echo through the Go parent and the Go conformance worker, with the CPU
// time per request of this process (the parent and the callers) and of
// the worker, from the kernel's per-thread accounting (Linux only): the
// figures issue 13's targets compare with net/rpc.
//
//	go test -run '^$' -bench CallParallel -benchtime 3s ./parent/
func BenchmarkCallParallel(b *testing.B) {
	m := benchModule(b, parent.Command{Path: conformance(b)}, parent.Options{})
	benchParallelEcho(b, m.Stats().PID, func(out *SmallStruct) error {
		return m.Call(context.Background(), "echo", small, out)
	})
}

// benchParallelEcho measures b.N small struct echoes with call from 64
// callers, after 1 000 untimed ones, and the CPU time per request of this
// process and of the worker pid.
func benchParallelEcho(b *testing.B, pid int, call func(out *SmallStruct) error) {
	run := func(n int64) {
		callParallel(b, 64, n, func() func() error {
			var out SmallStruct
			return func() error { return call(&out) }
		})
	}
	run(1000)
	measureParallel(b, time.Microsecond, func() time.Duration { return cputime.Process(pid) }, run)
}

// BenchmarkCallParallelNetRPC is BenchmarkCallParallel's baseline: the
// same echo from 64 callers with the standard library's net/rpc (gob over
// the child's stdin and stdout), what a Go team would use without
// Procwire. bench/compare runs the full comparison (and go-plugin).
func BenchmarkCallParallelNetRPC(b *testing.B) {
	client, pid := netRPCClient(b)
	benchParallelEcho(b, pid, func(out *SmallStruct) error { return client.Call("Echo.Echo", small, out) })
}

// BenchmarkRoundTripSmall is one caller's round trip of the small struct
// echo (BenchmarkCallParallel's), and BenchmarkRoundTripNetRPC the same
// with net/rpc: compare both with BenchmarkRawPingPong.
func BenchmarkRoundTripSmall(b *testing.B) {
	m := benchModule(b, parent.Command{Path: conformance(b)}, parent.Options{})
	benchCalls(b, m, "echo", small, new(SmallStruct))
}

func BenchmarkRoundTripNetRPC(b *testing.B) {
	client, _ := netRPCClient(b)
	var out SmallStruct
	b.ReportAllocs()
	for b.Loop() {
		if err := client.Call("Echo.Echo", small, &out); err != nil {
			b.Fatal(err)
		}
	}
}

// netRPCClient starts the netrpc peer (this test binary) and returns a
// net/rpc client on its stdin and stdout, and its pid; b's cleanup stops it.
func netRPCClient(b *testing.B) (*rpc.Client, int) {
	self, _ := os.Executable()
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), "PROCWIRE_FAKE=netrpc")
	cmd.Stderr = os.Stderr
	w, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	r, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	client := rpc.NewClient(struct {
		io.Reader
		io.WriteCloser
	}{r, w})
	b.Cleanup(func() {
		client.Close()
		cmd.Wait()
	})
	return client, cmd.Process.Pid
}

// Echo is the net/rpc service of the netrpc peer.
type Echo struct{}

// Echo answers with its argument.
func (Echo) Echo(in SmallStruct, out *SmallStruct) error {
	*out = in
	return nil
}

// netRPCPeer serves Echo with net/rpc on stdin and stdout.
func netRPCPeer() {
	srv := rpc.NewServer()
	if err := srv.Register(Echo{}); err != nil {
		panic(err)
	}
	srv.ServeConn(struct {
		io.Reader
		io.Writer
		io.Closer
	}{os.Stdin, os.Stdout, os.Stdin})
}
