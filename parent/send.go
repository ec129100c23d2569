package parent

// Sending: frames from concurrent callers go out together, in one write.
//
// A caller queues its frame (post) under Conn.smu. If no caller is writing,
// it becomes the writer: it takes every frame queued so far, writes them
// with one vectored write (wire.Writer.Flush), and repeats while more were
// queued meanwhile; then it gives the role up. A caller that finds a
// writer at work leaves its frame to it and goes on at once: to wait for
// its response, which is why 64 concurrent callers cost a few system calls
// instead of 64 (the worker combines its responses the same way). This is
// flat combining: no goroutine of its own, no hand-off while the
// connection is idle, and the first caller's frame is written at once.
//
// Ownership: pend, spare, seq, written, okSeq, writing and waiters are
// guarded by smu. wr belongs to the caller in the writer role (writing is
// true), which is the only one to touch it. A queued frame's payload is
// the connection's (post's callers pass buffers that nobody else holds, or
// wait with send until their frame is written), and is dropped from pend
// and wr once written.
//
// A failed write ends the connection: the writer records the error (werr,
// under mu) and closes the socket, so that the read loop ends and fails
// every request in flight with an error that names the write failure (or
// the worker's exit that caused it); frames queued behind it are not
// written.

import (
	"runtime"
	"sync"

	"github.com/procwire/procwire-go/wire"
)

// sendQueue is the state of Conn's combined writes.
type sendQueue struct {
	smu     sync.Mutex
	cond    sync.Cond // L is &smu; broadcast after a write when waiters > 0
	pend    []pending // frames queued and not yet taken by the writer
	spare   []pending // the writer's previous batch, reused for pend
	seq     uint64    // sequence number of the last frame queued
	written uint64    // every frame up to it was taken and written, or failed
	okSeq   uint64    // every frame up to it was written
	writing bool      // a caller is in the writer role
	waiters int       // callers waiting in send for their frame
	batches uint64    // writes made (the tests compare them with the frames)
	wr      *wire.Writer
}

// pending is a queued frame.
type pending struct {
	h       wire.Header
	payload []byte
}

// post queues a frame and, unless another caller is writing, writes it
// with every frame queued meanwhile; it returns the frame's sequence
// number. With cork set, a caller that takes the writer role first lets
// the other runnable callers queue their frames (see below); without, it
// writes at once: when no other request is in flight, yielding could only
// add a trip through the scheduler to a lone round trip. The payload must
// not be modified until the frame is written (send waits for that; post's
// callers hand over buffers of their own).
// A failure to write is not returned: it ends the connection (see above).
func (c *Conn) post(h wire.Header, payload []byte, cork bool) uint64 {
	q := &c.sq
	q.smu.Lock()
	q.seq++
	seq := q.seq
	q.pend = append(q.pend, pending{h: h, payload: payload})
	if q.writing {
		q.smu.Unlock()
		return seq
	}
	q.writing = true
	q.smu.Unlock()
	if cork {
		// Let the callers that are runnable now (those the read loop has
		// just handed their responses, typically) queue their next
		// requests, so that they go out in this write.
		runtime.Gosched()
	}
	q.smu.Lock()
	for len(q.pend) > 0 {
		batch, last := q.pend, q.seq
		q.pend = q.spare[:0]
		q.smu.Unlock()
		err := c.writeBatch(batch)
		clear(batch) // drop the payloads
		q.smu.Lock()
		q.spare = batch[:0]
		q.written = last
		q.batches++
		if err == nil && q.okSeq+uint64(len(batch)) == last {
			q.okSeq = last
		}
		if q.waiters > 0 {
			q.cond.Broadcast()
		}
	}
	q.writing = false
	q.smu.Unlock()
	return seq
}

// writeBatch writes frames in one vectored write; a failure ends the
// connection.
func (c *Conn) writeBatch(batch []pending) error {
	q := &c.sq
	for _, f := range batch {
		q.wr.Queue(f.h, f.payload)
	}
	sent, n, err := q.wr.Flush()
	c.stats.bytesOut.Add(uint64(n))
	c.stats.framesOut.Add(uint64(sent))
	if err != nil {
		c.mu.Lock()
		if c.werr == nil {
			c.werr = err
		}
		c.mu.Unlock()
		c.nc.Close() // the read loop ends, and fails what is in flight
	}
	return err
}

// send queues a frame and waits until it is written, as post (cork as
// there) with the outcome: nil once the frame is written. A failed write
// is reported as the end of the connection: the reason the read loop
// records (it waits a moment for it: the worker's exit, when that
// follows), else ErrClosed after Close, else the write error wrapped with
// ErrClosed.
func (c *Conn) send(h wire.Header, payload []byte, cork bool) error {
	seq := c.post(h, payload, cork)
	q := &c.sq
	q.smu.Lock()
	for q.written < seq {
		q.waiters++
		q.cond.Wait()
		q.waiters--
	}
	ok := q.okSeq >= seq
	q.smu.Unlock()
	if ok {
		return nil
	}
	c.awaitEnd()
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.err != nil:
		return c.err
	case c.closing:
		return ErrClosed
	}
	return &closeError{reason: "write failed: " + c.werr.Error(), cause: c.werr}
}
