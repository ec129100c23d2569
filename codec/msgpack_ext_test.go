package codec

import (
	"encoding/hex"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Byte vectors produced by the real @procwire/codecs msgpackCodec on Node 22
// (see ../shared/PROTOCOL.md, section 9).
func TestMsgPackDecodesNodeValues(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want any
	}{
		{"Buffer (ext 1)", "d5016869", []byte("hi")},
		{"Uint8Array (bin)", "c4020102", []byte{1, 2}},
		{"Date epoch (timestamp)", "d6ff00000000", time.Unix(0, 0)},
		{"Date 2023-11-14 (timestamp)", "d6ff6553f100", time.Unix(1700000000, 0)},
		{"Date as ext 2 (float64 ms)", "d702" + "4278bcfe56800000", time.UnixMilli(1700000000000)},
		{"Date as ext 2 with ms", "d702" + "4278bcfe5687b000", time.UnixMilli(1700000000123)},
		{"Date as ext 2 before 1970", "d702" + "c0f86a0000000000", time.UnixMilli(-100000)},
		{"map with a Buffer", "82a161d5016869a162a178", map[string]any{"a": []byte("hi"), "b": "x"}},
		{"array of Buffers", "92d5016869c70301616263", []any{[]byte("hi"), []byte("abc")}},
		{"integer -1", "ff", int8(-1)},
		{"2**40", "cf0000010000000000", uint64(1 << 40)},
		{"nil", "c0", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got any
			if err := MsgPack.Unmarshal(unhex(t, tt.hex), &got); err != nil {
				t.Fatal(err)
			}
			switch want := tt.want.(type) {
			case time.Time:
				if tm, ok := got.(time.Time); !ok || !tm.Equal(want) {
					t.Fatalf("got %#v, want %v", got, want)
				}
			default:
				if !equalish(got, tt.want) {
					t.Fatalf("got %#v, want %#v", got, tt.want)
				}
			}
		})
	}
}

func equalish(a, b any) bool { return reflect.DeepEqual(a, b) }

func TestMsgPackBufferIntoStructField(t *testing.T) {
	var v struct {
		Data []byte    `msgpack:"data"`
		When time.Time `msgpack:"when"`
	}
	// {data: Buffer.from("hi"), when: ext 2 date}
	if err := MsgPack.Unmarshal(unhex(t, "82a464617461d5016869a4776865"+"6ed7024278bcfe56800000"), &v); err != nil {
		t.Fatal(err)
	}
	if string(v.Data) != "hi" || !v.When.Equal(time.UnixMilli(1700000000000)) {
		t.Fatalf("got %+v", v)
	}
}

func TestMsgPackExtRewriteIsScoped(t *testing.T) {
	// Plain vmihailenco/msgpack, as another part of a program uses it, is
	// not changed by procwire: ext 1 stays unknown to it.
	var v any
	if err := msgpack.Unmarshal(unhex(t, "d5016869"), &v); err == nil {
		t.Fatalf("stock msgpack decoded ext 1 as %#v; procwire must not register extensions globally", v)
	}
	// …and it still stores 256 into a uint8 by truncation, and -1 into a
	// uint32 as 4294967295, where procwire's codec refuses both, before
	// and after procwire has planned the type.
	var u8 uint8 = 7
	if err := msgpack.Unmarshal(unhex(t, "cd0100"), &u8); err != nil || u8 != 0 {
		t.Fatalf("stock msgpack: 256 into uint8 = %d, %v; want the library's truncation (0, nil)", u8, err)
	}
	var s struct {
		N uint32 `msgpack:"n"`
	}
	if err := msgpack.Unmarshal(unhex(t, "81a16eff"), &s); err != nil || s.N != math.MaxUint32 {
		t.Fatalf("stock msgpack: -1 into uint32 = %d, %v; want the library's wrap", s.N, err)
	}
	if err := MsgPack.Unmarshal(unhex(t, "cd0100"), &u8); err == nil {
		t.Fatal("procwire: 256 into uint8 succeeded")
	}
	if err := MsgPack.Unmarshal(unhex(t, "81a16eff"), &s); err == nil {
		t.Fatal("procwire: -1 into uint32 succeeded")
	}
	s.N = 0
	if err := msgpack.Unmarshal(unhex(t, "81a16eff"), &s); err != nil || s.N != math.MaxUint32 {
		t.Fatalf("stock msgpack after procwire: %d, %v", s.N, err)
	}
	if err := msgpack.Unmarshal(unhex(t, "81a16ed5016869"), &v); err == nil {
		t.Fatalf("stock msgpack decoded ext 1 after procwire as %#v", v)
	}
}

func TestInvalidDateIsTheEpoch(t *testing.T) {
	// Node writes an Invalid Date as the timestamp of the epoch; an ext 2
	// Date that is not valid (NaN, beyond ±8.64e15 ms) decodes as it.
	for _, h := range []string{"d7027ff8000000000000", "d7027e37e43c8800759c", "d702fff0000000000000"} {
		var tm time.Time
		if err := MsgPack.Unmarshal(unhex(t, h), &tm); err != nil || tm.Unix() != 0 || tm.Nanosecond() != 0 {
			t.Errorf("%s: %v, %v", h, tm, err)
		}
		var v any
		if err := MsgPack.Unmarshal(unhex(t, h), &v); err != nil || !v.(time.Time).Equal(time.Unix(0, 0)) {
			t.Errorf("%s into any: %v, %v", h, v, err)
		}
	}
}

func TestNormalizeLeavesOtherPayloadsAlone(t *testing.T) {
	in := unhex(t, "82a162c4020102a163d6ff00000000") // bin, and a timestamp (ext -1)
	out, err := normalizeNodeExt(in)
	if err != nil || &out[0] != &in[0] {
		t.Fatalf("payload without Node extensions was copied or failed: %v", err)
	}
}

// TestNormalizeRefusesUnknownExtensions checks that an extension type
// nobody registered is refused before the library sees the payload: where
// the library wants a map, it reads such an extension as the header of the
// value after it, and a map32 there would size an allocation of 2^31
// entries (found by FuzzMsgPackDecodeMatchesLibrary).
func TestNormalizeRefusesUnknownExtensions(t *testing.T) {
	for _, h := range []string{
		"83a161d5056869a162c4020102a163d6ff00000000", // ext 5
		"81a26d61d6a7df81000000",                     // ext -89 before a map32 header
	} {
		if _, err := normalizeNodeExt(unhex(t, h)); err == nil || !strings.Contains(err.Error(), "unknown ext id=") {
			t.Errorf("%s: %v, want an unknown ext error", h, err)
		}
	}
}

func TestNormalizeRejectsMalformed(t *testing.T) {
	for _, h := range []string{"", "c1", "d501", "c70501", "dc0005", "dfffffffff", "92c0", "c6ffffffff"} {
		if _, err := normalizeNodeExt(unhex(t, h)); err == nil {
			t.Errorf("%q: no error", h)
		}
	}
}

func FuzzMsgPackUnmarshal(f *testing.F) {
	for _, h := range []string{"d5016869", "82a161d5016869a162a178", "d7024278bcfe56800000", "c0", "dc0005", "c70301616263",
		"84a161d080a175cdffffa16c92d1800001a16d81a16bccff", "81a161cd0100", "81a16c93ff00d2ffff0000", "81a16d82a178ffa179c0"} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v any
		_ = MsgPack.Unmarshal(b, &v)
		var s struct {
			A int               `msgpack:"a"`
			B []byte            `msgpack:"b"`
			C map[string]string `msgpack:"c"`
		}
		_ = MsgPack.Unmarshal(b, &s)
		out, err := normalizeNodeExt(b)
		if err != nil {
			return
		}
		if spans, err := scanNodeExt(out); err != nil || len(spans) != 0 {
			t.Fatalf("normalized %x → %x still has Node extensions (%v)", b, out, err)
		}
	})
}
