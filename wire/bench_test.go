package wire

import (
	"bytes"
	"io"
	"strconv"
	"testing"
)

func BenchmarkHeaderPut(b *testing.B) {
	b.ReportAllocs()
	var buf [HeaderSize]byte
	h := Header{Method: 3, Flags: FlagsResult, RequestID: 42, Length: 100}
	for i := 0; i < b.N; i++ {
		h.RequestID = uint32(i)
		h.Put(buf[:])
	}
}

func BenchmarkParseHeader(b *testing.B) {
	b.ReportAllocs()
	buf := Header{Method: 3, Flags: FlagsResult, RequestID: 42, Length: 100}.Append(nil)
	var sink Header
	for i := 0; i < b.N; i++ {
		sink = ParseHeader(buf)
		if sink.Validate(0) != nil {
			b.Fatal("invalid")
		}
	}
}

// loopReader replays the same bytes forever.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], l.data[l.off:])
		n += c
		l.off = (l.off + c) % len(l.data)
	}
	return n, nil
}

func BenchmarkReaderNextSmall(b *testing.B) {
	b.ReportAllocs()
	payload := bytes.Repeat([]byte{1}, 100)
	frame := append(Header{Method: 1, RequestID: 1, Length: 100}.Append(nil), payload...)
	fr := NewReader(&loopReader{data: frame}, 0, 0)
	var scratch []byte
	b.SetBytes(int64(len(frame)))
	for i := 0; i < b.N; i++ {
		_, _, s, err := fr.Next(scratch)
		if err != nil {
			b.Fatal(err)
		}
		scratch = s
	}
}

func BenchmarkWriterSmall(b *testing.B) {
	b.ReportAllocs()
	w := NewWriter(io.Discard)
	payload := bytes.Repeat([]byte{1}, 100)
	b.SetBytes(int64(HeaderSize + len(payload)))
	for i := 0; i < b.N; i++ {
		if _, err := w.WriteFrame(Header{Method: 1, Flags: FlagsResult, RequestID: uint32(i)}, payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriterQueueFlush(b *testing.B) {
	b.ReportAllocs()
	w := NewWriter(io.Discard)
	payload := bytes.Repeat([]byte{1}, 100)
	const batch = 8
	b.SetBytes(batch * int64(HeaderSize+len(payload)))
	for i := 0; i < b.N; i++ {
		for j := 0; j < batch; j++ {
			w.Queue(Header{Method: 1, Flags: FlagsResult, RequestID: uint32(j + 1)}, payload)
		}
		if _, _, err := w.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSocketFrames writes frames on one end of a Unix socket pair and
// reads them on the other, in the steady state.
func BenchmarkSocketFrames(b *testing.B) {
	for _, size := range []int{100, 64 << 10, 1 << 20} {
		b.Run(byteSize(size), func(b *testing.B) {
			b.ReportAllocs()
			a, c := socketPair(b)
			payload := make([]byte, size)
			b.SetBytes(int64(size + HeaderSize))
			done := make(chan struct{})
			go func() {
				defer close(done)
				w := NewWriter(a)
				for i := 0; i < b.N; i++ {
					if _, err := w.WriteFrame(Header{Method: 1, Flags: FlagsStreamChunk, RequestID: 1}, payload); err != nil {
						return
					}
				}
			}()
			fr := NewReader(c, 0, 256<<10)
			scratch := make([]byte, size)
			for i := 0; i < b.N; i++ {
				var err error
				if _, _, scratch, err = fr.Next(scratch); err != nil {
					b.Fatal(err)
				}
			}
			<-done
		})
	}
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1<<10:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}
