package parent

// Stream responses: the chunks, their pooled buffers, and backpressure.
//
// Ownership: the read loop takes a chunk's buffer from the pool and hands
// the frame to the stream's consumer through callState.ch; from then the
// buffer is the consumer's (the Stream iterator), which returns it to the
// pool once the loop body is done with the chunk, unless Keep gave it to
// the caller. callState.queued is added to by the read loop and
// subtracted from by the consumer; callState.space is signalled by the
// consumer, waited on by the read loop.

import (
	"context"
	"iter"
	"math/bits"
	"sync"
	"time"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/protocol"
	"github.com/procwire/procwire-go/wire"
)

// Receive-side backpressure, as the Node parent does it: when a stream's
// consumer lags by more than streamHighWater bytes (or streamBuffer
// chunks), the connection stops reading the socket, so the worker's writes
// block, until the consumer is back under streamLowWater.
const (
	streamBuffer    = 256
	streamHighWater = 16 << 20
	streamLowWater  = 4 << 20
)

// Stream chunk payloads are read into pooled buffers, by power-of-two size
// class from 4 KiB to 64 MiB, and recycled when the consumer is done with
// them (see Chunk.Keep); smaller and larger payloads are allocated.
const (
	minPooledClass = 12
	maxPooledClass = 26
)

var chunkPools [maxPooledClass + 1]sync.Pool

// chunkBuffer returns an empty pooled buffer with room for n bytes, or
// nil when n is outside the pooled classes.
func chunkBuffer(n uint32) ([]byte, *[]byte) {
	class := bits.Len32(n - 1)
	if n == 0 || class < minPooledClass || class > maxPooledClass {
		return nil, nil
	}
	if b, ok := chunkPools[class].Get().(*[]byte); ok {
		return (*b)[:0], b
	}
	b := make([]byte, 0, 1<<class)
	return b, &b
}

func recycle(b *[]byte) {
	if b != nil {
		chunkPools[bits.Len(uint(cap(*b))-1)].Put(b)
	}
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

// Decode decodes the chunk with the method's response codec (a MessagePack
// chunk must be one value and nothing else). The decoded value may alias
// Payload if the codec does (codec.Raw does).
func (c *Chunk) Decode(v any) error { return unmarshal(c.codec, c.Payload, v, false) }

// Keep hands the payload over to the caller: it stays valid after the loop
// body returns, and the connection will not reuse it.
func (c *Chunk) Keep() []byte {
	c.buf = nil
	return c.Payload
}

// Stream sends a request to a stream method and yields its chunks, then a
// final error if the stream failed (a *protocol.Error), ctx ended, or the
// connection ended (Err's error, which wraps ErrClosed). Stopping the
// iteration early aborts the request. If the loop body is slower than the
// worker, the connection stops reading the socket once the chunks waiting
// for it exceed 16 MiB, and resumes below 4 MiB (backpressure).
func (c *Conn) Stream(ctx context.Context, method string, in any) iter.Seq2[*Chunk, error] {
	return func(yield func(*Chunk, error) bool) {
		begin := time.Now()
		m, id, cs, err := c.start(method, in, begin, protocol.ResponseStream)
		if err != nil {
			yield(nil, err)
			return
		}
		chunk := &Chunk{codec: m.ResponseCodec}
		for {
			select {
			case f, ok := <-cs.ch:
				switch {
				case !ok:
					m.stats.end(outcomeError, begin)
					yield(nil, c.Err()) // set before finish closed ch
					return
				case f.flags.Has(wire.FlagError):
					c.forget(id)
					m.stats.end(outcomeError, begin)
					yield(nil, remoteError(f.payload))
					return
				case f.flags.Has(wire.FlagStreamEnd):
					c.forget(id)
					m.stats.end(outcomeOK, begin)
					return
				}
				chunk.Payload, chunk.buf = f.payload, f.buf
				more := yield(chunk, nil)
				recycle(chunk.buf)
				chunk.Payload, chunk.buf = nil, nil
				if cs.queued.Add(-int64(len(f.payload))) <= streamLowWater {
					select {
					case cs.space <- struct{}{}:
					default:
					}
				}
				if !more {
					c.abort(m, id)
					m.stats.end(outcomeAborted, begin)
					return
				}
			case <-ctx.Done():
				c.abort(m, id)
				m.stats.end(outcomeAborted, begin)
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
func StreamOf[T any](ctx context.Context, s Streamer, method string, in any) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for chunk, err := range s.Stream(ctx, method, in) {
			var v T
			if err == nil {
				if chunk.codec != codec.MsgPack {
					chunk.Keep()
				}
				err = chunk.Decode(&v)
			}
			if !yield(v, err) || err != nil {
				return
			}
		}
	}
}
