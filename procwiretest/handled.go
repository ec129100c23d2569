package procwiretest

import (
	"context"
	"fmt"
	"sync"

	"github.com/procwire/procwire-go/internal/observe"
)

// Outcome is how one request ended on the worker's side (see
// Parent.Handled): the method and request id; whether the handler ran
// (Ran); the result or ack sent, if any (Result, HasResult); the stream
// chunks sent (Chunks); the handler's error and whether it panicked (Err,
// Panicked); context.Cause of the handler's context when it returned
// (Cause: procwire.ErrAborted, procwire.ErrShutdown,
// procwire.ErrDisconnected, context.DeadlineExceeded or nil); and whether
// the parent aborted the request (Aborted).
//
// The worker reports it through an internal package, which declares the
// type once for both.
type Outcome = observe.Outcome

// maxOutcomes bounds the outcomes waiting for Handled; beyond it the
// oldest are dropped.
const maxOutcomes = 1 << 16

// Handled waits until a request for method has ended on the worker — its
// handler returned and the response it called for was sent — and reports
// how it ended. It is how a test asserts what its handler saw, such as an
// abort, without a channel of its own:
//
//	ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
//	p.Call(ctx, "slow", nil, nil) // gives up: an abort is sent
//	o, err := p.Handled(context.Background(), "slow")
//	// o.Cause == procwire.ErrAborted: the handler's context was cancelled
//
// Every request served since New is reported once, in the order they
// ended; Handled returns the oldest not yet returned for method (for any
// method if method is ""), waiting for one until ctx is done. After Close
// it still returns the outcomes recorded, then an error wrapping ErrClosed.
// Up to 65536 outcomes are kept; beyond that the oldest are dropped.
func (p *Parent) Handled(ctx context.Context, method string) (Outcome, error) {
	return p.outcomes.next(ctx, method)
}

// outcomes is the queue behind Handled.
type outcomes struct {
	mu      sync.Mutex
	list    []Outcome
	changed chan struct{} // closed, and replaced, when list grows or closed is set
	closed  bool
}

func newOutcomes() *outcomes {
	return &outcomes{changed: make(chan struct{})}
}

// add is the worker's observer: it runs on the goroutine that served the
// request.
func (q *outcomes) add(o Outcome) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.list) >= maxOutcomes {
		q.list = append(q.list[:0], q.list[1:]...)
	}
	q.list = append(q.list, o)
	q.signal()
}

func (q *outcomes) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.signal()
}

// signal wakes the waiting Handled calls. It runs under mu.
func (q *outcomes) signal() {
	close(q.changed)
	q.changed = make(chan struct{})
}

func (q *outcomes) next(ctx context.Context, method string) (Outcome, error) {
	for {
		q.mu.Lock()
		for i, o := range q.list {
			if method == "" || o.Method == method {
				q.list = append(q.list[:i], q.list[i+1:]...)
				q.mu.Unlock()
				return o, nil
			}
		}
		closed, changed := q.closed, q.changed
		q.mu.Unlock()
		if closed {
			return Outcome{}, fmt.Errorf("procwiretest: no request for %q ended before the parent closed: %w", method, ErrClosed)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Outcome{}, fmt.Errorf("procwiretest: waiting for a request for %q to end: %w", method, context.Cause(ctx))
		}
	}
}
