package codec

import (
	"bytes"
	"math"
	"reflect"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"
)

// Decoding into an interface (any, a field of type any, []any,
// map[string]any) gives what the library's Decoder.DecodeInterface gives:
// nil, bool, the Go integer type of the wire form (int8 … int64, uint8 …
// uint64: the value always fits), float32 or float64, string, []byte,
// []any, map[string]any; a Buffer (Node's extension 1) is a []byte, a
// Date (extension 2) or a timestamp a time.Time. Any other extension is
// handed to the library (extensions registered with msgpack.RegisterExt
// decode as there).

// anyValue reads one value as an interface.
func (d *decoder) anyValue() (any, error) {
	c, err := d.code()
	if err != nil {
		return nil, err
	}
	switch {
	case c <= 0x7f || c >= 0xe0:
		return int8(c), nil
	case isFixStr(c) || c >= mpStr8 && c <= mpStr32:
		b, _, err := d.bytesOf(c)
		return d.str(b), err
	case isFixMap(c) || c == mpMap16 || c == mpMap32:
		n, _, err := d.mapLenAfter(c)
		if err != nil {
			return nil, err
		}
		if d.depth++; d.depth > maxDepth {
			return nil, d.tooDeep()
		}
		m, err := d.mapAny(n)
		d.depth--
		return m, err
	case isFixArray(c) || c == mpArray16 || c == mpArray32:
		d.pos--
		n, _, err := d.arrayLen()
		if err != nil {
			return nil, err
		}
		if d.depth++; d.depth > maxDepth {
			return nil, d.tooDeep()
		}
		s := make([]any, n)
		for i := range s {
			if s[i], err = d.anyValue(); err != nil {
				return nil, d.atIndex(d.want(err, "any value"), i)
			}
		}
		d.depth--
		return s, nil
	}
	switch c {
	case mpNil:
		return nil, nil
	case mpFalse:
		return false, nil
	case mpTrue:
		return true, nil
	case mpFloat:
		u, err := d.be(4)
		return math.Float32frombits(uint32(u)), err
	case mpDouble:
		u, err := d.be(8)
		return math.Float64frombits(u), err
	case mpUint8, mpUint8 + 1, mpUint8 + 2, mpUint64, mpInt8, mpInt8 + 1, mpInt8 + 2, mpInt64:
		return d.anyInt(c)
	case mpBin8, mpBin8 + 1, mpBin32:
		b, _, err := d.bytesOf(c)
		if err != nil {
			return nil, err
		}
		return bytes.Clone(b), nil
	}
	if isExt(c) {
		return d.anyExt(c)
	}
	return nil, d.wrongType()
}

// anyInts convert an integer's wire bits to the Go type of its code, by
// code from uint 8 (0xcc) to int 64 (0xd3).
var anyInts = [8]func(uint64) any{
	func(u uint64) any { return uint8(u) },
	func(u uint64) any { return uint16(u) },
	func(u uint64) any { return uint32(u) },
	func(u uint64) any { return u },
	func(u uint64) any { return int8(u) },
	func(u uint64) any { return int16(u) },
	func(u uint64) any { return int32(u) },
	func(u uint64) any { return int64(u) },
}

// anyInt reads the payload of the uint 8-64 or int 8-64 code c (read) as
// the Go integer of that width and signedness.
func (d *decoder) anyInt(c byte) (any, error) {
	u, err := d.be(1 << (c & 3)) // the low two bits give the width: 1, 2, 4, 8
	v := anyInts[c-mpUint8](u)
	return v, err
}

// anyExt reads an extension into an interface.
func (d *decoder) anyExt(c byte) (any, error) {
	start := d.pos - 1
	typ, data, err := d.ext(c)
	if err != nil {
		return nil, err
	}
	switch typ {
	case extBuffer:
		return bytes.Clone(data), nil
	case extDate, -1:
		tm, err := timeExt(typ, data)
		if err != nil {
			return nil, d.wrongAt(start, "", nil)
		}
		return tm, nil
	}
	var v any
	if err = d.library(start, reflect.ValueOf(&v).Elem()); err != nil {
		return nil, d.wrongAt(start, "", err)
	}
	return v, nil
}

// mapAny reads the n entries of a map into a map[string]any, as the
// library's Decoder.DecodeMap: every key a string (or bin, or nil for "").
func (d *decoder) mapAny(n int) (map[string]any, error) {
	m := make(map[string]any, n)
	for range n {
		k, err := d.key()
		if err != nil {
			return nil, d.want(err, "object key (string)")
		}
		v, err := d.anyValue()
		if err != nil {
			return nil, d.at(d.want(err, "any value"), keySeg(k))
		}
		m[d.st.intern(k)] = v
	}
	return m, nil
}

// decMapStringAny decodes a map[string]any (or a named type of it): a new
// map every time, as the library does.
func decMapStringAny(d *decoder, p unsafe.Pointer) error {
	mp, n, ok, err := strMapHeader[any](d, p)
	if !ok {
		return err
	}
	m, err := d.mapAny(n)
	if err != nil {
		return err
	}
	*mp = m
	return nil
}

// decAny decodes into a value of type any. A nil interface gets the value
// as DecodeInterface gives it; one that holds a pointer gets the value
// decoded into what it points to, as the library does. (For one that holds
// anything else, or a nil on the wire for a pointer, the library panics;
// here the interface gets the value decoded afresh.)
func decAny(d *decoder, p unsafe.Pointer) error {
	ip := (*any)(p)
	if *ip != nil {
		if rv := reflect.ValueOf(*ip); rv.Kind() == reflect.Pointer && !rv.IsNil() &&
			d.pos < len(d.b) && d.b[d.pos] != mpNil {
			return planFor(rv.Type().Elem()).dec(d, rv.UnsafePointer())
		}
		*ip = nil
	}
	v, err := d.anyValue()
	if err != nil {
		return d.want(err, "any value")
	}
	if v != nil {
		*ip = v
	}
	return nil
}

// library decodes the value that starts at start, which d has just read
// past, with vmihailenco/msgpack itself, into v: for types that decode
// themselves, interfaces other than any and extensions the library may
// know. Node's extensions in it are rewritten first (normalizeNodeExt).
func (d *decoder) library(start int, v reflect.Value) error {
	data, err := normalizeNodeExt(d.b[start:d.pos])
	if err != nil {
		return err
	}
	if d.st.lib == nil {
		d.st.lib = msgpack.NewDecoder(nil)
	}
	d.st.r.Reset(data)
	d.st.lib.ResetReader(&d.st.r)
	d.st.lib.DisallowUnknownFields(d.strict)
	err = d.st.lib.DecodeValue(v)
	d.st.r.Reset(nil)
	return err
}
