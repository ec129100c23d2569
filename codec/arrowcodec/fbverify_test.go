package arrowcodec

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// message locates the n-th message of an IPC stream: the offset of its
// metadata and the metadata's length.
func message(t *testing.T, data []byte, n int) (start, length int) {
	t.Helper()
	off := 0
	for i := 0; ; i++ {
		if binary.LittleEndian.Uint32(data[off:]) != continuation {
			t.Fatalf("no continuation marker at %d", off)
		}
		l := int(binary.LittleEndian.Uint32(data[off+4:]))
		if i == n {
			return off + 8, l
		}
		v := &fbVerifier{b: data[off+8 : off+8+l], budget: 1 << 20}
		msg, _ := v.ref(0)
		body, err := v.int64Field(msg, 3)
		if err != nil {
			t.Fatal(err)
		}
		off += 8 + l + int(body)
	}
}

// stream is a two-column stream of one batch of ten rows.
func stream(t *testing.T) []byte {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := 0; i < 10; i++ {
		if i == 3 {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.Int64Builder).Append(int64(i))
		}
		b.Field(1).(*array.StringBuilder).Append("value")
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	data, err := Codec.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// header returns a verifier over the metadata of the n-th message of an IPC
// stream, the offset of that metadata in data, and the position of the
// message's header table (a Schema or a RecordBatch).
func header(t *testing.T, data []byte, n int) (v *fbVerifier, start, table int) {
	t.Helper()
	start, length := message(t, data, n)
	v = &fbVerifier{b: data[start : start+length], budget: 1 << 20}
	msg, _ := v.ref(0)
	table, err := v.tableField(msg, 2)
	if err != nil {
		t.Fatal(err)
	}
	return v, start, table
}

// wantRefused checks that decoding data fails with ErrMalformed for reason;
// what names what must be refused.
func wantRefused(t *testing.T, data []byte, reason, what string) {
	t.Helper()
	err := decodeErr(data)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), reason) {
		t.Fatalf("Unmarshal = %v, want %s refused", err, what)
	}
}

func decodeErr(data []byte) error {
	var rec arrow.RecordBatch
	err := Codec.Unmarshal(data, &rec)
	if err == nil {
		rec.Release()
	}
	return err
}

// TestMisalignedBuffer moves a buffer of a batch off the 8-byte boundary
// the format requires, which Arrow would read through misaligned typed
// pointers.
func TestMisalignedBuffer(t *testing.T) {
	data := stream(t)
	v, start, batch := header(t, data, 1)
	bufs, n, err := v.vector(batch, 2, 16)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		p := start + bufs + 16*i
		if off, size := binary.LittleEndian.Uint64(data[p:]), binary.LittleEndian.Uint64(data[p+8:]); off > 0 && size > 1 {
			binary.LittleEndian.PutUint64(data[p:], off+4)
			binary.LittleEndian.PutUint64(data[p+8:], size-4)
			break
		}
	}
	wantRefused(t, data, "not a multiple of 8", "the misaligned buffer")
}

// TestHugeVector declares two billion fields in a schema of one.
func TestHugeVector(t *testing.T) {
	data := stream(t)
	v, start, schema := header(t, data, 0)
	fields, n, err := v.vector(schema, 1, 4)
	if err != nil || n != 2 {
		t.Fatalf("fields vector: %d, %v", n, err)
	}
	binary.LittleEndian.PutUint32(data[start+fields-4:], 1<<31-1)
	wantRefused(t, data, "exceeds", "the vector")
}

// TestSharedTables builds a schema whose 40 levels of fields each list the
// level below twice: a few hundred bytes that Arrow would expand into 2^40
// fields.
func TestSharedTables(t *testing.T) {
	b := flatbuffers.NewBuilder(1024)
	name := b.CreateString("f")
	b.StartObject(0)
	null := b.EndObject()
	field := func(children []flatbuffers.UOffsetT) flatbuffers.UOffsetT {
		var vec flatbuffers.UOffsetT
		if children != nil {
			b.StartVector(4, len(children), 4)
			for i := len(children) - 1; i >= 0; i-- {
				b.PrependUOffsetT(children[i])
			}
			vec = b.EndVector(len(children))
		}
		b.StartObject(7)
		b.PrependUOffsetTSlot(0, name, 0)
		b.PrependByteSlot(2, 1, 0) // type Null
		b.PrependUOffsetTSlot(3, null, 0)
		if children != nil {
			b.PrependUOffsetTSlot(5, vec, 0)
		}
		return b.EndObject()
	}
	f := field(nil)
	for i := 0; i < 40; i++ {
		f = field([]flatbuffers.UOffsetT{f, f})
	}
	b.StartVector(4, 1, 4)
	b.PrependUOffsetT(f)
	fields := b.EndVector(1)
	b.StartObject(4)
	b.PrependUOffsetTSlot(1, fields, 0)
	schema := b.EndObject()
	b.StartObject(5)
	b.PrependInt16Slot(0, 4, 0) // metadata version 5
	b.PrependByteSlot(1, fbHeaderSchema, 0)
	b.PrependUOffsetTSlot(2, schema, 0)
	b.Finish(b.EndObject())
	meta := b.FinishedBytes()
	for len(meta)%8 != 0 {
		meta = append(meta, 0)
	}
	data := binary.LittleEndian.AppendUint32(nil, continuation)
	data = binary.LittleEndian.AppendUint32(data, uint32(len(meta)))
	data = append(data, meta...)
	data = append(data, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0)

	wantRefused(t, data, "more tables than it holds", "the shared tables")
}
