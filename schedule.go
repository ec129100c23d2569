package procwire

import (
	"context"
	"fmt"
	"time"
)

// This file holds the scheduler: which goroutine reads, which serves a
// request, and what waits. A request runs on the reading goroutine itself
// when that is cheaper than a hand-off (serve), else on a handler goroutine
// (run), parked ones first; requests beyond MaxConcurrentHandlers queue in
// arrival order, and the reader stops reading while MaxQueuedRequests wait.
// The state is serverConn's "scheduler" fields, under mu.

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
			c.log.Warn("procwire: request id already in flight; rejecting the new request", "request_id", id, "method", m.Name)
			dupErr := fmt.Errorf("procwire: request id %d is already in flight", id)
			cl.m = &method{MethodDesc: m.MethodDesc, stats: m.stats,
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
			} else {
				c.dropped(cl)
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
	} else {
		c.dropped(cl)
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
	c.deactivate(done)
	if done.id != 0 && c.calls[done.id] == done {
		delete(c.calls, done.id)
	}
	var cl *call
	for cl == nil && c.qhead < len(c.queue) && !c.closing {
		cl = c.queue[c.qhead]
		c.queue[c.qhead] = nil
		c.qhead++
		if cl.aborted.Load() {
			c.dropped(cl) // only tells procwiretest's observer, if any
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
