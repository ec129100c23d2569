package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"
)

// FuzzMsgPackDecodeMatchesLibrary decodes arbitrary bytes with
// codec.MsgPack and with vmihailenco/msgpack itself (after rewriting Node's
// extensions, as the codec did before it had its own decoder), into a set
// of target types. Where the library decodes the payload, the codec must
// give the same value when every integer on the wire fits the Go type it
// goes into, and a range error when one does not. Which is which the
// library tells too: the payload is decoded once more into a twin of the
// target whose integers and floats are recorders (chk, chkF), custom
// decoders the library calls for every one of them, duplicates included.
func FuzzMsgPackDecodeMatchesLibrary(f *testing.F) {
	addFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		matchLibrary[fzNarrow, fzTwin](t, b)
		matchLibrary[any, any](t, b)
		matchLibrary[[]int16, []chk[int16]](t, b)
		matchLibrary[map[string]uint32, map[string]chk[uint32]](t, b)
		matchLibrary[map[int16]int8, map[chk[int16]]chk[int8]](t, b)
		matchLibrary[uint8, chk[uint8]](t, b)
		matchLibrary[int64, chk[int64]](t, b)
		matchLibrary[float64, chkF[float64]](t, b)
		matchLibrary[time.Time, time.Time](t, b)
		matchLibrary[[]fzInner, []fzInnerTwin](t, b)
	})
}

// Set by the recorders while the library decodes a twin (fuzzing calls
// the fuzz function from one goroutine at a time).
var (
	sawOverflow  bool // an integer for a Go integer type that does not fit it
	sawFloatWrap bool // a uint64 above 2^63 for a float, which the library makes negative
)

func matchLibrary[N, W any](t *testing.T, b []byte) {
	t.Helper()
	var got N
	err := MsgPack.Unmarshal(b, &got)
	var de *DecodeError
	if err != nil && (!errors.As(err, &de) || de.Got == "") {
		t.Fatalf("%T from %x: %v is not a complete *DecodeError (%#v)", got, b, err, de)
	}
	// Strict mode refuses more, and decodes what it accepts the same.
	var strict N
	if serr := MsgPackStrict.Unmarshal(b, &strict); serr == nil && (err != nil || !same(reflect.ValueOf(&got).Elem(), reflect.ValueOf(&strict).Elem())) {
		t.Fatalf("%T from %x: strict gives %#v, not strict %#v (%v)", got, b, strict, got, err)
	}
	var want N
	norm, nerr := normalizeNodeExt(b)
	if nerr != nil || libraryDecode(norm, &want) != nil {
		return // the library refuses it: nothing to compare
	}
	var twin W
	sawOverflow, sawFloatWrap = false, false
	if terr := libraryDecode(norm, &twin); terr != nil {
		t.Fatalf("%T: the library decodes %x, but not into the twin %T: %v", want, b, twin, terr)
	}
	switch {
	case sawOverflow && (!errors.As(err, &de) || de.Err != errOverflow):
		t.Fatalf("%T from %x: an integer does not fit, got %#v, error %v (library: %#v)", want, b, got, err, want)
	case sawOverflow:
	case err != nil:
		t.Fatalf("%T from %x: %v (library: %#v)", want, b, err, want)
	case !sawFloatWrap && !same(reflect.ValueOf(&got).Elem(), reflect.ValueOf(&want).Elem()):
		t.Fatalf("%T from %x:\n got  %#v\n want %#v", want, b, got, want)
	}
}

// libraryDecode decodes with a stock decoder; a panic is a failure. It
// refuses, without handing it to the library, input in which a 32-bit
// array or map declares more entries than the input has bytes (see
// declaresTooMany): the library's DecodeMap (v5.4.1) allocates a declared
// length before it reads an entry, and it reads a map's length after
// skipping an extension header, so that 81 a2 6d 61 d6 ff df 81 00 00 00
// (a map whose value is a 4-byte extension, decoded into map[string]any)
// becomes a map of 2^31 entries and exhausts the memory of the test.
// Such input is not valid (an entry takes a byte at least): there is
// nothing to compare.
func libraryDecode(b []byte, v any) (err error) {
	if declaresTooMany(b) {
		return errors.New("a 32-bit array or map longer than the input")
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return msgpack.Unmarshal(b, v)
}

// declaresTooMany reports whether b holds the code of a 32-bit array or
// map (0xdd, 0xdf) followed by a length beyond len(b). It scans bytes, not
// values, so it also finds such bytes inside a string: the fuzz target
// then compares less, never wrongly.
func declaresTooMany(b []byte) bool {
	for i, c := range b {
		if (c == 0xdd || c == 0xdf) && i+5 <= len(b) && int64(binary.BigEndian.Uint32(b[i+1:])) > int64(len(b)) {
			return true
		}
	}
	return false
}

type integer interface {
	int | int8 | int16 | int32 | int64 | uint | uint8 | uint16 | uint32 | uint64
}

// chk stands for a T in a twin: it holds what the wire had, and notes an
// integer that does not fit a T.
type chk[T integer] struct{ v any }

func (c *chk[T]) DecodeMsgpack(d *msgpack.Decoder) error {
	v, err := d.DecodeInterface()
	if err != nil {
		return err
	}
	c.v = v
	w, ok := wireOf(v)
	if !ok {
		return fmt.Errorf("chk: %#v for an integer", v)
	}
	bits := int(unsafe.Sizeof(T(0))) * 8
	if T(0)-1 < 0 && !w.fitsInt(bits) || T(0)-1 > 0 && !w.fitsUint(bits) {
		sawOverflow = true
	}
	return nil
}

// chkF stands for a float in a twin.
type chkF[T float32 | float64] struct{ v any }

func (c *chkF[T]) DecodeMsgpack(d *msgpack.Decoder) error {
	v, err := d.DecodeInterface()
	c.v = v
	if u, ok := v.(uint64); ok && u > math.MaxInt64 {
		sawFloatWrap = true
	}
	return err
}

func wireOf(v any) (wireValue, bool) {
	switch x := v.(type) {
	case int8:
		return signed(int64(x)), true
	case int16:
		return signed(int64(x)), true
	case int32:
		return signed(int64(x)), true
	case int64:
		return signed(x), true
	case uint8:
		return wireValue{u: uint64(x)}, true
	case uint16:
		return wireValue{u: uint64(x)}, true
	case uint32:
		return wireValue{u: uint64(x)}, true
	case uint64:
		return wireValue{u: x}, true
	}
	return wireValue{}, false
}

type fzInner struct {
	N uint8 `msgpack:"n"`
	I int16 `msgpack:"i"`
}

type fzInnerTwin struct {
	N chk[uint8] `msgpack:"n"`
	I chk[int16] `msgpack:"i"`
}

type FzEmb struct {
	E int8   `msgpack:"e"`
	S string `msgpack:"s"`
}

type FzEmbTwin struct {
	E chk[int8] `msgpack:"e"`
	S string    `msgpack:"s"`
}

// fzNarrow has a field of every kind the decoder plans itself.
type fzNarrow struct {
	FzEmb `msgpack:"emb"`
	A     int8              `msgpack:"a"`
	B     uint16            `msgpack:"b"`
	C     int32             `msgpack:"c"`
	D     uint32            `msgpack:"d"`
	I     int               `msgpack:"i"`
	U     uint64            `msgpack:"u"`
	J     int64             `msgpack:"j"`
	K     uint              `msgpack:"k,alias:kk"`
	F     float64           `msgpack:"f"`
	G     float32           `msgpack:"g"`
	T     bool              `msgpack:"t"`
	Str   string            `msgpack:"str"`
	Bin   []byte            `msgpack:"bin"`
	L     []int16           `msgpack:"l"`
	Ss    []string          `msgpack:"ss"`
	M     map[string]uint8  `msgpack:"m"`
	MI    map[string]int    `msgpack:"mi"`
	MK    map[uint8]string  `msgpack:"mk"`
	MS    map[string]string `msgpack:"ms"`
	MA    map[string]any    `msgpack:"ma"`
	P     *int8             `msgpack:"p"`
	In    fzInner           `msgpack:"in"`
	PIn   *fzInner          `msgpack:"pin"`
	LIn   []fzInner         `msgpack:"lin"`
	Arr   [2]int16          `msgpack:"arr"`
	BA    [3]byte           `msgpack:"ba"`
	X     any               `msgpack:"x"`
	When  time.Time         `msgpack:"when"`
	PWhen *time.Time        `msgpack:"pwhen"`
	Skip  int8              `msgpack:"-"`
}

// fzTwin is fzNarrow with every integer and float a recorder.
type fzTwin struct {
	FzEmbTwin `msgpack:"emb"`
	A         chk[int8]             `msgpack:"a"`
	B         chk[uint16]           `msgpack:"b"`
	C         chk[int32]            `msgpack:"c"`
	D         chk[uint32]           `msgpack:"d"`
	I         chk[int]              `msgpack:"i"`
	U         chk[uint64]           `msgpack:"u"`
	J         chk[int64]            `msgpack:"j"`
	K         chk[uint]             `msgpack:"k,alias:kk"`
	F         chkF[float64]         `msgpack:"f"`
	G         chkF[float32]         `msgpack:"g"`
	T         bool                  `msgpack:"t"`
	Str       string                `msgpack:"str"`
	Bin       []byte                `msgpack:"bin"`
	L         []chk[int16]          `msgpack:"l"`
	Ss        []string              `msgpack:"ss"`
	M         map[string]chk[uint8] `msgpack:"m"`
	MI        map[string]chk[int]   `msgpack:"mi"`
	MK        map[chk[uint8]]string `msgpack:"mk"`
	MS        map[string]string     `msgpack:"ms"`
	MA        map[string]any        `msgpack:"ma"`
	P         *chk[int8]            `msgpack:"p"`
	In        fzInnerTwin           `msgpack:"in"`
	PIn       *fzInnerTwin          `msgpack:"pin"`
	LIn       []fzInnerTwin         `msgpack:"lin"`
	Arr       [2]chk[int16]         `msgpack:"arr"`
	BA        [3]byte               `msgpack:"ba"`
	X         any                   `msgpack:"x"`
	When      time.Time             `msgpack:"when"`
	PWhen     *time.Time            `msgpack:"pwhen"`
	Skip      chk[int8]             `msgpack:"-"`
}

// same is reflect.DeepEqual, except that NaN equals NaN and times are
// compared as instants in the same zone.
func same(a, b reflect.Value) bool {
	if a.Type() != b.Type() {
		return false
	}
	if a.Type() == reflect.TypeFor[time.Time]() {
		ta, tb := a.Interface().(time.Time), b.Interface().(time.Time)
		return ta.Equal(tb) && ta.Location().String() == tb.Location().String()
	}
	switch a.Kind() {
	case reflect.Float32, reflect.Float64:
		x, y := a.Float(), b.Float()
		return x == y && math.Signbit(x) == math.Signbit(y) || x != x && y != y
	case reflect.Interface, reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		if a.Kind() == reflect.Interface && a.Elem().Type() != b.Elem().Type() {
			return false
		}
		return same(a.Elem(), b.Elem())
	case reflect.Slice, reflect.Array:
		if a.Kind() == reflect.Slice && a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !same(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for it := a.MapRange(); it.Next(); {
			if w := b.MapIndex(it.Key()); !w.IsValid() || !same(it.Value(), w) {
				return false
			}
		}
		return true
	case reflect.Struct:
		for i := range a.NumField() {
			if !same(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}

// addFuzzSeeds adds the encodings of fuzzSeeds to f's corpus.
func addFuzzSeeds(f *testing.F) {
	for _, v := range fuzzSeeds() {
		b, err := MsgPack.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// fuzzSeeds are values whose encodings start the fuzzing (the corpus in
// testdata/fuzz/FuzzMsgPackDecodeMatchesLibrary holds hand-written ones).
func fuzzSeeds() []any {
	i8 := int8(-3)
	tm := time.UnixMilli(1700000000123)
	return []any{
		map[string]any{"emb": map[string]any{"e": 1}, "e": -128, "s": "x", "a": 127, "b": 65535, "c": -1 << 31,
			"d": uint32(1<<32 - 1), "i": int64(-1) << 40, "u": uint64(1<<64 - 1), "j": int64(1) << 62, "kk": 7, "f": 1.5, "g": float32(2.5),
			"t": true, "str": "héllo", "bin": []byte{1, 2}, "l": []int16{-1, 300}, "ss": []string{"a", ""},
			"m": map[string]uint8{"x": 255}, "mi": map[string]int{"y": -9}, "mk": map[uint8]string{9: "nine"},
			"ms": map[string]string{"k": "v"}, "ma": map[string]any{"n": nil, "z": []any{1, "2"}}, "p": i8,
			"in": fzInner{N: 200, I: -200}, "pin": []any{1, 2}, "lin": []fzInner{{1, 2}}, "arr": []int{1, -1},
			"ba": []byte{7}, "x": []any{uint64(1) << 63}, "when": tm, "pwhen": tm, "-": 1},
		map[string]any{"a": 128, "m": map[string]any{"x": 256}, "mk": map[int]string{-1: "x"}},
		map[string]any{"a": 1, "a ": 2, "l": []any{1, 40000}, "in": []any{1, 2}},
		map[string]any{"in": []any{1, 2, 3}, "lin": []any{[]any{256, 0}}},
		[]any{int8(-1), uint16(65535), int32(-70000), uint64(1) << 40, nil, 1.5, "s", []byte("b")},
		uint64(1<<64 - 1), int64(-1 << 63), -129, 256, 65536, float32(0.5), math.NaN(), tm,
		map[int16]int8{-300: -1, 5: 127},
		[]fzInner{{N: 1, I: 2}, {N: 255, I: -32768}},
	}
}
