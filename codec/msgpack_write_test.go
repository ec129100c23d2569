package codec

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// encInner is a nested struct of encAll.
type encInner struct {
	A int8    `msgpack:"a"`
	B *string `msgpack:"b,omitempty"`
	C []byte
}

// encEmbedded is inlined by the library (encAll falls back to it).
type encEmbedded struct{ E int }

// encAll has a field of each kind the plans encode, and some they leave to
// the library.
type encAll struct {
	Bool    bool              `msgpack:"bool"`
	I       int               `msgpack:"i"`
	I8      int8              `msgpack:"i8"`
	I16     int16             `msgpack:"i16"`
	I32     int32             `msgpack:"i32"`
	I64     int64             `msgpack:"i64"`
	U       uint              `msgpack:"u"`
	U8      uint8             `msgpack:"u8"`
	U16     uint16            `msgpack:"u16"`
	U32     uint32            `msgpack:"u32"`
	U64     uint64            `msgpack:"u64"`
	F32     float32           `msgpack:"f32"`
	F64     float64           `msgpack:"f64"`
	Str     string            `msgpack:"str"`
	Bytes   []byte            `msgpack:"bytes"`
	Ptr     *int64            `msgpack:"ptr"`
	Strs    []string          `msgpack:"strs"`
	Ints    []int32           `msgpack:"ints"`
	Map     map[string]uint16 `msgpack:"map"`
	Inner   encInner          `msgpack:"inner"`
	InnerP  *encInner         `msgpack:"innerP"`
	Inners  []encInner        `msgpack:"inners"`
	OBool   bool              `msgpack:"oBool,omitempty"`
	OInt    int64             `msgpack:"oInt,omitempty"`
	OF64    float64           `msgpack:"oF64,omitempty"`
	OStr    string            `msgpack:"oStr,omitempty"`
	OSlice  []int             `msgpack:"oSlice,omitempty"`
	OMap    map[string]int    `msgpack:"oMap,omitempty"`
	OPtr    *int              `msgpack:"oPtr,omitempty"`
	OInner  encInner          `msgpack:"oInner,omitempty"`
	Skipped int               `msgpack:"-"`
	hidden  int
	Untaged int
	Time    time.Time      `msgpack:"time"`
	Any     any            `msgpack:"any"`
	Arr     [2]int16       `msgpack:"arr"`
	MapAny  map[string]any `msgpack:"mapAny"`
}

// encWithEmbedded and encWithTime are planned by the library as a whole.
type encWithEmbedded struct {
	encEmbedded
	X int
}

type encOmitTime struct {
	T time.Time `msgpack:"t,omitempty"`
}

// libraryEncode is what codec.MsgPack wrote before it had plans.
func libraryEncode(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	enc.UseCompactFloats(true)
	enc.SetCustomStructTag("msgpack")
	if err := enc.Encode(v); err != nil {
		t.Fatalf("library: %v", err)
	}
	return buf.Bytes()
}

// sameEncoding fails t unless the plans encode v as the library does: the
// same bytes, or, where a map of several entries may come out in another
// order, bytes of the same length that are the same once every map's keys
// are sorted. (Comparing decoded values instead would fail on a NaN, which
// reflect.DeepEqual never finds equal to itself.)
func sameEncoding(t *testing.T, v any) {
	t.Helper()
	got, err := MsgPack.Marshal(v)
	if err != nil {
		t.Fatalf("Marshal(%#v): %v", v, err)
	}
	want := libraryEncode(t, v)
	if bytes.Equal(got, want) {
		return
	}
	if len(got) != len(want) || !bytes.Equal(sortedKeys(t, got), sortedKeys(t, want)) {
		t.Fatalf("Marshal(%#v)\n got % x\nwant % x", v, got, want)
	}
}

// sortedKeys re-encodes the msgpack value b with every map's keys sorted,
// keeping each scalar's width and bits.
func sortedKeys(t *testing.T, b []byte) []byte {
	t.Helper()
	var v any
	if err := msgpack.Unmarshal(b, &v); err != nil {
		t.Fatalf("library decode % x: %v", b, err)
	}
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.SetSortMapKeys(true)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("library encode %#v: %v", v, err)
	}
	return buf.Bytes()
}

func TestMsgPackEncodeMatchesLibrary(t *testing.T) {
	s, n := "s", int64(-7)
	long := string(bytes.Repeat([]byte("x"), 300))
	full := encAll{
		Bool: true, I: -1 << 40, I8: -128, I16: 300, I32: -70000, I64: math.MinInt64,
		U: 1 << 63, U8: 255, U16: 65535, U32: 1 << 31, U64: math.MaxUint64,
		F32: 1.5, F64: -0.1, Str: long, Bytes: make([]byte, 70000), Ptr: &n,
		Strs: []string{"a", "", long}, Ints: make([]int32, 20), Map: map[string]uint16{"k": 1, "l": 2},
		Inner: encInner{A: 1, B: &s, C: []byte{}}, InnerP: &encInner{}, Inners: []encInner{{}, {A: -1}},
		OBool: true, OInt: 1, OF64: 2.5, OStr: "o", OSlice: []int{1}, OMap: map[string]int{"m": 1}, OPtr: new(int), OInner: encInner{A: 2},
		Skipped: 9, hidden: 8, Untaged: 7,
		Time: time.Unix(1700000000, 5).UTC(), Any: []any{1, "a"}, Arr: [2]int16{1, -1}, MapAny: map[string]any{"x": 1.5},
	}
	tests := []struct {
		name string
		v    any
	}{
		{"zero struct", encAll{}},
		{"full struct", full},
		{"pointer to struct", &full},
		{"nil pointer", (*encAll)(nil)},
		{"nested nil", encInner{}},
		{"floats that are integers", struct{ A, B, C float64 }{3, math.Copysign(0, -1), 1e300}},
		{"float32s", []float32{0.5, 3, float32(math.Inf(1)), float32(math.NaN())}},
		{"signalling NaN float32 alone", math.Float32frombits(0x7fac3030)},
		{"signalling NaN float32 inside", []any{math.Float32frombits(0x7fac3030)}},
		{"signalling NaN float32 field", struct{ F float32 }{math.Float32frombits(0x7fac3030)}},
		{"signalling NaN float32 in a map[string]any", []any{map[string]any{"0": math.Float32frombits(0xffb93030)}, 48}},
		{"float64 edges", []float64{math.Inf(-1), math.MaxInt64, -math.MaxInt64, 1 << 53}},
		{"integer edges", []int64{0, 127, 128, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, -1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt32 - 1}},
		{"strings by length", []string{"", string(make([]byte, 31)), string(make([]byte, 32)), string(make([]byte, 255)), string(make([]byte, 256)), string(make([]byte, 65536))}},
		{"bytes", [][]byte{nil, {}, make([]byte, 255), make([]byte, 256)}},
		{"top-level bytes", []byte{1, 2, 3}},
		{"nil slice", []int(nil)},
		{"long slice", make([]uint8Alias, 70000)},
		{"map with many keys", map[string]int{"a": 1, "b": 2, "c": 3}},
		{"map with a NaN among its keys' values", map[string]any{"0": 49, "1": math.NaN(), "20": 56}},
		{"nil map", map[string]int(nil)},
		{"int-keyed map", map[int]string{1: "a"}},
		{"embedded", encWithEmbedded{encEmbedded{1}, 2}},
		{"omitempty time", encOmitTime{}},
		{"one-pointer struct", struct{ P *int }{nil}},
		{"empty struct", struct{}{}},
		{"scalars", []any{true, 1, "a", 1.5, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { sameEncoding(t, tt.v) })
	}
}

// uint8Alias is a named uint8: the library encodes a slice of any uint8
// kind as bin, and so do the plans.
type uint8Alias uint8

// FuzzMsgPackEncodeMatchesLibrary decodes arbitrary bytes into the types of
// TestMsgPackEncodeMatchesLibrary and checks that whatever came out is
// encoded as the library encodes it.
func FuzzMsgPackEncodeMatchesLibrary(f *testing.F) {
	addFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var all encAll
		if MsgPack.Unmarshal(b, &all) == nil {
			sameEncoding(t, all)
		}
		var inner []encInner
		if MsgPack.Unmarshal(b, &inner) == nil {
			sameEncoding(t, inner)
		}
		var v any
		if MsgPack.Unmarshal(b, &v) == nil {
			sameEncoding(t, v)
		}
	})
}
