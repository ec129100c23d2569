package arrowcodec_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/procwire/procwire-go"
	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/codec/arrowcodec"
	"github.com/procwire/procwire-go/procwiretest"
)

// int32Batch is a batch of one Int32 column name holding vals.
func int32Batch(name string, vals ...int32) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{{Name: name, Type: arrow.PrimitiveTypes.Int32}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.Int32Builder).AppendValues(vals, nil)
	return b.NewRecordBatch()
}

// TestWorker runs Arrow methods behind a real worker connection: a request
// of several batches reaches a handler as one record, and stream chunks
// decoded straight from the parent's reused receive buffers stay intact.
func TestWorker(t *testing.T) {
	w := procwire.NewWorker(procwire.Options{})
	opts := procwire.MethodOptions{Codec: arrowcodec.Codec}
	kept := make(chan arrow.RecordBatch, 1)
	procwire.Handle(w, "rows", func(ctx context.Context, in arrow.RecordBatch) (arrow.RecordBatch, error) {
		// Kept past the handler's return, which copy-on-decode allows.
		in.Retain()
		kept <- in
		return int32Batch("rows", int32(in.NumRows())), nil
	}, opts)
	procwire.HandleStream(w, "batches", func(ctx context.Context, in arrow.RecordBatch, out *procwire.Stream[arrow.RecordBatch]) error {
		defer in.Release()
		n := in.Column(0).(*array.Int32).Value(0)
		for i := int32(0); i < n; i++ {
			vals := make([]int32, 1000)
			for j := range vals {
				vals[j] = i
			}
			rec := int32Batch("i", vals...)
			err := out.Send(rec)
			rec.Release()
			if err != nil {
				return err
			}
		}
		return nil
	}, opts)
	// rowsBytes is rows with a request codec that sends raw bytes as they
	// are and decodes them as Arrow.
	procwire.Handle(w, "rowsBytes", func(ctx context.Context, in arrow.RecordBatch) (arrow.RecordBatch, error) {
		in.Release()
		return nil, errors.New("decoded a malformed request")
	}, procwire.MethodOptions{RequestCodec: bytesOut{arrowcodec.Codec}, ResponseCodec: arrowcodec.Codec})
	p := procwiretest.New(t, w)
	ctx := context.Background()

	t.Run("several batches in one request", func(t *testing.T) {
		recs := batches(memory.DefaultAllocator, 5, 20)
		defer release(recs...)
		tbl := array.NewTableFromRecords(testSchema, recs)
		defer tbl.Release()
		var res arrow.RecordBatch
		if err := p.Call(ctx, "rows", tbl, &res); err != nil {
			t.Fatal(err)
		}
		defer res.Release()
		if got := res.Column(0).(*array.Int32).Value(0); got != 100 {
			t.Fatalf("handler saw %d rows, want 100", got)
		}
		in := <-kept
		defer in.Release()
		want := concat(t, memory.DefaultAllocator, recs)
		defer want.Release()
		if !array.RecordEqual(in, want) {
			t.Fatal("the record kept by the handler changed after it returned")
		}
	})

	t.Run("stream", func(t *testing.T) {
		const n = 50
		req := int32Batch("n", n)
		defer req.Release()
		var got []arrow.RecordBatch
		defer func() { release(got...) }()
		for c, err := range p.Stream(ctx, "batches", req) {
			if err != nil {
				t.Fatal(err)
			}
			// No c.Keep(): the parent reuses the chunk's buffer.
			var rec arrow.RecordBatch
			if err := c.Decode(&rec); err != nil {
				t.Fatal(err)
			}
			got = append(got, rec)
		}
		if len(got) != n {
			t.Fatalf("%d chunks, want %d", len(got), n)
		}
		for i, rec := range got {
			col := rec.Column(0).(*array.Int32)
			if rec.ColumnName(0) != "i" || col.Len() != 1000 {
				t.Fatalf("chunk %d: %v", i, rec.Schema())
			}
			for j := 0; j < col.Len(); j++ {
				if col.Value(j) != int32(i) {
					t.Fatalf("chunk %d row %d = %d, want %d", i, j, col.Value(j), i)
				}
			}
		}
	})

	t.Run("malformed request", func(t *testing.T) {
		var res arrow.RecordBatch
		err := p.Call(ctx, "rowsBytes", []byte("not an Arrow stream"), &res)
		var re *procwire.Error
		if !errors.As(err, &re) || !strings.Contains(err.Error(), "malformed Arrow IPC stream") {
			t.Fatalf("Call = %v, want the worker's decode error", err)
		}
	})
}

// bytesOut is a codec that encodes []byte as is and decodes with Codec.
type bytesOut struct{ codec.Codec }

func (b bytesOut) Marshal(v any) ([]byte, error) { return v.([]byte), nil }
