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
