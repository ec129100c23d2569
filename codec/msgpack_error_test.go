package codec

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

type errItem struct {
	Width int    `msgpack:"width"`
	Name  string `msgpack:"name"`
}

type errReq struct {
	Width int               `msgpack:"width"`
	Level uint8             `msgpack:"level"`
	Name  string            `msgpack:"name"`
	Data  []byte            `msgpack:"data"`
	OK    bool              `msgpack:"ok"`
	Ratio float64           `msgpack:"ratio"`
	At    time.Time         `msgpack:"at"`
	Items []errItem         `msgpack:"items"`
	Meta  map[string]int    `msgpack:"meta"`
	Any   map[string]any    `msgpack:"any"`
	Ptr   *errItem          `msgpack:"ptr"`
	Keys  map[int8]string   `msgpack:"keys"`
	Fix   [2]byte           `msgpack:"fix"`
	Pair  [2]int            `msgpack:"pair"`
	Tags  []string          `msgpack:"tags"`
	IP    netip.Addr        `msgpack:"ip"` // decodes itself (TextUnmarshaler)
	Deep  map[string][]bool `msgpack:"deep"`
}

// TestDecodeErrorsSayWhereWhatAndWhy checks each way a payload can fail to
// decode into a Go value: the error is a *DecodeError with the field path,
// the Go type wanted, and what came, in its fields and its message.
func TestDecodeErrorsSayWhereWhatAndWhy(t *testing.T) {
	long := strings.Repeat("é", 40) // 80 bytes
	tests := []struct {
		name              string
		in                any // encoded with MsgPack; a []byte is sent as it is
		field, want, got  string
		strict, wantCause bool
	}{
		{name: "a string for an int", in: map[string]any{"width": "120"}, field: "width", want: "integer", got: `string "120"`},
		{name: "a float for an int", in: map[string]any{"width": 1.5}, field: "width", want: "integer", got: "number 1.5"},
		{name: "an overflowing uint8", in: map[string]any{"level": 300}, field: "level", want: "uint8 (0..255)", got: "integer 300"},
		{name: "a negative uint8", in: map[string]any{"level": -1}, field: "level", want: "uint8 (0..255)", got: "integer -1"},
		{name: "an int for a string", in: map[string]any{"name": 7}, field: "name", want: "string", got: "integer 7"},
		{name: "an array for a string", in: map[string]any{"name": []any{1, 2}}, field: "name", want: "string", got: "array of 2 items"},
		{name: "a long string, cut short", in: map[string]any{"width": long}, field: "width", want: "integer",
			got: `string "` + strings.Repeat("é", 16) + `…" (80 bytes)`},
		{name: "a number for bytes", in: map[string]any{"data": 5}, field: "data", want: "bytes", got: "integer 5"},
		{name: "a map for bytes", in: map[string]any{"data": map[string]any{"a": 1}}, field: "data", want: "bytes", got: "object with 1 key"},
		{name: "a string for a bool", in: map[string]any{"ok": "yes"}, field: "ok", want: "boolean", got: `string "yes"`},
		{name: "a bool for a float", in: map[string]any{"ratio": true}, field: "ratio", want: "number", got: "boolean true"},
		{name: "a string for a time", in: map[string]any{"at": "2024-01-01"}, field: "at", want: "date", got: `string "2024-01-01"`},
		{name: "a slice index", in: map[string]any{"items": []any{map[string]any{}, map[string]any{}, map[string]any{"width": "w"}}}, field: "items[2].width", want: "integer", got: `string "w"`},
		{name: "a string for a slice", in: map[string]any{"items": "none"}, field: "items", want: "array", got: `string "none"`},
		{name: "a number for a struct", in: map[string]any{"items": []any{42}}, field: "items[0]", want: "object", got: "integer 42"},
		{name: "a map value", in: map[string]any{"meta": map[string]any{"k": "v"}}, field: `meta["k"]`, want: "integer", got: `string "v"`},
		{name: "a map value overflowing", in: map[string]any{"meta": map[string]any{"big": uint64(math.MaxUint64)}}, field: `meta["big"]`,
			want: "integer (-9223372036854775808..9223372036854775807)", got: "integer 18446744073709551615"},
		{name: "a map key with odd characters", in: map[string]any{"meta": map[string]any{`a "b".c`: "v"}}, field: `meta["a \"b\".c"]`, want: "integer", got: `string "v"`},
		{name: "a map key of the wrong type", in: map[string]any{"keys": map[string]any{"x": "v"}}, field: "keys[key]", want: "int8", got: `string "x"`},
		{name: "a map key overflowing", in: map[string]any{"keys": map[int]string{200: "v"}}, field: "keys[key]", want: "int8 (-128..127)", got: "integer 200"},
		{name: "a map value in map[string]any", in: append([]byte{0x81, 0xa3, 'a', 'n', 'y', 0x81, 0xa1, 'k'}, 0xc1), field: `any["k"]`, want: "any value", got: "the invalid byte 0xc1"},
		{name: "a map for a nested slice", in: map[string]any{"deep": map[string]any{"x": []any{true, 3}}}, field: `deep["x"][1]`, want: "boolean", got: "integer 3"},
		{name: "through a pointer", in: map[string]any{"ptr": map[string]any{"name": false}}, field: "ptr.name", want: "string", got: "boolean false"},
		{name: "too many bytes for an array", in: map[string]any{"fix": []byte{1, 2, 3}}, field: "fix", want: "at most 2 bytes ([2]uint8)", got: "bytes of length 3"},
		{name: "too many items for an array", in: map[string]any{"pair": []any{1, 2, 3}}, field: "pair", want: "array of at most 2 items ([2]int)", got: "array of 3 items"},
		{name: "a []string element", in: map[string]any{"tags": []any{"a", 1}}, field: "tags[1]", want: "string", got: "integer 1"},
		{name: "a type that decodes itself", in: map[string]any{"ip": "not an ip"}, field: "ip", want: "netip.Addr", got: `string "not an ip"`, wantCause: true},
		{name: "a struct from a short array", in: []any{1, 2}, want: "object, or an array of its 17 fields", got: "array of 2 items"},
		{name: "a string for the struct", in: "hello", want: "object", got: `string "hello"`},
		{name: "an unknown field in strict mode", in: map[string]any{"widht": 10}, strict: true, field: "widht", got: "unknown field"},
		{name: "an unknown nested field in strict mode", in: map[string]any{"items": []any{map[string]any{"width": 1, "colour": "red"}}}, strict: true, field: "items[0].colour", got: "unknown field"},
		{name: "an odd unknown key in strict mode", in: map[string]any{"": 1}, strict: true, field: `[""]`, got: "unknown field"},
		{name: "an invalid byte in an unknown field", in: []byte{0x81, 0xa1, 'x', 0xc1}, field: "x", want: "any value", got: "the invalid byte 0xc1"},
		{name: "bytes for an int", in: map[string]any{"width": []byte{1}}, field: "width", want: "integer", got: "bytes of length 1"},
		{name: "a Node Date for an int", in: []byte{0x81, 0xa5, 'w', 'i', 'd', 't', 'h', 0xd7, 0x02, 0, 0, 0, 0, 0, 0, 0, 0}, field: "width", want: "integer", got: "date"},
		{name: "a Node Buffer for a map", in: []byte{0x81, 0xa4, 'm', 'e', 't', 'a', 0xd4, 0x01, 0x07}, field: "meta", want: "object", got: "bytes of length 1 (Buffer)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, ok := tt.in.([]byte)
			if !ok {
				b = mustMarshal(t, tt.in)
			}
			c := MsgPack
			if tt.strict {
				c = MsgPackStrict
				// Without strict mode the field is skipped.
				if err := MsgPack.Unmarshal(b, new(errReq)); err != nil {
					t.Fatalf("not strict: %v", err)
				}
			}
			err := c.Unmarshal(b, new(errReq))
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v (%T), want a *DecodeError", err, err)
			}
			if de.Field != tt.field || de.Want != tt.want || de.Got != tt.got {
				t.Errorf("field %q, want %q, got %q;\nwant field %q, want %q, got %q", de.Field, de.Want, de.Got, tt.field, tt.want, tt.got)
			}
			msg := "msgpack: "
			if tt.field != "" {
				msg += `field "` + tt.field + `": `
			}
			if tt.want != "" {
				msg += "want " + tt.want + ", got "
			}
			msg += tt.got
			if tt.wantCause {
				if de.Unwrap() == nil || !strings.HasPrefix(err.Error(), msg+": ") {
					t.Errorf("message %q, want %q with the cause after it", err, msg)
				}
			} else if err.Error() != msg || de.Unwrap() != nil {
				t.Errorf("message %q, want %q (cause %v)", err, msg, de.Unwrap())
			}
			if de.Offset < 0 || de.Offset > len(b) {
				t.Errorf("offset %d outside the payload (%d bytes)", de.Offset, len(b))
			}
		})
	}
}

// TestDecodeErrorOverflowEveryWidth sends each integer type one past
// either end of its range, at the top level and in a field.
func TestDecodeErrorOverflowEveryWidth(t *testing.T) {
	type bound struct {
		typ        reflect.Type
		want       string
		over, unde any // one above the maximum, one below the minimum
		overS      string
		undeS      string
	}
	tests := []bound{
		{reflect.TypeFor[int8](), "int8 (-128..127)", 128, -129, "128", "-129"},
		{reflect.TypeFor[int16](), "int16 (-32768..32767)", 32768, -32769, "32768", "-32769"},
		{reflect.TypeFor[int32](), "int32 (-2147483648..2147483647)", int64(math.MaxInt32) + 1, int64(math.MinInt32) - 1, "2147483648", "-2147483649"},
		{reflect.TypeFor[int64](), "integer (-9223372036854775808..9223372036854775807)", uint64(math.MaxInt64) + 1, nil, "9223372036854775808", ""},
		{reflect.TypeFor[int](), "integer (-9223372036854775808..9223372036854775807)", uint64(math.MaxInt64) + 1, nil, "9223372036854775808", ""},
		{reflect.TypeFor[uint8](), "uint8 (0..255)", 256, -1, "256", "-1"},
		{reflect.TypeFor[uint16](), "uint16 (0..65535)", 65536, -1, "65536", "-1"},
		{reflect.TypeFor[uint32](), "uint32 (0..4294967295)", int64(math.MaxUint32) + 1, -1, "4294967296", "-1"},
		{reflect.TypeFor[uint64](), "unsigned integer (0..18446744073709551615)", nil, int64(math.MinInt64), "", "-9223372036854775808"},
		{reflect.TypeFor[uint](), "unsigned integer (0..18446744073709551615)", nil, -1, "", "-1"},
	}
	if math.MaxUint == math.MaxUint32 {
		t.Skip("the table is for 64-bit int and uint")
	}
	for _, tt := range tests {
		for _, c := range []struct {
			v any
			s string
		}{{tt.over, tt.overS}, {tt.unde, tt.undeS}} {
			if c.v == nil {
				continue
			}
			t.Run(fmt.Sprintf("%s/%s", tt.typ, c.s), func(t *testing.T) {
				// At the top level.
				err := MsgPack.Unmarshal(mustMarshal(t, c.v), reflect.New(tt.typ).Interface())
				want := "msgpack: want " + tt.want + ", got integer " + c.s
				var de *DecodeError
				if !errors.As(err, &de) || err.Error() != want || de.Field != "" {
					t.Errorf("top level: %v, want %q", err, want)
				}
				// In a field of a struct.
				st := reflect.StructOf([]reflect.StructField{{Name: "N", Type: tt.typ, Tag: `msgpack:"n"`}})
				err = MsgPack.Unmarshal(mustMarshal(t, map[string]any{"n": c.v}), reflect.New(st).Interface())
				want = `msgpack: field "n": want ` + tt.want + ", got integer " + c.s
				if !errors.As(err, &de) || err.Error() != want || de.Field != "n" {
					t.Errorf("in a field: %v, want %q", err, want)
				}
			})
		}
	}
}

// TestDecodeErrorTruncated cuts a valid payload at every length: every
// prefix fails with "end of input", at the field being read.
func TestDecodeErrorTruncated(t *testing.T) {
	full := mustMarshal(t, map[string]any{"width": 640, "name": "thumbnail", "items": []any{map[string]any{"width": 1}}})
	if err := MsgPack.Unmarshal(full, new(errReq)); err != nil {
		t.Fatal(err)
	}
	for n := range len(full) {
		err := MsgPack.Unmarshal(full[:n], new(errReq))
		var de *DecodeError
		if !errors.As(err, &de) || de.Got != "end of input" || de.Offset != n {
			t.Fatalf("%d of %d bytes: %v (%#v)", n, len(full), err, de)
		}
	}
	// In the middle of the string "thumbnail".
	i := strings.Index(string(full), "thumb")
	err := MsgPack.Unmarshal(full[:i+3], new(errReq))
	if want := `msgpack: field "name": want string, got end of input`; err == nil || err.Error() != want {
		t.Errorf("cut in a string: %v, want %q", err, want)
	}
	// A length that the payload cannot hold.
	err = MsgPack.Unmarshal([]byte{0x81, 0xa4, 'n', 'a', 'm', 'e', 0xdb, 0xff, 0xff, 0xff, 0xff, 'x'}, new(errReq))
	if want := `msgpack: field "name": want string, got end of input`; err == nil || err.Error() != want {
		t.Errorf("a 4 GiB string: %v, want %q", err, want)
	}
	// Nothing at all.
	err = MsgPack.Unmarshal(nil, new(int))
	if want := `msgpack: want integer, got end of input`; err == nil || err.Error() != want {
		t.Errorf("empty payload: %v, want %q", err, want)
	}
}

// TestDecodeNilAndNonPointers: nil on the wire is the zero value of any Go
// type, as in the library (a Node caller's null or undefined field); a v
// that is not a non-nil pointer is a plain error naming its type.
func TestDecodeNilAndNonPointers(t *testing.T) {
	r := errReq{Width: 5, Name: "x", Items: []errItem{{}}}
	if err := MsgPack.Unmarshal(mustMarshal(t, map[string]any{"width": nil, "name": nil, "items": nil}), &r); err != nil {
		t.Fatal(err)
	}
	if r.Width != 0 || r.Name != "" || r.Items != nil {
		t.Errorf("nil fields decode as %+v, want zero values", r)
	}
	for _, tt := range []struct {
		v    any
		want string
	}{
		{nil, "Decode(nil)"},
		{3, "Decode(non-pointer int)"},
		{errReq{}, "Decode(non-pointer codec.errReq)"},
		{(*int)(nil), "Decode(non-settable *int)"},
	} {
		err := MsgPack.Unmarshal([]byte{0x01}, tt.v)
		var de *DecodeError
		if err == nil || !strings.Contains(err.Error(), tt.want) || errors.As(err, &de) {
			t.Errorf("Unmarshal into %T: %v, want a plain error with %q", tt.v, err, tt.want)
		}
	}
}

// TestDecodeErrorDeepPath keeps the outermost and innermost parts of a
// path deeper than 64 levels.
func TestDecodeErrorDeepPath(t *testing.T) {
	type nested []nested
	b := append(bytesRepeat(0x91, 100), 0xa1, 'x') // [[[…["x"]…]]]
	err := MsgPack.Unmarshal(b, new(nested))
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("%v", err)
	}
	want := strings.Repeat("[0]", maxPath-keepInner) + "…" + strings.Repeat("[0]", keepInner)
	if de.Field != want || de.Want != "array" || de.Got != `string "x"` {
		t.Errorf("field %q want %q got %q; want field %q", de.Field, de.Want, de.Got, want)
	}
}

func bytesRepeat(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}

// TestStrictDecodesWhatItKnows: strict mode decodes known fields, aliases,
// embedded fields and map[string]any values as MsgPack does, and refuses
// unknown keys in types that decode themselves too.
func TestStrictDecodesWhatItKnows(t *testing.T) {
	type Emb struct {
		E int `msgpack:"e"`
	}
	type v struct {
		Emb
		A   int            `msgpack:"a,alias:alpha"`
		Any map[string]any `msgpack:"any"`
	}
	b := mustMarshal(t, map[string]any{"e": 1, "alpha": 2, "any": map[string]any{"free": "form"}})
	var got, want v
	if err := MsgPackStrict.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if err := MsgPack.Unmarshal(b, &want); err != nil || !reflect.DeepEqual(got, want) || got.E != 1 || got.A != 2 {
		t.Fatalf("strict %+v, not strict %+v (%v)", got, want, err)
	}
	if MsgPackStrict.Name() != "msgpack" {
		t.Errorf("strict codec named %q", MsgPackStrict.Name())
	}
	enc, err := MsgPackStrict.Marshal(got)
	if plain, _ := MsgPack.Marshal(got); err != nil || string(enc) != string(plain) {
		t.Errorf("strict encodes %x, MsgPack %x (%v)", enc, plain, err)
	}
	// A struct the library decodes itself (",intern") refuses unknown
	// fields too, in strict mode only.
	type interned struct {
		S string `msgpack:"s,intern"`
	}
	b = mustMarshal(t, map[string]any{"s": "x", "zzz": 1})
	var in interned
	if err := MsgPack.Unmarshal(b, &in); err != nil || in.S != "x" {
		t.Fatalf("interned %+v, %v", in, err)
	}
	err = MsgPackStrict.Unmarshal(b, &in)
	var de *DecodeError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "unknown field") || de.Unwrap() == nil {
		t.Errorf("interned in strict mode: %v", err)
	}
}

// TestDecodeErrorsCostNothingUntilOne checks that neither the error paths
// nor strict mode add allocations to a decode that succeeds.
func TestDecodeErrorsCostNothingUntilOne(t *testing.T) {
	payload := mustMarshal(t, small)
	plain := testing.AllocsPerRun(200, func() {
		var v smallMsg
		if err := MsgPack.Unmarshal(payload, &v); err != nil {
			t.Fatal(err)
		}
	})
	strict := testing.AllocsPerRun(200, func() {
		var v smallMsg
		if err := MsgPackStrict.Unmarshal(payload, &v); err != nil {
			t.Fatal(err)
		}
	})
	// 9 before the structured errors: the name, 3 tags, their slice, the
	// map and its 2 buckets' worth, and the note.
	if plain > 9 || strict != plain {
		t.Errorf("a small struct decodes with %v allocations (strict %v), want at most 9 and the same", plain, strict)
	}
}

// TestDecodeDeepNestingIsAnError: a few megabytes of nested arrays or maps
// into an interface or a recursive type fail with a DecodeError instead
// of exhausting the stack (which is fatal, not a panic).
func TestDecodeDeepNestingIsAnError(t *testing.T) {
	type tree struct {
		Kids []tree `msgpack:"k"`
	}
	type nested []nested
	deepArrays := append(bytesRepeat(0x91, 1<<20), 0x01)
	var deepMaps []byte
	for range 1 << 19 {
		deepMaps = append(deepMaps, 0x81, 0xa1, 'k', 0x91)
	}
	deepMaps = append(deepMaps, 0xc0)
	tests := []struct {
		name string
		b    []byte
		v    any
	}{
		{"arrays into any", deepArrays, new(any)},
		{"arrays into []any", deepArrays, new([]any)},
		{"maps into map[string]any", deepMaps, new(map[string]any)},
		{"arrays into a recursive slice", deepArrays, new(nested)},
		{"maps into a recursive struct", deepMaps, new(tree)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := MsgPack.Unmarshal(tt.b, tt.v)
			var de *DecodeError
			if !errors.As(err, &de) || !strings.Contains(de.Got, "nested more than 10000 levels") {
				t.Fatalf("%.300v", err)
			}
		})
	}
	// maxDepth levels decode.
	var v any
	if err := MsgPack.Unmarshal(append(bytesRepeat(0x91, maxDepth), 0x01), &v); err != nil {
		t.Fatalf("%d levels: %.200v", maxDepth, err)
	}
	var n nested
	if err := MsgPack.Unmarshal(append(bytesRepeat(0x91, maxDepth-1), 0x90), &n); err != nil {
		t.Fatalf("%d levels: %.200v", maxDepth, err)
	}
}
