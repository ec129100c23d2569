package parent

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net"
	"sync"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/wire"
)

// ErrClosed is returned by calls on a connection that is gone (closed,
// lost, or the worker exited).
var ErrClosed = errors.New("procwire/parent: connection closed")

// RemoteError is an error response from the worker: its message, and for
// a structured error (a map with message and code, as procwire.Error sends)
// its code and the whole decoded value. Use errors.As to get it.
type RemoteError struct {
	Message string
	Code    string
	Data    any // the decoded error payload: a string or a map
}

func (e *RemoteError) Error() string { return e.Message }

// Method describes a worker method as the connection needs it: its id,
// response type and codecs.
type Method struct {
	Name          string
	ID            uint16
	Response      ResponseType
	RequestCodec  codec.Codec
	ResponseCodec codec.Codec
	// Cancellable methods get an abort frame when a call's context ends
	// first; for others the call just returns (the worker is not told).
	Cancellable bool
}

// EventDesc describes a worker event: its id and codec.
type EventDesc struct {
	Name  string
	ID    uint16
	Codec codec.Codec
}

// ResponseType is how a method answers: "result", "ack", "stream" or
// "none".
type ResponseType = string

// The response types.
const (
	Result ResponseType = "result"
	Ack    ResponseType = "ack"
	Stream ResponseType = "stream"
	None   ResponseType = "none"
)

// Conn is the parent's side of one data-plane connection: it sends
// requests and routes the worker's responses, stream chunks and events.
// It is safe for concurrent use.
type Conn struct {
	nc      net.Conn
	methods map[string]Method
	events  map[uint16]EventDesc

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
	response ResponseType
	ch       chan frame
	gone     chan struct{} // closed when the call no longer waits
}

type frame struct {
	flags   wire.Flags
	payload []byte
}

// streamBuffer is how many chunks a stream holds before the connection
// stops reading the socket until the consumer catches up (backpressure).
const streamBuffer = 256

// NewConn starts serving the parent's end of an established connection to
// a worker with the given methods and events. Requests get ids 1, 2, …,
// wrapping within uint32 and skipping 0.
func NewConn(nc net.Conn, maxPayload uint32, methods []Method, events []EventDesc) *Conn {
	c := &Conn{
		nc:       nc,
		methods:  make(map[string]Method, len(methods)),
		events:   make(map[uint16]EventDesc, len(events)),
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
		h, payload, err := r.ReadFrame()
		if err != nil {
			return
		}
		switch {
		case h.RequestID == 0 && h.Flags == wire.FlagsEvent:
			p.dispatchEvent(h.Method, payload)
		case h.RequestID != 0 && h.Flags.Has(wire.FlagResponse):
			p.mu.Lock()
			pd := p.pending[h.RequestID]
			p.mu.Unlock()
			if pd == nil || pd.response == Result && h.Flags.Has(wire.FlagAck) {
				continue // late, aborted, or an ack to a result method: dropped as the Node parent does
			}
			select {
			case pd.ch <- frame{flags: h.Flags, payload: payload}: // blocks while a stream consumer lags
			case <-pd.gone:
			}
		}
	}
}

func (p *Conn) failAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for id, pd := range p.pending {
		close(pd.ch)
		close(pd.gone)
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
func (p *Conn) start(method string, in any, want ...ResponseType) (Method, uint32, *pending, error) {
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
	size := 1
	if m.Response == Stream {
		size = streamBuffer
	}
	pd := &pending{response: m.Response, ch: make(chan frame, size), gone: make(chan struct{})}
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
		close(pd.gone)
		delete(p.pending, id)
	}
	p.mu.Unlock()
}

// abort forgets the call and, for a cancellable method, tells the worker to
// cancel it.
func (p *Conn) abort(m Method, id uint32) {
	p.forget(id)
	if m.Cancellable {
		p.send(wire.Header{Method: wire.MethodAbort, RequestID: id}, nil)
	}
}

// Call sends a request to a result or ack method and decodes the response
// into out (which may be nil). A worker error is a *RemoteError. When ctx
// ends first, the request is aborted and ctx's error returned.
func (p *Conn) Call(ctx context.Context, method string, in, out any) error {
	m, id, pd, err := p.start(method, in, Result, Ack)
	if err != nil {
		return err
	}
	select {
	case f, ok := <-pd.ch:
		p.forget(id)
		if !ok {
			return ErrClosed
		}
		return decodeResponse(m.ResponseCodec, f, out)
	case <-ctx.Done():
		p.abort(m, id)
		return ctx.Err()
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

func remoteError(payload []byte) error {
	var v any
	if err := codec.MsgPack.Unmarshal(payload, &v); err != nil {
		return fmt.Errorf("procwire/parent: decode error payload: %w", err)
	}
	e := &RemoteError{Data: v}
	switch x := v.(type) {
	case string:
		e.Message = x
	case map[string]any:
		e.Message, _ = x["message"].(string)
		e.Code, _ = x["code"].(string)
	default:
		e.Message = fmt.Sprint(v)
	}
	return e
}

// Chunk is one chunk of a stream response.
type Chunk struct {
	Payload []byte
	codec   codec.Codec
}

// Decode decodes the chunk with the method's response codec.
func (c *Chunk) Decode(v any) error { return c.codec.Unmarshal(c.Payload, v) }

// Stream sends a request to a stream method and yields its chunks, then a
// final error if the stream failed (a *RemoteError) or ctx ended. Stopping
// the iteration early aborts the request.
func (p *Conn) Stream(ctx context.Context, method string, in any) iter.Seq2[*Chunk, error] {
	return func(yield func(*Chunk, error) bool) {
		m, id, pd, err := p.start(method, in, Stream)
		if err != nil {
			yield(nil, err)
			return
		}
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
				if !yield(&Chunk{Payload: f.payload, codec: m.ResponseCodec}, nil) {
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

// StreamOf is Stream with each chunk decoded into a T.
func StreamOf[T any](ctx context.Context, p Streamer, method string, in any) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for c, err := range p.Stream(ctx, method, in) {
			var v T
			if err == nil {
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
