package protocol

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// LineReader reads control lines of at most a given size. A longer line is
// skipped as it arrives, never buffered whole: ReadLine reports it with a
// *LineTooLongError once, then carries on with the next line.
type LineReader struct {
	br   *bufio.Reader
	max  int
	line []byte
}

// lineBufferSize is the read buffer; lines longer than it are assembled in
// a buffer that grows up to the limit.
const lineBufferSize = 4 << 10

// NewLineReader returns a LineReader on r that accepts lines of at most max
// bytes, newline included (MaxLineSize if max <= 0).
func NewLineReader(r io.Reader, max int) *LineReader {
	if max <= 0 {
		max = MaxLineSize
	}
	return &LineReader{br: bufio.NewReaderSize(r, min(lineBufferSize, max)), max: max}
}

// LineTooLongError reports a line longer than the limit; it was skipped.
type LineTooLongError struct {
	Limit int
	// Head is the start of the line, for the log.
	Head []byte
}

func (e *LineTooLongError) Error() string {
	return fmt.Sprintf("procwire: control line longer than %d bytes skipped (starts %q)", e.Limit, e.Head)
}

// ReadLine returns the next line without its line ending ("\n" or "\r\n").
// The line is valid until the next call. At the end of the input it returns
// a last line without a newline, if any, then io.EOF.
func (r *LineReader) ReadLine() ([]byte, error) {
	r.line = r.line[:0]
	for {
		frag, err := r.br.ReadSlice('\n')
		if len(r.line)+len(frag) > r.max {
			head := append([]byte(nil), append(r.line, frag...)[:min(64, len(r.line)+len(frag))]...)
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = r.br.ReadSlice('\n')
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, err
			}
			return nil, &LineTooLongError{Limit: r.max, Head: head}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			r.add(frag)
			continue
		}
		line := frag
		if len(r.line) > 0 {
			r.add(frag)
			line = r.line
		}
		if err != nil {
			if len(line) > 0 && errors.Is(err, io.EOF) {
				return line, nil // the next call returns io.EOF
			}
			return nil, err
		}
		line = line[:len(line)-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		return line, nil
	}
}

// add appends frag to the line being assembled, growing the buffer up to
// the limit and never past it.
func (r *LineReader) add(frag []byte) {
	if need := len(r.line) + len(frag); need > cap(r.line) {
		grown := make([]byte, len(r.line), min(max(2*cap(r.line), need), r.max))
		copy(grown, r.line)
		r.line = grown
	}
	r.line = append(r.line, frag...)
}
