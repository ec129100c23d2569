package procwire

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/procwire/procwire-go/internal/heap"
	"github.com/procwire/procwire-go/wire"
)

// serverConn serves the adopted parent connection. Its work is split by
// job over four files, and by goroutine as follows; a field may be touched
// only by the goroutines its comment names.
//
//   - The reader (read.go) decodes frames. Exactly one goroutine holds the
//     reading role at a time: the one started by start, or, after it ran a
//     slow handler inline, the one the watchdog started in its place
//     (schedule.go). Only the reader touches r.
//   - The scheduler (schedule.go) is not a goroutine but the state under mu:
//     the calls in flight, the queue of calls waiting for a slot and the
//     number of running handlers. The reader adds calls (dispatch); handler
//     goroutines retire them and take the next (next); abort and close
//     change them too, always holding mu.
//   - Handler goroutines (call.go) each own the call they serve, its
//     Request and ResponseWriter, from the moment they take it until they
//     retire it. Up to maxIdleHandlers of them park on idle between calls.
//   - The watchdog goroutine (schedule.go) owns its ticker and touches only
//     the atomic hand-over state (inline, inlineSeq, wdParked, wdWake).
//   - The writer role (write.go): any goroutine that sends a frame and
//     finds the connection writer free holds it, and owns the wire.Writer
//     until it has written every queued frame.
//
// Cancellation flows one way: close cancels ctx, which stops the watchdog
// and parked handlers, and every running handler's context (they are not
// ctx's children but in the list active, to spare them a shared lock),
// closes out and the socket, which ends the reader.
type serverConn struct {
	// Immutable after newServerConn.
	w      *Worker
	nc     net.Conn
	out    *connWriter // safe for concurrent use (write.go)
	log    *slog.Logger
	ctx    context.Context // the connection's: cancelled by close
	cancel context.CancelCauseFunc
	// callParent is the parent of every handler context: ctx's values
	// without its cancellation (close cancels the handlers itself).
	callParent context.Context

	// The reader only.
	r    *wire.Reader
	bufs heap.Buffers // large payloads' buffers (internal/heap)

	// The scheduler's state, guarded by mu.
	mu      sync.Mutex
	calls   map[uint32]*call // requests with an id, queued or running
	queue   []*call          // requests waiting for a handler slot
	qhead   int
	running int        // handler slots taken
	space   *sync.Cond // signalled when the queue shrinks or the conn closes
	closing bool
	// closeCause is why close was called (nil before); active lists the
	// calls whose handler runs, for close to cancel.
	closeCause error
	active     *call

	// The inline hand-over between the reader and the watchdog (atomic).
	inline    atomic.Int32  // inlineReading, inlineRunning or inlineTaken
	inlineSeq atomic.Uint64 // counts inline episodes
	wdParked  atomic.Bool   // the watchdog is parked on wdWake
	wdWake    chan struct{}

	// Handler goroutines.
	idle      chan *call   // parked handler goroutines receive work here
	idleCount atomic.Int32 // parked handler goroutines

	// Lifetime.
	bg       sync.WaitGroup // the watchdog
	handlers sync.WaitGroup // handler goroutines, and a handler run inline
	done     chan struct{}  // closed when the reader loop ends
	err      error          // why the reader loop ended; written by the reader before done is closed
}

func newServerConn(w *Worker, nc net.Conn, r *wire.Reader, timeout time.Duration) *serverConn {
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &serverConn{
		w:          w,
		nc:         nc,
		r:          r,
		log:        w.log,
		ctx:        ctx,
		cancel:     cancel,
		callParent: context.WithoutCancel(ctx),
		calls:      make(map[uint32]*call),
		done:       make(chan struct{}),
	}
	c.space = sync.NewCond(&c.mu)
	c.wdWake = make(chan struct{}, 1)
	c.idle = make(chan *call)
	c.out = newConnWriter(nc, timeout, w.log, &w.stats)
	return c
}

// start starts serving: the reading goroutine and its watchdog.
func (c *serverConn) start() {
	c.bg.Add(1)
	go c.watchdog()
	go c.serve()
}

// abort cancels the request with the given id, if it is still in flight.
func (c *serverConn) abort(id uint32) {
	c.mu.Lock()
	cl := c.calls[id]
	if cl != nil {
		delete(c.calls, id)
		cl.aborted.Store(true)
		c.w.stats.aborts.Add(1)
	}
	var cancel context.CancelCauseFunc
	if cl != nil {
		cancel = cl.cancel
	}
	c.mu.Unlock()
	if cancel != nil {
		cancel(ErrAborted)
	}
}
func (c *serverConn) closingNow() bool {
	return c.ctx.Err() != nil
}

// close cancels every handler with cause and closes the socket. It is safe
// to call more than once.
func (c *serverConn) close(cause error) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	if cause == nil {
		cause = ErrShutdown
	}
	c.closeCause = cause
	for i := c.qhead; i < len(c.queue); i++ {
		c.queue[i] = nil
	}
	c.queue, c.qhead = nil, 0
	c.space.Broadcast()
	var cancels []context.CancelCauseFunc
	for cl := c.active; cl != nil; cl = cl.nextActive {
		cancels = append(cancels, cl.cancel)
	}
	c.mu.Unlock()
	c.cancel(cause)
	for _, cancel := range cancels {
		cancel(cause)
	}
	c.out.close()
	c.nc.Close()
}

// activate adds cl, whose handler starts, to the running calls. c.mu must
// be held.
func (c *serverConn) activate(cl *call) {
	cl.prevActive, cl.nextActive = nil, c.active
	if c.active != nil {
		c.active.prevActive = cl
	}
	c.active = cl
}

// deactivate removes cl from the running calls, if it is there. c.mu must
// be held.
func (c *serverConn) deactivate(cl *call) {
	if cl.prevActive == nil && c.active != cl {
		return // not in the list
	}
	if cl.prevActive != nil {
		cl.prevActive.nextActive = cl.nextActive
	} else {
		c.active = cl.nextActive
	}
	if cl.nextActive != nil {
		cl.nextActive.prevActive = cl.prevActive
	}
	cl.prevActive, cl.nextActive = nil, nil
}

// waitTimeout waits for wg up to d and reports whether it finished. If not,
// the goroutine that waits stays until wg is done: Run returns without the
// handlers that ignore their context, as Options.ShutdownTimeout promises.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	ch := make(chan struct{})
	go func() {
		wg.Wait()
		close(ch)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}
