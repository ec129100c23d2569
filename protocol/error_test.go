package protocol

import (
	"errors"
	"io/fs"
	"reflect"
	"testing"
)

// TestPayloadReservedKeys: Details entries named "message" or "code" are
// never sent; Message and Code are, under those keys.
func TestPayloadReservedKeys(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want map[string]any
	}{
		{"no reserved keys", &Error{Message: "m", Code: "C", Details: map[string]any{"k": 1}},
			map[string]any{"message": "m", "code": "C", "k": 1}},
		{"both reserved keys, both fields set", &Error{Message: "m", Code: "C", Details: map[string]any{"message": "x", "code": "y", "k": 1}},
			map[string]any{"message": "m", "code": "C", "k": 1}},
		{"a reserved code, no Code", &Error{Message: "m", Details: map[string]any{"code": "y"}},
			map[string]any{"message": "m"}},
		{"a reserved message, empty Message", &Error{Details: map[string]any{"message": "x"}},
			map[string]any{"message": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(tt.err.Details)
			if got := tt.err.Payload(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("payload %v, want %v", got, tt.want)
			}
			if len(tt.err.Details) != before {
				t.Error("Payload changed Details")
			}
		})
	}
}

func TestErrorfWraps(t *testing.T) {
	e := Errorf("E_NF", "open %s: %w", "x", fs.ErrNotExist)
	if e.Message != "open x: file does not exist" || !errors.Is(e, fs.ErrNotExist) || e.Err != fs.ErrNotExist {
		t.Errorf("%q, Err %v", e.Message, e.Err)
	}
	if got := ErrorPayload(e); !reflect.DeepEqual(got, map[string]any{"message": "open x: file does not exist", "code": "E_NF"}) {
		t.Errorf("payload %v", got)
	}
	// A nil %w operand wraps nothing, as with fmt.Errorf.
	if e := Errorf("E", "%w", nil); e.Err != nil {
		t.Errorf("nil operand: Err %v", e.Err)
	}
}
