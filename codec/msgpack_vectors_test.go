package codec

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// The vectors are written by interop/gen-msgpack-vectors.mjs with the real
// @procwire/codecs msgpack codec under Node 22.
type vectorFile struct {
	Codecs  string   `json:"codecs"`
	Node    string   `json:"node"`
	Vectors []vector `json:"vectors"`
}

type vector struct {
	Name    string `json:"name"`
	JS      string `json:"js"`
	Hex     string `json:"hex"`
	Decoded jsTag  `json:"decoded"`
}

// jsTag describes a JS value (see tag() in the generator).
type jsTag struct {
	Nil    bool              `json:"nil"`
	Bool   *bool             `json:"bool"`
	Num    string            `json:"num"`
	Str    *string           `json:"str"`
	Date   *int64            `json:"date"`
	Buffer *string           `json:"buffer"`
	Bin    *string           `json:"bin"`
	Arr    []jsTag           `json:"arr"`
	Map    []json.RawMessage `json:"map"`
	isArr  bool
	isMap  bool
}

func (t *jsTag) UnmarshalJSON(b []byte) error {
	type plain jsTag
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	var keys map[string]json.RawMessage
	json.Unmarshal(b, &keys)
	*t = jsTag(p)
	_, t.isArr = keys["arr"]
	_, t.isMap = keys["map"]
	return nil
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	b, err := os.ReadFile("testdata/msgpack-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) < 40 {
		t.Fatalf("%d vectors", len(f.Vectors))
	}
	return f.Vectors
}

// match reports how the Go value got differs from the JS value want, as
// the Go codec should decode it: integers and floats by numeric value (NaN,
// infinities), Buffer and Uint8Array as []byte, Date as time.Time, objects
// as map[string]any, arrays as []any.
func match(got any, want jsTag) error {
	switch {
	case want.Nil:
		if got != nil {
			return fmt.Errorf("got %#v, want nil", got)
		}
	case want.Bool != nil:
		if got != *want.Bool {
			return fmt.Errorf("got %#v, want %v", got, *want.Bool)
		}
	case want.Num != "":
		return matchNumber(got, want.Num)
	case want.Str != nil:
		if got != *want.Str {
			return fmt.Errorf("got %#v, want %q", got, *want.Str)
		}
	case want.Date != nil:
		tm, ok := got.(time.Time)
		if !ok || tm.UnixMilli() != *want.Date || tm.Nanosecond()%1e6 != 0 {
			return fmt.Errorf("got %#v, want the time %d ms after the epoch", got, *want.Date)
		}
	case want.Buffer != nil || want.Bin != nil:
		h := want.Buffer
		if h == nil {
			h = want.Bin
		}
		b, ok := got.([]byte)
		if !ok || hex.EncodeToString(b) != *h {
			return fmt.Errorf("got %T of %d bytes, want []byte %.20s…", got, len(b), *h)
		}
	case want.isArr:
		s, ok := got.([]any)
		if !ok || len(s) != len(want.Arr) {
			return fmt.Errorf("got %#v, want an array of %d", got, len(want.Arr))
		}
		for i := range s {
			if err := match(s[i], want.Arr[i]); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
	case want.isMap:
		m, ok := got.(map[string]any)
		if !ok || len(m) != len(want.Map) {
			return fmt.Errorf("got %#v, want a map[string]any of %d", got, len(want.Map))
		}
		for _, raw := range want.Map {
			var kv []json.RawMessage
			var k string
			var v jsTag
			if json.Unmarshal(raw, &kv) != nil || len(kv) != 2 || json.Unmarshal(kv[0], &k) != nil || json.Unmarshal(kv[1], &v) != nil {
				return fmt.Errorf("bad vector entry %s", raw)
			}
			if err := match(m[k], v); err != nil {
				return fmt.Errorf("%q: %w", k, err)
			}
		}
	default:
		return fmt.Errorf("empty tag")
	}
	return nil
}

func matchNumber(got any, want string) error {
	var f float64
	switch x := got.(type) {
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64, uint:
		n, _ := new(big.Int).SetString(fmt.Sprint(x), 10)
		w, ok := new(big.Int).SetString(want, 10)
		if !ok || n.Cmp(w) != 0 {
			return fmt.Errorf("got %T %v, want %s", got, got, want)
		}
		return nil
	case float32:
		f = float64(x)
	case float64:
		f = x
	default:
		return fmt.Errorf("got %#v, want the number %s", got, want)
	}
	var w float64
	switch want {
	case "NaN":
		if !math.IsNaN(f) {
			return fmt.Errorf("got %v, want NaN", f)
		}
		return nil
	case "Infinity":
		w = math.Inf(1)
	case "-Infinity":
		w = math.Inf(-1)
	default:
		var err error
		if w, err = strconv.ParseFloat(want, 64); err != nil {
			return err
		}
	}
	if f != w {
		return fmt.Errorf("got %v, want %s", f, want)
	}
	return nil
}

// canonical reports whether Go re-encodes the value with the same bytes as
// JS: everything but Buffers (ext 1 in JS, bin from Go: both reach Node as
// a Buffer), fractional floats that fit a float32 (Go sends the shorter
// form; the value is the same) and maps of several keys (the order of Go
// maps is random).
func canonical(t jsTag) bool {
	switch {
	case t.Buffer != nil:
		return false
	case t.Num != "":
		f, err := strconv.ParseFloat(t.Num, 64)
		return err != nil || f != math.Trunc(f) || float64(float32(f)) != f || math.Abs(f) > 1<<53
	case t.isArr:
		for _, e := range t.Arr {
			if !canonical(e) {
				return false
			}
		}
	case t.isMap:
		return len(t.Map) <= 1 && (len(t.Map) == 0 || canonicalEntry(t.Map[0]))
	}
	return true
}

func canonicalEntry(raw json.RawMessage) bool {
	var kv []json.RawMessage
	var v jsTag
	json.Unmarshal(raw, &kv)
	json.Unmarshal(kv[1], &v)
	return canonical(v)
}

// TestNodeVectors decodes every vector written by the real JS codec, checks
// the Go value, re-encodes it, checks that the bytes decode to the same
// value again, and that they are the JS codec's own bytes wherever the
// encodings must agree.
func TestNodeVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			data, err := hex.DecodeString(v.Hex)
			if err != nil {
				t.Fatal(err)
			}
			var got any
			if err := MsgPack.Unmarshal(data, &got); err != nil {
				t.Fatalf("decode %s: %v", v.JS, err)
			}
			if err := match(got, v.Decoded); err != nil {
				t.Fatalf("decode %s: %v", v.JS, err)
			}
			enc, err := MsgPack.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			var again any
			if err := MsgPack.Unmarshal(enc, &again); err != nil || match(again, v.Decoded) != nil {
				t.Fatalf("re-encoded %x decodes to %#v, %v", enc, again, err)
			}
			if canonical(v.Decoded) && !bytes.Equal(enc, data) {
				t.Errorf("re-encoded as %x, JS encodes %s", enc, v.Hex)
			}
		})
	}
}

// TestIntegerRanges decodes every integer vector into every Go integer
// type: a value that does not fit is an error, never a silent wrap.
func TestIntegerRanges(t *testing.T) {
	targets := []struct {
		name     string
		new      func() any
		min, max *big.Int
	}{
		{"int8", func() any { return new(int8) }, big.NewInt(math.MinInt8), big.NewInt(math.MaxInt8)},
		{"int16", func() any { return new(int16) }, big.NewInt(math.MinInt16), big.NewInt(math.MaxInt16)},
		{"int32", func() any { return new(int32) }, big.NewInt(math.MinInt32), big.NewInt(math.MaxInt32)},
		{"int64", func() any { return new(int64) }, big.NewInt(math.MinInt64), big.NewInt(math.MaxInt64)},
		{"int", func() any { return new(int) }, big.NewInt(math.MinInt), big.NewInt(math.MaxInt)},
		{"uint8", func() any { return new(uint8) }, big.NewInt(0), big.NewInt(math.MaxUint8)},
		{"uint16", func() any { return new(uint16) }, big.NewInt(0), big.NewInt(math.MaxUint16)},
		{"uint32", func() any { return new(uint32) }, big.NewInt(0), big.NewInt(math.MaxUint32)},
		{"uint64", func() any { return new(uint64) }, big.NewInt(0), new(big.Int).SetUint64(math.MaxUint64)},
	}
	n := 0
	for _, v := range loadVectors(t) {
		w, ok := new(big.Int).SetString(v.Decoded.Num, 10)
		if !ok || v.Hex[:2] == "cb" { // integers on the wire only
			continue
		}
		data, _ := hex.DecodeString(v.Hex)
		for _, tt := range targets {
			p := tt.new()
			err := MsgPack.Unmarshal(data, p)
			fits := w.Cmp(tt.min) >= 0 && w.Cmp(tt.max) <= 0
			switch {
			case fits && err != nil:
				t.Errorf("%s into %s: %v", v.JS, tt.name, err)
			case fits && fmt.Sprint(reflect.ValueOf(p).Elem().Interface()) != w.String():
				t.Errorf("%s into %s = %v", v.JS, tt.name, reflect.ValueOf(p).Elem().Interface())
			case !fits && err == nil:
				t.Errorf("%s into %s = %v: an out-of-range value must be an error", v.JS, tt.name, reflect.ValueOf(p).Elem().Interface())
			}
			n++
		}
	}
	if n < 100 {
		t.Fatalf("only %d checks", n)
	}
}

// TestBigIntegersAsFloats checks that an integer beyond 2^53-1, which
// Node sends as a float64, decodes into a float64, not into an integer
// (TestDecodeRangeErrorsSayWhere checks integers inside values).
func TestBigIntegersAsFloats(t *testing.T) {
	var big int64
	if err := MsgPack.Unmarshal([]byte{0xcb, 0x43, 0x40, 0, 0, 0, 0, 0, 0}, &big); err == nil {
		t.Errorf("2^53 as float64 into int64 = %d, want an error", big)
	}
	var f float64
	if err := MsgPack.Unmarshal([]byte{0xcb, 0x43, 0x40, 0, 0, 0, 0, 0, 0}, &f); err != nil || f != 1<<53 {
		t.Errorf("2^53 into float64 = %v, %v", f, err)
	}
}
