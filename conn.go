package procwire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/procwire/procwire-go/wire"
)

// serverConn serves the adopted parent connection: one reader goroutine
// decodes frames and dispatches requests to handler goroutines, which write
// their responses through out.
type serverConn struct {
	w   *Worker
	nc  net.Conn
	r   *wire.Reader
	out *connWriter
	log *slog.Logger

	ctx    context.Context // parent of every handler context
	cancel context.CancelCauseFunc

	mu      sync.Mutex
	calls   map[uint32]*call // requests with an id, queued or running
	queue   []*call          // requests waiting for a handler slot
	qhead   int
	running int
	space   *sync.Cond // signalled when the queue shrinks or the conn closes
	closing bool

	inline    atomic.Int32  // inline hand-over state (see serve)
	inlineSeq atomic.Uint64 // counts inline episodes
	wdParked  atomic.Bool   // the watchdog is parked on wdWake
	wdWake    chan struct{}
	bg        sync.WaitGroup // the watchdog
	idle      chan *call     // parked handler goroutines receive work here
	idleCount atomic.Int32

	handlers sync.WaitGroup // handler goroutines
	done     chan struct{}  // closed when the reader loop ends
	err      error          // why the reader loop ended; read after done
}

// call is one request in flight.
type call struct {
	id      uint32
	m       *method
	payload []byte
	cancel  context.CancelCauseFunc // set when the handler starts; guarded by serverConn.mu
	aborted atomic.Bool             // set when the parent aborted: nothing more is sent
	req     Request                 // the handler's view, allocated with the call
	rw      ResponseWriter
}

func newServerConn(w *Worker, nc net.Conn, r *wire.Reader, timeout time.Duration) *serverConn {
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &serverConn{
		w:      w,
		nc:     nc,
		r:      r,
		log:    w.log,
		ctx:    ctx,
		cancel: cancel,
		calls:  make(map[uint32]*call),
		done:   make(chan struct{}),
	}
	c.space = sync.NewCond(&c.mu)
	c.wdWake = make(chan struct{}, 1)
	c.idle = make(chan *call)
	stats := &w.stats
	if w.opts.noStats {
		stats = nil
	}
	c.out = newConnWriter(nc, timeout, w.log, stats)
	return c
}

// serve runs the reader loop until the connection fails or is closed.
//
// A request that arrives with nothing buffered behind it, or for a method
// whose handlers have been quick (see method.cheap), while a handler slot
// is free, is served on the reading goroutine itself: read, handle and
// answer on one thread, with no hand-off to another goroutine (which costs a
// thread wake-up and, on a small machine, doubles the round trip of
// sequential requests). If that handler is still running one or two
// watchdog ticks later, the watchdog starts another goroutine to read, so a
// slow handler never holds up aborts or other requests for long. Requests
// that arrive in bursts go to their own goroutines and run in parallel.
func (c *serverConn) serve() {
	for {
		cl, err := c.readLoop()
		if cl == nil {
			c.err = err
			c.close(err)
			close(c.done)
			return
		}
		c.inlineSeq.Add(1)
		c.inline.Store(inlineRunning)
		if c.wdParked.Load() {
			select {
			case c.wdWake <- struct{}{}:
			default:
			}
		}
		c.runInline(cl)
		if !c.inline.CompareAndSwap(inlineRunning, inlineReading) {
			return // another goroutine is reading now
		}
	}
}

// Watchdog timing: a handler running on the reading goroutine loses the
// reading role after one to two ticks; the watchdog parks after idleTicks
// ticks without inline work, so an idle worker does not wake up.
const (
	watchdogTick = time.Millisecond
	idleTicks    = 200
)

// States of the inline hand-over between serve and the watchdog.
const (
	inlineReading int32 = iota // the serve goroutine is reading
	inlineRunning              // it is running a handler; reading may be taken over
	inlineTaken                // the watchdog started another reader
)

// watchdog hands reading to a new goroutine when a handler has been running
// on the reading goroutine for a full tick. Timers are not armed per
// request: re-arming one wakes the runtime's poller, which costs more than
// the hand-off it would save.
func (c *serverConn) watchdog() {
	defer c.bg.Done()
	t := time.NewTicker(watchdogTick)
	defer t.Stop()
	var lastSeq uint64
	idle := 0
	for {
		if idle >= idleTicks {
			t.Stop()
			c.wdParked.Store(true)
			if c.inline.Load() != inlineRunning { // re-check after publishing
				select {
				case <-c.wdWake:
				case <-c.ctx.Done():
					return
				}
			}
			c.wdParked.Store(false)
			t.Reset(watchdogTick)
			idle = 0
		}
		select {
		case <-t.C:
		case <-c.ctx.Done():
			return
		}
		if c.inline.Load() != inlineRunning {
			idle++
			continue
		}
		idle = 0
		seq := c.inlineSeq.Load()
		if seq == lastSeq && c.inline.CompareAndSwap(inlineRunning, inlineTaken) {
			go c.serve()
		}
		lastSeq = seq
	}
}

// start starts serving: the reading goroutine and its watchdog.
func (c *serverConn) start() {
	c.bg.Add(1)
	go c.watchdog()
	go c.serve()
}

// readLoop reads frames until the connection ends (returning why) or it
// decides to run a request on the calling goroutine (returning it).
func (c *serverConn) readLoop() (*call, error) {
	for {
		if c.r.Buffered() < wire.HeaderSize {
			c.out.setCork(false) // about to wait for the socket
		}
		h, err := c.r.ReadHeader()
		if err != nil {
			var pe *wire.ProtocolError
			switch {
			case errors.As(err, &pe):
				c.log.Error("procwire: closing the parent connection", "reason", pe.Reason, "header", pe.Header.String())
				return nil, err
			case errors.Is(err, io.EOF):
				return nil, ErrDisconnected
			case c.ctx.Err() != nil:
				return nil, context.Cause(c.ctx)
			default:
				return nil, fmt.Errorf("%w: %w", ErrDisconnected, err)
			}
		}
		if !c.w.opts.noStats {
			c.w.stats.framesIn.Add(1)
			c.w.stats.bytesIn.Add(uint64(wire.HeaderSize) + uint64(h.Length))
		}
		switch h.Method {
		case wire.MethodAbort:
			if err := c.r.Discard(); err != nil {
				return nil, c.readErr(err)
			}
			c.abort(h.RequestID)
			continue
		case wire.MethodAuth:
			// A stray AUTH frame after adoption is ignored.
			if err := c.r.Discard(); err != nil {
				return nil, c.readErr(err)
			}
			continue
		}
		if c.r.Buffered() < int(h.Length) {
			c.out.setCork(false)
		}
		payload, err := c.readPayload(int(h.Length))
		if err != nil {
			return nil, c.readErr(err)
		}
		m := c.w.method(h.Method)
		if m == nil {
			if h.RequestID == 0 {
				c.log.Warn("procwire: request for an unknown method", "method_id", h.Method)
				continue
			}
			m = unknownMethod(h.Method)
		}
		if cl := c.dispatch(h.RequestID, m, payload); cl != nil {
			return cl, nil
		}
	}
}

// eagerPayload is the largest payload allocated in full as soon as its
// header arrives. Larger payloads grow with the data actually received, so
// a peer that declares a huge frame and sends nothing costs no memory.
const eagerPayload = 64 << 20

// readPayload reads the current frame's n-byte payload into a new buffer.
func (c *serverConn) readPayload(n int) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	if n <= eagerPayload {
		p := make([]byte, n)
		return p, c.r.ReadPayload(p)
	}
	p := make([]byte, 0, eagerPayload)
	for len(p) < n {
		if len(p) == cap(p) {
			np := make([]byte, len(p), min(2*cap(p), n))
			copy(np, p)
			p = np
		}
		m := cap(p) - len(p)
		if err := c.r.ReadPart(p[len(p):cap(p)]); err != nil {
			return nil, err
		}
		p = p[:len(p)+m]
	}
	return p, nil
}

func (c *serverConn) readErr(err error) error {
	if c.ctx.Err() != nil {
		return context.Cause(c.ctx)
	}
	return fmt.Errorf("%w: %w", ErrDisconnected, err)
}

// unknownMethod answers a request for a method id the worker does not have.
func unknownMethod(id uint16) *method {
	return &method{
		name:     fmt.Sprintf("#%d", id),
		id:       id,
		response: ResponseResult,
		serve: func(context.Context, *Request, *ResponseWriter) error {
			return fmt.Errorf("Unknown method ID: %d", id)
		},
		stats: new(methodCounters),
	}
}

// dispatch starts the request's handler, or queues it when all handler
// slots are busy. It blocks while the queue is full. It returns the call
// instead of starting a goroutine for it when the reader should run it
// itself (see serve); the slot is then already taken.
func (c *serverConn) dispatch(id uint32, m *method, payload []byte) *call {
	cl := &call{id: id, m: m, payload: payload}
	c.mu.Lock()
	if len(c.queue)-c.qhead >= c.w.opts.MaxQueuedRequests {
		c.mu.Unlock()
		c.out.setCork(false) // the reader is about to wait
		c.mu.Lock()
	}
	for len(c.queue)-c.qhead >= c.w.opts.MaxQueuedRequests && !c.closing {
		c.space.Wait()
	}
	if c.closing {
		c.mu.Unlock()
		return nil
	}
	if id != 0 {
		if _, dup := c.calls[id]; dup {
			c.log.Warn("procwire: request id already in flight; rejecting the new request", "request_id", id, "method", m.name)
			dupErr := fmt.Errorf("procwire: request id %d is already in flight", id)
			cl.m = &method{name: m.name, id: m.id, response: m.response, stats: m.stats,
				serve: func(context.Context, *Request, *ResponseWriter) error { return dupErr }}
		} else {
			c.calls[id] = cl
		}
	}
	if c.running < c.w.opts.MaxConcurrentHandlers {
		c.running++
		c.mu.Unlock()
		if more := c.r.Buffered() > 0; !more || m.cheap() {
			// Pipelined requests: their responses are corked and leave
			// together when the reader runs out of buffered input.
			c.out.setCork(more)
			c.handlers.Add(1) // runInline marks it done
			return cl
		}
		c.startHandler(cl)
		return nil
	}
	c.queue = append(c.queue, cl)
	c.mu.Unlock()
	return nil
}

// run serves cl, then queued calls, until the queue is empty.
//
// When it runs out of work the goroutine stays, parked, for the next
// request (at most maxIdleHandlers of them), so that handlers start on a
// goroutine whose stack has already grown: a new goroutine's stack is
// copied several times over by a codec's recursion.
func (c *serverConn) run(cl *call) {
	defer c.handlers.Done()
	for {
		for cl != nil {
			if !cl.aborted.Load() {
				c.serveCall(cl)
			}
			cl = c.next(cl)
		}
		if c.idleCount.Add(1) > maxIdleHandlers {
			c.idleCount.Add(-1)
			return
		}
		select {
		case cl = <-c.idle:
		case <-c.ctx.Done():
			c.idleCount.Add(-1)
			return
		}
	}
}

// maxIdleHandlers bounds the parked handler goroutines of a connection.
const maxIdleHandlers = 64

// startHandler runs cl on a parked handler goroutine, or a new one.
func (c *serverConn) startHandler(cl *call) {
	select {
	case c.idle <- cl:
		c.idleCount.Add(-1)
	default:
		c.handlers.Add(1)
		go c.run(cl)
	}
}

// runInline serves cl on the reading goroutine, then hands any queued call
// to a new goroutine so that the caller can go back to reading.
func (c *serverConn) runInline(cl *call) {
	if !cl.aborted.Load() {
		c.serveCall(cl)
	}
	c.handlers.Done()
	if next := c.next(cl); next != nil {
		c.startHandler(next) // in the slot cl had
	}
}

// next retires the finished call done and returns the next queued call to
// serve in its slot, or nil after releasing the slot.
func (c *serverConn) next(done *call) *call {
	c.mu.Lock()
	defer c.mu.Unlock()
	if done.id != 0 && c.calls[done.id] == done {
		delete(c.calls, done.id)
	}
	var cl *call
	for cl == nil && c.qhead < len(c.queue) && !c.closing {
		cl = c.queue[c.qhead]
		c.queue[c.qhead] = nil
		c.qhead++
		if cl.aborted.Load() {
			cl = nil
		}
	}
	if c.qhead == len(c.queue) {
		c.queue = c.queue[:0]
		c.qhead = 0
	} else if c.qhead > 1024 && c.qhead*2 > len(c.queue) {
		n := copy(c.queue, c.queue[c.qhead:])
		clear(c.queue[n:])
		c.queue = c.queue[:n]
		c.qhead = 0
	}
	if cl == nil {
		c.running--
	}
	c.space.Signal()
	return cl
}

func (c *serverConn) serveCall(cl *call) {
	m := cl.m
	ctx, cancel := context.WithCancelCause(c.ctx)
	if m.timeout > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, m.timeout)
		defer stop()
	}
	c.mu.Lock()
	cl.cancel = cancel
	aborted := cl.aborted.Load()
	c.mu.Unlock()
	// An abort that arrived before the context existed is honoured here.
	if aborted {
		cancel(ErrAborted)
	}
	defer cancel(context.Canceled)

	cl.req = Request{Method: m.name, MethodID: m.id, ID: cl.id, Payload: cl.payload, codec: m.reqCodec}
	cl.rw = ResponseWriter{c: c, call: cl}
	req, rw := &cl.req, &cl.rw
	var err error
	start := time.Now()
	if c.w.opts.noStats {
		err = c.invoke(ctx, m, req, rw)
		c.complete(cl, rw, err)
		m.observeCost(time.Since(start))
		return
	}
	st := m.stats
	st.requests.Add(1)
	c.w.stats.inFlight.Add(1)
	defer func() {
		d := time.Since(start)
		m.observeCost(d)
		c.w.stats.inFlight.Add(-1)
		st.observe(d)
		outcome := "ok"
		switch {
		case cl.aborted.Load():
			st.aborted.Add(1)
			outcome = "aborted"
		case err != nil:
			st.errors.Add(1)
			outcome = "error"
		default:
			st.ok.Add(1)
		}
		if c.w.opts.LogRequests {
			c.log.Debug("procwire: request", "method", m.name, "request_id", cl.id, "duration", d,
				"bytes", len(cl.payload), "outcome", outcome, "error", err)
		}
	}()
	err = c.invoke(ctx, m, req, rw)
	c.complete(cl, rw, err)
}

// complete sends what the handler's return calls for: the error, or the
// natural end of its response type if it sent no final response.
func (c *serverConn) complete(cl *call, rw *ResponseWriter, err error) {
	m := cl.m
	switch {
	case cl.aborted.Load() || c.closingNow():
		return
	case err != nil:
		if m.response == ResponseNone || cl.id == 0 {
			c.log.Warn("procwire: handler failed", "method", m.name, "error", err)
			return
		}
		if rw.done {
			c.log.Warn("procwire: handler failed after its response was sent", "method", m.name, "request_id", cl.id, "error", err)
			return
		}
		if werr := rw.Error(err); werr != nil {
			c.logWriteErr(m, cl, werr)
		}
	case !rw.done:
		var werr error
		switch m.response {
		case ResponseResult:
			werr = rw.Result(nil)
		case ResponseAck:
			werr = rw.Ack(nil)
		case ResponseStream:
			werr = rw.End()
		}
		if werr != nil {
			c.logWriteErr(m, cl, werr)
		}
	}
}

func (c *serverConn) logWriteErr(m *method, cl *call, err error) {
	if errors.Is(err, ErrAborted) || c.closingNow() {
		return
	}
	c.log.Warn("procwire: could not send the response", "method", m.name, "request_id", cl.id, "error", err)
}

// invoke calls the handler, turning a panic into an error.
func (c *serverConn) invoke(ctx context.Context, m *method, req *Request, rw *ResponseWriter) (err error) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("procwire: handler panicked", "method", m.name, "request_id", req.ID, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("panic in handler %q: %v", m.name, p)
			if m.stats != nil {
				m.stats.panics.Add(1)
			}
		}
	}()
	return m.serve(ctx, req, rw)
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
	for i := c.qhead; i < len(c.queue); i++ {
		c.queue[i] = nil
	}
	c.queue, c.qhead = nil, 0
	c.space.Broadcast()
	c.mu.Unlock()
	if cause == nil {
		cause = ErrShutdown
	}
	c.cancel(cause)
	c.out.close()
	c.nc.Close()
}

// connWriter serialises frame writes on the connection and combines them:
// the goroutine that finds the connection free becomes the writer and, with
// one vectored write, sends its own frame together with every frame that
// other goroutines queued meanwhile, until none is left. Under load many
// responses leave in one system call; alone, a frame is written at once.
//
// A write waits for its frame to be on the socket. With
// Options.BackpressureTimeout set, a frame that cannot be written within it
// fails with ErrBackpressureTimeout; a frame already partly on the wire is
// finished in the background, so the byte stream stays well-formed.
type connWriter struct {
	nc      net.Conn
	timeout time.Duration
	closed  chan struct{}
	once    sync.Once
	log     *slog.Logger
	stats   *counters
	flushes sync.WaitGroup // goroutines finishing a timed-out frame
	broken  atomic.Bool    // a write failed mid-frame: nothing more may be written

	mu      sync.Mutex
	writing bool        // a goroutine holds the writer role
	pending []*outFrame // frames waiting for the writer

	// Corking (see cork): small frames are copied into cork instead of
	// being written, while the reading goroutine has more requests
	// buffered; it flushes them before it waits for the socket.
	corkOn    atomic.Bool
	cork      []byte // under mu
	corkSpare []byte // owned by the writer role

	// Owned by the writer role.
	batch []*outFrame
	spare []*outFrame
	bufs  net.Buffers
	vec   [][]byte
	own   outFrame
}

// outFrame is one frame waiting to be written.
type outFrame struct {
	hdr   [wire.HeaderSize]byte
	parts [][]byte
	size  int
	cl    *call
	state atomic.Int32 // frameQueued → frameTaken (by the writer) or frameCancelled (by its waiter)
	done  chan error   // receives the outcome of a queued frame
}

const (
	frameQueued int32 = iota
	frameTaken
	frameCancelled
)

func newConnWriter(nc net.Conn, timeout time.Duration, log *slog.Logger, stats *counters) *connWriter {
	if stats == nil {
		stats = new(counters) // counted, never read
	}
	return &connWriter{
		stats:   stats,
		nc:      nc,
		timeout: timeout,
		closed:  make(chan struct{}),
		log:     log,
	}
}

func (cw *connWriter) close() {
	cw.once.Do(func() { close(cw.closed) })
}

func (f *outFrame) set(h wire.Header, cl *call, parts [][]byte) {
	size := 0
	for _, p := range parts {
		size += len(p)
	}
	h.Length = uint32(size)
	h.Put(f.hdr[:])
	f.parts, f.size, f.cl = parts, wire.HeaderSize+size, cl
}

// write sends one frame. If cl is not nil and the request was aborted, the
// frame is dropped and ErrAborted returned: once an abort is honoured
// nothing more is sent for the request.
func (cw *connWriter) write(h wire.Header, cl *call, parts ...[]byte) error {
	if cw.corkOn.Load() && cw.corked(h, parts) {
		return nil
	}
	start := time.Now()
	defer cw.waited(start)
	cw.mu.Lock()
	if !cw.writing {
		cw.writing = true
		cw.mu.Unlock()
		cw.own.set(h, cl, parts)
		return cw.run(&cw.own)
	}
	f := &outFrame{done: make(chan error, 1)}
	f.set(h, cl, parts)
	cw.pending = append(cw.pending, f)
	cw.mu.Unlock()

	var timeout <-chan time.Time
	if cw.timeout > 0 {
		t := time.NewTimer(cw.timeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case err := <-f.done:
		return err
	case <-timeout:
		if f.state.CompareAndSwap(frameQueued, frameCancelled) {
			return ErrBackpressureTimeout
		}
	case <-cw.closed:
		if f.state.CompareAndSwap(frameQueued, frameCancelled) {
			return ErrDisconnected
		}
	}
	return <-f.done // the writer took it: its outcome follows shortly
}

// corkMax bounds the bytes held by the cork, and the frames that go in it.
const corkMax = 64 << 10

// setCork turns corking on or off. The reading goroutine turns it on when
// it runs a request while more requests are already buffered (pipelined
// requests: their responses then leave together in one system call), and
// flushes before it next waits for the socket.
func (cw *connWriter) setCork(on bool) {
	if on {
		cw.corkOn.Store(true)
		return
	}
	if !cw.corkOn.Swap(false) {
		return
	}
	cw.mu.Lock()
	if len(cw.cork) == 0 || cw.writing {
		// Nothing corked, or the writer will take the cork with its
		// next batch before it gives up the role.
		cw.mu.Unlock()
		return
	}
	cw.writing = true
	cw.mu.Unlock()
	cw.run(nil)
}

// corked copies a small frame into the cork if there is room and no writer
// is busy (its frames must not be overtaken); it reports whether it did.
// A corked frame counts as written: its handler has nothing more to wait
// for, and a connection that fails later ends the worker anyway.
func (cw *connWriter) corked(h wire.Header, parts [][]byte) bool {
	size := 0
	for _, p := range parts {
		size += len(p)
	}
	cw.mu.Lock()
	defer cw.mu.Unlock()
	if cw.writing || len(cw.pending) > 0 || len(cw.cork)+wire.HeaderSize+size > corkMax || cw.broken.Load() {
		return false
	}
	h.Length = uint32(size)
	cw.cork = h.Append(cw.cork)
	for _, p := range parts {
		cw.cork = append(cw.cork, p...)
	}
	cw.stats.framesOut.Add(1)
	return true
}

// writeCork writes corked frames in full: they were already reported as
// sent, so a backpressure deadline does not cut them short.
func (cw *connWriter) writeCork(b []byte) error {
	for len(b) > 0 {
		n, err := cw.nc.Write(b)
		cw.stats.bytesOut.Add(uint64(n))
		b = b[n:]
		if err != nil {
			if isTimeout(err) {
				cw.nc.SetWriteDeadline(time.Time{})
				continue
			}
			cw.broken.Store(true)
			return err
		}
	}
	return nil
}

// run writes own (if not nil) and then every queued frame, in batches,
// until the queue is empty; then it gives up the writer role. It returns
// own's outcome.
func (cw *connWriter) run(own *outFrame) error {
	var ownErr error
	batch := append(cw.batch[:0], own)
	if own == nil {
		batch = batch[:0]
	}
	for {
		stop := false
		cw.mu.Lock()
		corked := cw.cork
		if len(corked) > 0 {
			cw.cork = cw.corkSpare[:0]
		}
		cw.mu.Unlock()
		if len(corked) > 0 {
			// Corked frames were queued before anything now in batch.
			if err := cw.writeCork(corked); err != nil {
				cw.log.Warn("procwire: could not write corked responses", "error", err)
				stop = true
				failure := fmt.Errorf("%w: %w", ErrDisconnected, err)
				for _, f := range batch {
					if f == own {
						ownErr, own = failure, nil
					} else {
						f.done <- failure
					}
				}
			}
			cw.corkSpare = corked[:0]
		}
		if len(batch) > 0 && !stop {
			var err error
			var handedOff bool
			stop, handedOff, err = cw.writeBatch(batch, own)
			if own != nil {
				ownErr, own = err, nil
			}
			if handedOff {
				return ownErr // finish holds the writer role now
			}
		}
		cw.mu.Lock()
		if stop || len(cw.pending) == 0 && len(cw.cork) == 0 {
			if stop {
				// The socket is stuck or gone: fail what waits rather
				// than hold the writer role past the timeout.
				for _, f := range cw.pending {
					if f.state.CompareAndSwap(frameQueued, frameTaken) {
						f.done <- cw.stuckErr()
					}
				}
				cw.pending = cw.pending[:0]
			}
			clear(batch)
			cw.batch = batch[:0]
			cw.own.parts, cw.own.cl = nil, nil
			cw.writing = false
			cw.mu.Unlock()
			return ownErr
		}
		batch, cw.spare = cw.spare[:0], batch[:0]
		for _, f := range cw.pending {
			if f.state.CompareAndSwap(frameQueued, frameTaken) {
				batch = append(batch, f)
			}
		}
		clear(cw.pending)
		cw.pending, cw.spare = cw.spare, cw.pending[:0]
		cw.mu.Unlock()
	}
}

func (cw *connWriter) stuckErr() error {
	if cw.broken.Load() {
		return ErrDisconnected
	}
	return ErrBackpressureTimeout
}

// writeBatch writes the frames of batch with one vectored write and reports
// each queued frame's outcome on its channel (own's is returned). stop is
// true when the writer should stop: the connection is broken, or the
// deadline passed with nothing written.
func (cw *connWriter) writeBatch(batch []*outFrame, own *outFrame) (stop, handedOff bool, ownErr error) {
	complete := func(f *outFrame, err error) {
		if f == own {
			ownErr = err
		} else {
			f.done <- err
		}
	}
	if cw.broken.Load() {
		for _, f := range batch {
			complete(f, ErrDisconnected)
		}
		return true, false, ownErr
	}
	vec := cw.vec[:0]
	live := batch[:0]
	for _, f := range batch {
		if f.cl != nil && f.cl.aborted.Load() {
			complete(f, ErrAborted)
			continue
		}
		live = append(live, f)
		vec = append(vec, f.hdr[:])
		for _, p := range f.parts {
			if len(p) > 0 {
				vec = append(vec, p)
			}
		}
	}
	if len(live) == 0 {
		cw.vec = vec[:0]
		return false, false, ownErr
	}
	if cw.timeout > 0 {
		cw.nc.SetWriteDeadline(time.Now().Add(cw.timeout))
	}
	cw.bufs = vec
	n, err := cw.bufs.WriteTo(cw.nc)
	cw.stats.bytesOut.Add(uint64(n))
	// Frames wholly written succeeded; the one cut short and those after it
	// did not.
	written := n
	cut := -1
	for i, f := range live {
		if written >= int64(f.size) {
			written -= int64(f.size)
			cw.stats.framesOut.Add(1)
			complete(f, nil)
			continue
		}
		cut = i
		break
	}
	if err == nil {
		clear(vec)
		cw.vec = vec[:0]
		return false, false, ownErr
	}
	var rest net.Buffers
	if written > 0 {
		// The unwritten part of the cut frame, copied out of the
		// reusable vector.
		rest = append(rest, cw.bufs...)
		var skip int64
		for _, f := range live[cut+1:] {
			skip += int64(f.size)
		}
		rest = trimTail(rest, skip)
	}
	clear(vec)
	cw.vec = vec[:0]
	timedOut := cw.timeout > 0 && isTimeout(err)
	failure := ErrBackpressureTimeout
	if !timedOut {
		cw.broken.Store(true)
		failure = fmt.Errorf("%w: %w", ErrDisconnected, err)
	}
	for _, f := range live[cut:] {
		complete(f, failure)
	}
	if timedOut && written > 0 {
		// Finish the cut frame in the background; the finisher keeps the
		// writer role and carries on with the queue.
		cw.flushes.Add(1)
		go cw.finish(rest)
		return false, true, ownErr
	}
	return true, false, ownErr
}

// trimTail drops the last n bytes of bufs.
func trimTail(bufs net.Buffers, n int64) net.Buffers {
	for n > 0 && len(bufs) > 0 {
		last := bufs[len(bufs)-1]
		if int64(len(last)) <= n {
			n -= int64(len(last))
			bufs = bufs[:len(bufs)-1]
			continue
		}
		bufs[len(bufs)-1] = last[:int64(len(last))-n]
		n = 0
	}
	return bufs
}

// waited records a write that took long enough to count as waiting for the
// socket.
func (cw *connWriter) waited(start time.Time) {
	if d := time.Since(start); d > time.Millisecond {
		cw.stats.backpressureWaits.Add(1)
		cw.stats.backpressureNs.Add(uint64(d))
	}
}

// finish writes the rest of a frame cut short by the deadline, without a
// deadline, then carries on as the writer.
func (cw *connWriter) finish(rest net.Buffers) {
	defer cw.flushes.Done()
	cw.nc.SetWriteDeadline(time.Time{})
	n, err := rest.WriteTo(cw.nc)
	cw.stats.bytesOut.Add(uint64(n))
	if err != nil {
		cw.broken.Store(true)
		cw.log.Warn("procwire: could not finish a frame after a backpressure timeout", "error", err)
		cw.nc.Close()
	} else {
		cw.stats.framesOut.Add(1)
	}
	cw.run(nil)
}

// isTimeout reports whether err is a deadline expiring (the os error on
// sockets, go-winio's timeout error on Windows pipes).
func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
