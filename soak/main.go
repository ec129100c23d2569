// Command soak is the worker of the soak test (`make soak`): the methods of
// the mixed workload (echo, count, ack, notify, sleep) plus "runtime", which
// reports the worker's goroutine count, heap and counters so the driver can
// check that nothing grows over a million requests. The driver is
// interop/soak.mjs, under the real @procwire/core parent.
package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"runtime"
	"time"

	"github.com/procwire/procwire-go"
)

// Runtime is the response of the runtime method.
type Runtime struct {
	Goroutines int            `msgpack:"goroutines"`
	HeapBytes  uint64         `msgpack:"heapBytes"`
	Stats      procwire.Stats `msgpack:"stats"`
}

func main() {
	w := procwire.NewWorker(procwire.Options{MaxConcurrentHandlers: 64})
	notified := procwire.NewEvent[any](w, "notified")
	aborted := procwire.NewEvent[string](w, "aborted")
	procwire.Handle(w, "echo", func(ctx context.Context, in any) (any, error) { return in, nil })
	procwire.HandleStream(w, "count", func(ctx context.Context, in struct {
		N int `msgpack:"n"`
	}, out *procwire.Stream[int]) error {
		for i := 0; i < in.N; i++ {
			if err := out.Send(i); err != nil {
				return err
			}
		}
		return nil
	})
	procwire.HandleAck(w, "ack", func(ctx context.Context, in any) (map[string]bool, error) {
		return map[string]bool{"ok": true}, nil
	})
	procwire.HandleNotify(w, "notify", func(ctx context.Context, in any) error { return notified.Emit(in) })
	procwire.Handle(w, "sleep", func(ctx context.Context, ms int) (map[string]int, error) {
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond): // collected once it fires or is unreachable (Go ≥ 1.23)
			return map[string]int{"slept": ms}, nil
		case <-ctx.Done():
		}
		if errors.Is(context.Cause(ctx), procwire.ErrAborted) {
			aborted.Emit("sleep")
		}
		return nil, context.Cause(ctx)
	})
	procwire.Handle(w, "runtime", func(ctx context.Context, in any) (Runtime, error) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return Runtime{Goroutines: runtime.NumGoroutine(), HeapBytes: ms.HeapAlloc, Stats: w.Stats()}, nil
	})
	if err := w.Run(context.Background()); err != nil {
		slog.Error("soak worker", "error", err)
		os.Exit(1)
	}
}
