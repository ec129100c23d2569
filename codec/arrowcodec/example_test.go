package arrowcodec_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/procwire/procwire-go"
	"github.com/procwire/procwire-go/codec/arrowcodec"
	"github.com/procwire/procwire-go/procwiretest"
)

// sumX adds up the non-null values of in's Float64 column x.
func sumX(in arrow.RecordBatch) (float64, error) {
	idx := in.Schema().FieldIndices("x")
	if len(idx) == 0 {
		return 0, errors.New("no column x")
	}
	x, ok := in.Column(idx[0]).(*array.Float64)
	if !ok {
		return 0, fmt.Errorf("column x is %v, want float64", in.Column(idx[0]).DataType())
	}
	var sum float64
	for i := 0; i < x.Len(); i++ {
		if x.IsValid(i) {
			sum += x.Value(i)
		}
	}
	return sum, nil
}

// A worker method that takes and returns Arrow tables: "sum" adds up the
// column x of the request and answers with a one-row table. The Node parent
// declares it with `.method("sum", { codec: arrowCodec })` and sends an
// apache-arrow Table. (arrow.Record, the older name of arrow.RecordBatch,
// is the same type.)
func Example() {
	w := procwire.NewWorker(procwire.Options{})
	procwire.Handle(w, "sum", func(ctx context.Context, in arrow.RecordBatch) (arrow.RecordBatch, error) {
		// The decoded record is the handler's: it does not reference the
		// request's bytes, so it could outlive the handler.
		defer in.Release()
		sum, err := sumX(in)
		if err != nil {
			return nil, err
		}
		b := array.NewFloat64Builder(memory.DefaultAllocator)
		defer b.Release()
		b.Append(sum)
		col := b.NewArray()
		defer col.Release()
		schema := arrow.NewSchema([]arrow.Field{{Name: "sum", Type: arrow.PrimitiveTypes.Float64}}, nil)
		return array.NewRecordBatch(schema, []arrow.Array{col}, 1), nil
	}, procwire.MethodOptions{Codec: arrowcodec.Codec})

	// Call it as a parent would, here in-process (see procwiretest).
	p := procwiretest.New(&testing.T{}, w)
	defer p.Close()
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema([]arrow.Field{
		{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil))
	defer b.Release()
	b.Field(0).(*array.Float64Builder).AppendValues([]float64{1.5, 0, 2.25}, []bool{true, false, true})
	req := b.NewRecordBatch()
	defer req.Release()

	var res arrow.RecordBatch
	if err := p.Call(context.Background(), "sum", req, &res); err != nil {
		fmt.Println(err)
		return
	}
	defer res.Release()
	fmt.Println(res.ColumnName(0), res.Column(0).(*array.Float64).Value(0))
	// Output: sum 3.75
}
