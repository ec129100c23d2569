// Package arrowcodec is the Apache Arrow codec of Procwire: payloads are
// Arrow IPC streams (a schema message, the record batches, an end-of-stream
// marker), byte-compatible with @procwire/codecs' arrowCodec, which encodes
// with tableToIPC(table, "stream") and decodes with tableFromIPC.
//
// It lives apart from package codec so that workers that do not use Arrow
// do not link Apache Arrow (several megabytes of code); import it only where
// a method exchanges tables:
//
//	procwire.Handle(w, "sum", sum, procwire.MethodOptions{Codec: arrowcodec.Codec})
//
// # Values
//
// Marshal accepts an arrow.RecordBatch, a []arrow.RecordBatch sharing one
// schema, an arrow.Table or an array.RecordReader. Unmarshal decodes into an
// *arrow.RecordBatch (every batch of the stream as one record), a
// *[]arrow.RecordBatch (the batches as sent) or an *arrow.Table. The Node
// parent's tables arrive as one record batch unless they were built from
// several; a handler taking an arrow.RecordBatch sees all rows either way.
// (arrow.Record is the deprecated alias of arrow.RecordBatch: the two are the
// same type.)
//
// # Ownership
//
// Decoded records and tables belong to the caller, who should Release them
// when done. They never alias the payload: Unmarshal copies each message
// body once into memory from the codec's allocator (unless Options.ZeroCopy
// is set), so they stay valid after the worker has reused or dropped the
// request buffer, for instance when a handler keeps a record past its
// return. With the default Go allocator, a record that is never released is
// reclaimed by the garbage collector; the worker does not release the
// records handlers return. A program that releases every record it decodes
// can set Options.Allocator to a Pool, so that each copying decode reuses
// the memory of the records released before it instead of fresh memory
// from the garbage collector (half the time for a 10 000-row table); what
// it read from a record without copying is then invalid once the record
// is released.
//
// # Untrusted input
//
// Payloads come from another process, so Unmarshal treats them as
// untrusted and never panics on malformed input: the stream's framing and
// each message's metadata (a flatbuffer) are checked against the payload's
// length before Arrow reads them, so that no declared length makes it
// allocate more than the payload could hold; any panic raised by Arrow
// while decoding becomes an error wrapping ErrMalformed; the decoded
// arrays' bitmaps, offsets, views and dictionary indices are validated so
// that reading any of their values stays in bounds; and the memory a
// payload may make the decoder allocate (copies, decompressed buffers,
// concatenation) is capped by Options.MaxDecodedSize (ErrTooLarge).
package arrowcodec

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/procwire/procwire-go/codec"
)

// Name is the codec's name, the same as @procwire/codecs' arrowCodec.
const Name = "arrow"

// DefaultMaxDecodedSize is the default of Options.MaxDecodedSize: 1 GiB, the
// default largest payload of a worker.
const DefaultMaxDecodedSize = 1 << 30

var (
	// ErrMalformed is wrapped by the errors Unmarshal returns for payloads
	// that are not a well-formed Arrow IPC stream.
	ErrMalformed = errors.New("arrowcodec: malformed Arrow IPC stream")
	// ErrTooLarge is wrapped by the errors Unmarshal returns when decoding a
	// payload would allocate more than Options.MaxDecodedSize.
	ErrTooLarge = errors.New("arrowcodec: decoded data exceeds the size limit")
)

// Codec is the Arrow codec with the default options: Go-allocated memory,
// payloads copied on decode, at most DefaultMaxDecodedSize bytes allocated
// per payload.
var Codec codec.Codec = New(Options{})

// Options configure an Arrow codec. The zero value is the default.
type Options struct {
	// Allocator allocates the buffers of decoded records and the scratch
	// memory of encoding (memory.DefaultAllocator if nil). Records decoded
	// with an allocator that is not garbage collected, such as a C
	// allocator, must be released.
	Allocator memory.Allocator

	// ZeroCopy makes Unmarshal reference the payload from the decoded
	// arrays instead of copying it (message bodies that are not 8-byte
	// aligned are still copied). The payload must then stay unmodified for
	// as long as any decoded record is in use. Procwire's worker and parent
	// may reuse request and stream buffers once a handler or a receive
	// returns, so set it only when decoding bytes the caller owns, such as a
	// file's contents or a parent's Chunk that was kept.
	ZeroCopy bool

	// MaxDecodedSize caps the bytes Unmarshal may allocate for one payload
	// (DefaultMaxDecodedSize if 0): copies of the message bodies,
	// decompressed buffers and the concatenation of several batches into
	// one record. Decoding fails with ErrTooLarge beyond it.
	MaxDecodedSize int64
}

// ArrowCodec encodes and decodes Arrow IPC streams. Create it with New; it
// is safe for concurrent use.
type ArrowCodec struct {
	mem        memory.Allocator
	zeroCopy   bool
	maxDecoded int64
}

var _ codec.Codec = (*ArrowCodec)(nil)

// New returns an Arrow codec with the given options.
func New(opts Options) *ArrowCodec {
	c := &ArrowCodec{mem: opts.Allocator, zeroCopy: opts.ZeroCopy, maxDecoded: opts.MaxDecodedSize}
	if c.mem == nil {
		c.mem = memory.DefaultAllocator
	}
	if c.maxDecoded <= 0 {
		c.maxDecoded = DefaultMaxDecodedSize
	}
	return c
}

// Name returns "arrow".
func (c *ArrowCodec) Name() string { return Name }

// Marshal encodes v as one Arrow IPC stream: the schema, every record batch
// of v, and the end-of-stream marker. v is an arrow.RecordBatch, a
// non-empty []arrow.RecordBatch whose batches share one schema, an
// arrow.Table (written as its chunks, so a table without rows becomes a
// stream without batches, which Node decodes as an empty table), or an
// array.RecordReader, read to its end. Marshal neither retains nor releases
// v.
func (c *ArrowCodec) Marshal(v any) (b []byte, err error) {
	switch v := v.(type) {
	case arrow.RecordBatch:
		if v == nil {
			return nil, errors.New("arrowcodec: cannot encode a nil arrow.RecordBatch")
		}
		return c.encode(v.Schema(), sizeOfRecord(v), func(w *ipc.Writer) error { return w.Write(v) })
	case []arrow.RecordBatch:
		if len(v) == 0 {
			return nil, errors.New("arrowcodec: cannot encode an empty []arrow.RecordBatch: a stream needs a schema (encode an empty arrow.Table instead)")
		}
		var size int
		for i, rec := range v {
			if rec == nil {
				return nil, fmt.Errorf("arrowcodec: cannot encode a nil arrow.RecordBatch (batch %d)", i)
			}
			if !rec.Schema().Equal(v[0].Schema()) {
				return nil, fmt.Errorf("arrowcodec: batch %d's schema differs from batch 0's:\n%v\nvs\n%v", i, rec.Schema(), v[0].Schema())
			}
			size += sizeOfRecord(rec)
		}
		return c.encode(v[0].Schema(), size, func(w *ipc.Writer) error {
			for _, rec := range v {
				if err := w.Write(rec); err != nil {
					return err
				}
			}
			return nil
		})
	case arrow.Table:
		if v == nil {
			return nil, errors.New("arrowcodec: cannot encode a nil arrow.Table")
		}
		return c.encode(v.Schema(), sizeOfTable(v), func(w *ipc.Writer) error {
			tr := array.NewTableReader(v, -1)
			defer tr.Release()
			return writeAll(w, tr)
		})
	case array.RecordReader:
		if v == nil {
			return nil, errors.New("arrowcodec: cannot encode a nil array.RecordReader")
		}
		return c.encode(v.Schema(), 0, func(w *ipc.Writer) error { return writeAll(w, v) })
	default:
		return nil, fmt.Errorf("arrowcodec: cannot encode %T: want arrow.RecordBatch, []arrow.RecordBatch, arrow.Table or array.RecordReader", v)
	}
}

// writeAll writes every batch of r.
func writeAll(w *ipc.Writer, r array.RecordReader) error {
	for r.Next() {
		if err := w.Write(r.RecordBatch()); err != nil {
			return err
		}
	}
	return r.Err()
}

// encode writes a stream with the given schema; write writes its batches.
// sizeHint is the total size of the batches' buffers.
func (c *ArrowCodec) encode(schema *arrow.Schema, sizeHint int, write func(*ipc.Writer) error) (b []byte, err error) {
	if schema == nil {
		return nil, errors.New("arrowcodec: cannot encode record batches without a schema")
	}
	defer func() {
		// Arrow's writer recovers its own panics; this covers a
		// RecordReader or table that panics while being read.
		if p := recover(); p != nil {
			b, err = nil, fmt.Errorf("arrowcodec: encode: %v", p)
		}
	}()
	var buf bytes.Buffer
	// The body plus its padding, and the flatbuffer messages (schema,
	// batch headers, end of stream), which take some hundred bytes plus a
	// few dozen per field.
	buf.Grow(sizeHint + 512 + 128*len(schema.Fields()))
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema), ipc.WithAllocator(c.mem))
	if err := write(w); err != nil {
		w.Close()
		return nil, fmt.Errorf("arrowcodec: encode: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("arrowcodec: encode: %w", err)
	}
	return buf.Bytes(), nil
}

// Unmarshal decodes the Arrow IPC stream data into v, which is one of:
//
//   - *arrow.RecordBatch: all the stream's rows as one record. A stream of
//     one batch yields that batch as decoded; the batches of a longer stream
//     are concatenated (one more copy of the data); a stream without
//     batches yields a record with the stream's schema and no rows.
//   - *[]arrow.RecordBatch: the batches as they were sent (an empty slice
//     for a stream without batches, whose schema is then lost: decode into
//     an *arrow.Table to keep it).
//   - *arrow.Table: a table of the stream's schema and batches.
//
// The decoded values replace what v pointed to (which is not released) and
// belong to the caller, who releases them when done; they remain valid
// after Unmarshal returns and, unless Options.ZeroCopy is set, do not
// reference data. Unmarshal does not modify data.
func (c *ArrowCodec) Unmarshal(data []byte, v any) error {
	return c.unmarshal(data, v, c.zeroCopy)
}

// UnmarshalOwned decodes data as Unmarshal does, with the message bodies
// referenced in place, as with Options.ZeroCopy, whatever the options: the
// caller gives data up (codec.OwnedUnmarshaler), so nothing can change the
// buffers under the batches. The validation is the same.
func (c *ArrowCodec) UnmarshalOwned(data []byte, v any) error {
	return c.unmarshal(data, v, true)
}

func (c *ArrowCodec) unmarshal(data []byte, v any, zeroCopy bool) error {
	var target string // the kind of v, for the nil message
	switch p := v.(type) {
	case *arrow.RecordBatch:
		target = map[bool]string{true: "*arrow.RecordBatch"}[p == nil]
	case *[]arrow.RecordBatch:
		target = map[bool]string{true: "*[]arrow.RecordBatch"}[p == nil]
	case *arrow.Table:
		target = map[bool]string{true: "*arrow.Table"}[p == nil]
	default:
		return fmt.Errorf("arrowcodec: cannot decode into %T: want *arrow.RecordBatch, *[]arrow.RecordBatch or *arrow.Table", v)
	}
	if target != "" {
		return errors.New("arrowcodec: cannot decode into a nil " + target)
	}
	mem := c.limited()
	schema, recs, err := c.decode(data, mem, zeroCopy)
	if err != nil {
		return mem.check(err)
	}
	switch p := v.(type) {
	case *arrow.RecordBatch:
		rec, err := concatenate(schema, recs, mem)
		if err != nil {
			return mem.check(err)
		}
		*p = rec
	case *[]arrow.RecordBatch:
		if recs == nil {
			recs = []arrow.RecordBatch{}
		}
		*p = recs
	case *arrow.Table:
		*p = array.NewTableFromRecords(schema, recs)
		releaseAll(recs)
	}
	return nil
}

func releaseAll(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

// recovered turns a panic raised by Arrow while decoding into an error.
func recovered(what string, p any) error {
	if err, ok := p.(error); ok {
		if errors.Is(err, ErrTooLarge) {
			return err
		}
		return fmt.Errorf("%w: %s: %w", ErrMalformed, what, err)
	}
	return fmt.Errorf("%w: %s: %v", ErrMalformed, what, p)
}

// sizeOfRecord returns the total size of rec's buffers.
func sizeOfRecord(rec arrow.RecordBatch) int {
	n := 0
	for _, col := range rec.Columns() {
		n += sizeOfData(col.Data())
	}
	return n
}

// sizeOfTable returns the total size of tbl's buffers.
func sizeOfTable(tbl arrow.Table) int {
	n := 0
	for i := 0; i < int(tbl.NumCols()); i++ {
		for _, chunk := range tbl.Column(i).Data().Chunks() {
			n += sizeOfData(chunk.Data())
		}
	}
	return n
}

// sizeOfData returns the size of d's buffers and its children's, rounded up
// to the IPC format's 8-byte padding. Sliced arrays are written trimmed, so
// this is an upper bound.
func sizeOfData(d arrow.ArrayData) int {
	n := 0
	for _, b := range d.Buffers() {
		if b != nil {
			n += (b.Len() + 7) &^ 7
		}
	}
	for _, child := range d.Children() {
		n += sizeOfData(child)
	}
	if dict := dictionary(d); dict != nil {
		n += sizeOfData(dict)
	}
	return n
}

// dictionary returns the dictionary of a dictionary-encoded array, or nil.
func dictionary(d arrow.ArrayData) arrow.ArrayData {
	if d.DataType().ID() != arrow.DICTIONARY {
		return nil
	}
	// Data.Dictionary returns a typed nil when there is none.
	if dict, ok := d.Dictionary().(*array.Data); !ok || dict == nil {
		return nil
	} else {
		return dict
	}
}
