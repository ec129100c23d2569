package arrowcodec_test

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/procwire/procwire-go/codec/arrowcodec"
)

// dictBatch builds a one-column batch of dictionary-encoded strings; "" is
// a null.
func dictBatch(t *testing.T, mem memory.Allocator, dt *arrow.DictionaryType, values ...string) arrow.RecordBatch {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{{Name: "d", Type: dt, Nullable: true}}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	db := b.Field(0).(*array.BinaryDictionaryBuilder)
	for _, v := range values {
		if v == "" {
			db.AppendNull()
		} else if err := db.AppendString(v); err != nil {
			t.Fatal(err)
		}
	}
	return b.NewRecordBatch()
}

// TestDictionaryConcatenation decodes batches with different dictionaries
// and nulls into one record, for each index type.
func TestDictionaryConcatenation(t *testing.T) {
	indexTypes := []arrow.DataType{
		arrow.PrimitiveTypes.Int8, arrow.PrimitiveTypes.Uint8,
		arrow.PrimitiveTypes.Int16, arrow.PrimitiveTypes.Uint16,
		arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Uint32,
		arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Uint64,
	}
	parts := [][]string{
		{"red", "green", "", "red", "blue"},
		{"", "", "yellow"},
		{"green", "purple", "", "red"},
	}
	var want []string
	for _, p := range parts {
		want = append(want, p...)
	}
	for _, it := range indexTypes {
		t.Run(it.String(), func(t *testing.T) {
			c, mem := checked(t, arrowcodec.Options{})
			dt := &arrow.DictionaryType{IndexType: it, ValueType: arrow.BinaryTypes.String}
			recs := make([]arrow.RecordBatch, len(parts))
			for i, p := range parts {
				recs[i] = dictBatch(t, mem, dt, p...)
			}
			data, err := c.Marshal(recs)
			release(recs...)
			if err != nil {
				t.Fatal(err)
			}
			var rec arrow.RecordBatch
			if err := c.Unmarshal(data, &rec); err != nil {
				t.Fatal(err)
			}
			defer rec.Release()
			d := rec.Column(0).(*array.Dictionary)
			if !arrow.TypeEqual(d.DataType(), dt) {
				t.Fatalf("type %v, want %v", d.DataType(), dt)
			}
			var got []string
			for i := 0; i < d.Len(); i++ {
				v := ""
				if d.IsValid(i) {
					v = d.Dictionary().(*array.String).Value(d.GetValueIndex(i))
				}
				got = append(got, v)
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("got  %q\nwant %q", got, want)
			}
			if d.NullN() != 4 {
				t.Fatalf("%d nulls, want 4", d.NullN())
			}
		})
	}
}

// TestNestedDictionaryConcatenation: batches with a dictionary inside a
// struct cannot be concatenated safely with arrow-go v18.5.0, so decoding
// them into one record fails clearly, and the other targets work.
func TestNestedDictionaryConcatenation(t *testing.T) {
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	st := arrow.StructOf(arrow.Field{Name: "d", Type: dt, Nullable: true})
	schema := arrow.NewSchema([]arrow.Field{{Name: "s", Type: st, Nullable: true}}, nil)
	c, mem := checked(t, arrowcodec.Options{})
	batch := func(vals ...string) arrow.RecordBatch {
		b := array.NewRecordBuilder(mem, schema)
		defer b.Release()
		sb := b.Field(0).(*array.StructBuilder)
		db := sb.FieldBuilder(0).(*array.BinaryDictionaryBuilder)
		for _, v := range vals {
			sb.Append(true)
			if err := db.AppendString(v); err != nil {
				t.Fatal(err)
			}
		}
		return b.NewRecordBatch()
	}
	recs := []arrow.RecordBatch{batch("a", "b"), batch("c")}
	data, err := c.Marshal(recs)
	release(recs...)
	if err != nil {
		t.Fatal(err)
	}
	var rec arrow.RecordBatch
	err = c.Unmarshal(data, &rec)
	if err == nil || !strings.Contains(err.Error(), "nested dictionary") {
		t.Fatalf("Unmarshal into a record = %v, want the nested dictionary error", err)
	}
	var tbl arrow.Table
	if err := c.Unmarshal(data, &tbl); err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	if tbl.NumRows() != 3 {
		t.Fatalf("%d rows, want 3", tbl.NumRows())
	}
}
