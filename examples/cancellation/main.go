// Command cancellation shows how handlers observe cancellation: the context
// of a request is cancelled when the parent aborts it (a Node AbortSignal on
// a method declared cancellable), when the parent disconnects and when the
// worker shuts down; context.Cause tells which.
//
// From Node:
//
//	const mod = new Module("cancel").executable("./cancellation")
//	  .method("search", { cancellable: true }).event("cancelled");
//	const ac = new AbortController();
//	const p = mod.send("search", { needle: "x" }, { signal: ac.signal });
//	ac.abort(); // the handler's ctx is done, nothing more is sent
package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/procwire/procwire-go"
)

// Search is the request of search.
type Search struct {
	Needle string `msgpack:"needle"`
}

// Cancelled is the payload of the cancelled event.
type Cancelled struct {
	Needle string `msgpack:"needle"`
	Why    string `msgpack:"why"`
	After  int    `msgpack:"afterSteps"`
}

func main() {
	w := procwire.NewWorker(procwire.Options{})
	cancelled := procwire.NewEvent[Cancelled](w, "cancelled")

	procwire.Handle(w, "search", func(ctx context.Context, in Search) (string, error) {
		for step := 0; ; step++ {
			select {
			case <-ctx.Done():
				why := "shutdown or disconnect"
				if errors.Is(context.Cause(ctx), procwire.ErrAborted) {
					why = "aborted by the parent"
				}
				cancelled.Emit(Cancelled{Needle: in.Needle, Why: why, After: step})
				return "", context.Cause(ctx) // not sent: the request is gone
			case <-time.After(10 * time.Millisecond):
				// one step of a long search
			}
			if step == 1000 {
				return "found " + in.Needle, nil
			}
		}
	}, procwire.MethodOptions{Timeout: 30 * time.Second})

	if err := w.Run(context.Background()); err != nil {
		slog.Error("cancellation worker", "error", err)
		os.Exit(1)
	}
}
