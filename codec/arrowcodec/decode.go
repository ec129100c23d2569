package arrowcodec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync/atomic"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// decode reads every record batch of the stream data with memory from mem.
// The caller owns the returned batches.
func (c *ArrowCodec) decode(data []byte, mem *limitAllocator, zeroCopy bool) (schema *arrow.Schema, recs []arrow.RecordBatch, err error) {
	mr := &sliceReader{data: data, mem: mem, zeroCopy: zeroCopy}
	mr.refs.Store(1)
	var out []arrow.RecordBatch
	defer func() {
		// Arrow recovers most of its own panics (and the reader's
		// errors then wrap them); the rest end here.
		if p := recover(); p != nil {
			err = recovered("decode", p)
		}
		if err != nil {
			releaseAll(out)
			schema, recs = nil, nil
		}
	}()
	rd, err := ipc.NewReaderFromMessageReader(mr, ipc.WithAllocator(mem))
	if err != nil {
		mr.Release()
		return nil, nil, decodeError(err)
	}
	defer rd.Release()
	for rd.Next() {
		rec := rd.RecordBatch()
		rec.Retain()
		out = append(out, rec)
		if err := validateRecord(rec); err != nil {
			return nil, nil, fmt.Errorf("%w: batch %d: %w", ErrMalformed, len(out)-1, err)
		}
	}
	if err := rd.Err(); err != nil {
		return nil, nil, decodeError(err)
	}
	if rest := len(data) - mr.off; rest > 0 {
		return nil, nil, fmt.Errorf("%w: %d bytes after the end-of-stream marker", ErrMalformed, rest)
	}
	return rd.Schema(), out, nil
}

// decodeError wraps an error of Arrow's reader.
func decodeError(err error) error {
	if errors.Is(err, ErrTooLarge) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrMalformed, err)
}

// sliceReader is an ipc.MessageReader over a stream held in memory. Unlike
// Arrow's reader over an io.Reader, it checks every length the stream
// declares, in the framing and in the metadata (verifyMessage), against the
// bytes actually present before Arrow allocates, so that a few bytes of
// garbage cannot make it allocate gigabytes, and it copies each message
// body once (or references it, with zeroCopy).
type sliceReader struct {
	data     []byte
	off      int
	mem      *limitAllocator
	zeroCopy bool

	refs atomic.Int64
	msg  *ipc.Message
}

// Stream framing: each message is an optional continuation marker, a
// little-endian int32 metadata length (the flatbuffer and its padding), the
// metadata, then the body; a zero length ends the stream.
const continuation = 0xFFFFFFFF

// emptyBody is the body of the provisional message that reads a message's
// body length from its metadata.
var emptyBody = memory.NewBufferBytes(nil)

func (r *sliceReader) Message() (*ipc.Message, error) {
	if r.msg != nil {
		r.msg.Release()
		r.msg = nil
	}
	rest := r.data[r.off:]
	if len(rest) == 0 {
		// A stream may end without its end-of-stream marker.
		return nil, io.EOF
	}
	if len(rest) < 4 {
		return nil, fmt.Errorf("truncated message header at offset %d", r.off)
	}
	n := binary.LittleEndian.Uint32(rest)
	hdr := 4
	if n == continuation {
		if len(rest) < 8 {
			return nil, fmt.Errorf("truncated message length at offset %d", r.off)
		}
		n = binary.LittleEndian.Uint32(rest[4:])
		hdr = 8
	}
	// Otherwise n is the length itself, as written before Arrow 0.15.
	if n == 0 {
		r.off += hdr
		return nil, io.EOF
	}
	if n > math.MaxInt32 {
		return nil, fmt.Errorf("invalid metadata length %d at offset %d", int32(n), r.off)
	}
	if int(n) > len(rest)-hdr {
		return nil, fmt.Errorf("message at offset %d declares %d bytes of metadata, %d remain", r.off, n, len(rest)-hdr)
	}
	if n < 8 {
		return nil, fmt.Errorf("message at offset %d has %d bytes of metadata, too few for a flatbuffer", r.off, n)
	}
	meta := rest[hdr : hdr+int(n)]
	if err := verifyMessage(meta); err != nil {
		return nil, fmt.Errorf("message at offset %d: %w", r.off, err)
	}
	probe := ipc.NewMessage(memory.NewBufferBytes(meta), emptyBody)
	bodyLen := probe.BodyLen()
	probe.Release()
	bodyStart := hdr + int(n)
	if bodyLen < 0 || bodyLen > int64(len(rest)-bodyStart) {
		return nil, fmt.Errorf("message at offset %d declares a %d-byte body, %d bytes remain", r.off, bodyLen, len(rest)-bodyStart)
	}
	src := rest[bodyStart : bodyStart+int(bodyLen)]
	var metaBuf, body *memory.Buffer
	if r.zeroCopy {
		metaBuf = memory.NewBufferBytes(meta)
	} else {
		metaBuf = memory.NewBufferBytes(append([]byte(nil), meta...))
	}
	// Arrow reads values through typed pointers: a body referenced in
	// place must be 8-byte aligned, as it is in any stream read into a
	// fresh buffer.
	switch {
	case r.zeroCopy && (len(src) == 0 || uintptr(unsafe.Pointer(unsafe.SliceData(src)))%8 == 0):
		body = memory.NewBufferBytes(src)
	case r.mem.goHeap:
		// The Go allocator would zero its buffer before the copy
		// overwrites it; a clone is not zeroed first, and the Go heap
		// aligns it to at least 8 bytes.
		r.mem.take(len(src))
		body = memory.NewBufferBytes(bytes.Clone(src))
	default:
		body = memory.NewResizableBuffer(r.mem)
		body.Resize(len(src))
		copy(body.Bytes(), src)
	}
	r.msg = ipc.NewMessage(metaBuf, body)
	metaBuf.Release()
	body.Release()
	r.off += bodyStart + int(bodyLen)
	return r.msg, nil
}

func (r *sliceReader) Retain() { r.refs.Add(1) }

func (r *sliceReader) Release() {
	if r.refs.Add(-1) == 0 && r.msg != nil {
		r.msg.Release()
		r.msg = nil
	}
}

// limitAllocator caps the bytes allocated through it; beyond the limit it
// panics with ErrTooLarge, which the decoder turns into an error.
type limitAllocator struct {
	mem      memory.Allocator
	goHeap   bool // mem is Arrow's Go allocator
	left     atomic.Int64
	limit    int64
	exceeded atomic.Bool
}

func (c *ArrowCodec) limited() *limitAllocator {
	_, goHeap := c.mem.(*memory.GoAllocator)
	a := &limitAllocator{mem: c.mem, goHeap: goHeap, limit: c.maxDecoded}
	a.left.Store(c.maxDecoded)
	return a
}

func (a *limitAllocator) take(n int) {
	if n > 0 && a.left.Add(-int64(n)) < 0 {
		a.exceeded.Store(true)
		panic(a.tooLarge())
	}
}

func (a *limitAllocator) tooLarge() error {
	return fmt.Errorf("%w: more than %d bytes (Options.MaxDecodedSize)", ErrTooLarge, a.limit)
}

// check returns err, or the limit's own error if decoding failed because
// the limit was reached (whatever Arrow wrapped it in).
func (a *limitAllocator) check(err error) error {
	if err != nil && a.exceeded.Load() {
		return a.tooLarge()
	}
	return err
}

func (a *limitAllocator) Allocate(size int) []byte {
	a.take(size)
	return a.mem.Allocate(size)
}

func (a *limitAllocator) Reallocate(size int, b []byte) []byte {
	a.take(size - len(b))
	return a.mem.Reallocate(size, b)
}

func (a *limitAllocator) Free(b []byte) { a.mem.Free(b) }
