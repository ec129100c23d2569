package codec

import (
	"testing"
	"unsafe"
)

// TestInternKeepsCommonKeys checks that the keys of the objects the
// benchmarks and examples send all stay in the key cache together: a
// second round of the same keys allocates no string. Two of them evicting
// each other would both miss on every payload ("name" and "note" did, in
// a one-way cache whose slot depended on the length and the first and
// last bytes).
func TestInternKeepsCommonKeys(t *testing.T) {
	tests := []struct {
		name string
		keys []string
	}{
		{"codec benchmark object", []string{"id", "name", "tags", "ok", "score", "nested", "note", "x", "y"}},
		{"Node bench object", []string{"id", "name", "tags", "score", "enabled", "note"}},
		{"Go parent benchmark struct", []string{"name", "id", "count", "score", "ok", "tags", "note"}},
		{"error payload", []string{"message", "code", "data", "method", "codec", "field", "want", "got"}},
		{"a web API's object", []string{"width", "height", "format", "quality", "path", "size", "type", "value", "items", "count", "total", "error", "result", "status", "user", "email", "createdAt", "updatedAt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var st decState
			first := make([]string, len(tt.keys))
			for i, k := range tt.keys {
				first[i] = st.intern([]byte(k))
			}
			for i, k := range tt.keys {
				again := st.intern([]byte(k))
				if again != k {
					t.Fatalf("intern(%q) = %q", k, again)
				}
				if unsafe.StringData(again) != unsafe.StringData(first[i]) {
					t.Errorf("%q was evicted by another key of the set: a new string on every payload", k)
				}
			}
		})
	}
}
