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

// MsgPackStrict is MsgPack, except that Unmarshal refuses a map key that
// names no field of the struct it is decoded into (a *DecodeError whose
// Got is "unknown field") where MsgPack skips it. It encodes as MsgPack
// does, and its Name is "msgpack" too: it is the same format on the wire.
// The check costs nothing until an unknown key comes.
var MsgPackStrict Codec = msgpackCodec{strict: true}

type msgpackCodec struct {
	strict bool
}

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

// AppendMarshal appends the encoding of v to dst: the bytes that
// vmihailenco/msgpack writes with compact integers and floats and the
// "msgpack" struct tag, for common types by an encoding plan (see
// msgpack_write.go).
func (msgpackCodec) AppendMarshal(dst []byte, v any) ([]byte, error) {
	out, err := appendEncoded(dst, v)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// MsgPackLen returns the length of the MessagePack value that b starts
// with, walking it without decoding or allocating: len(b) when b is one
// value and nothing else. When b does not start with a whole value (it
// ends inside one, or holds a byte that starts none) the error is a
// *DecodeError.
func MsgPackLen(b []byte) (int, error) {
	d := decoder{b: b}
	if err := d.skip(); err != nil {
		return 0, finish(d.decodeError(err), b)
	}
	return d.pos, nil
}

// decState is what one Unmarshal needs, pooled: the decoder, and the
// library's decoder and reader for the values it decodes itself.
type decState struct {
	d    decoder
	r    bytes.Reader
	lib  *msgpack.Decoder
	keys [128]string // recent map keys, in pairs chosen by their bytes (see intern)
}

// intern returns k as a string, the same string as for an earlier key of
// the same bytes when the state still holds it: the keys of the maps that
// decode into any repeat from one payload to the next, and a string held
// here costs no allocation.
//
// The cache is two-way: a key's bytes (its length and its first, middle
// and last bytes) choose a pair of slots, and a new key takes the first
// slot and moves the older one to the second, so that two keys of one
// object that hash alike ("code" and "field") both stay.
func (st *decState) intern(k []byte) string {
	if len(k) == 0 || len(k) > 32 {
		return string(k)
	}
	i := 2 * ((len(k)*31 + int(k[0])*7 + int(k[len(k)/2])*13 + int(k[len(k)-1])) & (len(st.keys)/2 - 1))
	if s := st.keys[i]; s == string(k) {
		return s
	}
	if s := st.keys[i+1]; s == string(k) {
		return s
	}
	s := string(k)
	st.keys[i], st.keys[i+1] = s, st.keys[i]
	return s
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
// As in the library, nil decodes as the zero value into any type, and a
// map key that names no field is skipped (see MsgPackStrict).
//
// A payload that does not decode into v gives a *DecodeError, which says
// where and why; a v that is not a non-nil pointer, a plain error.
func (c msgpackCodec) Unmarshal(data []byte, v any) error {
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
	s.d = decoder{b: data, st: s, strict: c.strict}
	var err error
	if t == timePtrType {
		// The library reads a *time.Time given to it in more forms than a
		// time.Time inside a value.
		if *(*time.Time)(p), err = s.d.topTime(); err != nil {
			err = s.d.want(err, "date")
		}
	} else {
		err = planFor(t.Elem()).dec(&s.d, p)
	}
	if err != nil {
		err = finish(s.d.decodeError(err), data)
	}
	s.d = decoder{}
	decPool.Put(s)
	return err
}
