package wire

import (
	"io"
	"net"
)

// Writer writes whole frames. Each frame's header and payload parts go out
// in one vectored write (writev) where the destination supports it, so a
// frame is never split across two calls that another writer could
// interleave with. A Writer is not safe for concurrent use; callers
// serialise access (see the worker's connection writer).
type Writer struct {
	w    io.Writer
	hdr  [HeaderSize]byte
	vec  [8][]byte
	bufs net.Buffers
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// WriteFrame writes the header h followed by the payload parts. h.Length is
// set to the total length of the parts. It returns the number of bytes
// written, header included. On error the returned Buffers hold the bytes
// that were not written, so that a caller may finish the frame later.
func (w *Writer) WriteFrame(h Header, parts ...[]byte) (int64, net.Buffers, error) {
	var total int
	for _, p := range parts {
		total += len(p)
	}
	h.Length = uint32(total)
	h.Put(w.hdr[:])
	vec := w.vec[:0]
	if len(parts)+1 > len(w.vec) {
		vec = make([][]byte, 0, len(parts)+1)
	}
	vec = append(vec, w.hdr[:])
	for _, p := range parts {
		if len(p) > 0 {
			vec = append(vec, p)
		}
	}
	w.bufs = vec
	n, err := w.bufs.WriteTo(w.w)
	var out net.Buffers
	if err != nil {
		// The unwritten slices live in w.vec and may alias w.hdr, both
		// reused by the next call: copy the slice headers, and the header
		// bytes themselves, out.
		out = make(net.Buffers, 0, len(w.bufs))
		for _, b := range w.bufs {
			if len(b) > 0 && &b[len(b)-1] == &w.hdr[HeaderSize-1] {
				b = append([]byte(nil), b...)
			}
			out = append(out, b)
		}
	}
	w.bufs = nil
	clear(w.vec[:])
	if err != nil {
		return n, out, err
	}
	return n, nil, nil
}
