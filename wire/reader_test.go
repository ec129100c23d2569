package wire

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
)

func TestAppendPayload(t *testing.T) {
	payload := []byte("0123456789abcdef")
	tests := []struct {
		name     string
		length   int    // declared payload length (0..len(payload))
		cut      int    // payload bytes present in the stream (-1: all)
		dst      []byte // nil or a prefix with room
		noHeader bool   // call AppendPayload before any ReadHeader
		inPlace  bool   // the result must share dst's array
		wantErr  error
	}{
		{name: "nil dst", length: 16, cut: -1},
		{name: "prefix kept", length: 16, cut: -1, dst: []byte("ab")},
		{name: "exact fit", length: 16, cut: -1, dst: append(make([]byte, 0, 18), "ab"...), inPlace: true},
		{name: "room to spare", length: 5, cut: -1, dst: make([]byte, 0, 64), inPlace: true},
		{name: "one byte short of room", length: 16, cut: -1, dst: append(make([]byte, 0, 17), "ab"...)},
		{name: "empty payload", length: 0, cut: -1, dst: []byte("ab"), inPlace: true},
		{name: "before any header", noHeader: true, dst: []byte("ab"), inPlace: true},
		{name: "truncated", length: 16, cut: 9, dst: []byte("ab"), wantErr: ErrTruncated},
		{name: "truncated in room", length: 16, cut: 3, dst: make([]byte, 0, 32), inPlace: true, wantErr: ErrTruncated},
		{name: "truncated before the payload", length: 16, cut: 0, wantErr: ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := Header{Method: 1, RequestID: 7, Length: uint32(tt.length)}.Append(nil)
			body := payload[:tt.length]
			if tt.cut >= 0 {
				body = body[:tt.cut]
			}
			stream = append(stream, body...)
			fr := NewReader(bytes.NewReader(stream), 0, 0)
			want := append([]byte(nil), tt.dst...)
			if !tt.noHeader {
				if _, err := fr.ReadHeader(); err != nil {
					t.Fatal(err)
				}
				want = append(want, body...)
			}
			dst := tt.dst
			got, err := fr.AppendPayload(dst)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
			if tt.inPlace && cap(dst) > 0 && &got[:1][0] != &dst[:1][0] {
				t.Fatalf("result does not share dst's array")
			}
			if tt.wantErr == nil && !tt.noHeader {
				if _, err := fr.ReadHeader(); err != io.EOF {
					t.Fatalf("after the payload: %v, want io.EOF", err)
				}
			}
		})
	}
}

// patternTape is a period of pattern bytes repeated to cover any piece a
// test writes or checks: byte i of a pattern stream is tape[i%patternPeriod].
const patternPeriod = 4093 // prime, so no buffer boundary lines up with it

func patternTape(n int) []byte {
	r := rand.New(rand.NewPCG(3, 4))
	period := make([]byte, patternPeriod)
	for i := range period {
		period[i] = byte(r.Uint32())
	}
	tape := make([]byte, 0, n+patternPeriod)
	for len(tape) < n+patternPeriod {
		tape = append(tape, period...)
	}
	return tape
}

func TestAppendPayloadLargeArrivesInPieces(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 400 MiB")
	}
	const size = 200 << 20
	const maxPiece = 1 << 20
	tape := patternTape(maxPiece)
	tests := []struct {
		name string
		dst  []byte
	}{
		{"nil dst", nil},
		{"prefix with some room", append(make([]byte, 0, 3<<20), "prefix"...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			go func() {
				pw.Write(Header{Method: 1, RequestID: 1, Length: size}.Append(nil))
				r := rand.New(rand.NewPCG(5, 6))
				for off := 0; off < size; {
					n := min(size-off, 1+r.IntN(maxPiece))
					if r.IntN(3) == 0 {
						n = min(n, 1+r.IntN(100))
					}
					if _, err := pw.Write(tape[off%patternPeriod : off%patternPeriod+n]); err != nil {
						return
					}
					off += n
				}
				pw.Close()
			}()
			defer pr.Close()
			fr := NewReader(pr, 0, 0)
			if _, err := fr.ReadHeader(); err != nil {
				t.Fatal(err)
			}
			prefix := len(tt.dst)
			got, err := fr.AppendPayload(tt.dst)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != prefix+size || cap(got) != prefix+size {
				t.Fatalf("len %d cap %d, want both %d", len(got), cap(got), prefix+size)
			}
			if !bytes.Equal(got[:prefix], tt.dst) {
				t.Fatalf("prefix %q, want %q", got[:prefix], tt.dst)
			}
			p := got[prefix:]
			for off := 0; off < size; off += maxPiece {
				n := min(maxPiece, size-off)
				if !bytes.Equal(p[off:off+n], tape[off%patternPeriod:off%patternPeriod+n]) {
					t.Fatalf("payload differs in the MiB at offset %d", off)
				}
			}
		})
	}
}

// TestHugeDeclaredLengthCostsLittle: a peer that declares 1 GiB and sends a
// few bytes must not make the reader allocate the declared length.
func TestHugeDeclaredLengthCostsLittle(t *testing.T) {
	stream := append(Header{Method: 1, RequestID: 1, Length: 1 << 30}.Append(nil), "abc"...)
	tests := []struct {
		name string
		read func(fr *Reader) error
	}{
		{"AppendPayload nil", func(fr *Reader) error {
			if _, err := fr.ReadHeader(); err != nil {
				return err
			}
			_, err := fr.AppendPayload(nil)
			return err
		}},
		{"AppendPayload with room", func(fr *Reader) error {
			if _, err := fr.ReadHeader(); err != nil {
				return err
			}
			_, err := fr.AppendPayload(make([]byte, 0, 1<<20))
			return err
		}},
		{"ReadFrame", func(fr *Reader) error {
			_, _, err := fr.ReadFrame()
			return err
		}},
		{"Next", func(fr *Reader) error {
			_, _, _, err := fr.Next(nil)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fr := NewReader(bytes.NewReader(stream), 0, 0)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err := tt.read(fr)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("err = %v, want ErrTruncated", err)
			}
			if d := after.TotalAlloc - before.TotalAlloc; d >= 200<<20 {
				t.Fatalf("allocated %d MiB for a frame that sent 3 bytes", d>>20)
			}
		})
	}
}

func TestAppendPayloadSteadyStateAllocs(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		bufSize int
	}{
		{"small payload from the buffer", 100, 0},
		{"payload larger than the buffer", 100 << 10, 4096},
		{"empty payload", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame := append(Header{Method: 1, RequestID: 1, Length: uint32(tt.size)}.Append(nil), make([]byte, tt.size)...)
			fr := NewReader(&loopReader{data: frame}, 0, tt.bufSize)
			dst := make([]byte, 0, tt.size)
			allocs := testing.AllocsPerRun(100, func() {
				if _, err := fr.ReadHeader(); err != nil {
					t.Fatal(err)
				}
				p, err := fr.AppendPayload(dst[:0])
				if err != nil || len(p) != tt.size {
					t.Fatalf("%d bytes, %v", len(p), err)
				}
			})
			if allocs != 0 {
				t.Fatalf("%v allocations per frame, want 0", allocs)
			}
		})
	}
}

// interrupted is a stream that fails once after each of its pieces, as a
// connection with a read deadline does.
type interrupted struct {
	pieces [][]byte
	failed bool
}

var errInterrupted = errors.New("deadline")

func (s *interrupted) Read(p []byte) (int, error) {
	if len(s.pieces) == 0 {
		return 0, io.EOF
	}
	if s.failed {
		s.failed = false
		return 0, errInterrupted
	}
	n := copy(p, s.pieces[0])
	s.pieces[0] = s.pieces[0][n:]
	if len(s.pieces[0]) == 0 {
		s.pieces = s.pieces[1:]
		s.failed = true
	}
	return n, nil
}

// TestReadResumesAfterAnError checks that a read error other than the end
// of the stream loses nothing: a frame cut anywhere, in its header or its
// payload, is read whole by the calls after the error.
func TestReadResumesAfterAnError(t *testing.T) {
	h := Header{Method: 7, Flags: FlagResponse, RequestID: 42, Length: 10}
	frame := h.Append(nil)
	frame = append(frame, "0123456789"...)
	frame = append(frame, Header{Method: 1, RequestID: 1}.Append(nil)...)
	for cut := 1; cut < len(frame); cut++ {
		src := &interrupted{pieces: [][]byte{bytes.Clone(frame[:cut]), bytes.Clone(frame[cut:])}}
		r := NewReader(src, 0, 0)
		var got Header
		var err error
		for range 3 {
			if got, err = r.ReadHeader(); !errors.Is(err, errInterrupted) {
				break
			}
		}
		if err != nil || got != h {
			t.Fatalf("cut at %d: header %+v, %v; want %+v", cut, got, err, h)
		}
		var p []byte
		for range 3 {
			if p, err = r.AppendPayload(p); !errors.Is(err, errInterrupted) {
				break
			}
		}
		if err != nil || string(p) != "0123456789" {
			t.Fatalf("cut at %d: payload %q, %v", cut, p, err)
		}
		for range 3 {
			if got, err = r.ReadHeader(); !errors.Is(err, errInterrupted) {
				break
			}
		}
		if err != nil || got.Method != 1 {
			t.Fatalf("cut at %d: second header %+v, %v", cut, got, err)
		}
		if _, err := r.ReadHeader(); err != io.EOF {
			t.Fatalf("cut at %d: after the last frame: %v, want io.EOF", cut, err)
		}
	}
}
