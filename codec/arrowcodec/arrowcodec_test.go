package arrowcodec_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/codec/arrowcodec"
)

var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "n", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// makeRecord builds a batch of testSchema with rows rows starting at row
// first; every third x, fifth n and seventh s is null.
func makeRecord(mem memory.Allocator, first, rows int) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, testSchema)
	defer b.Release()
	xs := b.Field(0).(*array.Float64Builder)
	ns := b.Field(1).(*array.Int32Builder)
	ss := b.Field(2).(*array.StringBuilder)
	for i := first; i < first+rows; i++ {
		if i%3 == 1 {
			xs.AppendNull()
		} else {
			xs.Append(float64(i) * 1.5)
		}
		if i%5 == 2 {
			ns.AppendNull()
		} else {
			ns.Append(int32(i) - 7)
		}
		if i%7 == 3 {
			ss.AppendNull()
		} else {
			ss.Append(strings.Repeat("é", i%4) + "row")
		}
	}
	return b.NewRecordBatch()
}

// batches builds count batches of rows rows each, continuing one another.
func batches(mem memory.Allocator, count, rows int) []arrow.RecordBatch {
	out := make([]arrow.RecordBatch, count)
	for i := range out {
		out[i] = makeRecord(mem, i*rows, rows)
	}
	return out
}

func release[T interface{ Release() }](xs ...T) {
	for _, x := range xs {
		x.Release()
	}
}

// encodedBatches is batches of count batches of rows rows each, released
// when t ends, and their Arrow IPC stream as Codec writes it.
func encodedBatches(t *testing.T, count, rows int) ([]arrow.RecordBatch, []byte) {
	t.Helper()
	recs := batches(memory.DefaultAllocator, count, rows)
	t.Cleanup(func() { release(recs...) })
	return recs, encode(t, recs)
}

// encode is v as Codec writes it.
func encode(t testing.TB, v any) []byte {
	t.Helper()
	data, err := arrowcodec.Codec.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// roundTrip is rec encoded and decoded again by Codec, released when t
// ends.
func roundTrip(t *testing.T, rec arrow.RecordBatch) arrow.RecordBatch {
	t.Helper()
	var got arrow.RecordBatch
	if err := arrowcodec.Codec.Unmarshal(encode(t, rec), &got); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(got.Release)
	return got
}

// checked returns a codec over a checked allocator that fails t if any of
// the memory it allocated is still in use when t ends.
func checked(t *testing.T, opts arrowcodec.Options) (*arrowcodec.ArrowCodec, memory.Allocator) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	opts.Allocator = mem
	return arrowcodec.New(opts), mem
}

// concat is the single record holding every row of recs.
func concat(t *testing.T, mem memory.Allocator, recs []arrow.RecordBatch) arrow.RecordBatch {
	t.Helper()
	cols := make([]arrow.Array, len(testSchema.Fields()))
	rows := int64(0)
	for _, r := range recs {
		rows += r.NumRows()
	}
	for i, f := range testSchema.Fields() {
		if len(recs) == 0 {
			cols[i] = array.MakeArrayOfNull(mem, f.Type, 0)
		} else {
			parts := make([]arrow.Array, len(recs))
			for j, r := range recs {
				parts[j] = r.Column(i)
			}
			col, err := array.Concatenate(parts, mem)
			if err != nil {
				t.Fatal(err)
			}
			cols[i] = col
		}
		defer cols[i].Release()
	}
	return array.NewRecordBatch(testSchema, cols, rows)
}

func TestName(t *testing.T) {
	if got := arrowcodec.Codec.Name(); got != "arrow" {
		t.Fatalf("Name() = %q, want arrow", got)
	}
}

// TestRoundTrip encodes each kind of input and decodes it into each kind of
// target.
func TestRoundTrip(t *testing.T) {
	type input struct {
		name    string
		batches int // batches built, encoded and decoded
		rows    int // rows of each batch
		value   func(recs []arrow.RecordBatch) (v any, done func())
	}
	inputs := []input{
		{"record", 1, 100, func(recs []arrow.RecordBatch) (any, func()) { return recs[0], func() {} }},
		{"batches", 3, 100, func(recs []arrow.RecordBatch) (any, func()) { return recs, func() {} }},
		{"table", 4, 100, func(recs []arrow.RecordBatch) (any, func()) {
			tbl := array.NewTableFromRecords(testSchema, recs)
			return tbl, tbl.Release
		}},
		{"record without rows", 1, 0, func(recs []arrow.RecordBatch) (any, func()) { return recs[0], func() {} }},
		{"batches without rows", 2, 0, func(recs []arrow.RecordBatch) (any, func()) { return recs, func() {} }},
		{"empty table", 0, 0, func(recs []arrow.RecordBatch) (any, func()) {
			tbl := array.NewTableFromRecords(testSchema, nil)
			return tbl, tbl.Release
		}},
		{"record reader", 2, 100, func(recs []arrow.RecordBatch) (any, func()) {
			rr, err := array.NewRecordReader(testSchema, recs)
			if err != nil {
				panic(err)
			}
			return rr, rr.Release
		}},
	}
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			c, mem := checked(t, arrowcodec.Options{})
			recs := batches(mem, in.batches, in.rows)
			defer release(recs...)
			v, done := in.value(recs)
			data, err := c.Marshal(v)
			done()
			if err != nil {
				t.Fatal(err)
			}
			want := concat(t, mem, recs)
			defer want.Release()

			t.Run("into record", func(t *testing.T) {
				var got arrow.RecordBatch
				if err := c.Unmarshal(data, &got); err != nil {
					t.Fatal(err)
				}
				defer got.Release()
				if !array.RecordEqual(got, want) {
					t.Fatalf("got\n%v\nwant\n%v", got, want)
				}
				if !got.Schema().Equal(testSchema) {
					t.Fatalf("schema %v, want %v", got.Schema(), testSchema)
				}
			})
			t.Run("into batches", func(t *testing.T) {
				var got []arrow.RecordBatch
				if err := c.Unmarshal(data, &got); err != nil {
					t.Fatal(err)
				}
				defer release(got...)
				if got == nil {
					t.Fatal("nil slice, want an empty one")
				}
				if len(got) != in.batches {
					t.Fatalf("%d batches, want %d", len(got), in.batches)
				}
				for i := range got {
					if !array.RecordEqual(got[i], recs[i]) {
						t.Fatalf("batch %d: got\n%v\nwant\n%v", i, got[i], recs[i])
					}
				}
			})
			t.Run("into table", func(t *testing.T) {
				var got arrow.Table
				if err := c.Unmarshal(data, &got); err != nil {
					t.Fatal(err)
				}
				defer got.Release()
				wantTbl := array.NewTableFromRecords(testSchema, recs)
				defer wantTbl.Release()
				if !array.TableEqual(got, wantTbl) {
					t.Fatalf("tables differ: got %d rows, want %d", got.NumRows(), wantTbl.NumRows())
				}
				if !got.Schema().Equal(testSchema) {
					t.Fatalf("schema %v, want %v", got.Schema(), testSchema)
				}
			})
		})
	}
}

// TestValues checks the decoded values themselves, nulls included, not
// only that Arrow finds the records equal.
func TestValues(t *testing.T) {
	rec := makeRecord(memory.DefaultAllocator, 0, 8)
	defer rec.Release()
	got := roundTrip(t, rec)
	xs := got.Column(0).(*array.Float64)
	ns := got.Column(1).(*array.Int32)
	ss := got.Column(2).(*array.String)
	wantX := []any{0.0, nil, 3.0, 4.5, nil, 7.5, 9.0, nil}
	wantN := []any{int32(-7), int32(-6), nil, int32(-4), int32(-3), int32(-2), int32(-1), nil}
	wantS := []any{"row", "érow", "éérow", nil, "row", "érow", "éérow", "ééérow"}
	for i := 0; i < 8; i++ {
		if g := xs.GetOneForMarshal(i); g != wantX[i] {
			t.Errorf("x[%d] = %v, want %v", i, g, wantX[i])
		}
		if g := ns.GetOneForMarshal(i); g != wantN[i] {
			t.Errorf("n[%d] = %v, want %v", i, g, wantN[i])
		}
		if g := ss.GetOneForMarshal(i); g != wantS[i] {
			t.Errorf("s[%d] = %v, want %v", i, g, wantS[i])
		}
	}
	if xs.NullN() != 3 || ns.NullN() != 2 || ss.NullN() != 1 {
		t.Errorf("null counts %d %d %d, want 3 2 1", xs.NullN(), ns.NullN(), ss.NullN())
	}
}

// TestStreamFormat checks the bytes Marshal writes: Arrow's own stream
// reader accepts them, and the stream ends with the end-of-stream marker
// that apache-arrow's JS writer also writes.
func TestStreamFormat(t *testing.T) {
	recs, data := encodedBatches(t, 2, 10)
	if !bytes.HasSuffix(data, []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}) {
		t.Fatalf("stream does not end with the end-of-stream marker: % x", data[len(data)-8:])
	}
	rd, err := ipc.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Release()
	n := 0
	for rd.Next() {
		if !array.RecordEqual(rd.RecordBatch(), recs[n]) {
			t.Fatalf("batch %d differs", n)
		}
		n++
	}
	if rd.Err() != nil || n != 2 {
		t.Fatalf("read %d batches, error %v", n, rd.Err())
	}
}

// The files in testdata were written by @procwire/codecs 2.0.0's
// arrowCodec.serialize (apache-arrow 21.1.0) from
//
//	table = (x, n, s, d) => new Table({
//	  x: vectorFromArray(x, new Float64()), n: vectorFromArray(n, new Int32()),
//	  s: vectorFromArray(s, new Utf8()), d: vectorFromArray(d), // Dictionary<Int32, Utf8>
//	})
//	a = table([1.5, null, -2.25, 4], [1, 2, null, -4], ["a", null, "héllo", ""], ["red", "green", null, "red"])
//	b = table([10, 20], [null, 7], ["z", "y"], ["blue", "red"])
//
// node-table.arrows is a, node-batches.arrows a.concat(b) (two batches,
// each with its own dictionary) and node-empty.arrows a.slice(0, 0).
func TestNodeStreams(t *testing.T) {
	tests := []struct {
		file    string
		batches int
		want    [][4]any // x, n, s, d of each row
	}{
		{"node-table.arrows", 1, [][4]any{
			{1.5, int32(1), "a", "red"},
			{nil, int32(2), nil, "green"},
			{-2.25, nil, "héllo", nil},
			{4.0, int32(-4), "", "red"},
		}},
		{"node-batches.arrows", 2, [][4]any{
			{1.5, int32(1), "a", "red"},
			{nil, int32(2), nil, "green"},
			{-2.25, nil, "héllo", nil},
			{4.0, int32(-4), "", "red"},
			{10.0, nil, "z", "blue"},
			{20.0, int32(7), "y", "red"},
		}},
		{"node-empty.arrows", -1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			c, _ := checked(t, arrowcodec.Options{})
			var recs []arrow.RecordBatch
			if err := c.Unmarshal(data, &recs); err != nil {
				t.Fatal(err)
			}
			if tt.batches >= 0 && len(recs) != tt.batches {
				t.Errorf("%d batches, want %d", len(recs), tt.batches)
			}
			release(recs...)

			var rec arrow.RecordBatch
			if err := c.Unmarshal(data, &rec); err != nil {
				t.Fatal(err)
			}
			defer rec.Release()
			if got := rec.Schema().String(); !strings.Contains(got, "x: type=float64, nullable") ||
				!strings.Contains(got, "d: type=dictionary<values=utf8, indices=int32") {
				t.Errorf("schema:\n%s", got)
			}
			if int(rec.NumRows()) != len(tt.want) {
				t.Fatalf("%d rows, want %d", rec.NumRows(), len(tt.want))
			}
			d, _ := rec.Column(3).(*array.Dictionary)
			for i, row := range tt.want {
				for j := 0; j < 3; j++ {
					if got := rec.Column(j).GetOneForMarshal(i); got != row[j] {
						t.Errorf("row %d column %s = %v, want %v", i, rec.ColumnName(j), got, row[j])
					}
				}
				var got any
				if d.IsValid(i) {
					got = d.Dictionary().(*array.String).Value(d.GetValueIndex(i))
				}
				if got != row[3] {
					t.Errorf("row %d column d = %v, want %v", i, got, row[3])
				}
			}
		})
	}
}

// TestDecodeCopies checks that decoded records do not reference the
// payload, which the worker and the parent may reuse, and that ZeroCopy
// and UnmarshalOwned (codec.UnmarshalOwned: a payload given up) do.
func TestDecodeCopies(t *testing.T) {
	rec := makeRecord(memory.DefaultAllocator, 0, 64)
	defer rec.Release()
	for _, tt := range []struct {
		name            string
		opts            arrowcodec.Options
		owned, zeroCopy bool
	}{
		{"Unmarshal", arrowcodec.Options{}, false, false},
		{"Unmarshal with ZeroCopy", arrowcodec.Options{ZeroCopy: true}, false, true},
		{"UnmarshalOwned", arrowcodec.Options{}, true, true},
	} {
		zeroCopy := tt.zeroCopy
		c := arrowcodec.New(tt.opts)
		data, err := c.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		var got arrow.RecordBatch
		decode := c.Unmarshal
		if tt.owned {
			decode = func(data []byte, v any) error { return codec.UnmarshalOwned(c, data, v) }
		}
		if err := decode(data, &got); err != nil {
			t.Fatal(err)
		}
		want := got.Column(0).(*array.Float64).Value(63)
		if !array.RecordEqual(got, rec) {
			t.Fatal("decoded record differs")
		}
		// Overwrite the payload, as a reused buffer would be.
		for i := range data {
			data[i] = 0xAB
		}
		changed := got.Column(0).(*array.Float64).Value(63) != want
		if changed != zeroCopy {
			t.Errorf("%s: the decoded record changed with the payload: %v", tt.name, changed)
		}
		got.Release()
	}
}

// TestMisalignedZeroCopy decodes with ZeroCopy from a payload that is not
// 8-byte aligned, which must be copied instead.
func TestMisalignedZeroCopy(t *testing.T) {
	rec := makeRecord(memory.DefaultAllocator, 0, 50)
	defer rec.Release()
	data := encode(t, rec)
	buf := make([]byte, len(data)+1)
	odd := buf[1:]
	copy(odd, data)
	var got arrow.RecordBatch
	if err := arrowcodec.New(arrowcodec.Options{ZeroCopy: true}).Unmarshal(odd, &got); err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	if !array.RecordEqual(got, rec) {
		t.Fatal("decoded record differs")
	}
}

func TestMarshalErrors(t *testing.T) {
	mem := memory.DefaultAllocator
	rec := makeRecord(mem, 0, 3)
	defer rec.Release()
	other := arrow.NewSchema([]arrow.Field{{Name: "y", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(mem, other)
	b.Field(0).(*array.Int64Builder).Append(1)
	otherRec := b.NewRecordBatch()
	b.Release()
	defer otherRec.Release()

	tests := []struct {
		name string
		v    any
		want string
	}{
		{"nil", nil, "cannot encode <nil>"},
		{"int", 42, "cannot encode int"},
		{"map", map[string][]float64{"x": {1}}, "cannot encode map[string][]float64"},
		{"pointer to record", &rec, "cannot encode *arrow.RecordBatch"},
		{"nil record", arrow.RecordBatch(nil), "cannot encode <nil>"},
		{"empty slice", []arrow.RecordBatch{}, "empty []arrow.RecordBatch"},
		{"nil in slice", []arrow.RecordBatch{rec, nil}, "nil arrow.RecordBatch (batch 1)"},
		{"mixed schemas", []arrow.RecordBatch{rec, otherRec}, "batch 1's schema differs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := arrowcodec.Codec.Marshal(tt.v)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "arrowcodec: ") {
				t.Fatalf("Marshal = %d bytes, %v; want an error containing %q", len(data), err, tt.want)
			}
		})
	}
}

func TestUnmarshalTargetErrors(t *testing.T) {
	rec := makeRecord(memory.DefaultAllocator, 0, 3)
	defer rec.Release()
	data := encode(t, rec)
	var (
		nilRec   *arrow.RecordBatch
		nilRecs  *[]arrow.RecordBatch
		nilTable *arrow.Table
		n        int
		anyV     any
		schema   *arrow.Schema
	)
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"nil", nil, "cannot decode into <nil>"},
		{"record value", rec, "cannot decode into *array.simpleRecord"},
		{"nil *RecordBatch", nilRec, "nil *arrow.RecordBatch"},
		{"nil *[]RecordBatch", nilRecs, "nil *[]arrow.RecordBatch"},
		{"nil *Table", nilTable, "nil *arrow.Table"},
		{"*int", &n, "cannot decode into *int"},
		{"*any", &anyV, "cannot decode into *interface {}"},
		{"**Schema", &schema, "cannot decode into **arrow.Schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := arrowcodec.Codec.Unmarshal(data, tt.v)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "arrowcodec: ") {
				t.Fatalf("Unmarshal = %v; want an error containing %q", err, tt.want)
			}
			if errors.Is(err, arrowcodec.ErrMalformed) {
				t.Fatalf("a wrong target is not a malformed stream: %v", err)
			}
		})
	}
}

// TestMalformed feeds broken streams to every target: each must fail with
// an error wrapping ErrMalformed, without panicking or leaking memory.
func TestMalformed(t *testing.T) {
	_, valid := encodedBatches(t, 2, 20)
	// The schema message has no body: its continuation marker, length
	// and metadata.
	schemaLen := 8 + int(binary.LittleEndian.Uint32(valid[4:]))
	schemaMsg := valid[:schemaLen]
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"three bytes", []byte{0xff, 0xff, 0xff}},
		{"continuation only", []byte{0xff, 0xff, 0xff, 0xff}},
		{"garbage", []byte("this is not an arrow stream at all, just text....")},
		{"msgpack", []byte{0x81, 0xa1, 0x78, 0x01}},
		{"huge metadata length", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4}},
		{"negative metadata length", []byte{0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x80, 1, 2, 3, 4}},
		{"metadata too short", []byte{0xff, 0xff, 0xff, 0xff, 4, 0, 0, 0, 1, 2, 3, 4}},
		{"truncated in the schema", valid[:20]},
		{"truncated in a body", valid[:len(valid)-40]},
		{"trailing bytes", append(bytes.Clone(valid), 1, 2, 3)},
		{"two schemas", append(bytes.Clone(schemaMsg), schemaMsg...)},
		{"batch without schema", valid[schemaLen:]},
		{"end-of-stream without schema", []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}},
	}
	targets := []struct {
		name string
		new  func() (any, func())
	}{
		{"record", func() (any, func()) {
			var r arrow.RecordBatch
			return &r, func() {
				if r != nil {
					r.Release()
				}
			}
		}},
		{"batches", func() (any, func()) {
			var r []arrow.RecordBatch
			return &r, func() { release(r...) }
		}},
		{"table", func() (any, func()) {
			var r arrow.Table
			return &r, func() {
				if r != nil {
					r.Release()
				}
			}
		}},
	}
	for _, tt := range tests {
		for _, target := range targets {
			t.Run(tt.name+"/"+target.name, func(t *testing.T) {
				c, _ := checked(t, arrowcodec.Options{})
				v, done := target.new()
				err := c.Unmarshal(tt.data, v)
				done()
				if !errors.Is(err, arrowcodec.ErrMalformed) {
					t.Fatalf("Unmarshal = %v, want ErrMalformed", err)
				}
				if !strings.HasPrefix(err.Error(), "arrowcodec: ") {
					t.Fatalf("error %q lacks the package prefix", err)
				}
			})
		}
	}
}

// TestTruncated decodes every prefix of a stream. A prefix that ends
// between messages is a valid stream of fewer batches (the end-of-stream
// marker is optional); any other fails with ErrMalformed.
func TestTruncated(t *testing.T) {
	recs, valid := encodedBatches(t, 3, 5)
	c, _ := checked(t, arrowcodec.Options{})
	for n := 0; n < len(valid); n++ {
		var got []arrow.RecordBatch
		err := c.Unmarshal(valid[:n], &got)
		if err != nil {
			if !errors.Is(err, arrowcodec.ErrMalformed) {
				t.Fatalf("prefix of %d bytes: %v, want ErrMalformed", n, err)
			}
			continue
		}
		if len(got) >= 3 && n < len(valid)-8 {
			t.Fatalf("prefix of %d bytes decoded as %d batches", n, len(got))
		}
		for i, rec := range got {
			if !array.RecordEqual(rec, recs[i]) {
				t.Fatalf("prefix of %d bytes: batch %d differs", n, i)
			}
		}
		release(got...)
	}
}

// TestMaxDecodedSize checks the cap on decoding memory.
func TestMaxDecodedSize(t *testing.T) {
	_, data := encodedBatches(t, 2, 1000)
	tests := []struct {
		name  string
		limit int64
		ok    bool
	}{
		{"generous", 1 << 20, true},
		// The copies fit, the concatenation does not.
		{"copies only", int64(len(data)), false},
		{"tiny", 100, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := checked(t, arrowcodec.Options{MaxDecodedSize: tt.limit})
			var rec arrow.RecordBatch
			err := c.Unmarshal(data, &rec)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				rec.Release()
				return
			}
			if !errors.Is(err, arrowcodec.ErrTooLarge) || !strings.HasPrefix(err.Error(), "arrowcodec: decoded data exceeds the size limit: more than") {
				t.Fatalf("Unmarshal = %v, want ErrTooLarge", err)
			}
			if errors.Is(err, arrowcodec.ErrMalformed) {
				t.Fatalf("ErrTooLarge must not be reported as malformed: %v", err)
			}
		})
	}
}

// TestConcurrent uses one codec from many goroutines (run with -race).
func TestConcurrent(t *testing.T) {
	c := arrowcodec.Codec
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				rec := makeRecord(memory.DefaultAllocator, g*100+i, 50)
				data, err := c.Marshal(rec)
				if err != nil {
					t.Error(err)
					return
				}
				var got arrow.RecordBatch
				if err := c.Unmarshal(data, &got); err != nil {
					t.Error(err)
					return
				}
				if !array.RecordEqual(got, rec) {
					t.Error("round trip differs")
				}
				got.Release()
				rec.Release()
			}
		}()
	}
	wg.Wait()
}

// TestNaN checks that float bit patterns survive (NaN, infinities, -0).
func TestNaN(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "f", Type: arrow.PrimitiveTypes.Float64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	vals := []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), math.MaxFloat64, math.SmallestNonzeroFloat64}
	b.Field(0).(*array.Float64Builder).AppendValues(vals, nil)
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()
	got := roundTrip(t, rec)
	for i, v := range got.Column(0).(*array.Float64).Float64Values() {
		if math.Float64bits(v) != math.Float64bits(vals[i]) {
			t.Errorf("value %d = %v, want %v", i, v, vals[i])
		}
	}
}
