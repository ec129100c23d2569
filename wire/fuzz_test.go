package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReader feeds arbitrary byte streams, split at arbitrary points, to the
// frame reader: it must return frames whose payloads match their headers,
// or a clean error, never panic, and never accept a payload over the limit.
func FuzzReader(f *testing.F) {
	f.Add(Header{Method: 1, RequestID: 1, Length: 3}.Append(nil), uint8(1), uint16(0))
	f.Add(append(Header{Method: 2, Flags: 0x0B, RequestID: 0xFFFFFFFF, Length: 2}.Append(nil), 1, 2), uint8(3), uint16(5))
	f.Add(Header{Method: 0}.Append(nil), uint8(0), uint16(0))
	f.Add(Header{Method: 1, Flags: 0xC0}.Append(nil), uint8(0), uint16(0))
	f.Add(Header{Method: 1, Length: 0xFFFFFFFF}.Append(nil), uint8(0), uint16(0))
	f.Add([]byte{0, 1, 0}, uint8(1), uint16(1))
	const limit = 1 << 16
	f.Fuzz(func(t *testing.T, data []byte, step uint8, bufSize uint16) {
		src := &stepReader{data: data, step: int(step%32) + 1}
		fr := NewReader(src, limit, int(bufSize))
		var scratch []byte
		for i := 0; ; i++ {
			var h Header
			var p []byte
			var err error
			if i%2 == 0 {
				h, p, err = fr.ReadFrame()
			} else {
				h, p, scratch, err = fr.Next(scratch)
			}
			if err != nil {
				var pe *ProtocolError
				if err != io.EOF && !errors.Is(err, ErrTruncated) && !errors.As(err, &pe) {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if h.Length > limit || int(h.Length) != len(p) {
				t.Fatalf("header %v with %d payload bytes", h, len(p))
			}
			if h.Validate(limit) != nil {
				t.Fatalf("invalid header %v accepted", h)
			}
		}
	})
}

// FuzzHeader checks that encoding a parsed header gives back the same bytes.
func FuzzHeader(f *testing.F) {
	f.Add(make([]byte, HeaderSize))
	f.Add(Header{Method: 0xFFFF, Flags: 0xFF, RequestID: 0xFFFFFFFF, Length: 0xFFFFFFFF}.Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < HeaderSize {
			return
		}
		h := ParseHeader(b)
		if got := h.Append(nil); !bytes.Equal(got, b[:HeaderSize]) {
			t.Fatalf("round trip %x → %v → %x", b[:HeaderSize], h, got)
		}
		_ = h.Validate(0)
		_ = h.String()
	})
}

type stepReader struct {
	data []byte
	step int
}

func (s *stepReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(s.data), s.step)
	copy(p, s.data[:n])
	s.data = s.data[n:]
	return n, nil
}

// FuzzWriterResume queues frames built from the input, lets the write stop
// after a fuzzed number of bytes, resumes the frame cut short in fuzzed
// steps and checks that a Reader decodes exactly the frames sent whole, the
// resumed one and a frame flushed afterwards, in order and nothing else.
//
// Each input byte b starts a frame whose payload is the next b&0x3F bytes
// (fewer at the end of the input), split into b>>6+1 parts.
func FuzzWriterResume(f *testing.F) {
	two := []byte{0x03, 'a', 'b', 'c', 0x42, 'd', 'e'} // frames of 14 and 13 bytes
	f.Add(two, uint16(0), uint8(0))                    // nothing written
	f.Add(two, uint16(5), uint8(1))                    // inside the first header
	f.Add(two, uint16(12), uint8(2))                   // inside the first payload
	f.Add(two, uint16(14), uint8(0))                   // at the frame boundary
	f.Add(two, uint16(20), uint8(7))                   // inside the second header
	f.Add(two, uint16(27), uint8(0))                   // everything
	f.Add([]byte{0xFF, 0x00, 0x80}, uint16(11), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16, step uint8) {
		var fs []testFrame
		total := 0
		for len(data) > 0 && len(fs) < 64 {
			b := data[0]
			n := min(int(b&0x3F), len(data)-1)
			payload := data[1 : 1+n]
			data = data[1+n:]
			k := int(b>>6) + 1
			parts := make([][]byte, k)
			for j := range parts {
				parts[j] = payload[j*n/k : (j+1)*n/k]
			}
			i := len(fs)
			fs = append(fs, testFrame{Header{Method: uint16(1 + i), Flags: Flags(i) &^ FlagsReserved, RequestID: uint32(i) * 2654435761}, parts})
			total += HeaderSize + n
		}
		limit := int(cut) % (total + 1)

		sw := &shortWriter{limit: limit}
		w := NewWriter(sw)
		for _, f := range fs {
			w.Queue(f.h, f.parts...)
		}
		sent, n, err := w.Flush()
		if n != int64(limit) || (err == nil) != (limit == total) || w.Queued() != 0 {
			t.Fatalf("Flush cut at %d of %d: n=%d err=%v queued=%d", limit, total, n, err, w.Queued())
		}
		end := 0
		for _, f := range fs[:sent] {
			end += f.size()
		}
		if sent < len(fs) && end+fs[sent].size() <= limit {
			t.Fatalf("Flush reports %d frames sent, but %d bytes cover the next one", sent, limit)
		}
		partial := limit > end && limit < total
		if w.Partial() != partial {
			t.Fatalf("Partial = %v after a cut at %d (frame ends at %d)", w.Partial(), limit, end)
		}

		// A frame queued before Resume reuses the header storage and
		// must follow the resumed frame.
		extra := testFrame{Header{Method: 0xFFFF, Flags: FlagsResult, RequestID: 7}, [][]byte{[]byte("extra")}}
		w.Queue(extra.h, extra.parts...)
		var resumed int64
		for w.Partial() {
			if step == 0 {
				sw.limit = 1 << 30
			} else {
				sw.limit += int(step)
			}
			n, err := w.Resume()
			resumed += n
			if (err == nil) == w.Partial() {
				t.Fatalf("Resume = %v with Partial %v", err, w.Partial())
			}
		}
		want := fs[:sent]
		if partial {
			if resumed != int64(end+fs[sent].size()-limit) {
				t.Fatalf("Resume wrote %d bytes, want %d", resumed, end+fs[sent].size()-limit)
			}
			want = fs[:sent+1]
		}
		sw.limit = 1 << 30
		if s, _, err := w.Flush(); s != 1 || err != nil {
			t.Fatalf("Flush after Resume = %d, %v", s, err)
		}
		checkStream(t, sw.buf.Bytes(), append(want[:len(want):len(want)], extra))
	})
}
