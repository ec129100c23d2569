package parent

// Reading: one goroutine at a time reads the socket, and it is the read
// loop's unless a lone call reads its own response.
//
// The read loop (read) reads while requests are in flight and while the
// connection is idle, so that events and the end of the connection are
// seen as they come. But a response the loop reads must then be handed to
// its caller's goroutine, and on a lone round trip that hand-over (a
// wake-up, on a machine with an idle CPU another thread's too) costs about
// as much as the round trip through the socket itself. So a call that
// finds nothing else in flight and the loop resting reads its response
// itself (readDirect), woken by the poller as a plain socket read would be.
//
// The role of reader passes under Conn.mu (Conn.role):
//   - roleLoop: the loop reads (and at the start);
//   - roleCaller: a call reads (direct) — the only request in flight when
//     it registered; others register meanwhile and wait for the loop;
//   - roleFree: nobody reads. The loop frees the role when it has routed
//     the response to a lone request (nothing else was in flight when it
//     registered: a sequential caller's, not the last of a burst of
//     concurrent ones) and nothing is in flight or left in the read
//     buffer, and so does a direct call; then the next call that registers
//     with nothing else in flight reads directly. The loop takes the role back
//     at once when any other request registers (a stream, or a call while
//     another is in flight), when the connection is closed, and when the
//     role stayed free for a whole tick of its clock.
//
// The loop's clock ticks every idleTick while it does not hold the role:
// besides taking a role left free, it ends a direct call's wait at the
// call's deadline (reader.until) by setting a read deadline in the past.
// Between ticks no timer is touched: a lone call costs no timer
// operation, which would otherwise wake the thread sleeping in the
// poller, as often as the hand-over it saves. A short call's timeout is
// so kept to within a tick; through a call that holds the role for a
// whole tick the clock stops ticking and waits for that call's deadline
// alone (see awaitRole).
//
// A direct call routes only responses to calls; it leaves anything whose
// delivery may wait on a consumer (a stream's frame, an event) to the loop,
// with the role (reader.held), and so does anything that ends its reading
// early: its deadline or its context, which also interrupts the read
// (the frame read so far, if any, is kept in reader.partial and resumed by
// the next reader), or a read error (reader.err, with which the loop ends
// the connection). A deadline set for a call that has ended meanwhile is
// taken by whoever reads next as no reason to stop.
//
// Ownership: the fields of reader belong to the goroutine holding the
// role, but for until (atomic), wake, and claims and ticking (under mu);
// the hand-over under mu orders one holder's writes before the next one's
// reads. finish runs on the loop
// with the role held, so it never runs while a direct call routes.

import (
	"context"
	"errors"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/procwire/procwire-go/internal/heap"
	"github.com/procwire/procwire-go/wire"
)

// idleTick is the period of the loop's clock while it does not hold the
// role: a free role goes back to it within one to two ticks, and a direct
// call's timeout is kept to within one.
const idleTick = time.Millisecond

// Who reads the socket (Conn.role).
const (
	roleLoop = iota
	roleCaller
	roleFree
)

// reader is the reading state, owned by the holder of the role.
type reader struct {
	r    *wire.Reader
	bufs heap.Buffers // large payloads' buffers (internal/heap)

	// partial is a frame whose payload a direct call's deadline
	// interrupted; the next reader reads the rest.
	partial  bool
	partialH wire.Header
	partialF frame
	// held is a frame read by a direct call for the loop to route.
	held  bool
	heldH wire.Header
	heldF frame
	// err is a read error met by a direct call, which ends the loop.
	err error

	// until is a direct call's deadline in Unix ns (0: none), which the
	// loop's clock enforces.
	until   atomic.Int64
	wake    chan struct{} // the loop's signal to check the role (one slot)
	claims  uint64        // guarded by Conn.mu: direct calls so far (the clock's evidence of use)
	ticking bool          // guarded by Conn.mu: the loop's clock ticks (else a direct call that frees the role wakes it)
}

// past is a read deadline in the past: setting it interrupts a read.
var past = time.Unix(1, 0)

// next reads the next frame, or returns the one a direct call left. On a
// timeout inside a payload the frame so far is kept for the next call.
func (c *Conn) next() (wire.Header, frame, error) {
	rd := &c.rd
	if rd.held {
		rd.held = false
		return rd.heldH, rd.heldF, nil
	}
	if rd.err != nil {
		return wire.Header{}, frame{}, rd.err
	}
	var h wire.Header
	var f frame
	var dst []byte
	if rd.partial {
		rd.partial = false
		h, f, dst = rd.partialH, rd.partialF, rd.partialF.payload
	} else {
		var err error
		if h, err = rd.r.ReadHeader(); err != nil {
			return h, f, err
		}
		f.flags = h.Flags
		if h.Length > 0 {
			// Chunks go into pooled buffers; other payloads get their
			// own (wire.Reader's policy: a large declared length grows
			// as its bytes arrive).
			if h.Flags.Has(wire.FlagStream) && !h.Flags.Has(wire.FlagError) {
				dst, f.buf = chunkBuffer(h.Length)
			}
			if f.buf == nil { // a buffer of its own; a large one reuses the last one's memory (internal/heap)
				dst = rd.bufs.Get(min(int(h.Length), wire.MaxEagerPayload))
			}
		}
	}
	if h.Length > 0 {
		p, err := rd.r.AppendPayload(dst)
		if err != nil {
			if isTimeout(err) {
				f.payload = p
				rd.partial, rd.partialH, rd.partialF = true, h, f
			} else {
				recycle(f.buf)
			}
			return h, frame{}, err
		}
		f.payload = p
	}
	c.stats.framesIn.Add(1)
	c.stats.bytesIn.Add(wire.HeaderSize + uint64(h.Length))
	return h, f, nil
}

// dispatch delivers a frame: an event to its subscribers, a response to
// its call or stream; it drops anything else. It reports whether it took
// the frame: a direct call (mayWait false) leaves whatever may wait on a
// consumer, an event or a stream's frame, to the loop. last reports
// whether the frame ended the last request in flight, a lone one.
func (c *Conn) dispatch(h wire.Header, f frame, mayWait bool) (taken, last bool) {
	switch {
	case h.RequestID == 0 && h.Flags == wire.FlagsEvent:
		if !mayWait {
			return false, false
		}
		c.dispatchEvent(h.Method, f.payload)
	case h.RequestID != 0 && h.Flags.Has(wire.FlagResponse):
		return c.route(h.RequestID, f, mayWait)
	default:
		recycle(f.buf)
	}
	return true, false
}

// loopRelease frees the role if nothing is in flight or buffered; it
// reports whether it did. The loop calls it after the last response in
// flight.
func (c *Conn) loopRelease() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.idle() {
		return false
	}
	c.role = roleFree
	return true
}

// idle reports whether the role may go free: nothing in flight, nothing
// left in the read buffer, the connection not ended. mu must be held.
func (c *Conn) idle() bool {
	return len(c.inflight) == 0 && c.rd.r.Buffered() == 0 && c.err == nil
}

// awaitRole returns once the loop holds the role: given back by a direct
// call, taken when it stayed free for a tick, or taken once the connection
// is closed (a direct call's read fails then, and it gives the role back).
// Meanwhile its clock ends direct calls at their deadline: it ticks every
// idleTick, but through a long direct call (one that held the role for a
// whole tick) it waits for that call's deadline alone, or for nothing, so
// that a parent waiting on a long call is not woken a thousand times a
// second; the call, as it gives the role up, wakes the loop to tick again.
func (c *Conn) awaitRole() {
	closed := c.closed
	var clk clock
	defer clk.set(clockOff, 0)
	var seen uint64 // the direct calls so far, as of the last look
	woken := byWake
	for {
		c.mu.Lock()
		if woken != byWake && c.role == roleCaller {
			if u := c.rd.until.Load(); u != 0 && time.Now().UnixNano() >= u {
				c.nc.SetReadDeadline(past)
			}
		}
		sameCall := c.rd.claims == seen
		if c.role == roleFree && (closed == nil || woken == byTick && sameCall) {
			c.role = roleLoop
		}
		mine := c.role == roleLoop
		mode := clockTick
		if woken == byTick && c.role == roleCaller && sameCall {
			mode = clockLimit
		}
		seen = c.rd.claims
		c.rd.ticking = !mine && mode == clockTick
		until := c.rd.until.Load()
		c.mu.Unlock()
		if mine {
			return
		}
		clk.set(mode, until)
		select {
		case <-c.rd.wake:
			woken = byWake
		case <-clk.tickC:
			woken = byTick
		case <-clk.limitC:
			woken = byLimit
		case <-closed:
			closed, woken = nil, byWake
		}
	}
}

// What woke the loop in awaitRole.
const (
	byWake  = iota // its wake channel, or Close
	byTick         // a tick of its clock
	byLimit        // a long direct call's deadline
)

// clock is the loop's clock while it waits for the role.
type clock struct {
	mode   int
	tick   *time.Ticker
	limit  *time.Timer
	tickC  <-chan time.Time // nil unless ticking
	limitC <-chan time.Time // nil unless waiting for a deadline
}

// The clock's modes.
const (
	clockOff   = iota
	clockTick  // every idleTick
	clockLimit // once, at a deadline in Unix ns (none if 0)
)

// set puts the clock in mode (until: clockLimit's deadline), unless it is
// in it already.
func (k *clock) set(mode int, until int64) {
	if mode == k.mode {
		return
	}
	if k.tick != nil {
		k.tick.Stop()
		k.tick, k.tickC = nil, nil
	}
	if k.limit != nil {
		k.limit.Stop()
		k.limit, k.limitC = nil, nil
	}
	k.mode = mode
	switch {
	case mode == clockTick:
		k.tick = time.NewTicker(idleTick)
		k.tickC = k.tick.C
	case mode == clockLimit && until != 0:
		k.limit = time.NewTimer(time.Until(time.Unix(0, until)))
		k.limitC = k.limit.C
	}
}

// toLoop gives the role to the loop. mu must be held.
func (c *Conn) toLoop() {
	c.role = roleLoop
	c.wakeLoop()
}

// wakeLoop makes the loop look at the role.
func (c *Conn) wakeLoop() {
	select {
	case c.rd.wake <- struct{}{}:
	default:
	}
}

// claim decides, as a request registers (mu held), who reads its
// response: it returns true if the caller is to read it directly (direct:
// a call, and nothing else in flight), in which case it holds the role;
// otherwise a free role goes to the loop.
func (c *Conn) claim(direct bool) bool {
	if c.role != roleFree {
		return false
	}
	if direct {
		c.role = roleCaller
		c.rd.claims++
		return true
	}
	c.toLoop()
	return false
}

// directEnd says how readDirect ended.
type directEnd int

const (
	directGot      directEnd = iota // the response is in cs.ch
	directHanded                    // the loop reads on (a read error, or a frame for it)
	directTimeout                   // the call's deadline passed
	directCanceled                  // the call's context ended
)

// readDirect reads, holding the role, until cs's response has been routed
// to cs.ch, the deadline (if not zero) passes, ctx ends, or a frame or an
// error is left to the loop; then it gives the role up.
func (c *Conn) readDirect(ctx context.Context, cs *callState, deadline time.Time) directEnd {
	var stop func() bool
	if done := ctx.Done(); done != nil {
		stop = context.AfterFunc(ctx, func() { c.nc.SetReadDeadline(past) })
	}
	if !deadline.IsZero() {
		c.rd.until.Store(deadline.UnixNano())
	}
	end := directGot
	interrupted := false
	for len(cs.ch) == 0 {
		h, f, err := c.next()
		if err != nil {
			if isTimeout(err) {
				interrupted = true
				if ctx.Err() != nil {
					end = directCanceled
					break
				}
				if !deadline.IsZero() && !time.Now().Before(deadline) {
					end = directTimeout
					break
				}
				c.nc.SetReadDeadline(time.Time{}) // set for a call that has ended: read on
				continue
			}
			c.rd.err = err
			end = directHanded
			break
		}
		if taken, _ := c.dispatch(h, f, false); !taken {
			c.rd.held, c.rd.heldH, c.rd.heldF = true, h, f
			end = directHanded
			break
		}
	}
	if !deadline.IsZero() {
		c.rd.until.Store(0)
	}
	if stop != nil && !stop() {
		interrupted = true // the context's end may have set the deadline
	}
	if interrupted {
		c.nc.SetReadDeadline(time.Time{})
	}
	c.mu.Lock()
	if end == directGot && c.idle() {
		c.role = roleFree
		if !c.rd.ticking {
			c.wakeLoop()
		}
	} else {
		c.toLoop()
	}
	c.mu.Unlock()
	return end
}

// isTimeout reports whether err is a read deadline's (os.ErrDeadlineExceeded
// on sockets; go-winio's pipes say so with net.Error's Timeout).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
