// Command events emits events while it works: "crunch" reports progress
// events as it goes and a "done" event at the end, and a heartbeat event
// fires every second for as long as a parent is connected.
//
// From Node:
//
//	const mod = new Module("events").executable("./events")
//	  .method("crunch").event("progress").event("done").event("tick");
//	mod.onEvent("progress", (p) => console.log(`${p.percent}%`));
//	await mod.send("crunch", { steps: 10 });
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/procwire/procwire-go"
)

// Progress is the payload of the progress event.
type Progress struct {
	Step    int     `msgpack:"step"`
	Percent float64 `msgpack:"percent"`
}

// Done is the payload of the done event.
type Done struct {
	Steps int           `msgpack:"steps"`
	Took  time.Duration `msgpack:"tookNs"`
}

// CrunchRequest is the request of crunch.
type CrunchRequest struct {
	Steps int `msgpack:"steps"`
}

func main() {
	w := procwire.NewWorker(procwire.Options{})
	progress := procwire.NewEvent[Progress](w, "progress")
	done := procwire.NewEvent[Done](w, "done")
	tick := procwire.NewEvent[time.Time](w, "tick")

	procwire.Handle(w, "crunch", func(ctx context.Context, in CrunchRequest) (int, error) {
		start := time.Now()
		for i := 1; i <= in.Steps; i++ {
			time.Sleep(time.Millisecond) // the work
			if err := progress.Emit(Progress{Step: i, Percent: 100 * float64(i) / float64(in.Steps)}); err != nil {
				return 0, err
			}
		}
		done.Emit(Done{Steps: in.Steps, Took: time.Since(start)})
		return in.Steps, nil
	})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case now := <-t.C:
				tick.Emit(now) // ErrNotConnected until the parent connects
			case <-ctx.Done():
				return
			}
		}
	}()
	if err := w.Run(ctx); err != nil {
		slog.Error("events worker", "error", err)
		os.Exit(1)
	}
}
