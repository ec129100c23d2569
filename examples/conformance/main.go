// Command conformance is the Procwire conformance worker: it registers the
// methods and events of the conformance contract (see README.md beside this
// file), which the interop suites drive from the Node parent and the Go
// parent. Method names and semantics are a fixed contract.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/procwire/procwire-go"
	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/codec/arrowcodec"
)

// Aborted is the payload of the aborted event.
type Aborted struct {
	Method string `msgpack:"method"`
}

// Count is the request of count and progress.
type Count struct {
	N int `msgpack:"n"`
}

// Types is the response of types: one value of each kind Node must see as
// its own (numbers, string, Buffer, Date, null, array, map).
type Types struct {
	Int   int            `msgpack:"int"`
	Neg   int            `msgpack:"neg"`
	Big   int64          `msgpack:"big"`
	Float float64        `msgpack:"float"`
	Str   string         `msgpack:"str"`
	Bin   []byte         `msgpack:"bin"`
	Date  time.Time      `msgpack:"date"`
	Nil   any            `msgpack:"nil"`
	Arr   []any          `msgpack:"arr"`
	Map   map[string]any `msgpack:"map"`
}

// Burn is the request and the response of burn.
type Burn struct {
	MS float64 `msgpack:"ms"`
}

func newWorker(opts procwire.Options) *procwire.Worker {
	w := procwire.NewWorker(opts)
	progress := procwire.NewEvent[map[string]int](w, "progress")
	notified := procwire.NewEvent[any](w, "notified")
	aborted := procwire.NewEvent[Aborted](w, "aborted")
	raw := procwire.MethodOptions{Codec: codec.Raw}
	cancellable := procwire.MethodOptions{Cancellable: true}

	procwire.Handle(w, "echo", func(ctx context.Context, in any) (any, error) {
		return in, nil
	})
	procwire.Handle(w, "echoRaw", func(ctx context.Context, in []byte) ([]byte, error) {
		return in, nil
	}, raw)
	procwire.HandleAck(w, "ack", func(ctx context.Context, in any) (map[string]bool, error) {
		return map[string]bool{"ok": true}, nil
	})
	procwire.HandleNotify(w, "notify", func(ctx context.Context, in any) error {
		return notified.Emit(in)
	})
	procwire.HandleStream(w, "count", func(ctx context.Context, in Count, out *procwire.Stream[int]) error {
		for i := 0; i < in.N; i++ {
			if err := out.Send(i); err != nil {
				return err
			}
		}
		return nil
	})
	procwire.HandleStream(w, "blob", func(ctx context.Context, in []byte, out *procwire.Stream[[]byte]) error {
		if len(in) != 8 {
			return fmt.Errorf("blob: request must be 8 bytes (count, size), got %d", len(in))
		}
		count := binary.BigEndian.Uint32(in[0:4])
		size := binary.BigEndian.Uint32(in[4:8])
		if size > 256<<20 {
			return fmt.Errorf("blob: chunk size %d exceeds 256 MiB", size)
		}
		buf := make([]byte, size)
		for i := uint32(0); i < count; i++ {
			fill(buf, byte(i))
			if err := out.Send(buf); err != nil {
				return err
			}
		}
		return nil
	}, raw)
	procwire.Handle(w, "fail", func(ctx context.Context, in string) (any, error) {
		return nil, errors.New("fail: " + in)
	})
	procwire.Handle(w, "failObject", func(ctx context.Context, in any) (any, error) {
		return nil, &procwire.Error{
			Message: "structured failure",
			Code:    "E_CONFORMANCE",
			Details: map[string]any{"input": in},
		}
	})
	procwire.Handle(w, "panic", func(ctx context.Context, in any) (any, error) {
		panic("conformance panic")
	})
	procwire.HandleStream(w, "streamFail", func(ctx context.Context, in any, out *procwire.Stream[int]) error {
		for i := 0; i < 2; i++ {
			if err := out.Send(i); err != nil {
				return err
			}
		}
		return errors.New("stream failed")
	})
	procwire.Handle(w, "sleep", func(ctx context.Context, ms int64) (map[string]int64, error) {
		t := time.NewTimer(time.Duration(ms) * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
			return map[string]int64{"slept": ms}, nil
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), procwire.ErrAborted) {
				aborted.Emit(Aborted{Method: "sleep"})
			}
			return nil, context.Cause(ctx)
		}
	}, cancellable)
	procwire.HandleStream(w, "tick", func(ctx context.Context, in any, out *procwire.Stream[int]) error {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			if err := out.Send(i); err != nil && ctx.Err() == nil {
				return err
			}
			select {
			case <-t.C:
			case <-ctx.Done():
				if errors.Is(context.Cause(ctx), procwire.ErrAborted) {
					aborted.Emit(Aborted{Method: "tick"})
				}
				return context.Cause(ctx)
			}
		}
	}, cancellable)
	procwire.Handle(w, "progress", func(ctx context.Context, in Count) (map[string]int, error) {
		for i := 0; i < in.N; i++ {
			if err := progress.Emit(map[string]int{"i": i}); err != nil {
				return nil, err
			}
		}
		return map[string]int{"emitted": in.N}, nil
	})
	procwire.Handle(w, "types", func(ctx context.Context, in any) (Types, error) {
		return Types{
			Int:   1,
			Neg:   -1,
			Big:   1 << 40,
			Float: 1.5,
			Str:   "héllo",
			Bin:   []byte{1, 2, 3},
			Date:  time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC),
			Nil:   nil,
			Arr:   []any{1, "a", true},
			Map:   map[string]any{"k": "v"},
		}, nil
	})
	procwire.Handle(w, "info", func(ctx context.Context, in any) (map[string]int, error) {
		return map[string]int{"pid": os.Getpid()}, nil
	})
	arrowOpts := procwire.MethodOptions{Codec: arrowcodec.Codec}
	// sumArrow: the request is an Arrow table with a Float64 column x
	// (other columns are ignored); the response is a one-row table whose
	// Float64 column sum adds up the non-null values of x.
	procwire.Handle(w, "sumArrow", func(ctx context.Context, in arrow.RecordBatch) (arrow.RecordBatch, error) {
		defer in.Release()
		idx := in.Schema().FieldIndices("x")
		if len(idx) == 0 {
			return nil, errors.New("sumArrow: the table has no column x")
		}
		x, ok := in.Column(idx[0]).(*array.Float64)
		if !ok {
			return nil, fmt.Errorf("sumArrow: column x is %v, want float64", in.Column(idx[0]).DataType())
		}
		var sum float64
		for i := 0; i < x.Len(); i++ {
			if x.IsValid(i) {
				sum += x.Value(i)
			}
		}
		return column("sum", arrow.PrimitiveTypes.Float64, func(b array.Builder) {
			b.(*array.Float64Builder).Append(sum)
		}), nil
	}, arrowOpts)
	// batchesArrow: the request is an Arrow table whose Int32 column n
	// holds one value; the response streams n chunks, chunk i a table with
	// one Int32 column i of three rows, all i.
	procwire.HandleStream(w, "batchesArrow", func(ctx context.Context, in arrow.RecordBatch, out *procwire.Stream[arrow.RecordBatch]) error {
		defer in.Release()
		idx := in.Schema().FieldIndices("n")
		if len(idx) == 0 || in.NumRows() != 1 {
			return fmt.Errorf("batchesArrow: want a table with one row and a column n, got %d rows of %v", in.NumRows(), in.Schema())
		}
		n, ok := in.Column(idx[0]).(*array.Int32)
		if !ok || !n.IsValid(0) {
			return fmt.Errorf("batchesArrow: column n is %v, want a non-null int32", in.Column(idx[0]).DataType())
		}
		for i := int32(0); i < n.Value(0); i++ {
			rec := column("i", arrow.PrimitiveTypes.Int32, func(b array.Builder) {
				b.(*array.Int32Builder).AppendValues([]int32{i, i, i}, nil)
			})
			if err := func() error { defer rec.Release(); return out.Send(rec) }(); err != nil {
				return err
			}
		}
		return nil
	}, arrowOpts)
	procwire.Handle(w, "burn", func(ctx context.Context, in Burn) (Burn, error) {
		burn(in.MS)
		return in, nil
	})
	registerTyped(w)
	registerRequests(w)
	registerRequestInfo(w)
	return w
}

// The CPU work of burn: a xorshift loop, whose speed calibrate measures
// once, on first use.
var (
	calibration sync.Once
	spinsPerMS  float64       // set by calibrate
	spinSink    atomic.Uint64 // keeps the loop's result alive
)

// burn keeps one CPU busy for about ms milliseconds of CPU time: a fixed
// amount of work (not a wall-clock deadline), so that a worker that has to
// share its CPU takes longer, as real CPU-bound work does.
func burn(ms float64) {
	calibration.Do(calibrate)
	if ms > 0 {
		spinSink.Add(spin(uint64(ms * spinsPerMS)))
	}
}

// spin runs n rounds of xorshift64.
func spin(n uint64) uint64 {
	x := uint64(88172645463325252)
	for range n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

// calibrate measures the rounds of spin per millisecond: the fastest of
// 20 runs of 64 Ki rounds (about 0.1 ms each), the one least disturbed by
// other threads.
func calibrate() {
	const rounds = 1 << 16
	best := time.Duration(1<<63 - 1)
	for range 20 {
		start := time.Now()
		spinSink.Add(spin(rounds))
		best = min(best, max(time.Since(start), time.Microsecond))
	}
	spinsPerMS = rounds * float64(time.Millisecond) / float64(best)
}

// column returns a record batch of one column, name of type typ, whose
// values fill appends.
func column(name string, typ arrow.DataType, fill func(array.Builder)) arrow.RecordBatch {
	b := array.NewBuilder(memory.DefaultAllocator, typ)
	defer b.Release()
	fill(b)
	col := b.NewArray()
	defer col.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: name, Type: typ}}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{col}, int64(col.Len()))
}

// fill sets every byte of buf to b at memmove speed.
func fill(buf []byte, b byte) {
	if len(buf) == 0 {
		return
	}
	buf[0] = b
	for n := 1; n < len(buf); n *= 2 {
		copy(buf[n:], buf[:n])
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// PROCWIRE_CPUPROFILE=file profiles the worker (see BENCHMARKS.md).
	if path := os.Getenv("PROCWIRE_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	w := newWorker(procwire.Options{MaxConcurrentHandlers: 64})
	if err := w.Run(ctx); err != nil {
		pprof.StopCPUProfile()
		slog.Error("conformance worker stopped", "error", err)
		os.Exit(1)
	}
}
