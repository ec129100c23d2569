// Package procwiretest tests Procwire workers in-process, in the spirit of
// net/http/httptest: New connects a test parent to a worker's handlers over
// a real socket pair, with the real frame code on both sides and no child
// process, so a plain `go test` exercises handlers, codecs, streams, aborts,
// events and errors.
//
//	w := procwire.NewWorker(procwire.Options{})
//	procwire.Handle(w, "add", add)
//	p := procwiretest.New(t, w)
//	var sum int
//	err := p.Call(ctx, "add", Pair{1, 2}, &sum)
//
// The parent is the Go parent's connection (parent.Conn), so calls behave
// exactly as they do against a spawned worker. Everything is torn down
// through t.Cleanup, which then fails the test if a goroutine started by the
// worker or the parent is still running.
package procwiretest

import (
	"context"
	"errors"
	"iter"
	"testing"

	"github.com/procwire/procwire-go"
	"github.com/procwire/procwire-go/internal/observe"
	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/parent"
)

// Chunk is one chunk of a stream response.
type Chunk = parent.Chunk

// Event is one event emitted by the worker.
type Event = parent.Event

// ErrClosed is returned by calls after the connection ended.
var ErrClosed = parent.ErrClosed

// Parent is a test parent connected to one worker in the same process. Its
// methods are those of parent.Conn (Call, Ack, Notify, Stream, Events), and
// Handled, which waits for a request's handler to return.
type Parent struct {
	*parent.Conn
	serveErr chan error
	cancel   context.CancelFunc
	closed   bool
	err      error
	outcomes *outcomes
}

// New starts serving w over an in-process socket pair and returns the
// connected parent. Register w's methods and events before calling New.
func New(t testing.TB, w *procwire.Worker) *Parent {
	t.Helper()
	testenv.VerifyNoLeaks(t)

	workerEnd, parentEnd, err := socketPair(t)
	if err != nil {
		t.Fatalf("procwiretest: %v", err)
	}
	methods := w.Methods()
	for i := range methods {
		methods[i].Cancellable = true
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Parent{serveErr: make(chan error, 1), cancel: cancel, outcomes: newOutcomes()}
	observe.Register(w, p.outcomes.add)
	go func() { p.serveErr <- w.ServeConn(ctx, workerEnd) }()
	p.Conn = parent.NewConn(parentEnd, 0, methods, w.Events())
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("procwiretest: worker: %v", err)
		}
	})
	return p
}

// Close disconnects the parent and waits for the worker to stop. It returns
// the worker's error, if it ended for another reason than this Close.
func (p *Parent) Close() error {
	if p.closed {
		return p.err
	}
	p.closed = true
	p.cancel()
	p.Conn.Close()
	p.err = <-p.serveErr
	p.outcomes.close()
	if errors.Is(p.err, procwire.ErrDisconnected) {
		p.err = nil
	}
	return p.err
}

// StreamOf is Stream with each chunk decoded into a T.
func StreamOf[T any](ctx context.Context, p *Parent, method string, in any) iter.Seq2[T, error] {
	return parent.StreamOf[T](ctx, p.Conn, method, in)
}
