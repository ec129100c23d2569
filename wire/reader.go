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

// ErrTruncated reports a stream that ended inside a frame.
var ErrTruncated = errors.New("procwire: connection closed in the middle of a frame")

// Reader reads frames from a byte stream. It validates each header before
// anything is allocated for the payload. A Reader is not safe for concurrent
// use.
type Reader struct {
	br         *bufio.Reader
	maxPayload uint32
	hdr        [HeaderSize]byte
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
// read past the header.
func (r *Reader) ReadHeader() (Header, error) {
	if r.pending > 0 {
		if err := r.Discard(); err != nil {
			return Header{}, err
		}
	}
	if _, err := io.ReadFull(r.br, r.hdr[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			err = ErrTruncated
		}
		return Header{}, err
	}
	h := ParseHeader(r.hdr[:])
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

// ReadPart reads the next len(p) bytes of the current frame's payload, for
// callers that receive a large payload in several parts. p must not be
// longer than what remains of the payload.
func (r *Reader) ReadPart(p []byte) error {
	if uint64(len(p)) > uint64(r.pending) {
		return fmt.Errorf("procwire: ReadPart given %d bytes with %d left in the payload", len(p), r.pending)
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

// ReadFrame reads the next frame, allocating a payload of exactly the
// declared length (after validation). The returned payload belongs to the
// caller.
func (r *Reader) ReadFrame() (Header, []byte, error) {
	h, err := r.ReadHeader()
	if err != nil {
		return h, nil, err
	}
	if h.Length == 0 {
		return h, nil, nil
	}
	p := make([]byte, h.Length)
	if err := r.ReadPayload(p); err != nil {
		return h, nil, err
	}
	return h, p, nil
}

// Next reads the next frame and returns a view of its payload that is valid
// only until the next call on the Reader. Payloads that fit in the read
// buffer are returned without copying or allocating; larger ones are copied
// into scratch, which is grown as needed and returned for reuse.
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
	if cap(scratch) < n {
		scratch = make([]byte, n)
	}
	p := scratch[:n]
	if err := r.ReadPayload(p); err != nil {
		return h, nil, scratch, err
	}
	return h, p, scratch, nil
}
