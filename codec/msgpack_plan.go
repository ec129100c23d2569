package codec

import (
	"fmt"
	"reflect"
	"sync"
	"time"
	"unsafe"

	"github.com/procwire/procwire-go/internal/msgpacktype"
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
//
// Every failure is a *DecodeError (msgpack_error.go). The low-level reads
// make it with the offset of the value (or errMsgpackTruncated, made into
// one on the way up); the plan that called them adds what its Go type
// wants (decoder.want), and each container the segment of its part
// (decoder.at: ".name", "[3]", `["k"]`); Unmarshal finally joins the
// path and describes what the payload holds at the offset. A successful
// decode never touches any of it: each step is behind an err != nil.

// decFn decodes the next value into the Go value at p.
type decFn func(d *decoder, p unsafe.Pointer) error

type plan struct {
	dec       decFn
	recursive bool // the type contains itself: its depth is counted
}

// planCache holds the plans P of one direction (decoding or encoding) by
// type. A plan refers to the plans of its parts through pointers, so
// recursive types work: a type's plan and those of its parts are made
// together, under a lock, and become visible to get's lock-free path only
// once all of them are complete.
type planCache[P any] struct {
	done   sync.Map            // reflect.Type → *P, complete
	mu     sync.Mutex          // held while plans are made
	making map[reflect.Type]*P // under mu: the plans being made
}

// get returns the plan of t, making it (and its parts) with makePlan on
// first use.
func (c *planCache[P]) get(t reflect.Type, makePlan func(reflect.Type) *P) *P {
	if p, ok := c.done.Load(t); ok {
		return p.(*P)
	}
	return c.make(t, makePlan)
}

func (c *planCache[P]) make(t reflect.Type, makePlan func(reflect.Type) *P) *P {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.done.Load(t); ok {
		return p.(*P)
	}
	c.making = make(map[reflect.Type]*P)
	p := makePlan(t)
	for t, q := range c.making {
		c.done.Store(t, q)
	}
	c.making = nil
	return p
}

// lookup returns the plan of t, complete or being made, with found true;
// else a new plan for t, which it adds to those being made, for the caller
// to complete. Only makePlan may call it.
func (c *planCache[P]) lookup(t reflect.Type) (p *P, found bool) {
	if p, ok := c.done.Load(t); ok {
		return p.(*P), true
	}
	if p, ok := c.making[t]; ok {
		return p, true
	}
	p = new(P)
	c.making[t] = p
	return p, false
}

var plans planCache[plan]

// planFor returns the plan of t, making it (and its parts) on first use.
func planFor(t reflect.Type) *plan { return plans.get(t, planner{}.plan) }

// planner makes the decoding plans of a type and its parts.
type planner struct{}

func (b planner) plan(t reflect.Type) *plan {
	p, found := plans.lookup(t)
	if found {
		if p.dec == nil {
			p.recursive = true // t is being built: a part of t is a t
		}
		return p
	}
	dec := b.build(t)
	if p.recursive {
		dec = depthCounted(dec)
	}
	p.dec = dec
	return p
}

// maxDepth bounds the nesting of the values decoded into a recursive Go
// type or an interface: the decoder recurses once per level, and a
// payload of a few megabytes of nested arrays would otherwise exhaust the
// goroutine's stack, which is fatal.
const maxDepth = 10000

// depthCounted counts the levels of a recursive type's values.
func depthCounted(dec decFn) decFn {
	return func(d *decoder, p unsafe.Pointer) error {
		if d.depth++; d.depth > maxDepth {
			return d.tooDeep()
		}
		err := dec(d, p)
		d.depth--
		return err
	}
}

var (
	timeType     = msgpacktype.Time
	timePtrType  = reflect.TypeFor[*time.Time]()
	stringType   = reflect.TypeFor[string]()
	anyType      = reflect.TypeFor[any]()
	decoderIface = msgpacktype.Decoders
	encoderIface = msgpacktype.Encoders
)

func (b planner) build(t reflect.Type) decFn {
	switch {
	case t == timeType: // the library's registered time extension
		return decTime
	case t.Kind() == reflect.Pointer && t.Elem() == timeType:
		return b.ptr(t)
	case msgpacktype.Implements(t, decoderIface):
		return libraryDec(t)
	}
	// Every decoder gives its errors the Go type they were for (want),
	// and those from its parts their place (at); only failing decodes pay.
	switch t.Kind() {
	case reflect.Bool:
		return scalarDec((*decoder).bool, "boolean")
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
			if err != nil {
				return d.want(err, "number")
			}
			*(*float32)(p) = float32(f)
			return nil
		}
	case reflect.Float64:
		return scalarDec(func(d *decoder) (float64, error) { return d.float(false) }, "number")
	case reflect.String:
		return scalarDec((*decoder).string, "string")
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
	want := wantOf(t)
	return func(d *decoder, p unsafe.Pointer) error {
		start := d.pos
		if err := d.skip(); err != nil {
			return d.want(err, want)
		}
		if err := d.library(start, reflect.NewAt(t, p).Elem()); err != nil {
			return d.wrongAt(start, want, err)
		}
		return nil
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
	plain, ranged := intWant(t.Kind())
	return func(d *decoder, p unsafe.Pointer) error {
		x, err := read(d, bits)
		if err != nil {
			return d.wantInt(err, plain, ranged)
		}
		*(*T)(p) = T(x)
		return nil
	}
}

// wantInt gives err, from reading an integer, the Go integer type it was
// for: plain, or ranged when the integer does not fit.
func (d *decoder) wantInt(err error, plain, ranged string) error {
	if de, ok := err.(*DecodeError); ok && de.Err == errOverflow {
		return d.want(err, ranged)
	}
	return d.want(err, plain)
}

// scalarDec decodes a T with read, whose errors want the JavaScript type
// want: the plan of booleans, float64s, strings and time.Time.
func scalarDec[T bool | float64 | string | time.Time](read func(*decoder) (T, error), want string) decFn {
	return func(d *decoder, p unsafe.Pointer) (err error) {
		if *(*T)(p), err = read(d); err != nil {
			return d.want(err, want)
		}
		return nil
	}
}

var decTime = scalarDec((*decoder).time, "date")

// decBytes decodes a []byte: nil for nil, else a copy of the bytes, into
// the slice's own array when it is large enough (as the library does).
func decBytes(d *decoder, p unsafe.Pointer) error {
	b, ok, err := d.bytes()
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
		start := d.pos
		b, ok, err := d.bytes()
		if err != nil || !ok {
			return err
		}
		if len(b) > n {
			return d.wrongAt(start, fmt.Sprintf("at most %d bytes (%s)", n, t), nil)
		}
		copy(unsafe.Slice((*byte)(p), n), b)
		return nil
	}
}

// decStrings decodes a []string as the library's fast path for it does:
// nil leaves the slice as it is.
func decStrings(d *decoder, p unsafe.Pointer) error {
	n, ok, err := d.arrayLen()
	if err != nil {
		return d.want(err, "array")
	}
	if !ok {
		return nil
	}
	sp := (*[]string)(p)
	s := *sp
	if s == nil || cap(s) < n {
		s = make([]string, n)
	}
	s = s[:n]
	for i := range s {
		if s[i], err = d.string(); err != nil {
			return d.atIndex(d.want(err, "string"), i)
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

func (b planner) slice(t reflect.Type) decFn {
	ep := b.plan(t.Elem())
	size := t.Elem().Size()
	return func(d *decoder, p unsafe.Pointer) error {
		n, ok, err := d.arrayLen()
		if err != nil {
			return d.want(err, "array")
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
				return d.atIndex(err, i)
			}
		}
		return nil
	}
}

func (b planner) array(t reflect.Type) decFn {
	ep := b.plan(t.Elem())
	size, max := t.Elem().Size(), t.Len()
	return func(d *decoder, p unsafe.Pointer) error {
		start := d.pos
		n, ok, err := d.arrayLen()
		if err != nil {
			return d.want(err, "array")
		}
		if !ok {
			return nil
		}
		if n > max {
			return d.wrongAt(start, fmt.Sprintf("array of at most %d items (%s)", max, t), nil)
		}
		for i := range n {
			if err := ep.dec(d, unsafe.Add(p, uintptr(i)*size)); err != nil {
				return d.atIndex(err, i)
			}
		}
		return nil
	}
}

// ptr decodes a pointer: nil for nil, else the value into what it points
// to, allocated if it is nil.
func (b planner) ptr(t reflect.Type) decFn {
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
func (b planner) mapOf(t reflect.Type) decFn {
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
			return d.want(err, "object")
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
				return d.at(err, "[key]")
			}
			if err := vp.dec(d, v.Addr().UnsafePointer()); err != nil {
				return d.at(err, keySegment(k))
			}
			m.SetMapIndex(k, v)
		}
		return nil
	}
}

// keySegment is the path segment of the map key k: `["k"]` for a string.
func keySegment(k reflect.Value) string {
	if k.Kind() == reflect.String {
		return keySeg([]byte(k.String()))
	}
	return fmt.Sprintf("[%v]", k.Interface())
}

// stringMapDec returns the decoder of a map[string]V for the common
// element types, which assigns entries without reflection (nil if V is
// not one of them).
func stringMapDec(vt reflect.Type) decFn {
	want, ranged := wantOf(vt), ""
	switch vt {
	case stringType:
		return strMapDec(want, ranged, func(d *decoder) (string, error) { return d.string() })
	case reflect.TypeFor[int]():
		_, ranged = intWant(reflect.Int)
		return strMapDec(want, ranged, func(d *decoder) (int, error) {
			x, err := d.readSigned(intBits(reflect.Int))
			return int(x), err
		})
	case reflect.TypeFor[int64]():
		_, ranged = intWant(reflect.Int64)
		return strMapDec(want, ranged, func(d *decoder) (int64, error) { return d.readSigned(64) })
	case reflect.TypeFor[uint64]():
		_, ranged = intWant(reflect.Uint64)
		return strMapDec(want, ranged, func(d *decoder) (uint64, error) { return d.readUnsigned(64) })
	case reflect.TypeFor[float64]():
		return strMapDec(want, ranged, func(d *decoder) (float64, error) { return d.float(false) })
	case reflect.TypeFor[bool]():
		return strMapDec(want, ranged, func(d *decoder) (bool, error) { return d.bool() })
	}
	return nil
}

// strMapHeader reads the header of a map for the map[string]V at p; a nil
// sets it to nil. ok is false when there is nothing more to read.
func strMapHeader[V any](d *decoder, p unsafe.Pointer) (mp *map[string]V, n int, ok bool, err error) {
	mp = (*map[string]V)(p)
	if n, ok, err = d.mapLen(); err != nil {
		return mp, 0, false, d.want(err, "object")
	}
	if !ok {
		*mp = nil
	}
	return mp, n, ok, nil
}

// strMapDec decodes a map[string]V with get; its errors want the value
// type want (ranged for an integer that does not fit).
func strMapDec[V any](want, ranged string, get func(*decoder) (V, error)) decFn {
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
				return d.want(err, "object key (string)")
			}
			v, err := get(d)
			if err != nil {
				return d.at(d.wantInt(err, want, ranged), keySeg(k))
			}
			m[d.st.intern(k)] = v
		}
		return nil
	}
}
