package codec

import (
	"bytes"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/procwire/procwire-go/internal/cputime"
)

// smallMsg is the ≈100-byte object of the codec benchmarks, the same as
// in interop/codec-bench.mjs.
type smallMsg struct {
	ID     int            `msgpack:"id"`
	Name   string         `msgpack:"name"`
	Tags   []string       `msgpack:"tags"`
	OK     bool           `msgpack:"ok"`
	Score  float64        `msgpack:"score"`
	Nested map[string]int `msgpack:"nested"`
	Note   string         `msgpack:"note"`
}

var small = smallMsg{ID: 12345, Name: "procwire", Tags: []string{"alpha", "beta", "gamma"}, OK: true, Score: 1.5,
	Nested: map[string]int{"x": 1, "y": 2}, Note: "a small message"}

func BenchmarkMsgPackSmall(b *testing.B) {
	b.Run("encode", benchEncode(small))
	// The same object as a decode into any gives it (what an echo handler
	// taking and returning any sends back).
	payload, err := MsgPack.Marshal(small)
	if err != nil {
		b.Fatal(err)
	}
	var v any
	if err := MsgPack.Unmarshal(payload, &v); err != nil {
		b.Fatal(err)
	}
	b.Run("encode-any", benchEncode(v))
}

// benchEncode benchmarks encoding v into a reused buffer (a T, as a
// handler's result is, converted to any by each call).
func benchEncode[T any](v T) func(b *testing.B) {
	return func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		stop := cputime.Report(b)
		for b.Loop() {
			buf, _ = MsgPack.(AppendMarshaler).AppendMarshal(buf[:0], v)
		}
		stop()
	}
}

// BenchmarkMsgPackDecode decodes the small object into its struct and into
// any, and a 1 MiB bin into a []byte (go test -bench 'Decode' ./codec/).
// small/struct-stock is vmihailenco/msgpack alone, without the range
// check, for comparison.
func BenchmarkMsgPackDecode(b *testing.B) {
	payload, err := MsgPack.Marshal(small)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("small/struct", benchDecode[smallMsg](payload, 0))
	b.Run("small/any", benchDecode[any](payload, 0))
	b.Run("small/struct-stock", func(b *testing.B) {
		b.ReportAllocs()
		var r bytes.Reader
		dec := msgpack.NewDecoder(&r)
		stop := cputime.Report(b)
		for b.Loop() {
			var v smallMsg
			r.Reset(payload)
			dec.ResetReader(&r)
			if err := dec.Decode(&v); err != nil {
				b.Fatal(err)
			}
		}
		stop()
	})
	mib, _ := MsgPack.Marshal(bytes.Repeat([]byte{7}, 1<<20))
	b.Run("1MiB", benchDecode[[]byte](mib, 1<<20))
}

func BenchmarkMsgPack1MiB(b *testing.B) {
	mib := bytes.Repeat([]byte{7}, 1<<20)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(1 << 20)
		var buf []byte
		stop := cputime.Report(b)
		for b.Loop() {
			buf, _ = MsgPack.(AppendMarshaler).AppendMarshal(buf[:0], mib)
		}
		stop()
	})
}

// benchDecode benchmarks decoding payload into a T, counting size bytes an
// operation (none if 0).
func benchDecode[T any](payload []byte, size int64) func(b *testing.B) {
	return func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(size)
		stop := cputime.Report(b)
		for b.Loop() {
			var v T
			if err := MsgPack.Unmarshal(payload, &v); err != nil {
				b.Fatal(err)
			}
		}
		stop()
	}
}

// TestDecodeCopiesABinOnce checks that decoding a 1 MiB bin allocates the
// result once (one copy out of the payload) and nothing else of that size.
func TestDecodeCopiesABinOnce(t *testing.T) {
	payload, _ := MsgPack.Marshal(bytes.Repeat([]byte{7}, 1<<20))
	var v []byte
	MsgPack.Unmarshal(payload, &v) // warm the pools
	stats := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var v []byte
			MsgPack.Unmarshal(payload, &v)
		}
	})
	if per := stats.AllocedBytesPerOp(); per > 1<<20+4096 {
		t.Errorf("decoding a 1 MiB bin allocates %d bytes per op: copied more than once", per)
	}
}
