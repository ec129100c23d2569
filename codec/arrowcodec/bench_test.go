package arrowcodec_test

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/procwire/procwire-go/codec/arrowcodec"
	"github.com/procwire/procwire-go/internal/cputime"
)

// benchRows is the size of the benchmarked batch: 10 000 rows of Float64,
// Int32 and Utf8 (about 250 KB encoded), the same table as
// interop/codec-bench.mjs measures with @procwire/codecs in Node.
const benchRows = 10_000

func BenchmarkMarshal(b *testing.B) {
	rec := makeRecord(memory.DefaultAllocator, 0, benchRows)
	defer rec.Release()
	data := encode(b, rec)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	stop := cputime.Report(b)
	for b.Loop() {
		if _, err := arrowcodec.Codec.Marshal(rec); err != nil {
			b.Fatal(err)
		}
	}
	stop()
}

func BenchmarkUnmarshal(b *testing.B) {
	rec := makeRecord(memory.DefaultAllocator, 0, benchRows)
	defer rec.Release()
	data := encode(b, rec)
	for _, bc := range []struct {
		name  string
		codec *arrowcodec.ArrowCodec
	}{
		{"copy", arrowcodec.New(arrowcodec.Options{})},
		{"zerocopy", arrowcodec.New(arrowcodec.Options{ZeroCopy: true})},
		{"owned", arrowcodec.New(arrowcodec.Options{})},
		{"copy-pool", arrowcodec.New(arrowcodec.Options{Allocator: arrowcodec.NewPool()})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			decode := bc.codec.Unmarshal
			if bc.name == "owned" { // what the worker and the parent use
				decode = bc.codec.UnmarshalOwned
			}
			stop := cputime.Report(b)
			for b.Loop() {
				var got arrow.RecordBatch
				if err := decode(data, &got); err != nil {
					b.Fatal(err)
				}
				got.Release()
			}
			stop()
		})
	}
}
