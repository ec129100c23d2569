package parent

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/bits"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/protocol"
	"github.com/procwire/procwire-go/wire"
)

// ErrClosed is returned by calls on a connection that is gone (closed,
// lost, or the worker exited).
var ErrClosed = errors.New("procwire/parent: connection closed")

// Conn is the parent's side of one data-plane connection: it sends
// requests and routes the worker's responses, stream chunks and events.
// It is safe for concurrent use.
type Conn struct {
	nc      net.Conn
	methods map[string]protocol.MethodDesc
	events  map[uint16]protocol.EventDesc

	wmu sync.Mutex
	wr  *wire.Writer

	mu      sync.Mutex
	nextID  uint32
	pending map[uint32]*pending
	subs    map[string][]chan Event
	closed  bool

	readDone chan struct{}
	once     sync.Once
}

type pending struct {
	response protocol.ResponseType
	ch       chan frame
	// Streams only.
	gone   chan struct{} // closed when the consumer no longer reads
	queued atomic.Int64  // payload bytes delivered and not yet consumed
	space  chan struct{} // signalled when queued falls to streamLowWater
}

type frame struct {
	flags   wire.Flags
	payload []byte
	buf     *[]byte // the pooled buffer holding payload, if any
}

// Receive-side backpressure, as the Node parent does it: when a stream's
// consumer lags by more than streamHighWater bytes (or streamBuffer
// chunks), the connection stops reading the socket, so the worker's writes
// block, until the consumer is back under streamLowWater.
const (
	streamBuffer    = 256
	streamHighWater = 16 << 20
	streamLowWater  = 4 << 20
)

// pendingPool recycles the state of result and ack calls that completed
// normally (the reader has forgotten them by then).
var pendingPool = sync.Pool{New: func() any { return &pending{ch: make(chan frame, 1)} }}

// timerPool recycles request timers (a call's timeout costs no allocation).
var timerPool sync.Pool

func getTimer(d time.Duration) *time.Timer {
	if t, ok := timerPool.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

func putTimer(t *time.Timer) {
	t.Stop() // since Go 1.23 no stale tick can be received after Stop
	timerPool.Put(t)
}

// Stream chunk payloads are read into pooled buffers, by power-of-two size
// class from 4 KiB to 64 MiB, and recycled when the consumer is done with
// them (see Chunk.Keep); smaller and larger payloads are allocated.
const (
	minPooledClass = 12
	maxPooledClass = 26
)

var chunkPools [maxPooledClass + 1]sync.Pool

func chunkBuffer(n uint32) ([]byte, *[]byte) {
	class := bits.Len32(n - 1)
	if n == 0 || class < minPooledClass || class > maxPooledClass {
		return make([]byte, n), nil
	}
	if b, ok := chunkPools[class].Get().(*[]byte); ok {
		return (*b)[:n], b
	}
	b := make([]byte, 1<<class)
	return b[:n], &b
}

func recycle(b *[]byte) {
	if b != nil {
		chunkPools[bits.Len(uint(cap(*b))-1)].Put(b)
	}
}

// NewConn starts serving the parent's end of an established connection to
// a worker with the given methods and events. Requests get ids 1, 2, …,
// wrapping within uint32 and skipping 0.
func NewConn(nc net.Conn, maxPayload uint32, methods []protocol.MethodDesc, events []protocol.EventDesc) *Conn {
	c := &Conn{
		nc:       nc,
		methods:  make(map[string]protocol.MethodDesc, len(methods)),
		events:   make(map[uint16]protocol.EventDesc, len(events)),
		wr:       wire.NewWriter(nc),
		pending:  make(map[uint32]*pending),
		subs:     make(map[string][]chan Event),
		readDone: make(chan struct{}),
	}
	for _, m := range methods {
		c.methods[m.Name] = m
	}
	for _, e := range events {
		c.events[e.ID] = e
	}
	go c.read(maxPayload)
	return c
}

// Close closes the connection: pending calls and streams fail with
// ErrClosed, event channels close. It waits for the reading goroutine.
func (p *Conn) Close() error {
	p.once.Do(func() { p.nc.Close() })
	<-p.readDone
	return nil
}

// Done is closed when the connection has ended.
func (p *Conn) Done() <-chan struct{} { return p.readDone }

// SendAuth sends the AUTH frame carrying token; it must be the first frame.
func (p *Conn) SendAuth(token string) error {
	return p.send(wire.Header{Method: wire.MethodAuth}, []byte(token))
}

// read routes the worker's frames: responses and chunks to their calls,
// events to their subscribers.
func (p *Conn) read(maxPayload uint32) {
	defer close(p.readDone)
	defer p.failAll()
	r := wire.NewReader(p.nc, maxPayload, 0)
	for {
		h, err := r.ReadHeader()
		if err != nil {
			return
		}
		var f frame
		f.flags = h.Flags
		if h.Length > 0 {
			if h.Flags.Has(wire.FlagStream) && !h.Flags.Has(wire.FlagError) {
				f.payload, f.buf = chunkBuffer(h.Length)
			} else {
				f.payload = make([]byte, h.Length)
			}
			if err := r.ReadPayload(f.payload); err != nil {
				return
			}
		}
		switch {
		case h.RequestID == 0 && h.Flags == wire.FlagsEvent:
			p.dispatchEvent(h.Method, f.payload)
		case h.RequestID != 0 && h.Flags.Has(wire.FlagResponse):
			p.route(h.RequestID, f)
		default:
			recycle(f.buf)
		}
	}
}

// route hands a response frame to its call or stream.
func (p *Conn) route(id uint32, f frame) {
	p.mu.Lock()
	pd := p.pending[id]
	if pd == nil || pd.response == protocol.ResponseResult && f.flags.Has(wire.FlagAck) {
		// Late, aborted, or an ack to a result method: dropped as the
		// Node parent does.
		p.mu.Unlock()
		recycle(f.buf)
		return
	}
	if pd.response != protocol.ResponseStream {
		// The one response of a call: the call owns pd from here on.
		delete(p.pending, id)
		p.mu.Unlock()
		pd.ch <- f // never blocks: one slot, one send
		return
	}
	final := f.flags.Has(wire.FlagError) || f.flags.Has(wire.FlagStreamEnd)
	if final {
		delete(p.pending, id)
	}
	p.mu.Unlock()
	// Backpressure: wait (not reading the socket) while the consumer lags.
	for pd.queued.Load() > streamHighWater {
		select {
		case <-pd.space:
		case <-pd.gone:
			recycle(f.buf)
			return
		}
	}
	pd.queued.Add(int64(len(f.payload)))
	select {
	case pd.ch <- f: // blocks while the consumer lags by streamBuffer chunks
	case <-pd.gone:
		recycle(f.buf)
	}
}

func (p *Conn) failAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for id, pd := range p.pending {
		close(pd.ch)
		if pd.gone != nil {
			close(pd.gone)
		}
		delete(p.pending, id)
	}
	for name, chs := range p.subs {
		for _, ch := range chs {
			close(ch)
		}
		delete(p.subs, name)
	}
}

// start registers a call and sends its request.
func (p *Conn) start(method string, in any, want ...protocol.ResponseType) (protocol.MethodDesc, uint32, *pending, error) {
	m, ok := p.methods[method]
	if !ok {
		return m, 0, nil, fmt.Errorf("procwire/parent: unknown method %q", method)
	}
	okType := false
	for _, rt := range want {
		okType = okType || m.Response == rt
	}
	if !okType {
		return m, 0, nil, fmt.Errorf("procwire/parent: method %q answers with %q", method, m.Response)
	}
	payload, err := marshal(m.RequestCodec, in)
	if err != nil {
		return m, 0, nil, err
	}
	var pd *pending
	if m.Response == protocol.ResponseStream {
		pd = &pending{response: protocol.ResponseStream, ch: make(chan frame, streamBuffer), gone: make(chan struct{}), space: make(chan struct{}, 1)}
	} else {
		pd = pendingPool.Get().(*pending)
		pd.response = m.Response
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return m, 0, nil, ErrClosed
	}
	p.nextID++
	if p.nextID == 0 {
		p.nextID = 1
	}
	id := p.nextID
	p.pending[id] = pd
	p.mu.Unlock()
	if err := p.send(wire.Header{Method: m.ID, RequestID: id}, payload); err != nil {
		p.forget(id)
		return m, 0, nil, err
	}
	return m, id, pd, nil
}

func marshal(c codec.Codec, v any) ([]byte, error) {
	b, err := c.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("procwire/parent: encode request: %w", err)
	}
	return b, nil
}

func (p *Conn) send(h wire.Header, payload []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if _, _, err := p.wr.WriteFrame(h, payload); err != nil {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return nil
}

func (p *Conn) forget(id uint32) {
	p.mu.Lock()
	if pd := p.pending[id]; pd != nil {
		if pd.gone != nil {
			close(pd.gone)
		}
		delete(p.pending, id)
	}
	p.mu.Unlock()
}

// abort forgets the call and, for a cancellable method, tells the worker to
// cancel it.
func (p *Conn) abort(m protocol.MethodDesc, id uint32) {
	p.forget(id)
	if m.Cancellable {
		p.send(wire.Header{Method: wire.MethodAbort, RequestID: id}, nil)
	}
}

// Call sends a request to a result or ack method and decodes the response
// into out (which may be nil). A worker error is a *protocol.Error. When ctx
// ends first, the request is aborted and ctx's error returned.
func (p *Conn) Call(ctx context.Context, method string, in, out any) error {
	return p.call(ctx, method, in, out, 0)
}

// call is Call with a timeout (none if d <= 0), which fails the call with
// an error wrapping ErrTimeout; the worker is not told, as with Node.
func (p *Conn) call(ctx context.Context, method string, in, out any, d time.Duration) error {
	m, id, pd, err := p.start(method, in, protocol.ResponseResult, protocol.ResponseAck)
	if err != nil {
		return err
	}
	var expired <-chan time.Time
	if d > 0 {
		t := getTimer(d)
		defer putTimer(t)
		expired = t.C
	}
	select {
	case f, ok := <-pd.ch:
		if !ok {
			return ErrClosed
		}
		pendingPool.Put(pd) // the reader forgot it before sending
		return decodeResponse(m.ResponseCodec, f, out)
	case <-ctx.Done():
		p.abort(m, id)
		return ctx.Err()
	case <-expired:
		p.forget(id)
		return fmt.Errorf("%w: %q after %v", ErrTimeout, method, d)
	}
}

// Ack is Call for ack methods: it returns once the worker acknowledged.
func (p *Conn) Ack(ctx context.Context, method string, in, out any) error {
	return p.Call(ctx, method, in, out)
}

// Notify sends a request to a method of response type "none".
func (p *Conn) Notify(method string, in any) error {
	m, ok := p.methods[method]
	if !ok {
		return fmt.Errorf("procwire/parent: unknown method %q", method)
	}
	payload, err := marshal(m.RequestCodec, in)
	if err != nil {
		return err
	}
	return p.send(wire.Header{Method: m.ID}, payload)
}

func decodeResponse(c codec.Codec, f frame, out any) error {
	if f.flags.Has(wire.FlagError) {
		return remoteError(f.payload)
	}
	if out == nil {
		return nil
	}
	if err := c.Unmarshal(f.payload, out); err != nil {
		return fmt.Errorf("procwire/parent: decode response: %w", err)
	}
	return nil
}

// remoteError returns the *protocol.Error a worker's error payload holds.
func remoteError(payload []byte) error {
	var v any
	if err := codec.MsgPack.Unmarshal(payload, &v); err != nil {
		return fmt.Errorf("procwire/parent: decode error payload: %w", err)
	}
	return protocol.ErrorFromPayload(v)
}

// Chunk is one chunk of a stream response.
//
// A Chunk and its Payload are valid until the loop body that received it
// returns: the connection then reuses the memory for later chunks (this is
// what lets a stream run at the speed of the socket). Call Keep to retain
// the payload beyond that.
type Chunk struct {
	Payload []byte
	codec   codec.Codec
	buf     *[]byte
}

// Decode decodes the chunk with the method's response codec. The decoded
// value may alias Payload if the codec does (codec.Raw does).
func (c *Chunk) Decode(v any) error { return c.codec.Unmarshal(c.Payload, v) }

// Keep hands the payload over to the caller: it stays valid after the loop
// body returns, and the connection will not reuse it.
func (c *Chunk) Keep() []byte {
	c.buf = nil
	return c.Payload
}

// Stream sends a request to a stream method and yields its chunks, then a
// final error if the stream failed (a *protocol.Error) or ctx ended. Stopping
// the iteration early aborts the request. If the loop body is slower than
// the worker, the connection stops reading the socket once the chunks
// waiting for it exceed 16 MiB, and resumes below 4 MiB (backpressure).
func (p *Conn) Stream(ctx context.Context, method string, in any) iter.Seq2[*Chunk, error] {
	return func(yield func(*Chunk, error) bool) {
		m, id, pd, err := p.start(method, in, protocol.ResponseStream)
		if err != nil {
			yield(nil, err)
			return
		}
		c := &Chunk{codec: m.ResponseCodec}
		for {
			select {
			case f, ok := <-pd.ch:
				switch {
				case !ok:
					yield(nil, ErrClosed)
					return
				case f.flags.Has(wire.FlagError):
					p.forget(id)
					yield(nil, remoteError(f.payload))
					return
				case f.flags.Has(wire.FlagStreamEnd):
					p.forget(id)
					return
				}
				c.Payload, c.buf = f.payload, f.buf
				more := yield(c, nil)
				recycle(c.buf)
				c.Payload, c.buf = nil, nil
				if pd.queued.Add(-int64(len(f.payload))) <= streamLowWater {
					select {
					case pd.space <- struct{}{}:
					default:
					}
				}
				if !more {
					p.abort(m, id)
					return
				}
			case <-ctx.Done():
				p.abort(m, id)
				yield(nil, ctx.Err())
				return
			}
		}
	}
}

// Streamer is what StreamOf needs: a Conn, a Module, or a test parent.
type Streamer interface {
	Stream(ctx context.Context, method string, in any) iter.Seq2[*Chunk, error]
}

// StreamOf is Stream with each chunk decoded into a T. The values are the
// caller's to keep (with codecs other than MessagePack, whose decoded values
// may alias the chunk, StreamOf keeps every chunk's payload).
func StreamOf[T any](ctx context.Context, p Streamer, method string, in any) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for c, err := range p.Stream(ctx, method, in) {
			var v T
			if err == nil {
				if c.codec != codec.MsgPack {
					c.Keep()
				}
				err = c.Decode(&v)
			}
			if !yield(v, err) || err != nil {
				return
			}
		}
	}
}

// Event is one event emitted by the worker.
type Event struct {
	Name    string
	Payload []byte
	codec   codec.Codec
}

// Decode decodes the event with its codec.
func (e Event) Decode(v any) error { return e.codec.Unmarshal(e.Payload, v) }

// eventBuffer is how many events a subscription holds; the parent stops
// reading the socket while a subscriber's buffer is full.
const eventBuffer = 1024

// Events subscribes to the named event and returns a channel of its
// emissions from now on. The channel is closed when the connection ends.
func (p *Conn) Events(name string) <-chan Event {
	ch := make(chan Event, eventBuffer)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		close(ch)
		return ch
	}
	p.subs[name] = append(p.subs[name], ch)
	return ch
}

func (p *Conn) dispatchEvent(id uint16, payload []byte) {
	e, ok := p.events[id]
	if !ok {
		return
	}
	p.mu.Lock()
	subs := p.subs[e.Name]
	p.mu.Unlock()
	for _, ch := range subs {
		ch <- Event{Name: e.Name, Payload: payload, codec: e.Codec}
	}
}
