// Package msgpacktype says what vmihailenco/msgpack/v5 makes of a Go type:
// whether it encodes or decodes itself, and which fields of a struct go by
// which names (the rules of the library's getFields, types.go). Package
// codec plans its MessagePack encoders and decoders by it, and package
// contract describes the same wire form, so both follow one reading of the
// library.
package msgpacktype

import (
	"encoding"
	"fmt"
	"reflect"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

var (
	// Time is time.Time, which the library sends as its time extension.
	Time = reflect.TypeFor[time.Time]()
	// Decoders are the interfaces with which a type decodes itself.
	Decoders = []reflect.Type{
		reflect.TypeFor[msgpack.CustomDecoder](), reflect.TypeFor[msgpack.Unmarshaler](),
		reflect.TypeFor[encoding.BinaryUnmarshaler](), reflect.TypeFor[encoding.TextUnmarshaler](),
	}
	// Encoders are the interfaces with which a type encodes itself.
	Encoders = []reflect.Type{
		reflect.TypeFor[msgpack.CustomEncoder](), reflect.TypeFor[msgpack.Marshaler](),
		reflect.TypeFor[encoding.BinaryMarshaler](), reflect.TypeFor[encoding.TextMarshaler](),
	}
)

// Implements reports whether t, or a pointer to it, has one of ifaces.
func Implements(t reflect.Type, ifaces []reflect.Type) bool {
	for _, it := range ifaces {
		if t.Implements(it) || t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(it) {
			return true
		}
	}
	return false
}

// Plain reports whether the library encodes and decodes t as a plain
// struct (its encodeStructValue and decodeStructValue), which getFields
// requires to inline an embedded t without ",inline".
func Plain(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t != Time &&
		!Implements(t, Decoders) && !Implements(t, Encoders)
}

// A Field is a struct field as getFields lists it.
type Field struct {
	// Name is the name the field is sent by: the msgpack tag's name, else
	// the Go field's.
	Name string
	// GoName is the Go field's name, after those of the embedded structs
	// it was inlined from ("Emb.X").
	GoName string
	// Index is the field's reflect index path from the struct.
	Index []int
	Type  reflect.Type
	// OmitEmpty: ",omitempty" on the field, or on a _msgpack field before
	// it.
	OmitEmpty bool
	// Intern: ",intern", which the library encodes and decodes itself.
	Intern bool
	// ViaPtr: the field was inlined through an embedded pointer.
	ViaPtr bool
}

// A Struct is a struct's fields as getFields lists them.
type Struct struct {
	// List holds the fields in the order they are sent. A name may stand
	// twice (a field after an inlined struct that has one of that name);
	// both are sent.
	List []*Field
	// ByName holds every name a decode knows: the last field of each name
	// in List, ",alias:" names, and the names of inlined embedded structs.
	ByName map[string]*Field
	// AsArray: a _msgpack field's ",as_array" sends the struct as an array
	// of its fields' values.
	AsArray bool
}

// Fields lists the fields of struct type t as getFields does: the msgpack
// tag's name, else the field's; "-" skipped; unexported fields skipped
// unless embedded; an alias as a second name; embedded structs inlined
// with ",inline" (their fields not already present), or without it when
// they are Plain and none of their fields is present yet; never with
// ",noinline". It fails where getFields panics: ",inline" on a field that
// is not a struct.
func Fields(t reflect.Type) (Struct, error) {
	s := Struct{ByName: make(map[string]*Field)}
	add := func(f *Field) {
		s.ByName[f.Name] = f
		s.List = append(s.List, f)
	}
	omitAll := false
	for i := range t.NumField() {
		sf := t.Field(i)
		name, opts := ParseTag(sf.Tag.Get("msgpack"))
		if name == "-" {
			continue
		}
		if sf.Name == "_msgpack" {
			s.AsArray = has(opts, "as_array") || has(opts, "asArray")
			omitAll = omitAll || has(opts, "omitempty")
		}
		if sf.PkgPath != "" && !sf.Anonymous {
			continue
		}
		f := &Field{Name: name, GoName: sf.Name, Index: []int{i}, Type: sf.Type,
			OmitEmpty: omitAll || has(opts, "omitempty"), Intern: has(opts, "intern")}
		if f.Name == "" {
			f.Name = sf.Name
		}
		if sf.Anonymous && !has(opts, "noinline") {
			st, ptr, inline := sf.Type, false, has(opts, "inline")
			if inline && st.Kind() != reflect.Struct {
				return Struct{}, fmt.Errorf("msgpack: field %s of %s has \",inline\" but is a %s, not a struct", sf.Name, t, st)
			}
			for !inline && st.Kind() == reflect.Pointer {
				st, ptr = st.Elem(), true
			}
			if inline || Plain(st) {
				sub, err := Fields(st)
				if err != nil {
					return Struct{}, err
				}
				shadowed := false
				for _, g := range sub.List {
					if _, shadowed = s.ByName[g.Name]; shadowed {
						break
					}
				}
				if inline || !shadowed {
					for _, g := range sub.List {
						if _, ok := s.ByName[g.Name]; ok && inline {
							continue // a shadowed field is not inlined
						}
						add(&Field{Name: g.Name, GoName: sf.Name + "." + g.GoName, Index: append([]int{i}, g.Index...),
							Type: g.Type, OmitEmpty: g.OmitEmpty, Intern: g.Intern, ViaPtr: g.ViaPtr || ptr})
					}
					s.ByName[f.Name] = f
					continue
				}
			}
		}
		add(f)
		if alias, ok := opts["alias"]; ok {
			s.ByName[alias] = f
		}
	}
	return s, nil
}

func has(opts map[string]string, key string) bool {
	_, ok := opts[key]
	return ok
}
