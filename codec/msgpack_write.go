package codec

import (
	"encoding/binary"
	"math"
	"reflect"
	"unsafe"

	"github.com/procwire/procwire-go/internal/msgpacktype"
)

// How codec.MsgPack encodes: common types (booleans, numbers, strings,
// []byte, plain structs, pointers, slices and string-keyed maps of them)
// by an encoding plan, made once per type and cached, that appends the
// bytes the library would write straight to the buffer; anything else —
// time.Time, interfaces, arrays, embedded structs, struct-level tags
// (_msgpack), types with their own encoder (msgpack.CustomEncoder,
// msgpack.Marshaler, encoding.BinaryMarshaler, encoding.TextMarshaler) or
// an IsZero method under omitempty — by vmihailenco/msgpack itself, for
// that value. The bytes are the library's with the codec's settings
// (compact integers and floats, the "msgpack" struct tag), which
// FuzzMsgPackEncodeMatchesLibrary checks; what it saves is the library's
// per-value dispatch through reflect.Value and an io.Writer (for the
// benchmarks' small struct about half of the encoding time).

// encFn appends the encoding of the Go value at p.
type encFn func(b []byte, p unsafe.Pointer) ([]byte, error)

type encPlan struct {
	enc   encFn
	empty func(p unsafe.Pointer) bool // omitempty's test; nil: the library's (not planned)
}

var encPlans planCache[encPlan]

// encPlanFor returns the plan of t, making it (and its parts) on first use.
func encPlanFor(t reflect.Type) *encPlan { return encPlans.get(t, encPlanner{}.plan) }

// encPlanner makes the encoding plans of a type and its parts.
type encPlanner struct{}

func (b encPlanner) plan(t reflect.Type) *encPlan {
	p, found := encPlans.lookup(t)
	if !found {
		b.build(t, p)
	}
	return p
}

// build sets p's functions for t: planned ones, or the library's.
func (b encPlanner) build(t reflect.Type, p *encPlan) {
	if t == timeType || msgpacktype.Implements(t, encoderIface) {
		p.enc = libraryEnc(t)
		return
	}
	switch t.Kind() {
	case reflect.Bool:
		p.enc = func(b []byte, p unsafe.Pointer) ([]byte, error) {
			if *(*bool)(p) {
				return append(b, 0xc3), nil
			}
			return append(b, 0xc2), nil
		}
		p.empty = func(p unsafe.Pointer) bool { return !*(*bool)(p) }
	case reflect.Int:
		setInt[int](p)
	case reflect.Int8:
		setInt[int8](p)
	case reflect.Int16:
		setInt[int16](p)
	case reflect.Int32:
		setInt[int32](p)
	case reflect.Int64:
		setInt[int64](p)
	case reflect.Uint:
		setUint[uint](p)
	case reflect.Uint8:
		setUint[uint8](p)
	case reflect.Uint16:
		setUint[uint16](p)
	case reflect.Uint32:
		setUint[uint32](p)
	case reflect.Uint64:
		setUint[uint64](p)
	case reflect.Uintptr:
		setUint[uintptr](p)
	case reflect.Float32:
		p.enc = func(b []byte, p unsafe.Pointer) ([]byte, error) {
			return appendFloat32(b, *(*float32)(p)), nil
		}
		p.empty = func(p unsafe.Pointer) bool { return *(*float32)(p) == 0 }
	case reflect.Float64:
		p.enc = func(b []byte, p unsafe.Pointer) ([]byte, error) { return appendFloat64(b, *(*float64)(p)), nil }
		p.empty = func(p unsafe.Pointer) bool { return *(*float64)(p) == 0 }
	case reflect.String:
		p.enc = func(b []byte, p unsafe.Pointer) ([]byte, error) { return appendStr(b, *(*string)(p)), nil }
		p.empty = func(p unsafe.Pointer) bool { return len(*(*string)(p)) == 0 }
	case reflect.Pointer:
		elem := b.plan(t.Elem())
		p.enc = func(b []byte, p unsafe.Pointer) ([]byte, error) {
			q := *(*unsafe.Pointer)(p)
			if q == nil {
				return append(b, 0xc0), nil
			}
			return elem.enc(b, q)
		}
		p.empty = func(p unsafe.Pointer) bool { return *(*unsafe.Pointer)(p) == nil }
	case reflect.Slice:
		b.slice(t, p)
	case reflect.Map:
		b.mapOf(t, p)
	case reflect.Struct:
		b.structOf(t, p)
	case reflect.Interface:
		if t != anyType {
			p.enc = libraryEnc(t)
			return
		}
		p.enc = func(b []byte, p unsafe.Pointer) ([]byte, error) { return appendValue(b, *(*any)(p)) }
	default: // other interfaces, arrays, and kinds the library refuses
		p.enc = libraryEnc(t)
	}
}

func setInt[T int | int8 | int16 | int32 | int64](p *encPlan) {
	p.enc = func(b []byte, p unsafe.Pointer) ([]byte, error) { return appendInt(b, int64(*(*T)(p))), nil }
	p.empty = func(p unsafe.Pointer) bool { return *(*T)(p) == 0 }
}

func setUint[T uint | uint8 | uint16 | uint32 | uint64 | uintptr](p *encPlan) {
	p.enc = func(b []byte, p unsafe.Pointer) ([]byte, error) { return appendUint(b, uint64(*(*T)(p))), nil }
	p.empty = func(p unsafe.Pointer) bool { return *(*T)(p) == 0 }
}

func (b encPlanner) slice(t reflect.Type, p *encPlan) {
	p.empty = func(p unsafe.Pointer) bool { return (*sliceHeader)(p).len == 0 }
	if t.Elem().Kind() == reflect.Uint8 && !msgpacktype.Implements(t.Elem(), encoderIface) {
		p.enc = func(b []byte, p unsafe.Pointer) ([]byte, error) {
			s := *(*[]byte)(p)
			if s == nil {
				return append(b, 0xc0), nil
			}
			return append(appendBinLen(b, len(s)), s...), nil
		}
		return
	}
	elem, size := b.plan(t.Elem()), t.Elem().Size()
	p.enc = func(b []byte, p unsafe.Pointer) ([]byte, error) {
		s := (*sliceHeader)(p)
		if s.data == nil {
			return append(b, 0xc0), nil
		}
		b = appendLen(b, s.len, 0x90, 0xdc)
		var err error
		for i := range s.len {
			if b, err = elem.enc(b, unsafe.Add(s.data, uintptr(i)*size)); err != nil {
				return b, err
			}
		}
		return b, nil
	}
}

func (b encPlanner) mapOf(t reflect.Type, p *encPlan) {
	p.empty = func(p unsafe.Pointer) bool { return reflect.NewAt(t, p).Elem().Len() == 0 }
	if t.Key().Kind() != reflect.String || t.Key() != stringType {
		p.enc = libraryEnc(t)
		return
	}
	switch t {
	case mapStringAny:
		p.enc = mapEnc(appendEncoded)
		return
	case mapStringString:
		p.enc = mapEnc(func(b []byte, v string) ([]byte, error) { return appendStr(b, v), nil })
		return
	case mapStringInt:
		p.enc = mapEnc(func(b []byte, v int) ([]byte, error) { return appendInt(b, int64(v)), nil })
		return
	case mapStringFloat:
		p.enc = mapEnc(func(b []byte, v float64) ([]byte, error) { return appendFloat64(b, v), nil })
		return
	}
	vt := t.Elem()
	elem := b.plan(vt)
	p.enc = func(b []byte, p unsafe.Pointer) ([]byte, error) {
		m := reflect.NewAt(t, p).Elem()
		if m.IsNil() {
			return append(b, 0xc0), nil
		}
		b = appendLen(b, m.Len(), 0x80, 0xde)
		v := reflect.New(vt).Elem() // addressable, so that elem reads it in place
		vp := v.Addr().UnsafePointer()
		var err error
		for it := m.MapRange(); it.Next(); {
			b = appendStr(b, it.Key().String())
			v.SetIterValue(it)
			if b, err = elem.enc(b, vp); err != nil {
				return b, err
			}
		}
		return b, nil
	}
}

var (
	mapStringAny    = reflect.TypeFor[map[string]any]()
	mapStringString = reflect.TypeFor[map[string]string]()
	mapStringInt    = reflect.TypeFor[map[string]int]()
	mapStringFloat  = reflect.TypeFor[map[string]float64]()
)

// mapEnc encodes the common maps without reflection: what a decode into
// any gives (map[string]any) and those of a few plain value types.
func mapEnc[V any](val func([]byte, V) ([]byte, error)) encFn {
	return func(b []byte, p unsafe.Pointer) ([]byte, error) {
		return appendMap(b, *(*map[string]V)(p), val)
	}
}

// appendMap encodes m, its values with val.
func appendMap[V any](b []byte, m map[string]V, val func([]byte, V) ([]byte, error)) ([]byte, error) {
	if m == nil {
		return append(b, 0xc0), nil
	}
	b = appendLen(b, len(m), 0x80, 0xde)
	var err error
	for k, v := range m {
		b = appendStr(b, k)
		if b, err = val(b, v); err != nil {
			return b, err
		}
	}
	return b, nil
}

// appendMapAny encodes a map[string]any. appendValue calls it directly (a
// map nested in an any is the commonest value there is), so that the map
// does not escape as it would through an encFn.
func appendMapAny(b []byte, m map[string]any) ([]byte, error) {
	return appendMap(b, m, appendEncoded)
}

// encField is a field of a planned struct.
type encField struct {
	name      []byte // its encoded name
	off       uintptr
	p         *encPlan
	omitEmpty bool
}

func (b encPlanner) structOf(t reflect.Type, p *encPlan) {
	var fields []encField
	omitAny := false
	for i := range t.NumField() {
		sf := t.Field(i)
		name, opts := msgpacktype.ParseTag(sf.Tag.Get("msgpack"))
		if name == "-" {
			continue
		}
		_, intern := opts["intern"]
		if sf.Name == "_msgpack" || sf.Anonymous || intern {
			p.enc = libraryEnc(t) // struct options, inlining, interning: the library's
			return
		}
		if sf.PkgPath != "" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		_, omit := opts["omitempty"]
		f := encField{name: appendStr(nil, name), off: sf.Offset, p: b.plan(sf.Type), omitEmpty: omit}
		if omit {
			omitAny = true
			if sf.Type.Kind() == reflect.Interface || hasIsZero(sf.Type) {
				p.enc = libraryEnc(t)
				return
			}
		}
		fields = append(fields, f)
	}
	for _, f := range fields {
		if f.omitEmpty && f.p.empty == nil {
			p.enc = libraryEnc(t) // a field type whose emptiness the plans do not decide
			return
		}
	}
	p.empty = func(p unsafe.Pointer) bool {
		for _, f := range fields {
			if !f.omitEmpty || !f.p.empty(unsafe.Add(p, f.off)) {
				return false
			}
		}
		return true
	}
	p.enc = func(b []byte, p unsafe.Pointer) ([]byte, error) {
		n := len(fields)
		if omitAny {
			for _, f := range fields {
				if f.omitEmpty && f.p.empty(unsafe.Add(p, f.off)) {
					n--
				}
			}
		}
		b = appendLen(b, n, 0x80, 0xde)
		var err error
		for _, f := range fields {
			q := unsafe.Add(p, f.off)
			if f.omitEmpty && f.p.empty(q) {
				continue
			}
			b = append(b, f.name...)
			if b, err = f.p.enc(b, q); err != nil {
				return b, err
			}
		}
		return b, nil
	}
}

// hasIsZero reports whether the library's omitempty asks t's IsZero.
func hasIsZero(t reflect.Type) bool {
	_, ok := t.MethodByName("IsZero")
	return ok
}

// libraryEnc encodes a value of type t with vmihailenco/msgpack.
func libraryEnc(t reflect.Type) encFn {
	return func(b []byte, p unsafe.Pointer) ([]byte, error) {
		return libraryAppend(b, reflect.NewAt(t, p).Elem().Interface())
	}
}

// libraryAppend appends the library's encoding of v to b.
func libraryAppend(b []byte, v any) ([]byte, error) {
	s := encPool.Get().(*encState)
	s.buf.b = b
	err := s.enc.Encode(v)
	out := s.buf.b
	s.buf.b = nil
	encPool.Put(s)
	if err != nil {
		return b, err
	}
	return out, nil
}

// The wire forms, as the library writes them with compact integers and
// floats.

func appendUint(b []byte, n uint64) []byte {
	switch {
	case n <= math.MaxInt8:
		return append(b, byte(n))
	case n <= math.MaxUint8:
		return append(b, 0xcc, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xcf), n)
}

func appendInt(b []byte, n int64) []byte {
	switch {
	case n >= 0:
		return appendUint(b, uint64(n))
	case n >= -32:
		return append(b, byte(n))
	case n >= math.MinInt8:
		return append(b, 0xd0, byte(n))
	case n >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(n))
	case n >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(n))
}

// appendFloat32 appends a float32 inside a value. The library reads it as
// a float64 (reflect.Value.Float) and back, which makes a signalling NaN
// quiet; so does appendFloat32. (A float32 on its own or as a value of a
// map[string]any, the library encodes as it is: see appendEncoded.)
func appendFloat32(b []byte, f float32) []byte {
	if f != f {
		f = math.Float32frombits(math.Float32bits(f) | 0x00400000)
	}
	return appendFloat32Bits(b, f)
}

// appendFloat32Bits appends a float32 with its bits as they are, or as an
// integer if it is one (the library's EncodeFloat32 with compact floats).
func appendFloat32Bits(b []byte, f float32) []byte {
	if float32(int64(f)) == f {
		return appendInt(b, int64(f))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xca), math.Float32bits(f))
}

// appendEncoded appends v as the library's Encoder.Encode does, which is
// how it encodes a value on its own and each value of a map[string]any:
// as appendValue, but a float32 with its bits as they are.
func appendEncoded(b []byte, v any) ([]byte, error) {
	if f, ok := v.(float32); ok {
		return appendFloat32Bits(b, f), nil
	}
	return appendValue(b, v)
}

func appendFloat64(b []byte, f float64) []byte {
	if float64(int64(f)) == f {
		return appendInt(b, int64(f))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xcb), math.Float64bits(f))
}

func appendStr(b []byte, s string) []byte {
	switch n := len(s); {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n < 256:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

func appendBinLen(b []byte, n int) []byte {
	switch {
	case n < 256:
		return append(b, 0xc4, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xc5), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xc6), uint32(n))
}

// appendLen appends an array's (fix 0x90, 16-bit 0xdc) or a map's (0x80,
// 0xde) length; the 32-bit form's code follows the 16-bit one's.
func appendLen(b []byte, n int, fix, code16 byte) []byte {
	switch {
	case n < 16:
		return append(b, fix|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, code16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, code16+1), uint32(n))
}

// appendValue appends the encoding of v: by plan for a pointer or a struct
// value whose plan is not the library's, else by the library.
func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, 0xc0), nil
	case string:
		return appendStr(b, v), nil
	case int:
		return appendInt(b, int64(v)), nil
	case int64:
		return appendInt(b, v), nil
	case int8, int16, int32: // the integers a decode into any gives, by wire form
		return appendInt(b, reflect.ValueOf(v).Int()), nil
	case uint64:
		return appendUint(b, v), nil
	case uint8, uint16, uint32, uint:
		return appendUint(b, reflect.ValueOf(v).Uint()), nil
	case []byte:
		if v == nil {
			return append(b, 0xc0), nil
		}
		return append(appendBinLen(b, len(v)), v...), nil
	case float64:
		return appendFloat64(b, v), nil
	case float32:
		return appendFloat32(b, v), nil
	case bool:
		if v {
			return append(b, 0xc3), nil
		}
		return append(b, 0xc2), nil
	case map[string]any:
		return appendMapAny(b, v)
	case []any:
		if v == nil {
			return append(b, 0xc0), nil
		}
		b = appendLen(b, len(v), 0x90, 0xdc)
		var err error
		for _, e := range v {
			if b, err = appendValue(b, e); err != nil {
				return b, err
			}
		}
		return b, nil
	}
	t := reflect.TypeOf(v)
	switch t.Kind() {
	case reflect.Pointer:
		// The interface holds the pointer itself.
		p := encPlanFor(t)
		ptr := reflect.ValueOf(v).UnsafePointer()
		return p.enc(b, unsafe.Pointer(&ptr))
	case reflect.Struct:
		if t.Size() > 0 && !directIface(t) {
			// The interface points to its own copy of the struct.
			p := encPlanFor(t)
			return p.enc(b, (*[2]unsafe.Pointer)(unsafe.Pointer(&v))[1])
		}
	case reflect.Slice:
		// Common top-level slices ([]byte included) by plan, from a copy
		// of the header.
		rv := reflect.ValueOf(v)
		h := sliceHeader{data: rv.UnsafePointer(), len: rv.Len(), cap: rv.Cap()}
		return encPlanFor(t).enc(b, unsafe.Pointer(&h))
	}
	return libraryAppend(b, v)
}

// directIface reports whether a struct type is stored in an interface's
// data word itself (a struct of one pointer-shaped field), where
// appendValue cannot take its address.
func directIface(t reflect.Type) bool {
	for t.Kind() == reflect.Struct || t.Kind() == reflect.Array {
		if t.Kind() == reflect.Struct {
			if t.NumField() != 1 {
				return false
			}
			t = t.Field(0).Type
		} else {
			if t.Len() != 1 {
				return false
			}
			t = t.Elem()
		}
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return true
	}
	return false
}
