// Package procwiretest tests Procwire workers in-process, in the spirit of
// net/http/httptest: New connects a test parent to a worker's handlers over
// a real socket pair, with the real frame code on both sides and no child
// process, so a plain `go test` exercises handlers, codecs, streams, aborts,
// events and errors.
//
//	w := procwire.NewWorker(procwire.Options{})
//	procwire.Handle(w, "add", add)
//	p := procwiretest.New(t, w)
//	var sum int
//	err := p.Call(ctx, "add", Pair{1, 2}, &sum)
//
// Everything is torn down through t.Cleanup, which then fails the test if a
// goroutine started by the worker or the parent is still running.
package procwiretest

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/procwire/procwire-go"
	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/wire"
)

// ErrClosed is returned by calls on a Parent whose connection is gone.
var ErrClosed = errors.New("procwiretest: connection closed")

// RemoteError is an error response from the worker: its message, and for
// a structured error (procwire.Error) its code and the whole decoded value.
type RemoteError struct {
	Message string
	Code    string
	Data    any // the decoded error payload: a string or a map
}

func (e *RemoteError) Error() string { return e.Message }

// Parent is a test parent connected to one worker.
type Parent struct {
	t       testing.TB
	nc      net.Conn
	methods map[string]procwire.MethodInfo
	events  map[uint16]procwire.EventInfo

	wmu sync.Mutex
	wr  *wire.Writer

	mu      sync.Mutex
	nextID  uint32
	pending map[uint32]*pending
	subs    map[string][]chan Event
	closed  bool

	readDone chan struct{}
	serveErr chan error
	cancel   context.CancelFunc
	once     sync.Once
}

type pending struct {
	response procwire.ResponseType
	ch       chan frame
	gone     chan struct{} // closed when the call no longer waits
}

type frame struct {
	flags   wire.Flags
	payload []byte
}

// streamBuffer is how many chunks a stream holds before the parent stops
// reading the socket until the consumer catches up (backpressure).
const streamBuffer = 256

// New starts serving w over an in-process socket pair and returns the
// connected parent. Register w's methods and events before calling New.
func New(t testing.TB, w *procwire.Worker) *Parent {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	winio := goleak.IgnoreAnyFunction("github.com/Microsoft/go-winio.ioCompletionProcessor")
	t.Cleanup(func() { goleak.VerifyNone(t, ignore, winio) })

	workerEnd, parentEnd, err := socketPair(t)
	if err != nil {
		t.Fatalf("procwiretest: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Parent{
		t:        t,
		nc:       parentEnd,
		methods:  make(map[string]procwire.MethodInfo),
		events:   make(map[uint16]procwire.EventInfo),
		wr:       wire.NewWriter(parentEnd),
		pending:  make(map[uint32]*pending),
		subs:     make(map[string][]chan Event),
		readDone: make(chan struct{}),
		serveErr: make(chan error, 1),
		cancel:   cancel,
	}
	for _, m := range w.Methods() {
		p.methods[m.Name] = m
	}
	for _, e := range w.Events() {
		p.events[e.ID] = e
	}
	go func() { p.serveErr <- w.ServeConn(ctx, workerEnd) }()
	go p.read()
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("procwiretest: worker: %v", err)
		}
	})
	return p
}

// Close disconnects the parent and waits for the worker to stop. It returns
// the worker's error, if it ended for another reason than this Close.
func (p *Parent) Close() error {
	var err error
	p.once.Do(func() {
		p.cancel()
		p.nc.Close()
		<-p.readDone
		err = <-p.serveErr
		if errors.Is(err, procwire.ErrDisconnected) {
			err = nil
		}
	})
	return err
}

// read routes the worker's frames: responses and chunks to their calls,
// events to their subscribers.
func (p *Parent) read() {
	defer close(p.readDone)
	defer p.failAll()
	r := wire.NewReader(p.nc, 0, 0)
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
			if pd == nil || pd.response == procwire.ResponseResult && h.Flags.Has(wire.FlagAck) {
				continue // late, aborted, or an ack to a result method: dropped as the Node parent does
			}
			select {
			case pd.ch <- frame{flags: h.Flags, payload: payload}: // blocks while a stream consumer lags
			case <-pd.gone:
			}
		}
	}
}

func (p *Parent) failAll() {
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
func (p *Parent) start(method string, in any, want ...procwire.ResponseType) (procwire.MethodInfo, uint32, *pending, error) {
	m, ok := p.methods[method]
	if !ok {
		return m, 0, nil, fmt.Errorf("procwiretest: unknown method %q", method)
	}
	okType := false
	for _, rt := range want {
		okType = okType || m.Response == rt
	}
	if !okType {
		return m, 0, nil, fmt.Errorf("procwiretest: method %q answers with %q", method, m.Response)
	}
	payload, err := marshal(m.RequestCodec, in)
	if err != nil {
		return m, 0, nil, err
	}
	size := 1
	if m.Response == procwire.ResponseStream {
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
		return nil, fmt.Errorf("procwiretest: encode request: %w", err)
	}
	return b, nil
}

func (p *Parent) send(h wire.Header, payload []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if _, _, err := p.wr.WriteFrame(h, payload); err != nil {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return nil
}

func (p *Parent) forget(id uint32) {
	p.mu.Lock()
	if pd := p.pending[id]; pd != nil {
		close(pd.gone)
		delete(p.pending, id)
	}
	p.mu.Unlock()
}

// abort forgets the call and tells the worker to cancel it.
func (p *Parent) abort(id uint32) {
	p.forget(id)
	p.send(wire.Header{Method: wire.MethodAbort, RequestID: id}, nil)
}

// Call sends a request to a result or ack method and decodes the response
// into out (which may be nil). A worker error is a *RemoteError. When ctx
// ends first, the request is aborted and ctx's error returned.
func (p *Parent) Call(ctx context.Context, method string, in, out any) error {
	m, id, pd, err := p.start(method, in, procwire.ResponseResult, procwire.ResponseAck)
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
		p.abort(id)
		return ctx.Err()
	}
}

// Ack is Call for ack methods; it exists for symmetry with the protocol.
func (p *Parent) Ack(ctx context.Context, method string, in, out any) error {
	return p.Call(ctx, method, in, out)
}

// Notify sends a request to a method of response type "none".
func (p *Parent) Notify(method string, in any) error {
	m, ok := p.methods[method]
	if !ok {
		return fmt.Errorf("procwiretest: unknown method %q", method)
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
		return fmt.Errorf("procwiretest: decode response: %w", err)
	}
	return nil
}

func remoteError(payload []byte) error {
	var v any
	if err := codec.MsgPack.Unmarshal(payload, &v); err != nil {
		return fmt.Errorf("procwiretest: decode error payload: %w", err)
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
func (p *Parent) Stream(ctx context.Context, method string, in any) iter.Seq2[*Chunk, error] {
	return func(yield func(*Chunk, error) bool) {
		m, id, pd, err := p.start(method, in, procwire.ResponseStream)
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
					p.abort(id)
					return
				}
			case <-ctx.Done():
				p.abort(id)
				yield(nil, ctx.Err())
				return
			}
		}
	}
}

// StreamOf is Stream with each chunk decoded into a T.
func StreamOf[T any](ctx context.Context, p *Parent, method string, in any) iter.Seq2[T, error] {
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
func (p *Parent) Events(name string) <-chan Event {
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

func (p *Parent) dispatchEvent(id uint16, payload []byte) {
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
