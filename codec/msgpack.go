package codec

import (
	"bytes"
	"reflect"
	"sync"

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

type decState struct {
	r   bytes.Reader
	dec *msgpack.Decoder
}

var decPool = sync.Pool{New: func() any {
	s := &decState{}
	s.dec = msgpack.NewDecoder(&s.r)
	return s
}}

func (msgpackCodec) Unmarshal(data []byte, v any) error {
	data, err := normalizeNodeExt(data)
	if err != nil {
		return err
	}
	s := decPool.Get().(*decState)
	s.r.Reset(data)
	s.dec.ResetReader(&s.r)
	err = s.dec.Decode(v)
	if err == nil {
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() && holdsInts(rv.Type().Elem()) {
			// Check the integers against the wire (see msgpack_range.go).
			var tree any
			s.r.Reset(data)
			s.dec.ResetReader(&s.r)
			if err = s.dec.Decode(&tree); err == nil {
				err = checkRanges(tree, rv.Elem(), "")
			}
		}
	}
	s.r.Reset(nil)
	decPool.Put(s)
	return err
}
