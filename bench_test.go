package procwire

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/internal/cputime"
	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/wire"
)

// smallObject is a ≈100-byte msgpack object, the benchmarks' small request.
type smallObject struct {
	ID      int      `msgpack:"id"`
	Name    string   `msgpack:"name"`
	Tags    []string `msgpack:"tags"`
	Score   float64  `msgpack:"score"`
	Enabled bool     `msgpack:"enabled"`
	Note    string   `msgpack:"note"`
}

var small = smallObject{ID: 12345, Name: "procwire benchmark", Tags: []string{"alpha", "beta", "gamma"}, Score: 98.6, Enabled: true, Note: "a small object of about one hundred bytes"}

// benchWorker serves w on one end of a Unix socket pair and returns the
// parent's end.
func benchWorker(b *testing.B, opts Options, build func(*Worker)) net.Conn {
	b.Helper()
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	w := NewWorker(opts)
	build(w)
	wc, parent := testenv.SocketPair(b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		w.ServeConn(ctx, wc)
		close(done)
	}()
	b.Cleanup(func() {
		cancel()
		parent.Close()
		<-done
	})
	return parent
}

// BenchmarkDispatch measures a small msgpack echo end to end in-process:
// frame read, decode into a struct, handler, encode, frame write, on a Unix
// socket pair; sequential and with 64 requests in flight.
func BenchmarkDispatch(b *testing.B) {
	for _, inflight := range []int{1, 64} {
		b.Run("inflight="+strconv.Itoa(inflight), func(b *testing.B) {
			nc := benchWorker(b, Options{}, func(w *Worker) {
				Handle(w, "echo", func(ctx context.Context, in smallObject) (smallObject, error) { return in, nil })
			})
			payload, _ := codec.MsgPack.Marshal(small)
			frame := append(wire.Header{Method: 1, Length: uint32(len(payload))}.Append(nil), payload...)
			batch := make([]byte, 0, len(frame)*inflight)
			for i := 0; i < inflight; i++ {
				batch = append(batch, frame...)
			}
			r := wire.NewReader(nc, 0, 0)
			var scratch []byte
			b.ReportAllocs()
			b.ResetTimer()
			defer cputime.Report(b)() // both ends: the test's is a fraction of the worker's
			for i := 0; i < b.N; i += inflight {
				for j := 0; j < inflight; j++ {
					wire.Header{Method: 1, RequestID: uint32(i + j + 1), Length: uint32(len(payload))}.Put(batch[j*len(frame):])
				}
				if _, err := nc.Write(batch); err != nil {
					b.Fatal(err)
				}
				for j := 0; j < inflight; j++ {
					var err error
					if _, _, scratch, err = r.Next(scratch); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkStreamRaw measures raw stream chunks of 1 MiB from a handler to
// the parent's end of the socket.
func BenchmarkStreamRaw(b *testing.B) {
	chunk := make([]byte, 1<<20)
	nc := benchWorker(b, Options{}, func(w *Worker) {
		HandleStream(w, "blob", func(ctx context.Context, n int, out *Stream[[]byte]) error {
			for i := 0; i < n; i++ {
				if err := out.SendRaw(chunk); err != nil {
					return err
				}
			}
			return nil
		}, MethodOptions{RequestCodec: codec.MsgPack, ResponseCodec: codec.Raw})
	})
	req, _ := codec.MsgPack.Marshal(b.N)
	r := wire.NewReader(nc, 0, 256<<10)
	scratch := make([]byte, 1<<20)
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	b.ResetTimer()
	if _, err := nc.Write(append(wire.Header{Method: 1, RequestID: 1, Length: uint32(len(req))}.Append(nil), req...)); err != nil {
		b.Fatal(err)
	}
	for i := 0; i <= b.N; i++ { // b.N chunks and the end
		var err error
		if _, _, scratch, err = r.Next(scratch); err != nil {
			b.Fatal(err)
		}
	}
}
