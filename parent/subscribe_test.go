package parent_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/procwire/procwire-go/parent"
)

// TestEventUnsubscribe: a Subscription ends with Close (its channel
// closes), an OnEvent callback with its stop function; the other
// subscribers go on, a new subscription after all others ended gets each
// event once, and one made after the module closed is closed already.
func TestEventUnsubscribe(t *testing.T) {
	eachWorker(t, func(t *testing.T, w worker) {
		m := startWorker(t, w, spec())
		ctx := context.Background()
		progress := func(n int) {
			t.Helper()
			if err := m.Call(ctx, "progress", map[string]int{"n": n}, nil); err != nil {
				t.Fatal(err)
			}
		}
		receive := func(ch <-chan parent.Event, n int) {
			t.Helper()
			for i := range n {
				select {
				case _, ok := <-ch:
					if !ok {
						t.Fatalf("event %d: channel closed", i)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("event %d of %d missing", i, n)
				}
			}
		}

		sub := m.Subscribe("progress")
		keep := m.Subscribe("progress")
		var calls atomic.Int32
		stop := m.OnEvent("progress", func(parent.Event) { calls.Add(1) })
		progress(3)
		receive(sub.C, 3)
		receive(keep.C, 3)
		for deadline := time.Now().Add(5 * time.Second); calls.Load() != 3; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("OnEvent: %d calls, want 3", calls.Load())
			}
		}

		sub.Close()
		sub.Close() // twice is fine
		stop()
		if _, ok := <-sub.C; ok {
			t.Fatal("a closed subscription received an event")
		}
		progress(5)
		receive(keep.C, 5) // the events were delivered
		time.Sleep(20 * time.Millisecond)
		if n := calls.Load(); n != 3 {
			t.Errorf("OnEvent after stop: %d calls, want 3", n)
		}

		// With no subscriber left, a new one gets every event once (the
		// forwarder is not started twice).
		keep.Close()
		again := m.Subscribe("progress")
		progress(4)
		receive(again.C, 4)
		time.Sleep(20 * time.Millisecond)
		if n := len(again.C); n != 0 {
			t.Errorf("%d events more than emitted", n)
		}

		m.Shutdown(ctx)
		if _, ok := <-again.C; ok {
			t.Error("subscription open after Shutdown")
		}
		if _, ok := <-m.Subscribe("progress").C; ok {
			t.Error("a subscription to a closed module is open")
		}
		m.OnEvent("progress", func(parent.Event) {})() // ends at once
	})
}
