package parent

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// TestValueEnd checks the MessagePack walker against the library's own
// encodings: every value ends where its encoding ends, every cut of it is
// truncated, and bytes after it are reported.
func TestValueEnd(t *testing.T) {
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
		if n, err := valueEnd(b); err != nil || n != len(b) {
			t.Errorf("%.40x: valueEnd = %d, %v; want %d", b, n, err, len(b))
		}
		if err := oneValue(b); err != nil {
			t.Errorf("%.40x: %v", b, err)
		}
		for cut := 0; cut < len(b); cut += 1 + cut/8 {
			if _, err := valueEnd(b[:cut]); err == nil {
				t.Errorf("%.40x cut to %d bytes: no error", b, cut)
			}
		}
		if err := oneValue(append(b, 0xc0)); err == nil || !strings.Contains(err.Error(), "1 bytes after the first") {
			t.Errorf("%.40x with a byte after it: %v", b, err)
		}
	}
	for _, b := range [][]byte{{0xc1}, {0x91, 0xc1}, {0xdd, 0xff, 0xff, 0xff, 0xff}, {0xdf, 0x7f, 0xff, 0xff, 0xff, 1}, {0xc6, 0xff, 0xff, 0xff, 0xff}} {
		if _, err := valueEnd(b); err == nil {
			t.Errorf("%x: no error", b)
		}
	}
}

func TestOneValueNamesThePayload(t *testing.T) {
	err := oneValue([]byte("boom"))
	if want := `not one MessagePack value: 3 bytes after the first (4 bytes: "boom")`; err == nil || err.Error() != want {
		t.Errorf("oneValue(boom) = %v, want %s", err, want)
	}
	err = oneValue(bytes.Repeat([]byte("x"), 100))
	if err == nil || !strings.HasSuffix(err.Error(), `(100 bytes: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"…)`) {
		t.Errorf("a long payload = %v", err)
	}
}
