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
