package wire

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"testing"
)

func TestHeaderRoundTrip(t *testing.T) {
	tests := []struct {
		h    Header
		want string
	}{
		{Header{Method: 1, Flags: 0, RequestID: 1, Length: 0}, "0001000000000100000000"},
		{Header{Method: 0xFFFF, Flags: FlagsStreamEnd, RequestID: 0xFFFFFFFF, Length: 0x7FFFFFFF}, "ffff1bffffffff7fffffff"},
		{Header{Method: 0x1234, Flags: FlagsError, RequestID: 0x01020304, Length: 0x0A0B0C0D}, "12340701020304 0a0b0c0d"},
	}
	for _, tt := range tests {
		want := strings.ReplaceAll(tt.want, " ", "")
		var b [HeaderSize]byte
		tt.h.Put(b[:])
		if got := hexs(b[:]); got != want {
			t.Errorf("Put(%v) = %s, want %s", tt.h, got, want)
		}
		if got := hexs(tt.h.Append(nil)); got != want {
			t.Errorf("Append(%v) = %s, want %s", tt.h, got, want)
		}
		if got := ParseHeader(b[:]); got != tt.h {
			t.Errorf("ParseHeader = %v, want %v", got, tt.h)
		}
	}
}

func hexs(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}

func TestFlagValues(t *testing.T) {
	tests := []struct {
		f    Flags
		want uint8
	}{
		{FlagsResult, 0x03}, {FlagsAck, 0x23}, {FlagsError, 0x07}, {FlagsStreamChunk, 0x0B},
		{FlagsStreamEnd, 0x1B}, {FlagsStreamError, 0x0F}, {FlagsEvent, 0x01},
	}
	for _, tt := range tests {
		if uint8(tt.f) != tt.want {
			t.Errorf("%v = 0x%02X, want 0x%02X", tt.f, uint8(tt.f), tt.want)
		}
	}
	if s := FlagsStreamEnd.String(); s != "0x1B(TO_PARENT|RESPONSE|STREAM|STREAM_END)" {
		t.Errorf("String = %q", s)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		h      Header
		max    uint32
		reason string // "" = valid
	}{
		{"ordinary request", Header{Method: 1, RequestID: 1, Length: 10}, 0, ""},
		{"abort", Header{Method: MethodAbort, RequestID: 9}, 0, ""},
		{"length at the limit", Header{Method: 1, Length: 100}, 100, ""},
		{"length over the limit", Header{Method: 1, Length: 101}, 100, "exceeds the limit of 100"},
		{"method 0", Header{Method: 0}, 0, "method id 0"},
		{"bit 6", Header{Method: 1, Flags: 0x40}, 0, "reserved flag"},
		{"bit 7", Header{Method: 1, Flags: 0x80 | 0x03}, 0, "reserved flag"},
		{"over the absolute cap", Header{Method: 1, Length: MaxPayloadLimit + 1}, 0xFFFFFFFF, "exceeds the limit of 2147483647"},
		{"zero max means the absolute cap", Header{Method: 1, Length: MaxPayloadLimit}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.h.Validate(tt.max)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var pe *ProtocolError
			if !errors.As(err, &pe) || !strings.Contains(pe.Reason, tt.reason) {
				t.Fatalf("Validate = %v, want a ProtocolError with %q", err, tt.reason)
			}
		})
	}
}

// frames builds a byte stream of n random valid frames.
func frames(r *rand.Rand, n int) ([]Header, [][]byte, []byte) {
	var hs []Header
	var ps [][]byte
	var stream []byte
	for i := 0; i < n; i++ {
		p := make([]byte, r.IntN(3)*r.IntN(200000))
		for j := range p {
			p[j] = byte(r.Uint32())
		}
		h := Header{Method: uint16(1 + r.IntN(0xFFFE)), Flags: Flags(r.IntN(0x40)), RequestID: r.Uint32(), Length: uint32(len(p))}
		hs, ps = append(hs, h), append(ps, p)
		stream = append(h.Append(stream), p...)
	}
	return hs, ps, stream
}

// splitReader returns the stream in pieces of random sizes.
type splitReader struct {
	r    *rand.Rand
	data []byte
}

func (s *splitReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(s.data), 1+s.r.IntN(70000))
	if s.r.IntN(4) == 0 {
		n = min(n, 1+s.r.IntN(12))
	}
	copy(p, s.data[:n])
	s.data = s.data[n:]
	return n, nil
}

func TestReaderYieldsExactlyTheFrames(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 20; round++ {
		hs, ps, stream := frames(r, 30)
		for _, next := range []bool{false, true} {
			fr := NewReader(&splitReader{r: r, data: stream}, 0, 4096+r.IntN(70000))
			var scratch []byte
			for i := range hs {
				var h Header
				var p []byte
				var err error
				if next {
					h, p, scratch, err = fr.Next(scratch)
				} else {
					h, p, err = fr.ReadFrame()
				}
				if err != nil {
					t.Fatalf("round %d frame %d: %v", round, i, err)
				}
				if h != hs[i] || !bytes.Equal(p, ps[i]) {
					t.Fatalf("round %d frame %d: got %v (%d bytes), want %v", round, i, h, len(p), hs[i])
				}
			}
			if _, _, err := fr.ReadFrame(); err != io.EOF {
				t.Fatalf("after the last frame: %v, want io.EOF", err)
			}
		}
	}
}

func TestReaderTruncation(t *testing.T) {
	frame := Header{Method: 1, RequestID: 1, Length: 5}.Append(nil)
	frame = append(frame, "hello"...)
	for n := 1; n < len(frame); n++ {
		fr := NewReader(bytes.NewReader(frame[:n]), 0, 0)
		_, _, err := fr.ReadFrame()
		if !errors.Is(err, ErrTruncated) {
			t.Errorf("stream cut at %d bytes: %v, want ErrTruncated", n, err)
		}
	}
}

func TestReaderRejectsBeforeReadingPayload(t *testing.T) {
	h := Header{Method: 1, Length: 1 << 30}
	src := &countingReader{r: bytes.NewReader(h.Append(nil))}
	fr := NewReader(src, 1<<20, 0)
	_, _, err := fr.ReadFrame()
	var pe *ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want ProtocolError", err)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// shortWriter accepts limit bytes, then fails.
type shortWriter struct {
	buf   bytes.Buffer
	limit int
}

var errFull = errors.New("full")

func (w *shortWriter) Write(p []byte) (int, error) {
	room := w.limit - w.buf.Len()
	if room <= 0 {
		return 0, errFull
	}
	if len(p) > room {
		w.buf.Write(p[:room])
		return room, errFull
	}
	return w.buf.Write(p)
}

func TestWriteFrameKeepsTheUnwrittenRemainder(t *testing.T) {
	payload := []byte("0123456789")
	h := Header{Method: 7, Flags: FlagsResult, RequestID: 3}
	full := append(Header{Method: 7, Flags: FlagsResult, RequestID: 3, Length: 20}.Append(nil), payload...)
	full = append(full, payload...)
	for limit := 0; limit < len(full); limit++ {
		sw := &shortWriter{limit: limit}
		w := NewWriter(sw)
		n, err := w.WriteFrame(h, payload, payload)
		if !errors.Is(err, errFull) || int(n) != limit || w.Partial() != (limit > 0) {
			t.Fatalf("limit %d: n=%d err=%v partial=%v", limit, n, err, w.Partial())
		}
		if limit == 0 {
			continue // nothing of the frame went out: it is dropped whole
		}
		// Nothing else goes out before the rest of the cut frame.
		if _, err := w.WriteFrame(Header{Method: 9, RequestID: 99}, nil); err != ErrPartialFrame {
			t.Fatalf("limit %d: WriteFrame while partial = %v", limit, err)
		}
		sw.limit = len(full)
		if _, err := w.Resume(); err != nil || w.Partial() {
			t.Fatalf("limit %d: Resume = %v, partial %v", limit, err, w.Partial())
		}
		if got := sw.buf.Bytes(); !bytes.Equal(got, full) {
			t.Fatalf("limit %d: written+resumed = %x, want %x", limit, got, full)
		}
	}
}

func TestWriterOneFrame(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	parts := make([][]byte, 12) // more parts than the internal vector holds
	for i := range parts {
		parts[i] = []byte{byte(i)}
	}
	if _, err := w.WriteFrame(Header{Method: 2, Flags: FlagsStreamChunk, RequestID: 5}, parts...); err != nil {
		t.Fatal(err)
	}
	fr := NewReader(&b, 0, 0)
	h, p, err := fr.ReadFrame()
	if err != nil || h.Length != 12 || h.Method != 2 || p[11] != 11 {
		t.Fatalf("got %v %x %v", h, p, err)
	}
}

func TestWriterOnSocketUsesOneFrame(t *testing.T) {
	a, b := socketPair(t)
	w := NewWriter(a)
	payload := bytes.Repeat([]byte{0xAB}, 100000)
	go func() {
		for i := 0; i < 10; i++ {
			w.WriteFrame(Header{Method: 1, Flags: FlagsResult, RequestID: uint32(i + 1)}, payload[:50000], payload[50000:])
		}
		a.Close()
	}()
	fr := NewReader(b, 0, 0)
	for i := 0; i < 10; i++ {
		h, p, err := fr.ReadFrame()
		if err != nil || h.RequestID != uint32(i+1) || !bytes.Equal(p, payload) {
			t.Fatalf("frame %d: %v %v", i, h, err)
		}
	}
}

// socketPair returns the two ends of a Unix stream socket connection.
func socketPair(t testing.TB) (net.Conn, net.Conn) { return unixPair(t, "unix") }

// unixPair returns the two ends of a connection over a Unix socket of the
// given network ("unix" or "unixpacket"), both closed when t ends. It skips
// t on Windows, and where there are no unixpacket sockets.
func unixPair(t testing.TB, network string) (net.Conn, net.Conn) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("Unix socket pairs are a Unix test (Wine has no AF_UNIX)")
	}
	dir := t.TempDir()
	ln, err := net.Listen(network, dir+"/s")
	if err != nil {
		if network == "unixpacket" {
			t.Skipf("no unixpacket sockets: %v", err)
		}
		t.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		ch <- c
	}()
	a, err := net.Dial(network, dir+"/s")
	if err != nil {
		t.Fatal(err)
	}
	b := <-ch
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}
