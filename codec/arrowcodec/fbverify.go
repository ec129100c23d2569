package arrowcodec

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Arrow reads a message's metadata, a flatbuffer, without checking it:
// a vector that declares two billion fields makes it allocate two billion
// fields before it finds out, which no recover can undo. verifyMessage
// walks the parts of the metadata Arrow walks and checks that every table,
// vector and string lies inside the metadata, that tables are not
// referenced so often that reading them would amount to more tables than
// the metadata could hold, that fields do not nest deeper than Arrow
// supports, and that the buffers of record batches lie inside the body at
// offsets that are multiples of 8. It does not check other scalar fields:
// reading those out of bounds panics, which decode recovers.
//
// The layout is Arrow's Message.fbs and Schema.fbs: a Message table (field
// 1 the header type, 2 the header, 3 the body's length, 4 custom metadata)
// whose header is a Schema (1 fields, 2 custom metadata, 3 features), a
// RecordBatch (1 nodes, 2 buffers, 3 compression, 4 variadic buffer
// counts) or a DictionaryBatch (1 its RecordBatch); a Field is 0 name, 2
// type type, 3 type, 4 dictionary encoding (1 its index type), 5 children,
// 6 custom metadata; a KeyValue 0 key, 1 value.

// Message header and type union tags of Arrow's flatbuffers.
const (
	fbHeaderSchema          = 1
	fbHeaderDictionaryBatch = 2
	fbHeaderRecordBatch     = 3
	fbTypeTimestamp         = 10 // field 1: the time zone, a string
	fbTypeUnion             = 14 // field 1: the type ids, [int]
)

// maxFieldDepth is how deeply fields may nest (Arrow's own limit for
// reading arrays).
const maxFieldDepth = 64

var errFlatbuffer = errors.New("metadata flatbuffer out of bounds")

type fbVerifier struct {
	b      []byte
	budget int // tables that may still be visited
}

func verifyMessage(meta []byte) error {
	v := &fbVerifier{b: meta, budget: len(meta)/4 + 1}
	msg, err := v.ref(0)
	if err != nil {
		return err
	}
	if err := v.table(msg); err != nil {
		return err
	}
	if err := v.keyValues(msg, 4); err != nil {
		return err
	}
	kind, hdr, err := v.union(msg, 1)
	if err != nil || hdr == 0 {
		return err
	}
	bodyLen, err := v.int64Field(msg, 3)
	if err != nil {
		return err
	}
	switch kind {
	case fbHeaderSchema:
		return v.schema(hdr)
	case fbHeaderDictionaryBatch:
		batch, err := v.tableField(hdr, 1)
		if err != nil || batch == 0 {
			return err
		}
		return v.recordBatch(batch, bodyLen)
	case fbHeaderRecordBatch:
		return v.recordBatch(hdr, bodyLen)
	}
	// Other messages (tensors) are refused by Arrow's reader by their type
	// alone.
	return nil
}

func (v *fbVerifier) schema(t int) error {
	if err := v.eachTable(t, 1, func(f int) error { return v.field(f, 0) }); err != nil {
		return err
	}
	if err := v.keyValues(t, 2); err != nil {
		return err
	}
	_, _, err := v.vector(t, 3, 8)
	return err
}

func (v *fbVerifier) field(t, depth int) error {
	if depth > maxFieldDepth {
		return fmt.Errorf("fields nested deeper than %d levels", maxFieldDepth)
	}
	if err := v.table(t); err != nil {
		return err
	}
	if _, _, err := v.vector(t, 0, 1); err != nil {
		return err
	}
	if err := v.fieldType(t); err != nil {
		return err
	}
	if err := v.dictionaryEncoding(t); err != nil {
		return err
	}
	if err := v.eachTable(t, 5, func(child int) error { return v.field(child, depth+1) }); err != nil {
		return err
	}
	return v.keyValues(t, 6)
}

// fieldType checks the type of the Field at t: field 2 says which type
// table field 3 holds; a Timestamp's time zone and a Union's type ids are
// the only vectors in them.
func (v *fbVerifier) fieldType(t int) error {
	kind, typ, err := v.union(t, 2)
	if err != nil || typ == 0 {
		return err
	}
	switch kind {
	case fbTypeTimestamp:
		_, _, err = v.vector(typ, 1, 1)
	case fbTypeUnion:
		_, _, err = v.vector(typ, 1, 4)
	}
	return err
}

// union returns the type tag (field i) and the table (field i+1, checked
// and counted; 0 if absent) of the flatbuffers union in the table at t.
func (v *fbVerifier) union(t, i int) (kind byte, table int, err error) {
	if kind, err = v.byteField(t, i); err != nil {
		return 0, 0, err
	}
	table, err = v.tableField(t, i+1)
	return kind, table, err
}

// dictionaryEncoding checks the DictionaryEncoding of the Field at t, if
// any, and its index type.
func (v *fbVerifier) dictionaryEncoding(t int) error {
	dict, err := v.tableField(t, 4)
	if err != nil || dict == 0 {
		return err
	}
	_, err = v.tableField(dict, 1)
	return err
}

// recordBatch checks a RecordBatch, whose buffers must lie in the message
// body, at offsets that are multiples of 8 as the format requires (Arrow
// reads values through typed pointers into them, which should be aligned).
func (v *fbVerifier) recordBatch(t int, bodyLen int64) error {
	if _, _, err := v.vector(t, 1, 16); err != nil {
		return err
	}
	start, n, err := v.vector(t, 2, 16)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		b := v.b[start+16*i:]
		off := int64(binary.LittleEndian.Uint64(b))
		size := int64(binary.LittleEndian.Uint64(b[8:]))
		if off < 0 || size < 0 || off > bodyLen || size > bodyLen-off {
			return fmt.Errorf("buffer %d (%d bytes at %d) lies outside the %d-byte body", i, size, off, bodyLen)
		}
		if off%8 != 0 {
			return fmt.Errorf("buffer %d starts at %d, not a multiple of 8", i, off)
		}
	}
	if _, err := v.tableField(t, 3); err != nil {
		return err
	}
	_, _, err = v.vector(t, 4, 8)
	return err
}

// keyValues checks the vector of KeyValue tables in field i of table t.
func (v *fbVerifier) keyValues(t, i int) error {
	return v.eachTable(t, i, func(kv int) error {
		if err := v.table(kv); err != nil {
			return err
		}
		if _, _, err := v.vector(kv, 0, 1); err != nil {
			return err
		}
		_, _, err := v.vector(kv, 1, 1)
		return err
	})
}

// eachTable calls check with each table referenced by the vector of tables
// in field i of table t.
func (v *fbVerifier) eachTable(t, i int, check func(table int) error) error {
	start, n, err := v.vector(t, i, 4)
	if err != nil {
		return err
	}
	for j := 0; j < n; j++ {
		ref, err := v.ref(start + 4*j)
		if err != nil {
			return err
		}
		if err := check(ref); err != nil {
			return err
		}
	}
	return nil
}

// table checks the table at t and its vtable, and counts it.
func (v *fbVerifier) table(t int) error {
	v.budget--
	if v.budget < 0 {
		return errors.New("metadata flatbuffer references more tables than it holds")
	}
	so, err := v.u32(t)
	if err != nil {
		return err
	}
	vt := int64(t) - int64(int32(so))
	if vt < 0 || vt > int64(len(v.b)-4) {
		return errFlatbuffer
	}
	size := int(binary.LittleEndian.Uint16(v.b[vt:]))
	if size < 4 || size%2 != 0 || int(vt)+size > len(v.b) {
		return errFlatbuffer
	}
	return nil
}

// fieldPos returns the position of field i of the table at t, or 0 if the
// field is absent.
func (v *fbVerifier) fieldPos(t, i int) (int, error) {
	so, err := v.u32(t)
	if err != nil {
		return 0, err
	}
	vt := int(int64(t) - int64(int32(so)))
	if vt < 0 || vt > len(v.b)-4 {
		return 0, errFlatbuffer
	}
	size := int(binary.LittleEndian.Uint16(v.b[vt:]))
	slot := 4 + 2*i
	if slot+2 > size {
		return 0, nil
	}
	if vt+slot+2 > len(v.b) {
		return 0, errFlatbuffer
	}
	off := int(binary.LittleEndian.Uint16(v.b[vt+slot:]))
	if off == 0 {
		return 0, nil
	}
	if t+off >= len(v.b) {
		return 0, errFlatbuffer
	}
	return t + off, nil
}

// int64Field returns the eight-byte field i of the table at t (0 if
// absent).
func (v *fbVerifier) int64Field(t, i int) (int64, error) {
	p, err := v.fieldPos(t, i)
	if err != nil || p == 0 {
		return 0, err
	}
	if p > len(v.b)-8 {
		return 0, errFlatbuffer
	}
	return int64(binary.LittleEndian.Uint64(v.b[p:])), nil
}

// byteField returns the one-byte field i of the table at t (0 if absent).
func (v *fbVerifier) byteField(t, i int) (byte, error) {
	p, err := v.fieldPos(t, i)
	if err != nil || p == 0 {
		return 0, err
	}
	return v.b[p], nil
}

// tableField returns the position of the table in field i of the table at
// t, checked and counted, or 0 if the field is absent.
func (v *fbVerifier) tableField(t, i int) (int, error) {
	p, err := v.fieldPos(t, i)
	if err != nil || p == 0 {
		return 0, err
	}
	sub, err := v.ref(p)
	if err != nil {
		return 0, err
	}
	return sub, v.table(sub)
}

// vector checks the vector (or string) in field i of the table at t,
// whose elements are elemSize bytes, and returns the position of its first
// element and its length (0, 0 if the field is absent).
func (v *fbVerifier) vector(t, i, elemSize int) (start, n int, err error) {
	p, err := v.fieldPos(t, i)
	if err != nil || p == 0 {
		return 0, 0, err
	}
	vec, err := v.ref(p)
	if err != nil {
		return 0, 0, err
	}
	l, err := v.u32(vec)
	if err != nil {
		return 0, 0, err
	}
	if uint64(l)*uint64(elemSize) > uint64(len(v.b)-vec-4) {
		return 0, 0, fmt.Errorf("metadata vector of %d elements exceeds the %d-byte flatbuffer", l, len(v.b))
	}
	return vec + 4, int(l), nil
}

// ref follows the offset stored at pos to the position it references.
func (v *fbVerifier) ref(pos int) (int, error) {
	u, err := v.u32(pos)
	if err != nil {
		return 0, err
	}
	if uint64(pos)+uint64(u) > uint64(len(v.b)-4) {
		return 0, errFlatbuffer
	}
	return pos + int(u), nil
}

func (v *fbVerifier) u32(pos int) (uint32, error) {
	if pos < 0 || pos > len(v.b)-4 {
		return 0, errFlatbuffer
	}
	return binary.LittleEndian.Uint32(v.b[pos:]), nil
}
