package codec

import (
	"encoding/hex"
	"reflect"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
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
}

func TestNormalizeLeavesOtherPayloadsAlone(t *testing.T) {
	in := unhex(t, "83a161d5056869a162c4020102a163d6ff00000000") // ext 5 is not Node's
	out, err := normalizeNodeExt(in)
	if err != nil || &out[0] != &in[0] {
		t.Fatalf("payload without Node extensions was copied or failed: %v", err)
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
	for _, h := range []string{"d5016869", "82a161d5016869a162a178", "d7024278bcfe56800000", "c0", "dc0005", "c70301616263"} {
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
