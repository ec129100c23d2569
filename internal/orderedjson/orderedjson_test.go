package orderedjson

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestAppendObject(t *testing.T) {
	errBad := errors.New("bad value")
	tests := []struct {
		name string
		keys []string
		vals []string // valid JSON, or "!" for a failing value
		want string
		err  error
	}{
		{"empty", nil, nil, `{}`, nil},
		{"order kept", []string{"b", "a", "c"}, []string{`1`, `"x"`, `[true]`}, `{"b":1,"a":"x","c":[true]}`, nil},
		{"keys escaped", []string{`q"<`}, []string{`null`}, `{"q\"\u003c":null}`, nil},
		{"a value fails", []string{"a", "b"}, []string{`1`, `!`}, ``, errBad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendObject([]byte("prefix:"), len(tt.keys), func(i int) string { return tt.keys[i] },
				func(b []byte, i int) ([]byte, error) {
					if tt.vals[i] == "!" {
						return nil, errBad
					}
					return append(b, tt.vals[i]...), nil
				})
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if tt.err != nil {
				if got != nil {
					t.Errorf("got %q with the error, want nil", got)
				}
				return
			}
			if string(got) != "prefix:"+tt.want {
				t.Errorf("got %s, want prefix:%s", got, tt.want)
			}
			if !json.Valid(got[len("prefix:"):]) {
				t.Errorf("%s is not valid JSON", got)
			}
		})
	}
}
