package arrowcodec

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Arrow checks some of a decoded array's buffers against its length (the
// values of numeric types, a string's last offset) but not all of them: a
// malformed stream can yield arrays whose accessors index past a buffer.
// validateRecord checks what reading any value of any column relies on, so
// that decoded records are as safe to read as ones built in memory.

// maxValidateDepth bounds the nesting validateData follows (Arrow's reader
// stops at 64 levels of nested types; dictionaries may nest further).
const maxValidateDepth = 256

func validateRecord(rec arrow.RecordBatch) error {
	for i, col := range rec.Columns() {
		if err := validateData(col.Data(), 0); err != nil {
			return fmt.Errorf("column %d (%q): %w", i, rec.ColumnName(i), err)
		}
	}
	return nil
}

func validateData(d arrow.ArrayData, depth int) error {
	if depth > maxValidateDepth {
		return fmt.Errorf("nested deeper than %d levels", maxValidateDepth)
	}
	off, n := int64(d.Offset()), int64(d.Len())
	if off < 0 || n < 0 || n > math.MaxInt64-off-1 {
		return fmt.Errorf("invalid offset %d or length %d", off, n)
	}
	end := off + n
	bufs := d.Buffers()
	buf := func(i int) []byte {
		if i < len(bufs) && bufs[i] != nil {
			return bufs[i].Bytes()
		}
		return nil
	}
	if len(bufs) > 0 && bufs[0] != nil && bufs[0].Len() > 0 && int64(bufs[0].Len()) < bitmapBytes(end) {
		return fmt.Errorf("validity bitmap of %d bytes for %d values", bufs[0].Len(), end)
	}

	switch dt := d.DataType().(type) {
	case *arrow.NullType:
		// No buffers.

	case *arrow.DictionaryType:
		if err := validateDictionary(d, dt, depth); err != nil {
			return err
		}

	case arrow.UnionType, *arrow.ListViewType, *arrow.LargeListViewType:
		arr := array.MakeFromData(d)
		defer arr.Release()
		if v, ok := arr.(interface{ ValidateFull() error }); ok {
			if err := v.ValidateFull(); err != nil {
				return err
			}
		}

	case *arrow.RunEndEncodedType:
		if err := validateRunEnds(d); err != nil {
			return err
		}

	case arrow.BinaryViewDataType:
		if err := validateViews(d, bufs); err != nil {
			return err
		}

	case *arrow.FixedSizeListType:
		children := d.Children()
		if len(children) != 1 {
			return fmt.Errorf("fixed-size list with %d children", len(children))
		}
		if size := int64(dt.Len()); size < 0 || (size > 0 && end > math.MaxInt64/size) || int64(children[0].Len()) < end*size {
			return fmt.Errorf("fixed-size list of %d values of %d needs more than the %d child values", end, dt.Len(), children[0].Len())
		}

	case *arrow.StructType:
		for i, child := range d.Children() {
			if int64(child.Len()) < end {
				return fmt.Errorf("struct field %d has %d values for %d rows", i, child.Len(), end)
			}
		}

	case arrow.OffsetsDataType: // binary, string, list and map types and their large variants
		width := dt.OffsetTypeTraits().BytesRequired(1)
		var limit int64
		if children := d.Children(); len(children) > 0 {
			limit = int64(children[0].Len())
		} else {
			limit = int64(len(buf(2)))
		}
		if err := validateOffsets(buf(1), width, off, n, limit); err != nil {
			return err
		}

	case arrow.FixedWidthDataType: // numbers, booleans, temporal types, decimals, fixed-size binary
		if n > 0 {
			bits := int64(dt.BitWidth())
			if bits <= 0 || end > math.MaxInt64/bits {
				return fmt.Errorf("%d values of %d bits", end, bits)
			}
			if need := (end*bits + 7) / 8; int64(len(buf(1))) < need {
				return fmt.Errorf("%d bytes of values for %d values of %v", len(buf(1)), end, dt)
			}
		}
	}

	for i, child := range d.Children() {
		if err := validateData(child, depth+1); err != nil {
			return fmt.Errorf("child %d: %w", i, err)
		}
	}
	return nil
}

func bitmapBytes(bits int64) int64 { return (bits + 7) / 8 }

// validateOffsets checks the n+1 offsets from off: non-decreasing, from at
// least 0 to at most limit. (Buffers are 8-byte aligned: verifyMessage
// checks their offsets in the body, and the body is aligned.)
func validateOffsets(b []byte, width int, off, n, limit int64) error {
	if n == 0 {
		return nil
	}
	if int64(len(b))/int64(width) < off+n+1 {
		return fmt.Errorf("offset buffer of %d bytes for %d values", len(b), off+n)
	}
	var first, last int64
	var ordered bool
	if width == 4 {
		first, last, ordered = nonDecreasing32(arrow.Int32Traits.CastFromBytes(b)[off : off+n+1])
	} else {
		first, last, ordered = nonDecreasing(arrow.Int64Traits.CastFromBytes(b)[off : off+n+1])
	}
	if !ordered || first < 0 || last > limit {
		return fmt.Errorf("offsets out of order or outside the %d values", limit)
	}
	return nil
}

// nonDecreasing returns the first and last of xs and whether each is at
// least the one before it.
func nonDecreasing(xs []int64) (first, last int64, ok bool) {
	prev := xs[0]
	bad := false
	for _, x := range xs[1:] {
		bad = bad || x < prev
		prev = x
	}
	return xs[0], prev, !bad
}

// nonDecreasing32 is nonDecreasing for 32-bit offsets (the common ones),
// branch-free, eight at a time: the differences, in 64 bits (where they
// cannot overflow), or-ed together, have their sign bit set if any is
// negative. Each step reads a window of nine offsets from a slice of
// exactly that length, so the compiler drops the bounds checks, and keeps
// two accumulators, so the ors do not wait for each other: 4.8 µs for
// 10 000 offsets here, against 6.6 µs four at a time with bounds checks.
func nonDecreasing32(xs []int32) (first, last int64, ok bool) {
	var n0, n1 int64
	s := xs
	for len(s) >= 9 {
		w := s[:9:9]
		n0 |= (int64(w[1]) - int64(w[0])) | (int64(w[2]) - int64(w[1])) | (int64(w[3]) - int64(w[2])) | (int64(w[4]) - int64(w[3]))
		n1 |= (int64(w[5]) - int64(w[4])) | (int64(w[6]) - int64(w[5])) | (int64(w[7]) - int64(w[6])) | (int64(w[8]) - int64(w[7]))
		s = s[8:]
	}
	for i := 1; i < len(s); i++ {
		n0 |= int64(s[i]) - int64(s[i-1])
	}
	return int64(xs[0]), int64(xs[len(xs)-1]), n0|n1 >= 0
}

// validateDictionary checks the indices of the valid slots against the
// dictionary's length, and the dictionary itself.
func validateDictionary(d arrow.ArrayData, dt *arrow.DictionaryType, depth int) error {
	dict := dictionary(d)
	if dict == nil {
		if d.Len() == 0 {
			return nil
		}
		return fmt.Errorf("dictionary-encoded array without a dictionary")
	}
	if err := validateData(dict, depth+1); err != nil {
		return fmt.Errorf("dictionary: %w", err)
	}
	idx, ok := dt.IndexType.(arrow.FixedWidthDataType)
	if !ok {
		return fmt.Errorf("dictionary index type %v", dt.IndexType)
	}
	width := idx.Bytes()
	off, n := int64(d.Offset()), int64(d.Len())
	if n == 0 {
		return nil
	}
	bufs := d.Buffers()
	if len(bufs) < 2 || bufs[1] == nil || int64(bufs[1].Len())/int64(width) < off+n {
		return fmt.Errorf("dictionary indices buffer too short for %d values", off+n)
	}
	var bitmap []byte
	if bufs[0] != nil {
		bitmap = bufs[0].Bytes()
	}
	vals := bufs[1].Bytes()
	size := int64(dict.Len())
	signed := arrow.IsSignedInteger(dt.IndexType.ID())
	for i := off; i < off+n; i++ {
		if len(bitmap) > 0 && bitmap[i/8]&(1<<(i%8)) == 0 {
			continue
		}
		v := readInt(vals, width, signed, i)
		if v < 0 || v >= size {
			return fmt.Errorf("dictionary index %d at %d is outside the %d-entry dictionary", v, i, size)
		}
	}
	return nil
}

// readInt reads the i-th little-endian integer of the given width.
func readInt(b []byte, width int, signed bool, i int64) int64 {
	switch width {
	case 1:
		if signed {
			return int64(int8(b[i]))
		}
		return int64(b[i])
	case 2:
		v := binary.NativeEndian.Uint16(b[2*i:])
		if signed {
			return int64(int16(v))
		}
		return int64(v)
	case 4:
		v := binary.NativeEndian.Uint32(b[4*i:])
		if signed {
			return int64(int32(v))
		}
		return int64(v)
	default:
		v := binary.NativeEndian.Uint64(b[8*i:])
		if !signed && v > math.MaxInt64 {
			return -1
		}
		return int64(v)
	}
}

// validateRunEnds checks a run-end encoded array: positive, increasing run
// ends that cover its values, and a value for each run.
func validateRunEnds(d arrow.ArrayData) error {
	children := d.Children()
	if len(children) != 2 {
		return fmt.Errorf("run-end encoded array with %d children", len(children))
	}
	ends, values := children[0], children[1]
	if ends.NullN() != 0 {
		return fmt.Errorf("run ends contain nulls")
	}
	if values.Len() < ends.Len() {
		return fmt.Errorf("%d values for %d runs", values.Len(), ends.Len())
	}
	need := int64(d.Offset()) + int64(d.Len())
	if need == 0 {
		return nil
	}
	width := ends.DataType().(arrow.FixedWidthDataType).Bytes()
	bufs := ends.Buffers()
	eoff, en := int64(ends.Offset()), int64(ends.Len())
	if en == 0 || len(bufs) < 2 || bufs[1] == nil || int64(bufs[1].Len())/int64(width) < eoff+en {
		return fmt.Errorf("run ends buffer too short for %d runs", en)
	}
	prev := int64(0)
	for i := eoff; i < eoff+en; i++ {
		v := readInt(bufs[1].Bytes(), width, true, i)
		if v <= prev {
			return fmt.Errorf("run end %d at %d does not increase", v, i)
		}
		prev = v
	}
	if prev < need {
		return fmt.Errorf("runs end at %d, before the array's %d values", prev, need)
	}
	return nil
}

// validateViews checks the views of a binary or string view array: each
// out-of-line value lies inside one of the data buffers.
func validateViews(d arrow.ArrayData, bufs []*memory.Buffer) error {
	const viewSize = 16
	off, n := int64(d.Offset()), int64(d.Len())
	if n == 0 {
		return nil
	}
	if len(bufs) < 2 || bufs[1] == nil || int64(bufs[1].Len())/viewSize < off+n {
		return fmt.Errorf("views buffer too short for %d values", off+n)
	}
	views := bufs[1].Bytes()
	data := bufs[2:]
	for i := off; i < off+n; i++ {
		v := views[viewSize*i : viewSize*(i+1)]
		size := int64(int32(binary.NativeEndian.Uint32(v)))
		if size < 0 {
			return fmt.Errorf("view %d has a negative size", i)
		}
		if size <= 12 {
			continue
		}
		bi := int64(int32(binary.NativeEndian.Uint32(v[8:])))
		start := int64(int32(binary.NativeEndian.Uint32(v[12:])))
		if bi < 0 || bi >= int64(len(data)) || data[bi] == nil || start < 0 || start+size > int64(data[bi].Len()) {
			return fmt.Errorf("view %d points outside the data buffers", i)
		}
	}
	return nil
}
