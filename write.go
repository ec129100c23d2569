package procwire

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/procwire/procwire-go/wire"
)

// connWriter serialises frame writes on the connection and combines them:
// the goroutine that finds the connection free takes the writer role and,
// with one vectored write (wire.Writer.Flush), sends its own frame together
// with every frame that other goroutines queued meanwhile, until none is
// left. Under load many responses leave in one system call; alone, a frame
// is written at once.
//
// A write waits for its frame to be on the socket. With
// Options.BackpressureTimeout set, a frame that cannot be written within it
// fails with ErrBackpressureTimeout; a frame already partly on the wire is
// finished in the background (wire.Writer.Resume), so the byte stream stays
// well-formed.
//
// Ownership: the fields under mu are shared; ww, batch, spare and
// corkSpare belong to the goroutine holding the writer role (writing ==
// true), which may be a finisher goroutine after a timeout. The role is
// taken and given up under mu.
type connWriter struct {
	// Immutable.
	nc      net.Conn
	timeout time.Duration
	closed  chan struct{} // closed by close
	once    sync.Once
	log     *slog.Logger
	stats   *counters

	flushes sync.WaitGroup // finisher goroutines (see finish)
	broken  atomic.Bool    // a write failed mid-frame: nothing more may be written

	mu      sync.Mutex
	writing bool        // a goroutine holds the writer role
	queue   []*outFrame // frames waiting for the writer role

	// Corking (see setCork): small frames are copied into cork instead of
	// being written while the reader has more requests buffered; the
	// reader flushes them before it waits for the socket.
	corkOn atomic.Bool
	cork   []byte // under mu

	// The writer role's.
	ww        *wire.Writer
	batch     []*outFrame
	spare     []*outFrame
	corkSpare []byte
	own       outFrame // the role holder's own frame
}

// outFrame is one frame waiting to be written.
type outFrame struct {
	h     wire.Header
	parts [][]byte
	cl    *call        // the request the frame answers, if any
	state atomic.Int32 // frameQueued → frameTaken (by the writer) or frameCancelled (by its waiter)
	done  chan error   // receives the outcome of a queued frame
}

const (
	frameQueued int32 = iota
	frameTaken
	frameCancelled
)

func newConnWriter(nc net.Conn, timeout time.Duration, log *slog.Logger, stats *counters) *connWriter {
	return &connWriter{
		nc:      nc,
		ww:      wire.NewWriter(nc),
		timeout: timeout,
		closed:  make(chan struct{}),
		log:     log,
		stats:   stats,
	}
}

func (cw *connWriter) close() {
	cw.once.Do(func() { close(cw.closed) })
}

// write sends one frame. If cl is not nil and the request was aborted, the
// frame is dropped and ErrAborted returned: once an abort is honoured
// nothing more is sent for the request.
func (cw *connWriter) write(h wire.Header, cl *call, parts ...[]byte) error {
	if cw.corkOn.Load() && cw.corked(h, parts) {
		return nil
	}
	start := now()
	defer cw.waited(start)
	cw.mu.Lock()
	if !cw.writing {
		cw.writing = true
		cw.mu.Unlock()
		cw.own.h, cw.own.cl, cw.own.parts = h, cl, parts
		return cw.run(&cw.own)
	}
	f := &outFrame{h: h, cl: cl, parts: parts, done: make(chan error, 1)}
	cw.queue = append(cw.queue, f)
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

// corkMax bounds the bytes held by the cork.
const corkMax = 64 << 10

// setCork turns corking on or off. The reader turns it on when it runs a
// request while more requests are already buffered (pipelined requests:
// their responses then leave together in one system call), and off, which
// flushes the cork, before it next waits for the socket.
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
	// corkOn again, under mu: the reader's setCork(false) may have found
	// the cork empty since write looked, and nobody would flush it.
	if !cw.corkOn.Load() || cw.writing || len(cw.queue) > 0 || len(cw.cork)+wire.HeaderSize+size > corkMax || cw.broken.Load() {
		return false
	}
	cw.cork = wire.AppendFrame(cw.cork, h, parts...)
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

// run holds the writer role: it writes own (if not nil), then every queued
// frame, in batches, until none is left; then it gives up the role. It
// returns own's outcome.
func (cw *connWriter) run(own *outFrame) error {
	var ownErr error
	batch := cw.batch[:0]
	if own != nil {
		batch = append(batch, own)
	}
	// settle reports a frame's outcome: own's is returned, the others'
	// go to their waiters.
	settle := func(f *outFrame, err error) {
		if f == own {
			ownErr, own = err, nil
		} else {
			f.done <- err
		}
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
					settle(f, failure)
				}
			}
			cw.corkSpare = corked[:0]
		}
		if len(batch) > 0 && !stop {
			var handedOff bool
			stop, handedOff = cw.writeBatch(batch, settle)
			if handedOff {
				return ownErr // a finisher holds the writer role now
			}
		}
		cw.mu.Lock()
		if stop || len(cw.queue) == 0 && len(cw.cork) == 0 {
			if stop {
				// The socket is stuck or gone: fail what waits rather
				// than hold the writer role past the timeout.
				for _, f := range cw.queue {
					if f.state.CompareAndSwap(frameQueued, frameTaken) {
						f.done <- cw.stuckErr()
					}
				}
				clear(cw.queue)
				cw.queue = cw.queue[:0]
			}
			clear(batch)
			cw.batch = batch[:0]
			cw.own.parts, cw.own.cl = nil, nil
			cw.writing = false
			cw.mu.Unlock()
			return ownErr
		}
		clear(batch)
		batch, cw.spare = cw.spare[:0], batch[:0]
		for _, f := range cw.queue {
			if f.state.CompareAndSwap(frameQueued, frameTaken) {
				batch = append(batch, f)
			}
		}
		clear(cw.queue)
		cw.queue, cw.spare = cw.spare[:0], cw.queue[:0]
		cw.mu.Unlock()
	}
}

func (cw *connWriter) stuckErr() error {
	if cw.broken.Load() {
		return ErrDisconnected
	}
	return ErrBackpressureTimeout
}

// writeBatch writes the frames of batch with one vectored write and settles
// each. stop is true when the writer should stop: the connection is
// broken, or the deadline passed with nothing of the cut frame written.
// handedOff is true when a frame was cut short by the deadline: a finisher
// goroutine now holds the writer role.
func (cw *connWriter) writeBatch(batch []*outFrame, settle func(*outFrame, error)) (stop, handedOff bool) {
	if cw.broken.Load() {
		for _, f := range batch {
			settle(f, ErrDisconnected)
		}
		return true, false
	}
	live := batch[:0] // filtered in place
	for _, f := range batch {
		if f.cl != nil && f.cl.aborted.Load() {
			settle(f, ErrAborted)
			continue
		}
		cw.ww.Queue(f.h, f.parts...)
		live = append(live, f)
	}
	if len(live) == 0 {
		return false, false
	}
	if cw.timeout > 0 {
		cw.nc.SetWriteDeadline(time.Now().Add(cw.timeout))
	}
	sent, n, err := cw.ww.Flush()
	cw.stats.bytesOut.Add(uint64(n))
	cw.stats.framesOut.Add(uint64(sent))
	for _, f := range live[:sent] {
		settle(f, nil)
	}
	if err == nil {
		return false, false
	}
	timedOut := cw.timeout > 0 && isTimeout(err)
	failure := ErrBackpressureTimeout
	if !timedOut {
		cw.broken.Store(true)
		failure = fmt.Errorf("%w: %w", ErrDisconnected, err)
	}
	for _, f := range live[sent:] {
		settle(f, failure)
	}
	if timedOut && cw.ww.Partial() {
		cw.flushes.Add(1)
		go cw.finish()
		return false, true
	}
	return true, false
}

// waited records a write that took long enough to count as waiting for the
// socket.
func (cw *connWriter) waited(start time.Duration) {
	if d := now() - start; d > time.Millisecond {
		cw.stats.backpressureWaits.Add(1)
		cw.stats.backpressureNs.Add(uint64(d))
	}
}

// finish writes the rest of a frame cut short by the deadline, without a
// deadline, then carries on in the writer role.
func (cw *connWriter) finish() {
	defer cw.flushes.Done()
	cw.nc.SetWriteDeadline(time.Time{})
	n, err := cw.ww.Resume()
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
