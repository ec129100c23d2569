package wire

import (
	"errors"
	"io"
	"net"
	"slices"
)

// ErrPartialFrame is returned by Flush and WriteFrame while a frame cut
// short by an earlier write error is unfinished: anything written before
// the rest of that frame would be read as part of its payload. Resume
// finishes the frame.
var ErrPartialFrame = errors.New("procwire: a frame cut short must be finished with Resume first")

// Writer writes frames. Frames are queued with Queue and written together
// by Flush, headers and payloads in one vectored write (writev on sockets),
// so that several frames cost one system call and no frame is split across
// calls that another writer could interleave with. WriteFrame writes one
// frame the same way.
//
// A write error may cut a frame short. The stream is then well-formed again
// only once the rest of that frame is written, so Flush keeps the rest,
// Partial reports it and Resume writes it, for instance after the caller
// has extended a write deadline. Nothing else can be written meanwhile.
//
// A Writer is not safe for concurrent use; callers serialise access (see
// the worker's connection writer).
type Writer struct {
	w io.Writer

	// The queue. hdrs holds the frames' encoded headers, HeaderSize bytes
	// each; vec their buffers, with a slot for each header that write
	// fills in (hdrs may move as it grows).
	hdrs   []byte
	vec    [][]byte
	frames []queued

	// bufs is the copy of vec that WriteTo consumes, so that vec still
	// describes the frames afterwards; bufsBase keeps its storage.
	bufs     net.Buffers
	bufsBase net.Buffers

	// The unwritten rest of a frame cut short. Header bytes it still
	// needs are copied into restHdr, since hdrs is reused.
	rest    net.Buffers
	restHdr [HeaderSize]byte
}

// queued is a frame in the Writer's queue.
type queued struct {
	vec  int   // index of the frame's header in vec
	size int64 // header and payload bytes
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Queue adds a frame, the header h followed by the payload parts, to those
// the next Flush writes. h.Length is set to the total length of the parts.
// The parts are not copied, which is what makes batching large payloads
// cheap: they must stay unchanged until the frame is written, which for a
// frame cut short means until Resume has finished it. The header is encoded
// into storage the Writer reuses, so queueing allocates nothing once the
// Writer has held as many frames before.
func (w *Writer) Queue(h Header, parts ...[]byte) {
	var total int
	for _, p := range parts {
		total += len(p)
	}
	h.Length = uint32(total)
	w.frames = append(w.frames, queued{vec: len(w.vec), size: int64(HeaderSize + total)})
	w.hdrs = h.Append(w.hdrs)
	w.vec = append(w.vec, nil)
	for _, p := range parts {
		if len(p) > 0 {
			w.vec = append(w.vec, p)
		}
	}
}

// Queued returns the number of frames queued and not yet flushed.
func (w *Writer) Queued() int { return len(w.frames) }

// Flush writes every queued frame, in order, with one call to
// net.Buffers.WriteTo: a vectored write on sockets (one writev system call
// per 1024 buffers, and more only if the socket takes part of the batch at
// a time), one Write per buffer on other writers. It returns how many of the queued frames were written
// whole and the number of bytes written. On success the queue is empty.
//
// On error the frames not written whole are removed from the queue: the
// caller fails them. If one of them was cut short, with some but not all of
// its bytes written, the Writer keeps its unwritten rest and Partial
// reports true. While it does, Flush writes nothing and returns
// ErrPartialFrame, leaving the queue as it is.
func (w *Writer) Flush() (sent int, n int64, err error) {
	if w.Partial() {
		return 0, 0, ErrPartialFrame
	}
	if len(w.frames) == 0 {
		return 0, 0, nil
	}
	sent, done, n, err := w.write()
	if err != nil && done > 0 {
		w.rest = w.appendRest(w.rest[:0], sent, done, w.restHdr[:])
	}
	w.reset()
	return sent, n, err
}

// Partial reports whether a frame cut short by a write error is waiting
// for Resume.
func (w *Writer) Partial() bool { return len(w.rest) > 0 }

// Resume writes the rest of the frame cut short, returning the number of
// bytes written. On success Partial reports false and the stream is
// well-formed; on error the Writer keeps what is still unwritten for
// another Resume. Without a partial frame Resume does nothing.
func (w *Writer) Resume() (n int64, err error) {
	if !w.Partial() {
		return 0, nil
	}
	w.bufs = append(w.bufsBase[:0], w.rest...)
	w.bufsBase = w.bufs[:0]
	n, err = w.bufs.WriteTo(w.w)
	clear(w.bufsBase[:len(w.rest)])
	w.bufs = nil

	// Drop the n bytes written from the front of rest.
	left := n
	i := 0
	for i < len(w.rest) && int64(len(w.rest[i])) <= left {
		left -= int64(len(w.rest[i]))
		i++
	}
	if i < len(w.rest) {
		w.rest[i] = w.rest[i][left:]
	}
	k := copy(w.rest, w.rest[i:])
	clear(w.rest[k:])
	w.rest = w.rest[:k]
	return n, err
}

// WriteFrame writes the header h followed by the payload parts, with
// frames queued before ahead of it in the same write: it is Queue followed
// by Flush, and returns the number of bytes written, headers included. A
// frame cut short is kept for Resume, as with Flush; while one is,
// WriteFrame writes nothing and returns ErrPartialFrame.
func (w *Writer) WriteFrame(h Header, parts ...[]byte) (int64, error) {
	if w.Partial() {
		return 0, ErrPartialFrame
	}
	w.Queue(h, parts...)
	_, n, err := w.Flush()
	return n, err
}

// AppendFrame appends to dst the frame made of the header h, with h.Length
// set to the total length of the parts, followed by the parts. It serves
// callers that copy small frames into one buffer to write them together,
// where a copy costs less than a buffer per frame in a vectored write.
func AppendFrame(dst []byte, h Header, parts ...[]byte) []byte {
	var total int
	for _, p := range parts {
		total += len(p)
	}
	dst = slices.Grow(dst, HeaderSize+total)
	h.Length = uint32(total)
	dst = h.Append(dst)
	for _, p := range parts {
		dst = append(dst, p...)
	}
	return dst
}

// write writes the queue. It returns the number of frames written whole,
// and how many bytes of the next one were written.
func (w *Writer) write() (sent int, done, n int64, err error) {
	for i, f := range w.frames {
		w.vec[f.vec] = w.hdrs[i*HeaderSize : (i+1)*HeaderSize : (i+1)*HeaderSize]
	}
	w.bufs = append(w.bufsBase[:0], w.vec...)
	w.bufsBase = w.bufs[:0]
	n, err = w.bufs.WriteTo(w.w)
	clear(w.bufsBase[:len(w.vec)])
	w.bufs = nil
	done = n
	for sent < len(w.frames) && done >= w.frames[sent].size {
		done -= w.frames[sent].size
		sent++
	}
	return sent, done, n, err
}

// appendRest appends to dst the buffers of queued frame i after its first
// done bytes. Header bytes are copied into hdr if it is not nil, and into
// new memory otherwise.
func (w *Writer) appendRest(dst net.Buffers, i int, done int64, hdr []byte) net.Buffers {
	end := len(w.vec)
	if i+1 < len(w.frames) {
		end = w.frames[i+1].vec
	}
	for j := w.frames[i].vec; j < end; j++ {
		b := w.vec[j]
		if done >= int64(len(b)) {
			done -= int64(len(b))
			continue
		}
		b, done = b[done:], 0
		if j == w.frames[i].vec {
			if hdr != nil {
				b = hdr[:copy(hdr, b)]
			} else {
				b = append([]byte(nil), b...)
			}
		}
		dst = append(dst, b)
	}
	return dst
}

// reset empties the queue, dropping its references to the payloads.
func (w *Writer) reset() {
	clear(w.vec)
	w.vec = w.vec[:0]
	w.hdrs = w.hdrs[:0]
	w.frames = w.frames[:0]
}
