package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// testFrame is a frame to queue and the payload a Reader must decode.
type testFrame struct {
	h     Header
	parts [][]byte
}

func (f testFrame) payload() []byte { return bytes.Join(f.parts, nil) }

func (f testFrame) size() int { return HeaderSize + len(f.payload()) }

func (f testFrame) header() Header {
	h := f.h
	h.Length = uint32(len(f.payload()))
	return h
}

// checkStream decodes stream and fails unless it holds exactly want.
func checkStream(t testing.TB, stream []byte, want []testFrame) {
	t.Helper()
	fr := NewReader(bytes.NewReader(stream), 0, 0)
	for i, f := range want {
		h, p, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if h != f.header() || !bytes.Equal(p, f.payload()) {
			t.Fatalf("frame %d: got %v %q, want %v %q", i, h, p, f.header(), f.payload())
		}
	}
	if h, _, err := fr.ReadFrame(); err != io.EOF {
		t.Fatalf("after %d frames: %v %v, want io.EOF", len(want), h, err)
	}
}

// cutFrames are frames of several shapes: several parts, an empty payload,
// a payload longer than a header.
var cutFrames = []testFrame{
	{Header{Method: 1, Flags: FlagsResult, RequestID: 1}, [][]byte{[]byte("abc"), nil, []byte("defg")}},
	{Header{Method: 2, Flags: FlagsStreamEnd, RequestID: 2}, nil},
	{Header{Method: 3, Flags: FlagsStreamChunk, RequestID: 3}, [][]byte{[]byte("0123456789abcdefghijklmnopqrstuvwxyz")}},
	{Header{Method: 4, Flags: FlagsEvent}, [][]byte{[]byte("x")}},
}

// TestFlushCutAnywhere cuts the write of a batch after every possible byte
// count, resumes the frame cut short in small steps, and checks that the
// stream holds exactly the frames sent and the resumed one.
func TestFlushCutAnywhere(t *testing.T) {
	var ends []int // byte offset of each frame's end
	total := 0
	for _, f := range cutFrames {
		total += f.size()
		ends = append(ends, total)
	}
	extra := testFrame{Header{Method: 99, Flags: FlagsResult, RequestID: 99}, [][]byte{[]byte("after")}}
	for k := 0; k <= total; k++ {
		// What a cut after k bytes must give.
		sent, start := 0, 0
		for sent < len(ends) && ends[sent] <= k {
			start = ends[sent]
			sent++
		}
		partial := k > start && k < total
		where := "at a frame boundary"
		switch {
		case k == 0:
			where = "zero bytes"
		case k == total:
			where = "everything"
		case partial && k-start < HeaderSize:
			where = "inside a header"
		case partial:
			where = "inside a payload"
		}
		t.Run(fmt.Sprintf("%d bytes %s", k, where), func(t *testing.T) {
			sw := &shortWriter{limit: k}
			w := NewWriter(sw)
			for _, f := range cutFrames {
				w.Queue(f.h, f.parts...)
			}
			gotSent, n, err := w.Flush()
			wantErr := errFull
			if k == total {
				wantErr = nil
			}
			if gotSent != sent || n != int64(k) || !errors.Is(err, wantErr) {
				t.Fatalf("Flush = %d, %d, %v; want %d, %d, %v", gotSent, n, err, sent, k, wantErr)
			}
			if w.Partial() != partial || w.Queued() != 0 {
				t.Fatalf("Partial = %v, Queued = %d; want %v, 0", w.Partial(), w.Queued(), partial)
			}
			// A frame queued meanwhile reuses the header storage and
			// must wait for the resumed one.
			w.Queue(extra.h, extra.parts...)
			if partial {
				if s, n, err := w.Flush(); s != 0 || n != 0 || err != ErrPartialFrame || w.Queued() != 1 {
					t.Fatalf("Flush while partial = %d, %d, %v (queued %d); want ErrPartialFrame, queue kept", s, n, err, w.Queued())
				}
				if _, err := w.WriteFrame(extra.h); err != ErrPartialFrame {
					t.Fatalf("WriteFrame while partial = %v, want ErrPartialFrame", err)
				}
			}
			var resumed int64
			for w.Partial() {
				sw.limit += 3
				n, err := w.Resume()
				resumed += n
				if err != nil && !errors.Is(err, errFull) {
					t.Fatal(err)
				}
				if err == nil && w.Partial() {
					t.Fatal("Resume succeeded and Partial still reports true")
				}
			}
			if partial && resumed != int64(ends[sent]-k) {
				t.Fatalf("Resume wrote %d bytes, want %d", resumed, ends[sent]-k)
			}
			if n, err := w.Resume(); n != 0 || err != nil {
				t.Fatalf("Resume without a partial frame = %d, %v", n, err)
			}
			sw.limit = 1 << 20
			if s, _, err := w.Flush(); s != 1 || err != nil {
				t.Fatalf("Flush after Resume = %d, %v", s, err)
			}
			want := append([]testFrame(nil), cutFrames[:sent]...)
			if partial {
				want = append(want, cutFrames[sent])
			}
			checkStream(t, sw.buf.Bytes(), append(want, extra))
		})
	}
}

// seqpacketPair returns two ends of a Unix SOCK_SEQPACKET connection: each
// write system call arrives as one message, so reads count the writes.
func seqpacketPair(t testing.TB) (net.Conn, net.Conn) { return unixPair(t, "unixpacket") }

func TestFlushIsOneWrite(t *testing.T) {
	tests := []struct {
		name   string
		frames []testFrame
	}{
		{"one frame", cutFrames[:1]},
		{"several frames", cutFrames},
		{"many small frames", func() []testFrame {
			var fs []testFrame
			for i := range 300 {
				fs = append(fs, testFrame{Header{Method: 5, Flags: FlagsResult, RequestID: uint32(i + 1)}, [][]byte{[]byte("ok"), {byte(i)}}})
			}
			return fs
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := seqpacketPair(t)
			w := NewWriter(a)
			total := 0
			for _, f := range tt.frames {
				w.Queue(f.h, f.parts...)
				total += f.size()
			}
			if w.Queued() != len(tt.frames) {
				t.Fatalf("Queued = %d, want %d", w.Queued(), len(tt.frames))
			}
			sent, n, err := w.Flush()
			if err != nil || sent != len(tt.frames) || n != int64(total) || w.Queued() != 0 {
				t.Fatalf("Flush = %d, %d, %v (queued %d)", sent, n, err, w.Queued())
			}
			// Every byte arrives in the first message: one writev.
			buf := make([]byte, total+1)
			got, err := b.Read(buf)
			if err != nil || got != total {
				t.Fatalf("first message: %d of %d bytes, %v", got, total, err)
			}
			checkStream(t, buf[:got], tt.frames)
		})
	}
}

func TestFlushLargeBatchOnSocket(t *testing.T) {
	a, b := socketPair(t)
	payload := patternTape(300 << 10)
	var fs []testFrame
	for i := range 20 {
		p := payload[i*7 : i*7+100000+i*1000]
		fs = append(fs, testFrame{Header{Method: 1, Flags: FlagsStreamChunk, RequestID: uint32(i + 1)}, [][]byte{p[:1000], p[1000:]}})
	}
	done := make(chan error, 1)
	go func() {
		w := NewWriter(a)
		for _, f := range fs {
			w.Queue(f.h, f.parts...)
		}
		_, _, err := w.Flush()
		a.Close()
		done <- err
	}()
	stream, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checkStream(t, stream, fs)
}

// TestFlushDeadlineThenResume lets a write deadline cut a frame larger than
// the socket buffer while the peer does not read, then resumes it.
func TestFlushDeadlineThenResume(t *testing.T) {
	a, b := socketPair(t)
	big := patternTape(8 << 20)[:8<<20]
	fs := []testFrame{
		{Header{Method: 1, Flags: FlagsResult, RequestID: 1}, [][]byte{[]byte("small")}},
		{Header{Method: 2, Flags: FlagsResult, RequestID: 2}, [][]byte{big[:1<<20], big[1<<20:]}},
		{Header{Method: 3, Flags: FlagsResult, RequestID: 3}, [][]byte{[]byte("never sent")}},
	}
	w := NewWriter(a)
	for _, f := range fs {
		w.Queue(f.h, f.parts...)
	}
	a.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	sent, n, err := w.Flush()
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Flush = %v, want a timeout", err)
	}
	if sent != 1 || n <= int64(fs[0].size()) || n >= int64(fs[0].size()+fs[1].size()) || !w.Partial() || w.Queued() != 0 {
		t.Fatalf("Flush = %d frames, %d bytes, partial %v, queued %d; want the second frame cut", sent, n, w.Partial(), w.Queued())
	}

	got := make(chan []byte, 1)
	go func() {
		stream, _ := io.ReadAll(b)
		got <- stream
	}()
	a.SetWriteDeadline(time.Time{})
	rn, err := w.Resume()
	if err != nil || w.Partial() || n+rn != int64(fs[0].size()+fs[1].size()) {
		t.Fatalf("Resume = %d, %v (partial %v); want the %d bytes left", rn, err, w.Partial(), int64(fs[0].size()+fs[1].size())-n)
	}
	after := testFrame{Header{Method: 4, Flags: FlagsResult, RequestID: 4}, [][]byte{[]byte("after")}}
	if _, err := w.WriteFrame(after.h, after.parts...); err != nil {
		t.Fatal(err)
	}
	a.Close()
	checkStream(t, <-got, []testFrame{fs[0], fs[1], after})
}

func TestWriterSteadyStateAllocs(t *testing.T) {
	w := NewWriter(io.Discard)
	p1, p2, p3 := make([]byte, 100), make([]byte, 10), make([]byte, 64<<10)
	var cork []byte
	tests := []struct {
		name string
		run  func() error
	}{
		{"Queue+Flush one frame", func() error {
			w.Queue(Header{Method: 1, Flags: FlagsResult, RequestID: 1}, p1)
			_, _, err := w.Flush()
			return err
		}},
		{"Queue+Flush several frames", func() error {
			w.Queue(Header{Method: 1, Flags: FlagsResult, RequestID: 1}, p1)
			w.Queue(Header{Method: 1, Flags: FlagsStreamChunk, RequestID: 2}, p2, p3)
			w.Queue(Header{Method: 1, Flags: FlagsStreamEnd, RequestID: 2})
			_, _, err := w.Flush()
			return err
		}},
		{"WriteFrame", func() error {
			_, err := w.WriteFrame(Header{Method: 1, Flags: FlagsResult, RequestID: 1}, p1, p2)
			return err
		}},
		{"AppendFrame into room", func() error {
			cork = AppendFrame(cork[:0], Header{Method: 1, Flags: FlagsResult, RequestID: 1}, p1, p2)
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(100, func() {
				if err := tt.run(); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Fatalf("%v allocations per run, want 0", allocs)
			}
		})
	}
}

func TestAppendFrame(t *testing.T) {
	tests := []struct {
		name  string
		dst   []byte
		frame testFrame
	}{
		{"no parts", nil, testFrame{Header{Method: 1, Flags: FlagsStreamEnd, RequestID: 1}, nil}},
		{"one part", nil, testFrame{Header{Method: 2, Flags: FlagsResult, RequestID: 2}, [][]byte{[]byte("hello")}}},
		{"several parts, one empty", nil, testFrame{Header{Method: 3, Flags: FlagsResult, RequestID: 3}, [][]byte{[]byte("ab"), {}, []byte("cd")}}},
		{"after another frame", AppendFrame(nil, Header{Method: 4, RequestID: 4}, []byte("first")),
			testFrame{Header{Method: 5, Flags: FlagsResult, RequestID: 5, Length: 12345}, [][]byte{[]byte("second")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := append([]byte(nil), tt.dst...)
			got := AppendFrame(tt.dst, tt.frame.h, tt.frame.parts...)
			want := append(tt.frame.header().Append(prefix), tt.frame.payload()...)
			if !bytes.Equal(got, want) {
				t.Fatalf("got %x, want %x", got, want)
			}
		})
	}
}
