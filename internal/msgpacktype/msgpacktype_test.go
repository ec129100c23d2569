package msgpacktype

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

type Base struct {
	ID   int    `msgpack:"id"`
	Kind string `msgpack:"kind"`
}

type (
	tagged struct {
		A    int `msgpack:"a"`
		B    int `msgpack:"b,alias:bb"`
		Skip int `msgpack:"-"`
		//lint:ignore U1000 an unexported field, which the library skips
		hidden int
		Plain  int
	}
	autoInline struct {
		Base
		Name string `msgpack:"name"`
	}
	ptrInline struct {
		*Base
		Name string `msgpack:"name"`
	}
	shadowed struct { // Base's id is taken: Base stays a field of its own
		ID string `msgpack:"id"`
		Base
	}
	forcedInline struct { // ,inline inlines what is not shadowed
		ID   string `msgpack:"id"`
		Base `msgpack:",inline"`
	}
	noInline struct {
		Base `msgpack:",noinline"`
	}
	structTags struct {
		//lint:ignore U1000 read through reflection, as the library does
		_msgpack struct{} `msgpack:",as_array,omitempty"`
		A        int      `msgpack:"a"`
		S        string   `msgpack:"s,intern"`
	}
	inlinePtr struct {
		*Base `msgpack:",inline"`
	}
)

func TestFields(t *testing.T) {
	tests := []struct {
		v       any
		list    []string // Name=GoName, with "*" for ViaPtr, "~" for OmitEmpty, "!" for Intern
		byName  []string // sorted
		asArray bool
	}{
		{tagged{}, []string{"a=A", "b=B", "Plain=Plain"}, []string{"Plain", "a", "b", "bb"}, false},
		{autoInline{}, []string{"id=Base.ID", "kind=Base.Kind", "name=Name"}, []string{"Base", "id", "kind", "name"}, false},
		{ptrInline{}, []string{"id=Base.ID*", "kind=Base.Kind*", "name=Name"}, []string{"Base", "id", "kind", "name"}, false},
		{shadowed{}, []string{"id=ID", "Base=Base"}, []string{"Base", "id"}, false},
		{forcedInline{}, []string{"id=ID", "kind=Base.Kind"}, []string{"Base", "id", "kind"}, false},
		{noInline{}, []string{"Base=Base"}, []string{"Base"}, false},
		{structTags{}, []string{"a=A~", "s=S~!"}, []string{"a", "s"}, true},
	}
	for _, tt := range tests {
		typ := reflect.TypeOf(tt.v)
		t.Run(typ.Name(), func(t *testing.T) {
			s, err := Fields(typ)
			if err != nil {
				t.Fatal(err)
			}
			var list []string
			for _, f := range s.List {
				d := f.Name + "=" + f.GoName
				for _, m := range []struct {
					on   bool
					mark string
				}{{f.ViaPtr, "*"}, {f.OmitEmpty, "~"}, {f.Intern, "!"}} {
					if m.on {
						d += m.mark
					}
				}
				if got := typ.FieldByIndex(f.Index[:1]).Type; f.Type != got && len(f.Index) == 1 {
					t.Errorf("%s: type %v, want %v", f.Name, f.Type, got)
				}
				list = append(list, d)
			}
			if !slices.Equal(list, tt.list) {
				t.Errorf("List = %v, want %v", list, tt.list)
			}
			var names []string
			for n := range s.ByName {
				names = append(names, n)
			}
			slices.Sort(names)
			if !slices.Equal(names, tt.byName) {
				t.Errorf("ByName = %v, want %v", names, tt.byName)
			}
			if s.AsArray != tt.asArray {
				t.Errorf("AsArray = %v", s.AsArray)
			}
			if tt.asArray || typ == reflect.TypeFor[ptrInline]() {
				return // the library writes an array, or nothing of a nil pointer
			}
			// The library sends the fields in List's order, by those names.
			b, err := msgpack.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			d := msgpack.NewDecoder(bytes.NewReader(b))
			n, err := d.DecodeMapLen()
			if err != nil {
				t.Fatal(err)
			}
			var sent []string
			for range n {
				k, err := d.DecodeString()
				if err != nil {
					t.Fatal(err)
				}
				sent = append(sent, k)
				if err := d.Skip(); err != nil {
					t.Fatal(err)
				}
			}
			var want []string
			for _, f := range s.List {
				want = append(want, f.Name)
			}
			if !slices.Equal(sent, want) {
				t.Errorf("the library sends %v, List says %v", sent, want)
			}
		})
	}
}

func TestFieldsInlineOnAPointerFails(t *testing.T) {
	_, err := Fields(reflect.TypeFor[inlinePtr]())
	if err == nil || !strings.Contains(err.Error(), `",inline"`) || !strings.Contains(err.Error(), "not a struct") {
		t.Fatalf("err = %v, want one about ,inline on a pointer", err)
	}
}

func TestParseTag(t *testing.T) {
	tests := []struct {
		tag, name string
		opts      map[string]string
	}{
		{"", "", nil},
		{"a", "a", nil},
		{"a,omitempty", "a", map[string]string{"omitempty": ""}},
		{",inline", "", map[string]string{"inline": ""}},
		{"b,alias:bb", "b", map[string]string{"alias": "bb"}},
		{`c,alias:'x,y'`, "c", map[string]string{"alias": "x,y"}},
	}
	for _, tt := range tests {
		name, opts := ParseTag(tt.tag)
		if name != tt.name || len(opts) != len(tt.opts) {
			t.Errorf("ParseTag(%q) = %q, %v; want %q, %v", tt.tag, name, opts, tt.name, tt.opts)
			continue
		}
		for k, v := range tt.opts {
			if opts[k] != v {
				t.Errorf("ParseTag(%q) option %s = %q, want %q", tt.tag, k, opts[k], v)
			}
		}
	}
}
