package codec

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"
)

// How codec.MsgPack decodes into a Go type: a plan, made once per type and
// cached, is a function that reads one value from the payload and stores
// it at an address of that type, calling the plans of the element and
// field types in turn. Every integer is checked against its Go type as it
// is read (msgpack_range.go), so a decode is one pass over the payload.
//
// Why not vmihailenco/msgpack's own decoder: it cannot check the integers
// without a second decode of the payload (it truncates, and offers no hook
// per decoder that is not registered for the whole program), and it reads
// through an io.Reader byte by byte, allocating a reflect.Value for every
// map entry. The benchmarks' small struct (BenchmarkMsgPackDecode) decodes
// this way in ≈ 0.8 µs and 9 allocations, where the library's decode plus
// the check's second decode took ≈ 5.7 µs and 47 (the library's decode
// alone ≈ 1.9 µs and 13), about half of Node's own decode of the payload.
// The cost: a plan is made once per type, under a lock, with reflection;
// after that every Unmarshal looks it up in a sync.Map.
//
// The plans follow the library's rules, so that a value decodes the same
// either way (FuzzMsgPackDecodeMatchesLibrary checks it): fields by their
// msgpack tag (name, "-", alias, inline, noinline; embedded structs
// inlined as getFields does), a struct from a map or, by position, from an
// array; map[string]any and []any from DecodeInterface; []byte and string
// from str, bin or nil; existing slices, maps and pointers reused as the
// library reuses them. Types the library hands to their own decoder
// (msgpack.CustomDecoder, msgpack.Unmarshaler, encoding.BinaryUnmarshaler,
// encoding.TextUnmarshaler), interfaces other than any, and kinds it does
// not support are decoded by the library itself (decoder.library), with
// its integer behaviour. A decoder registered with msgpack.Register is not
// seen here: implement msgpack.CustomDecoder instead.

// decFn decodes the next value into the Go value at p.
type decFn func(d *decoder, p unsafe.Pointer) error

type plan struct {
	dec decFn
}

var (
	plans  sync.Map // reflect.Type → *plan, complete
	planMu sync.Mutex
)

// planFor returns the plan of t, making it (and its parts) on first use.
func planFor(t reflect.Type) *plan {
	if p, ok := plans.Load(t); ok {
		return p.(*plan)
	}
	planMu.Lock()
	defer planMu.Unlock()
	if p, ok := plans.Load(t); ok {
		return p.(*plan)
	}
	b := planner{m: make(map[reflect.Type]*plan)}
	p := b.plan(t)
	for t, q := range b.m {
		plans.Store(t, q)
	}
	return p
}

// planner makes the plans of one type and its parts. A plan refers to the
// plans of its parts through pointers, so recursive types work: the parts'
// functions are set before anything is decoded.
type planner struct {
	m map[reflect.Type]*plan
}

func (b *planner) plan(t reflect.Type) *plan {
	if p, ok := plans.Load(t); ok {
		return p.(*plan)
	}
	if p, ok := b.m[t]; ok {
		return p
	}
	p := &plan{}
	b.m[t] = p
	p.dec = b.build(t)
	return p
}

var (
	timeType     = reflect.TypeFor[time.Time]()
	timePtrType  = reflect.TypeFor[*time.Time]()
	stringType   = reflect.TypeFor[string]()
	anyType      = reflect.TypeFor[any]()
	decoderIface = []reflect.Type{
		reflect.TypeFor[msgpack.CustomDecoder](), reflect.TypeFor[msgpack.Unmarshaler](),
		reflect.TypeFor[encoding.BinaryUnmarshaler](), reflect.TypeFor[encoding.TextUnmarshaler](),
	}
	encoderIface = []reflect.Type{
		reflect.TypeFor[msgpack.CustomEncoder](), reflect.TypeFor[msgpack.Marshaler](),
		reflect.TypeFor[encoding.BinaryMarshaler](), reflect.TypeFor[encoding.TextMarshaler](),
	}
)

// implements reports whether t, or a pointer to it, has one of ifaces.
func implements(t reflect.Type, ifaces []reflect.Type) bool {
	for _, it := range ifaces {
		if t.Implements(it) || t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(it) {
			return true
		}
	}
	return false
}

func (b *planner) build(t reflect.Type) decFn {
	switch {
	case t == timeType: // the library's registered time extension
		return decTime
	case t.Kind() == reflect.Pointer && t.Elem() == timeType:
		return b.ptr(t)
	case implements(t, decoderIface):
		return libraryDec(t)
	}
	switch t.Kind() {
	case reflect.Bool:
		return func(d *decoder, p unsafe.Pointer) (err error) {
			*(*bool)(p), err = d.bool()
			return err
		}
	case reflect.Int:
		return signedDec[int](t)
	case reflect.Int8:
		return signedDec[int8](t)
	case reflect.Int16:
		return signedDec[int16](t)
	case reflect.Int32:
		return signedDec[int32](t)
	case reflect.Int64:
		return signedDec[int64](t)
	case reflect.Uint:
		return unsignedDec[uint](t)
	case reflect.Uint8:
		return unsignedDec[uint8](t)
	case reflect.Uint16:
		return unsignedDec[uint16](t)
	case reflect.Uint32:
		return unsignedDec[uint32](t)
	case reflect.Uint64:
		return unsignedDec[uint64](t)
	case reflect.Uintptr:
		return unsignedDec[uintptr](t)
	case reflect.Float32:
		return func(d *decoder, p unsafe.Pointer) error {
			f, err := d.float(true)
			*(*float32)(p) = float32(f)
			return err
		}
	case reflect.Float64:
		return func(d *decoder, p unsafe.Pointer) (err error) {
			*(*float64)(p), err = d.float(false)
			return err
		}
	case reflect.String:
		return func(d *decoder, p unsafe.Pointer) (err error) {
			*(*string)(p), err = d.string()
			return err
		}
	case reflect.Slice:
		switch {
		case t.Elem().Kind() == reflect.Uint8:
			return decBytes
		case t.Elem() == stringType:
			return decStrings
		}
		return b.slice(t)
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return byteArrayDec(t)
		}
		return b.array(t)
	case reflect.Map:
		if t.Key() == stringType && t.Elem() == anyType {
			return decMapStringAny
		}
		return b.mapOf(t)
	case reflect.Pointer:
		return b.ptr(t)
	case reflect.Struct:
		return b.structOf(t)
	case reflect.Interface:
		if t.NumMethod() == 0 {
			return decAny
		}
	}
	// Other interfaces, and kinds the library refuses (with its error).
	return libraryDec(t)
}

// libraryDec decodes a value of t with vmihailenco/msgpack.
func libraryDec(t reflect.Type) decFn {
	return func(d *decoder, p unsafe.Pointer) error {
		start := d.pos
		if err := d.skip(); err != nil {
			return err
		}
		return d.library(start, reflect.NewAt(t, p).Elem())
	}
}

func signedDec[T int | int8 | int16 | int32 | int64](t reflect.Type) decFn {
	return intDec[T](t, (*decoder).readSigned)
}

func unsignedDec[T uint | uint8 | uint16 | uint32 | uint64 | uintptr](t reflect.Type) decFn {
	return intDec[T](t, (*decoder).readUnsigned)
}

// intDec decodes a Go integer T with read, readSigned or readUnsigned.
func intDec[T int | int8 | int16 | int32 | int64 | uint | uint8 | uint16 | uint32 | uint64 | uintptr, W int64 | uint64](t reflect.Type, read func(*decoder, int) (W, error)) decFn {
	bits := int(unsafe.Sizeof(T(0))) * 8
	return func(d *decoder, p unsafe.Pointer) error {
		x, err := read(d, bits)
		if err != nil {
			return typed(err, t)
		}
		*(*T)(p) = T(x)
		return nil
	}
}

func decTime(d *decoder, p unsafe.Pointer) (err error) {
	*(*time.Time)(p), err = d.time()
	return err
}

// decBytes decodes a []byte: nil for nil, else a copy of the bytes, into
// the slice's own array when it is large enough (as the library does).
func decBytes(d *decoder, p unsafe.Pointer) error {
	c, err := d.code()
	if err != nil {
		return err
	}
	b, ok, err := d.bytesOf(c)
	if err != nil {
		return err
	}
	bp := (*[]byte)(p)
	if !ok {
		*bp = nil
		return nil
	}
	dst := *bp
	if dst == nil || cap(dst) < len(b) {
		dst = make([]byte, len(b))
	}
	*bp = dst[:copy(dst[:len(b)], b)]
	return nil
}

func byteArrayDec(t reflect.Type) decFn {
	n := t.Len()
	return func(d *decoder, p unsafe.Pointer) error {
		c, err := d.code()
		if err != nil {
			return err
		}
		b, ok, err := d.bytesOf(c)
		if err != nil || !ok {
			return err
		}
		if len(b) > n {
			return fmt.Errorf("%s len is %d, but msgpack has %d elements", t, n, len(b))
		}
		copy(unsafe.Slice((*byte)(p), n), b)
		return nil
	}
}

// decStrings decodes a []string as the library's fast path for it does:
// nil leaves the slice as it is.
func decStrings(d *decoder, p unsafe.Pointer) error {
	n, ok, err := d.arrayLen()
	if err != nil || !ok {
		return err
	}
	sp := (*[]string)(p)
	s := *sp
	if s == nil || cap(s) < n {
		s = make([]string, n)
	}
	s = s[:n]
	for i := range s {
		if s[i], err = d.string(); err != nil {
			return err
		}
	}
	*sp = s
	return nil
}

// sliceHeader is the layout of a slice.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

// zeroArray is where empty, non-nil slices point.
var zeroArray [0]uint64

func (b *planner) slice(t reflect.Type) decFn {
	ep := b.plan(t.Elem())
	size := t.Elem().Size()
	return func(d *decoder, p unsafe.Pointer) error {
		n, ok, err := d.arrayLen()
		if err != nil {
			return err
		}
		sh := (*sliceHeader)(p)
		switch {
		case !ok:
			*sh = sliceHeader{}
			return nil
		case n == 0 && sh.data == nil:
			sh.data = unsafe.Pointer(&zeroArray)
			return nil
		case sh.cap >= n:
			sh.len = n
		case sh.data == nil:
			reflect.NewAt(t, p).Elem().Grow(n)
			sh.len = n
		default: // grow, keeping what the array holds, as the library
			sh.len = sh.cap
			reflect.NewAt(t, p).Elem().Grow(n - sh.len)
			sh.len = n
		}
		for i := range n {
			if err := ep.dec(d, unsafe.Add(sh.data, uintptr(i)*size)); err != nil {
				return atIndex(err, i)
			}
		}
		return nil
	}
}

func (b *planner) array(t reflect.Type) decFn {
	ep := b.plan(t.Elem())
	size, max := t.Elem().Size(), t.Len()
	return func(d *decoder, p unsafe.Pointer) error {
		n, ok, err := d.arrayLen()
		if err != nil || !ok {
			return err
		}
		if n > max {
			return fmt.Errorf("%s len is %d, but msgpack has %d elements", t, max, n)
		}
		for i := range n {
			if err := ep.dec(d, unsafe.Add(p, uintptr(i)*size)); err != nil {
				return atIndex(err, i)
			}
		}
		return nil
	}
}

// ptr decodes a pointer: nil for nil, else the value into what it points
// to, allocated if it is nil.
func (b *planner) ptr(t reflect.Type) decFn {
	et := t.Elem()
	ep := b.plan(et)
	return func(d *decoder, p unsafe.Pointer) error {
		pp := (*unsafe.Pointer)(p)
		if d.nextIsNil() {
			*pp = nil
			return nil
		}
		if *pp == nil {
			*pp = reflect.New(et).UnsafePointer()
		}
		return ep.dec(d, *pp)
	}
}

// mapOf decodes a map other than map[string]any: into the existing map if
// there is one (nil for nil), every key and value decoded from zero.
func (b *planner) mapOf(t reflect.Type) decFn {
	if t.Key() == stringType {
		if f := stringMapDec(t.Elem()); f != nil {
			return f
		}
	}
	kt, vt := t.Key(), t.Elem()
	kp, vp := b.plan(kt), b.plan(vt)
	return func(d *decoder, p unsafe.Pointer) error {
		n, ok, err := d.mapLen()
		if err != nil {
			return err
		}
		m := reflect.NewAt(t, p).Elem()
		if !ok {
			m.SetZero()
			return nil
		}
		if m.IsNil() {
			m.Set(reflect.MakeMapWithSize(t, n))
		}
		if n == 0 {
			return nil
		}
		k, v := reflect.New(kt).Elem(), reflect.New(vt).Elem()
		for range n {
			k.SetZero()
			v.SetZero()
			if err := kp.dec(d, k.Addr().UnsafePointer()); err != nil {
				return at(err, "[key]")
			}
			if err := vp.dec(d, v.Addr().UnsafePointer()); err != nil {
				return at(err, keySegment(k))
			}
			m.SetMapIndex(k, v)
		}
		return nil
	}
}

func keySegment(k reflect.Value) string {
	if k.Kind() == reflect.String {
		return "." + k.String()
	}
	return fmt.Sprintf("[%v]", k.Interface())
}

// stringMapDec returns the decoder of a map[string]V for the common
// element types, which assigns entries without reflection (nil if V is
// not one of them).
func stringMapDec(vt reflect.Type) decFn {
	switch vt {
	case stringType:
		return strMapDec(func(d *decoder) (string, error) { return d.string() })
	case reflect.TypeFor[int]():
		return strMapDec(func(d *decoder) (int, error) {
			x, err := d.readSigned(intBits(reflect.Int))
			return int(x), typed(err, vt)
		})
	case reflect.TypeFor[int64]():
		return strMapDec(func(d *decoder) (int64, error) {
			x, err := d.readSigned(64)
			return x, typed(err, vt)
		})
	case reflect.TypeFor[uint64]():
		return strMapDec(func(d *decoder) (uint64, error) {
			x, err := d.readUnsigned(64)
			return x, typed(err, vt)
		})
	case reflect.TypeFor[float64]():
		return strMapDec(func(d *decoder) (float64, error) { return d.float(false) })
	case reflect.TypeFor[bool]():
		return strMapDec(func(d *decoder) (bool, error) { return d.bool() })
	}
	return nil
}

// strMapHeader reads the header of a map for the map[string]V at p; a nil
// sets it to nil. ok is false when there is nothing more to read.
func strMapHeader[V any](d *decoder, p unsafe.Pointer) (mp *map[string]V, n int, ok bool, err error) {
	mp = (*map[string]V)(p)
	if n, ok, err = d.mapLen(); err == nil && !ok {
		*mp = nil
	}
	return mp, n, ok && err == nil, err
}

func strMapDec[V any](get func(*decoder) (V, error)) decFn {
	return func(d *decoder, p unsafe.Pointer) error {
		mp, n, ok, err := strMapHeader[V](d, p)
		if !ok {
			return err
		}
		m := *mp
		if m == nil {
			m = make(map[string]V, n)
			*mp = m
		}
		for range n {
			k, err := d.key()
			if err != nil {
				return err
			}
			v, err := get(d)
			if err != nil {
				return at(err, "."+string(k))
			}
			m[string(k)] = v
		}
		return nil
	}
}

var errArrayStruct = errors.New("msgpack: number of fields in array-encoded struct has changed")
