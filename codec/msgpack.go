package codec

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// MsgPack is the MessagePack codec, the default for every method and event.
var MsgPack Codec = msgpackCodec{}

type msgpackCodec struct{}

func (msgpackCodec) Name() string { return "msgpack" }

type encState struct {
	buf appendWriter
	enc *msgpack.Encoder
}

// appendWriter appends what is written to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *appendWriter) WriteByte(c byte) error {
	w.b = append(w.b, c)
	return nil
}

func (w *appendWriter) WriteString(s string) (int, error) {
	w.b = append(w.b, s...)
	return len(s), nil
}

var encPool = sync.Pool{New: func() any {
	s := &encState{}
	s.enc = msgpack.NewEncoder(&s.buf)
	s.enc.UseCompactInts(true)
	s.enc.UseCompactFloats(true)
	s.enc.SetCustomStructTag("msgpack")
	return s
}}

func (c msgpackCodec) Marshal(v any) ([]byte, error) {
	return c.AppendMarshal(nil, v)
}

// AppendMarshal appends the encoding of v to dst.
func (msgpackCodec) AppendMarshal(dst []byte, v any) ([]byte, error) {
	s := encPool.Get().(*encState)
	s.buf.b = dst
	err := s.enc.Encode(v)
	out := s.buf.b
	s.buf.b = nil
	encPool.Put(s)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// decState is what one Unmarshal needs, pooled: the decoder, and the
// library's decoder and reader for the values it decodes itself.
type decState struct {
	d   decoder
	r   bytes.Reader
	lib *msgpack.Decoder
}

var decPool = sync.Pool{New: func() any { return new(decState) }}

// Unmarshal decodes data into v, a non-nil pointer, in one pass (see
// msgpack_plan.go): as vmihailenco/msgpack decodes it, except that an
// integer that does not fit the Go integer type it is decoded into is an
// error (msgpack_range.go), and that Node's Buffer (extension 1) decodes as
// bin, into a []byte or a string, and its Date (extension 2), like the
// timestamp extension, into a time.Time (msgpack_ext.go). Nothing of the
// result aliases data. Into an interface, maps decode as map[string]any,
// arrays as []any, integers as the Go integer type of their wire form.
func (msgpackCodec) Unmarshal(data []byte, v any) error {
	t := reflect.TypeOf(v)
	switch {
	case t == nil:
		return errors.New("msgpack: Decode(nil)")
	case t.Kind() != reflect.Pointer:
		return fmt.Errorf("msgpack: Decode(non-pointer %T)", v)
	}
	p := reflect.ValueOf(v).UnsafePointer()
	if p == nil {
		return fmt.Errorf("msgpack: Decode(non-settable %T)", v)
	}
	s := decPool.Get().(*decState)
	s.d = decoder{b: data, st: s}
	var err error
	if t == timePtrType {
		// The library reads a *time.Time given to it in more forms than a
		// time.Time inside a value.
		*(*time.Time)(p), err = s.d.topTime()
	} else {
		err = planFor(t.Elem()).dec(&s.d, p)
	}
	s.d = decoder{}
	decPool.Put(s)
	return err
}
