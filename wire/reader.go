package wire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// DefaultReadBufferSize is the read buffer size used when NewReader is given
// a size of 0. Payloads larger than the buffer are read straight into their
// destination.
const DefaultReadBufferSize = 64 << 10

// MaxEagerPayload is the largest payload length taken on trust.
// AppendPayload (and so ReadFrame and Next) allocates a payload of up to
// MaxEagerPayload bytes in full as soon as its header is validated. A larger
// declared length is not trusted: the buffer starts at MaxEagerPayload bytes
// and doubles only as the payload's bytes arrive, so a peer that declares a
// 1 GiB frame and sends nothing costs MaxEagerPayload bytes, not 1 GiB. The
// price is that a large payload is copied once more, in total, as its buffer
// grows.
const MaxEagerPayload = 64 << 20

// ErrTruncated reports a stream that ended inside a frame.
var ErrTruncated = errors.New("procwire: connection closed in the middle of a frame")

// Reader reads frames from a byte stream. It validates each header before
// anything is allocated for the payload. A Reader is not safe for concurrent
// use.
type Reader struct {
	br         *bufio.Reader
	maxPayload uint32
	pending    uint32 // payload bytes of the last header not yet consumed
}

// NewReader returns a Reader that reads from r with a buffer of bufSize
// bytes (DefaultReadBufferSize if 0) and rejects payloads longer than
// maxPayload (DefaultMaxPayload if 0, capped at MaxPayloadLimit).
func NewReader(r io.Reader, maxPayload uint32, bufSize int) *Reader {
	if bufSize <= 0 {
		bufSize = DefaultReadBufferSize
	}
	if bufSize < HeaderSize {
		bufSize = HeaderSize
	}
	if maxPayload == 0 {
		maxPayload = DefaultMaxPayload
	}
	if maxPayload > MaxPayloadLimit {
		maxPayload = MaxPayloadLimit
	}
	return &Reader{br: bufio.NewReaderSize(r, bufSize), maxPayload: maxPayload}
}

// MaxPayload returns the payload limit the Reader enforces.
func (r *Reader) MaxPayload() uint32 { return r.maxPayload }

// Buffered returns the number of bytes already read from the underlying
// stream and not yet consumed.
func (r *Reader) Buffered() int { return r.br.Buffered() }

// ReadHeader reads and validates the next frame header. Any unread payload
// of the previous frame is discarded first. It returns io.EOF if the stream
// ended cleanly between frames, ErrTruncated if it ended inside a header,
// and a *ProtocolError if the header is invalid; in that case nothing is
// read past the header. Any other error (a read deadline, say) consumes
// nothing: a later call reads the same header.
func (r *Reader) ReadHeader() (Header, error) {
	if r.pending > 0 {
		if err := r.Discard(); err != nil {
			return Header{}, err
		}
	}
	b, err := r.br.Peek(HeaderSize)
	if err != nil {
		if err == io.EOF && len(b) > 0 {
			err = ErrTruncated
		}
		return Header{}, err
	}
	h := ParseHeader(b)
	r.br.Discard(HeaderSize) // buffered: cannot fail
	if err := h.Validate(r.maxPayload); err != nil {
		return h, err
	}
	r.pending = h.Length
	return h, nil
}

// ReadPayload reads the payload of the header last returned by ReadHeader
// into p, which must be exactly that long.
func (r *Reader) ReadPayload(p []byte) error {
	if uint64(len(p)) != uint64(r.pending) {
		return fmt.Errorf("procwire: ReadPayload given %d bytes for a %d-byte payload", len(p), r.pending)
	}
	return r.read(p)
}

func (r *Reader) read(p []byte) error {
	n, err := io.ReadFull(r.br, p)
	r.pending -= uint32(n)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = ErrTruncated
	}
	return err
}

// AppendPayload reads the payload of the frame whose header ReadHeader last
// returned and returns
// append(dst, payload...). If dst has room for the payload nothing is
// allocated, so a caller that reuses its buffer reads frames without
// allocating. Otherwise a payload of up to MaxEagerPayload bytes gets a
// buffer of exactly the size needed at once, and a larger one a buffer that
// grows with the bytes received, never past the declared length (see
// MaxEagerPayload).
//
// On error AppendPayload returns dst extended by the payload bytes read
// before the error; a later call reads the rest. A stream that ended inside
// the payload gives ErrTruncated.
func (r *Reader) AppendPayload(dst []byte) ([]byte, error) {
	n := int(r.pending)
	if n == 0 {
		return dst, nil
	}
	if cap(dst)-len(dst) < n {
		if n > MaxEagerPayload {
			return r.appendGrowing(dst)
		}
		dst = grow(dst, n)
	}
	err := r.read(dst[len(dst) : len(dst)+n])
	return dst[:len(dst)+n-int(r.pending)], err
}

// appendGrowing is AppendPayload for a payload longer than MaxEagerPayload
// that does not fit in dst: it fills the room dst has, then grows the
// payload's space to MaxEagerPayload and doubles it each time it is full,
// up to the declared length.
func (r *Reader) appendGrowing(dst []byte) ([]byte, error) {
	base, total := len(dst), int(r.pending)
	for r.pending > 0 {
		if len(dst) == cap(dst) {
			have := cap(dst) - base
			want := total
			if have < total/2 {
				want = max(2*have, MaxEagerPayload)
			}
			dst = grow(dst, want-have)
		}
		before := r.pending
		err := r.read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+int(before-r.pending)]
		if err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// grow returns a copy of b with room for exactly n more bytes.
func grow(b []byte, n int) []byte {
	nb := make([]byte, len(b), len(b)+n)
	copy(nb, b)
	return nb
}

// Discard skips the unread payload of the current frame.
func (r *Reader) Discard() error {
	for r.pending > 0 {
		n, err := r.br.Discard(int(r.pending))
		r.pending -= uint32(n)
		if err != nil {
			if err == io.EOF {
				err = ErrTruncated
			}
			return err
		}
	}
	return nil
}

// ReadFrame reads the next frame into a new payload of the declared length,
// allocated as AppendPayload does (after validation, and in steps for a
// payload over MaxEagerPayload). The returned payload belongs to the caller.
func (r *Reader) ReadFrame() (Header, []byte, error) {
	h, err := r.ReadHeader()
	if err != nil {
		return h, nil, err
	}
	p, err := r.AppendPayload(nil)
	if err != nil {
		return h, nil, err
	}
	return h, p, nil
}

// Next reads the next frame and returns a view of its payload that is valid
// only until the next call on the Reader. Payloads that fit in the read
// buffer are returned without copying or allocating; larger ones are copied
// into scratch, which is grown as AppendPayload grows a buffer and returned
// for reuse.
func (r *Reader) Next(scratch []byte) (h Header, payload, newScratch []byte, err error) {
	h, err = r.ReadHeader()
	if err != nil {
		return h, nil, scratch, err
	}
	n := int(h.Length)
	if n == 0 {
		return h, nil, scratch, nil
	}
	if n <= r.br.Size() {
		p, err := r.br.Peek(n)
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				err = ErrTruncated
			}
			return h, nil, scratch, err
		}
		r.br.Discard(n)
		r.pending = 0
		return h, p, scratch, nil
	}
	p, err := r.AppendPayload(scratch[:0])
	if err != nil {
		return h, nil, scratch, err
	}
	return h, p, p, nil
}
