package parent

import (
	"bytes"
	"strings"
	"testing"
)

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

// TestOneValueTruncated checks that a payload that ends inside its value
// is an error that names the payload (codec.MsgPackLen's tests check the
// walk itself).
func TestOneValueTruncated(t *testing.T) {
	err := oneValue([]byte{0x92, 0x01})
	if want := `msgpack: end of input (2 bytes: "\x92\x01")`; err == nil || err.Error() != want {
		t.Errorf("oneValue(92 01) = %v, want %s", err, want)
	}
}
