package procwire_test

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/procwire/procwire-go"
	"github.com/procwire/procwire-go/codec"
)

// A worker with one result method. Run serves the parent that spawned the
// process until it shuts the worker down.
func Example() {
	type Req struct {
		A, B int
	}
	w := procwire.NewWorker(procwire.Options{MaxConcurrentHandlers: 64})
	procwire.Handle(w, "add", func(ctx context.Context, in Req) (int, error) {
		return in.A + in.B, nil
	})
	if err := w.Run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

// A result method: one value per request, or an error.
func ExampleHandle() {
	type User struct {
		ID   int    `msgpack:"id"`
		Name string `msgpack:"name"`
	}
	w := procwire.NewWorker(procwire.Options{})
	procwire.Handle(w, "user", func(ctx context.Context, id int) (User, error) {
		if id <= 0 {
			return User{}, errors.New("no such user")
		}
		return User{ID: id, Name: "Ada"}, nil
	})
}

// A stream method: chunks until the handler returns.
func ExampleHandleStream() {
	w := procwire.NewWorker(procwire.Options{})
	procwire.HandleStream(w, "countdown", func(ctx context.Context, from int, out *procwire.Stream[int]) error {
		for i := from; i >= 0; i-- {
			if err := out.Send(i); err != nil {
				return err // the parent aborted or went away
			}
		}
		return nil // ends the stream
	})
}

// An ack method acknowledges a request; a nil value acks without data.
func ExampleHandleAck() {
	w := procwire.NewWorker(procwire.Options{})
	jobs := make(chan string, 100)
	procwire.HandleAck(w, "enqueue", func(ctx context.Context, job string) (any, error) {
		select {
		case jobs <- job:
			return nil, nil
		default:
			return nil, procwire.Errorf("E_FULL", "queue full (%d jobs)", len(jobs))
		}
	})
}

// A method that never answers (response type "none").
func ExampleHandleNotify() {
	w := procwire.NewWorker(procwire.Options{})
	procwire.HandleNotify(w, "log", func(ctx context.Context, line string) error {
		log.Println(line)
		return nil
	})
}

// Events go to the parent at any time once it is connected.
func ExampleNewEvent() {
	type Progress struct {
		Done  int `msgpack:"done"`
		Total int `msgpack:"total"`
	}
	w := procwire.NewWorker(procwire.Options{})
	progress := procwire.NewEvent[Progress](w, "progress")
	procwire.Handle(w, "work", func(ctx context.Context, n int) (int, error) {
		for i := 1; i <= n; i++ {
			progress.Emit(Progress{Done: i, Total: n})
		}
		return n, nil
	})
}

// A structured error reaches a Node parent as an Error whose message is
// Message and whose data holds code and the details.
func ExampleError() {
	w := procwire.NewWorker(procwire.Options{})
	procwire.Handle(w, "withdraw", func(ctx context.Context, amount int) (int, error) {
		return 0, &procwire.Error{
			Message: "insufficient funds",
			Code:    "E_FUNDS",
			Details: map[string]any{"requested": amount, "available": 10},
		}
	})
}

// The handler's context tells why it was cancelled.
func Example_cancellation() {
	w := procwire.NewWorker(procwire.Options{})
	procwire.Handle(w, "slow", func(ctx context.Context, ms int) (string, error) {
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			return "done", nil
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), procwire.ErrAborted) {
				log.Println("the parent aborted the request")
			}
			return "", context.Cause(ctx)
		}
	})
}

// Raw methods see bytes as they are, with no codec work.
func ExampleMethodOptions() {
	w := procwire.NewWorker(procwire.Options{})
	procwire.Handle(w, "checksum", func(ctx context.Context, data []byte) ([]byte, error) {
		var sum byte
		for _, b := range data {
			sum ^= b
		}
		return []byte{sum}, nil
	}, procwire.MethodOptions{Codec: codec.Raw, Timeout: 5 * time.Second})
}

// The low-level form answers with pre-encoded bytes and may acknowledge
// before it finishes its work.
func ExampleWorker_HandleFunc() {
	w := procwire.NewWorker(procwire.Options{})
	w.HandleFunc("store", procwire.ResponseAck, func(ctx context.Context, req *procwire.Request, rw *procwire.ResponseWriter) error {
		var key string
		if err := req.Decode(&key); err != nil {
			return err
		}
		if err := rw.Ack(map[string]string{"stored": key}); err != nil {
			return err
		}
		// ... keep working after the ack ...
		return nil
	})
}
