package arrowcodec

import (
	"errors"
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// concatenate turns the decoded batches, which it takes over, into one
// record, which the caller owns.
func concatenate(schema *arrow.Schema, recs []arrow.RecordBatch, mem memory.Allocator) (rec arrow.RecordBatch, err error) {
	switch len(recs) {
	case 0:
		cols := make([]arrow.Array, schema.NumFields())
		for i, f := range schema.Fields() {
			cols[i] = array.MakeArrayOfNull(mem, f.Type, 0)
			defer cols[i].Release()
		}
		return array.NewRecordBatch(schema, cols, 0), nil
	case 1:
		return recs[0], nil
	}
	defer releaseAll(recs)
	cols := make([]arrow.Array, schema.NumFields())
	defer func() {
		if p := recover(); p != nil {
			rec, err = nil, recovered("concatenate batches", p)
		}
		for _, col := range cols {
			if col != nil {
				col.Release()
			}
		}
	}()
	var rows int64
	for _, r := range recs {
		rows += r.NumRows()
	}
	parts := make([]arrow.Array, len(recs))
	for i, f := range schema.Fields() {
		for j, r := range recs {
			parts[j] = r.Column(i)
		}
		col, err := concatColumn(f.Type, parts, mem)
		if err != nil {
			if errors.Is(err, ErrTooLarge) {
				return nil, err
			}
			return nil, fmt.Errorf("arrowcodec: concatenate column %q of %d batches: %w", f.Name, len(recs), err)
		}
		cols[i] = col
	}
	return array.NewRecordBatch(schema, cols, rows), nil
}

// concatColumn concatenates the chunks of one column.
//
// array.Concatenate of arrow-go v18.5.0 corrupts dictionary-encoded arrays
// with nulls (it clears a null run's indices at an offset in elements
// instead of bytes, zeroing indices written before it), so dictionary
// columns are concatenated here, and dictionaries nested in other types,
// which this cannot reach, are refused rather than silently corrupted.
func concatColumn(dt arrow.DataType, parts []arrow.Array, mem memory.Allocator) (arrow.Array, error) {
	if dict, ok := dt.(*arrow.DictionaryType); ok && !hasDictionary(dict.ValueType) {
		return concatDictionary(dict, parts, mem)
	}
	if hasDictionary(dt) {
		return nil, fmt.Errorf("batches with nested dictionary-encoded fields (%v) cannot be concatenated: decode into an *arrow.Table or a *[]arrow.RecordBatch", dt)
	}
	return array.Concatenate(parts, mem)
}

// hasDictionary reports whether dt is or contains a dictionary type.
func hasDictionary(dt arrow.DataType) bool {
	switch dt := dt.(type) {
	case *arrow.DictionaryType:
		return true
	case arrow.ExtensionType:
		return hasDictionary(dt.StorageType())
	case arrow.NestedType:
		for _, f := range dt.Fields() {
			if hasDictionary(f.Type) {
				return true
			}
		}
	}
	return false
}

// concatDictionary concatenates dictionary-encoded arrays: their
// dictionaries are unified into one and their indices remapped to it.
func concatDictionary(dt *arrow.DictionaryType, parts []arrow.Array, mem memory.Allocator) (arrow.Array, error) {
	u, err := array.NewDictionaryUnifier(mem, dt.ValueType)
	if err != nil {
		return nil, err
	}
	defer u.Release()
	maps := make([][]int32, len(parts))
	n := 0
	for i, p := range parts {
		d, ok := p.(*array.Dictionary)
		if !ok {
			return nil, fmt.Errorf("chunk %d is a %T, not a dictionary array", i, p)
		}
		buf, err := u.UnifyAndTranspose(d.Dictionary())
		if err != nil {
			return nil, err
		}
		maps[i] = slices.Clone(arrow.Int32Traits.CastFromBytes(buf.Bytes()))
		buf.Release()
		n += d.Len()
	}
	dict, err := u.GetResultWithIndexType(dt.IndexType)
	if err != nil {
		return nil, err
	}
	defer dict.Release()

	b := array.NewBuilder(mem, dt.IndexType)
	defer b.Release()
	b.Reserve(n)
	newAppender, ok := indexAppenders[dt.IndexType.ID()]
	if !ok {
		return nil, fmt.Errorf("dictionary index type %v", dt.IndexType)
	}
	appendIndex := newAppender(b)
	for i, p := range parts {
		d := p.(*array.Dictionary)
		for j := 0; j < d.Len(); j++ {
			if d.IsNull(j) {
				b.UnsafeAppendBoolToBitmap(false)
				continue
			}
			appendIndex(maps[i][d.GetValueIndex(j)])
		}
	}
	indices := b.NewArray()
	defer indices.Release()
	return array.NewDictionaryArray(dt, indices, dict), nil
}

// indexAppenders make, for each integer index type, a function that
// appends an int32 index to a builder of that type.
var indexAppenders = map[arrow.Type]func(array.Builder) func(int32){
	arrow.INT8:   func(b array.Builder) func(int32) { return appendAs(b.(*array.Int8Builder).UnsafeAppend) },
	arrow.UINT8:  func(b array.Builder) func(int32) { return appendAs(b.(*array.Uint8Builder).UnsafeAppend) },
	arrow.INT16:  func(b array.Builder) func(int32) { return appendAs(b.(*array.Int16Builder).UnsafeAppend) },
	arrow.UINT16: func(b array.Builder) func(int32) { return appendAs(b.(*array.Uint16Builder).UnsafeAppend) },
	arrow.INT32:  func(b array.Builder) func(int32) { return b.(*array.Int32Builder).UnsafeAppend },
	arrow.UINT32: func(b array.Builder) func(int32) { return appendAs(b.(*array.Uint32Builder).UnsafeAppend) },
	arrow.INT64:  func(b array.Builder) func(int32) { return appendAs(b.(*array.Int64Builder).UnsafeAppend) },
	arrow.UINT64: func(b array.Builder) func(int32) { return appendAs(b.(*array.Uint64Builder).UnsafeAppend) },
}

// appendAs converts an index to the builder's integer type (unified
// indices are never negative and fit the dictionary's index type).
func appendAs[T int8 | uint8 | int16 | uint16 | uint32 | int64 | uint64](appendValue func(T)) func(int32) {
	return func(v int32) { appendValue(T(v)) }
}
