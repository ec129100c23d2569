package codec

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := MsgPack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecodeReusesAsTheLibrary decodes into values that already hold
// something: slices, maps and pointers are reused as the library reuses
// them.
func TestDecodeReusesAsTheLibrary(t *testing.T) {
	type target struct {
		S  []int16          `msgpack:"s"`
		Ss []string         `msgpack:"ss"`
		B  []byte           `msgpack:"b"`
		M  map[string]int   `msgpack:"m"`
		MK map[int8]string  `msgpack:"mk"`
		P  *fzInner         `msgpack:"p"`
		In []fzInner        `msgpack:"in"`
		A  [3]int8          `msgpack:"a"`
		X  any              `msgpack:"x"`
		MA map[string]any   `msgpack:"ma"`
		MS map[string]bool  `msgpack:"ms"`
		N  *int             `msgpack:"n"`
		E  map[string]int16 `msgpack:"e"`
	}
	fresh := func() target {
		n := 5
		return target{
			S: make([]int16, 1, 8), Ss: []string{"old", "old"}, B: make([]byte, 2, 16),
			M: map[string]int{"keep": 1}, MK: map[int8]string{1: "one"}, P: &fzInner{N: 9, I: 9},
			In: []fzInner{{N: 1, I: 1}, {N: 2, I: 2}, {N: 3, I: 3}}[:1], A: [3]int8{7, 7, 7},
			X: &fzInner{N: 4}, MA: map[string]any{"gone": 1}, MS: map[string]bool{"a": true}, N: &n,
			E: map[string]int16{"x": 1},
		}
	}
	payloads := []any{
		map[string]any{"s": []int{1, 2, 3}, "ss": []string{"x"}, "b": []byte("hello"), "m": map[string]int{"new": 2},
			"mk": map[int]string{2: "two"}, "p": map[string]any{"i": 5}, "in": []any{map[string]any{"i": -1}, map[string]any{"n": 8}},
			"a": []int{1}, "x": map[string]any{"i": 6}, "ma": map[string]any{"new": "v"}, "ms": nil, "n": nil, "e": map[string]any{}},
		map[string]any{"s": nil, "ss": nil, "b": nil, "m": nil, "p": nil, "in": []any{}, "a": nil, "ma": nil},
		map[string]any{"s": []int{}, "b": "", "in": nil, "mk": map[int]string{}},
		map[string]any{"s": []int{1, 2, 3, 4, 5, 6, 7, 8, 9}, "b": []byte(strings.Repeat("z", 40))},
	}
	for _, in := range payloads {
		b := mustMarshal(t, in)
		got, want := fresh(), fresh()
		err := MsgPack.Unmarshal(b, &got)
		werr := msgpack.Unmarshal(b, &want)
		if err != nil || werr != nil {
			t.Fatalf("%v: %v, library %v", in, err, werr)
		}
		if !same(reflect.ValueOf(got), reflect.ValueOf(want)) {
			t.Errorf("%v:\n got  %+v\n want %+v", in, got, want)
		}
	}
}

// celsius decodes itself: the library decodes it (and its integers).
type celsius struct{ deg int }

func (c *celsius) DecodeMsgpack(d *msgpack.Decoder) error {
	n, err := d.DecodeInt()
	c.deg = n * 10
	return err
}

// upper decodes itself from text.
type upper string

func (u *upper) UnmarshalText(b []byte) error {
	*u = upper(b) + "!"
	return nil
}

type rawHolder struct {
	C   celsius            `msgpack:"c"`
	PC  *celsius           `msgpack:"pc"`
	Raw msgpack.RawMessage `msgpack:"raw"`
	IP  upper              `msgpack:"ip"` // encoding.TextUnmarshaler
	Err error              `msgpack:"err"`
	N   int8               `msgpack:"n"`
}

func TestDecodeHandsTypesThatDecodeThemselvesToTheLibrary(t *testing.T) {
	// {c: 3, pc: 4, raw: [Buffer "hi", 1], ip: "10.0.0.1", err: "boom", n: 5}
	b := unhex(t, "86a163 03 a27063 04 a3726177 92d5016869 01 a26970 a831302e302e302e31 a3657272 a4626f6f6d a16e 05")
	var got rawHolder
	if err := MsgPack.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.C.deg != 30 || got.PC == nil || got.PC.deg != 40 || got.IP != "10.0.0.1!" ||
		got.Err == nil || got.Err.Error() != "boom" || got.N != 5 {
		t.Fatalf("got %+v", got)
	}
	// The raw value was handed to the library with Node's Buffer as bin.
	if want := unhex(t, "92c4026869 01"); string(got.Raw) != string(want) {
		t.Fatalf("raw %x, want %x", []byte(got.Raw), want)
	}
	// The codec's range check still holds around them.
	if err := MsgPack.Unmarshal(unhex(t, "82a163 03 a16e cc80"), &got); err == nil || !strings.Contains(err.Error(), `field "n": want int8 (-128..127), got integer 128`) {
		t.Fatalf("error %v", err)
	}
}

// TestDecodeRangeErrorsSayWhere checks integers in structs (embedded
// ones too), slices, arrays, maps, pointers and recursive types: each is
// checked against its Go type, and an error names the path to it; numbers
// that are not integers are not taken for one.
func TestDecodeRangeErrorsSayWhere(t *testing.T) {
	type Emb struct {
		Deep uint8 `msgpack:"deep"`
	}
	type Embedded struct {
		E int8 `msgpack:"e"`
	}
	type inner struct {
		N uint8 `msgpack:"n"`
	}
	type node struct {
		V    int8   `msgpack:"v"`
		Next *node  `msgpack:"next"`
		Kids []node `msgpack:"kids"`
		*Emb `msgpack:"emb"`
		Embedded
		Keys map[uint16]int8   `msgpack:"keys"`
		Arr  [2]uint32         `msgpack:"arr"`
		I64  int64             `msgpack:"i64"`
		U    uint              `msgpack:"u"`
		A    int16             `msgpack:"a"`
		In   inner             `msgpack:"in"`
		S    []int32           `msgpack:"s"`
		M    map[string]uint16 `msgpack:"m"`
		P    *int8             `msgpack:"p"`
		F    float64           `msgpack:"f"`
		X    any               `msgpack:"x"`
	}
	tests := []struct {
		in   any
		want string // the error, or "" for success
	}{
		{map[string]any{"next": map[string]any{"next": map[string]any{"v": 200}}}, `field "next.next.v": want int8 (-128..127), got integer 200`},
		{map[string]any{"kids": []any{map[string]any{}, map[string]any{"kids": []any{map[string]any{"v": -129}}}}}, `field "kids[1].kids[0].v": want int8 (-128..127), got integer -129`},
		{map[string]any{"deep": 256}, `field "deep": want uint8 (0..255), got integer 256`},
		{map[string]any{"e": -129}, `field "e": want int8 (-128..127), got integer -129`},
		{map[string]any{"keys": map[int]int{70000: 1}}, `field "keys[key]": want uint16 (0..65535), got integer 70000`},
		{map[string]any{"keys": map[int]int{7: 128}}, `field "keys[7]": want int8 (-128..127), got integer 128`},
		{map[string]any{"arr": []any{1, -1}}, `field "arr[1]": want uint32 (0..4294967295), got integer -1`},
		{map[string]any{"i64": uint64(1) << 63}, `field "i64": want integer (-9223372036854775808..9223372036854775807), got integer 9223372036854775808`},
		{map[string]any{"u": -1}, `field "u": want unsigned integer (0..18446744073709551615), got integer -1`},
		// kids[0] as an array of a node's 16 fields:
		{map[string]any{"v": 1, "v ": 1, "kids": []any{append([]any{300}, make([]any, 15)...)}}, `field "kids[0].v": want int8 (-128..127), got integer 300`},
		{map[string]any{"v": 300, "u": 1}, `field "v": want int8 (-128..127), got integer 300`}, // even if a later "v" fits: not a silent wrap
		{map[string]any{"a": 40000}, `field "a": want int16 (-32768..32767), got integer 40000`},
		{map[string]any{"in": map[string]any{"n": 256}}, `field "in.n": want uint8 (0..255), got integer 256`},
		{map[string]any{"s": []any{1, int64(1) << 40}}, `field "s[1]": want int32 (-2147483648..2147483647), got integer 1099511627776`},
		{map[string]any{"m": map[string]any{"k": -1}}, `field "m["k"]": want uint16 (0..65535), got integer -1`},
		{map[string]any{"p": 200}, `field "p": want int8 (-128..127), got integer 200`},
		{map[string]any{"a": 1.5}, `field "a": want int16, got number 1.5`}, // a float is not an integer
		{map[string]any{"a": 3.0}, ""}, // sent as the integer 3, as Node does
		{map[string]any{"a": 1, "in": map[string]any{"n": 255}, "s": []any{1, -5}, "m": map[string]any{"k": 65535}, "p": -128, "f": 1.5, "x": int64(1) << 40, "e": 7}, ""},
	}
	for _, tt := range tests {
		var out node
		err := MsgPack.Unmarshal(mustMarshal(t, tt.in), &out)
		var de *DecodeError
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%v: %v", tt.in, err)
		case tt.want != "" && (err == nil || !errors.As(err, &de) || err.Error() != "msgpack: "+tt.want):
			t.Errorf("%v: error %v, want %q", tt.in, err, tt.want)
		case tt.want != "" && strings.Contains(tt.want, "..") && de.Err != errOverflow:
			t.Errorf("%v: error %v is not a range error", tt.in, err)
		}
	}
	// Integers that fit, at every depth; the embedded pointer is allocated.
	var out node
	in := map[string]any{"v": -128, "next": map[string]any{"v": 127}, "kids": []any{map[string]any{"v": 1}},
		"deep": 255, "keys": map[int]int{65535: -128}, "arr": []any{0, uint32(math.MaxUint32)}, "i64": int64(math.MinInt64), "u": uint64(math.MaxUint)}
	if err := MsgPack.Unmarshal(mustMarshal(t, in), &out); err != nil {
		t.Fatal(err)
	}
	if out.V != -128 || out.Next.V != 127 || out.Kids[0].V != 1 || out.Emb == nil || out.Deep != 255 || out.Keys[65535] != -128 ||
		out.Arr[1] != math.MaxUint32 || out.I64 != math.MinInt64 || out.U != math.MaxUint {
		t.Fatalf("got %+v", out)
	}
}

func TestDecodeIntoAnyHoldingAPointer(t *testing.T) {
	var in fzInner
	var v any = &in
	if err := MsgPack.Unmarshal(unhex(t, "81a16ecc80"), &v); err != nil || in.N != 128 || v != any(&in) {
		t.Fatalf("%v, %+v", err, in)
	}
	if err := MsgPack.Unmarshal(unhex(t, "81a16ecd0100"), &v); err == nil {
		t.Fatal("256 into the uint8 an interface points to succeeded")
	}
}

func TestDecodeEdgesWhereTheLibraryPanics(t *testing.T) {
	// nil into a time.Time field (the library calls IsNil on a struct).
	var s struct {
		T time.Time `msgpack:"t"`
		U uintptr   `msgpack:"u"` // the library has no decoder for uintptr
	}
	s.T = time.Now()
	if err := MsgPack.Unmarshal(unhex(t, "82a174c0a175cd0100"), &s); err != nil || !s.T.IsZero() || s.U != 256 {
		t.Fatalf("%v, %+v", err, s)
	}
}

func TestDecodeFloatsKeepLargeIntegers(t *testing.T) {
	// The library makes a uint64 above 2^63 negative in a float field.
	var f float64
	if err := MsgPack.Unmarshal(unhex(t, "cfffffffffffffffff"), &f); err != nil || f != math.MaxUint64 {
		t.Fatalf("%v, %v", f, err)
	}
	var g float32
	if err := MsgPack.Unmarshal(unhex(t, "cb3ff8000000000000"), &g); err == nil {
		t.Fatalf("a float64 into a float32 gives %v; the library refuses it", g)
	}
}

func TestDecodeDoesNotAliasThePayload(t *testing.T) {
	var v struct {
		S string         `msgpack:"s"`
		B []byte         `msgpack:"b"`
		A any            `msgpack:"a"`
		M map[string]any `msgpack:"m"`
	}
	b := mustMarshal(t, map[string]any{"s": "abc", "b": []byte("def"), "a": []byte("ghi"), "m": map[string]any{"k": "jkl"}})
	if err := MsgPack.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 'X'
	}
	if v.S != "abc" || string(v.B) != "def" || string(v.A.([]byte)) != "ghi" || v.M["k"] != "jkl" {
		t.Fatalf("the decoded value changed with the payload: %+v", v)
	}
}

// TestDecodePlansConcurrently decodes a type the codec has not seen from
// many goroutines at once (go test -race).
func TestDecodePlansConcurrently(t *testing.T) {
	type fresh struct {
		A []map[string][]int8 `msgpack:"a"`
		B *struct {
			C uint16 `msgpack:"c"`
		} `msgpack:"b"`
	}
	b := mustMarshal(t, map[string]any{"a": []any{map[string]any{"x": []int{1, -1}}}, "b": map[string]any{"c": 65535}})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var v fresh
			if err := MsgPack.Unmarshal(b, &v); err != nil || v.A[0]["x"][1] != -1 || v.B.C != 65535 {
				t.Errorf("%v, %+v", err, v)
			}
		}()
	}
	wg.Wait()
}

func TestDecodeStructFieldsAsTheLibrary(t *testing.T) {
	type Inner struct {
		X int8 `msgpack:"x"`
		Y int8 `msgpack:"y"`
	}
	type Shadow struct {
		X int8 `msgpack:"x"`
		Z int8 `msgpack:"z"`
	}
	type target struct {
		Inner
		*Shadow        // shadowed by Inner.X: not inlined, decoded as "Shadow"
		Alias   int8   `msgpack:"al,alias:other"`
		Skip    int8   `msgpack:"-"`
		NoIn    Inner  `msgpack:"noin,noinline"`
		Quoted  int8   `msgpack:"q,alias:'a,b'"`
		hidden  int8   // unexported: never decoded
		Renamed string `msgpack:",omitempty"`
	}
	in := map[string]any{"x": 1, "y": 2, "z": 3, "Shadow": map[string]any{"x": 4, "z": 5}, "other": 6, "-": 7, "Skip": 8,
		"noin": map[string]any{"x": 9}, "a,b": 10, "hidden": 11, "Renamed": "r", "Inner": map[string]any{"y": 12}}
	b := mustMarshal(t, in)
	var got, want target
	if err := MsgPack.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if err := msgpack.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if got.hidden != 0 {
		t.Fatal("an unexported field was decoded")
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v %+v\nwant %+v %+v", got, got.Shadow, want, want.Shadow)
	}
	// As an array, in order of the fields the library lists.
	arr := mustMarshal(t, []any{1, 2, map[string]any{"z": 3}, 4, map[string]any{"y": 5}, 6, "r"})
	got, want = target{}, target{}
	if err, werr := MsgPack.Unmarshal(arr, &got), msgpack.Unmarshal(arr, &want); err != nil || werr != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("array: %v %v\ngot  %+v\nwant %+v", err, werr, got, want)
	}
}

// TestDecodedStringsOwnTheirBytes checks that the strings a decode gives
// (copied into a chunk they share, see decoder.str) reference neither the
// payload nor the strings of another decode: overwriting the payload, and
// decoding again, changes none of them.
func TestDecodedStringsOwnTheirBytes(t *testing.T) {
	type msg struct {
		A, B string
		L    []string
		M    map[string]string
	}
	in := msg{A: "alpha", B: "beta", L: []string{"x", "yy", "zzz"}, M: map[string]string{"key": "value"}}
	data, err := MsgPack.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var first msg
	var firstAny any
	if err := MsgPack.Unmarshal(data, &first); err != nil {
		t.Fatal(err)
	}
	if err := MsgPack.Unmarshal(data, &firstAny); err != nil {
		t.Fatal(err)
	}
	wantAny := fmt.Sprint(firstAny)
	for i := range data {
		data[i] = 'Q' // what a reused buffer would hold
	}
	other, _ := MsgPack.Marshal(msg{A: "other", B: "strings", L: []string{"a", "b", "c"}, M: map[string]string{"key": "else"}})
	var second msg
	if err := MsgPack.Unmarshal(other, &second); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, in) || fmt.Sprint(firstAny) != wantAny {
		t.Errorf("decoded strings changed with the payload or a later decode: %+v, %v", first, firstAny)
	}
}

// TestMsgPackLen checks the walk against the library's own encodings:
// every value ends where its encoding ends, every cut of it is an error,
// and so are bytes that start no value and lengths beyond the payload.
func TestMsgPackLen(t *testing.T) {
	values := []any{
		nil, true, false, 0, 1, -1, 127, 128, -33, 255, 256, 65536, math.MaxInt64, math.MinInt64, uint64(math.MaxUint64),
		float32(1.5), 2.5, "", "x", strings.Repeat("s", 31), strings.Repeat("s", 32), strings.Repeat("s", 300), strings.Repeat("s", 70000),
		[]byte{}, []byte{1, 2, 3}, bytes.Repeat([]byte{9}, 300), bytes.Repeat([]byte{9}, 70000),
		[]any{}, []any{1, "a", nil}, make([]any, 20), make([]any, 70000),
		map[string]any{}, map[string]any{"a": 1, "b": []any{map[string]any{"c": "d"}}},
		time.Unix(1, 0), time.Unix(1<<33, 5), time.Unix(1, 5),
		&msgpack.RawMessage{0xd4, 1, 7}, &msgpack.RawMessage{0xc7, 3, 1, 1, 2, 3}, &msgpack.RawMessage{0xd8, 2, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
	}
	m := map[string]any{}
	for i := range 20 {
		m[strings.Repeat("k", i+1)] = i
	}
	values = append(values, m)
	for _, v := range values {
		b, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := MsgPackLen(b); err != nil || n != len(b) {
			t.Errorf("%.40x: MsgPackLen = %d, %v; want %d", b, n, err, len(b))
		}
		for cut := 0; cut < len(b); cut += 1 + cut/8 {
			var de *DecodeError
			if _, err := MsgPackLen(b[:cut]); !errors.As(err, &de) {
				t.Errorf("%.40x cut to %d bytes: %v, want a *DecodeError", b, cut, err)
			}
		}
		if n, err := MsgPackLen(append(b, 0xc0)); err != nil || n != len(b) {
			t.Errorf("%.40x with a byte after it: MsgPackLen = %d, %v; want %d", b, n, err, len(b))
		}
	}
	for _, b := range [][]byte{{0xc1}, {0x91, 0xc1}, {0xdd, 0xff, 0xff, 0xff, 0xff}, {0xdf, 0x7f, 0xff, 0xff, 0xff, 1}, {0xc6, 0xff, 0xff, 0xff, 0xff}} {
		if _, err := MsgPackLen(b); err == nil {
			t.Errorf("%x: no error", b)
		}
	}
}
