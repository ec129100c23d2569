package contract

import (
	"encoding"
	"reflect"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/procwire/procwire-go/internal/msgpacktype"
)

// A Builder turns Go types into Type trees, collecting the named types
// they refer to. The zero value is not ready: use NewBuilder. A Builder is
// not safe for concurrent use.
type Builder struct {
	types map[string]*Type
	names map[reflect.Type]string // the Ref name of each named type seen
	taken map[string]reflect.Type
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder {
	return &Builder{
		types: make(map[string]*Type),
		names: make(map[reflect.Type]string),
		taken: make(map[string]reflect.Type),
	}
}

// Types returns the named types collected so far, by Ref name. The map
// belongs to the Builder: it grows with later calls to TypeOf.
func (b *Builder) Types() map[string]*Type { return b.types }

var (
	errorType = reflect.TypeFor[error]()
	// customIface are the interfaces with which a type encodes itself in a
	// form of its own; bytesIface those with which it encodes as bytes
	// (vmihailenco/msgpack: EncodeBytes of MarshalBinary / MarshalText).
	customIface = []reflect.Type{reflect.TypeFor[msgpack.CustomEncoder](), reflect.TypeFor[msgpack.Marshaler]()}
	bytesIface  = []reflect.Type{reflect.TypeFor[encoding.BinaryMarshaler](), reflect.TypeFor[encoding.TextMarshaler]()}
)

// TypeOf returns the tree of t as codec.MsgPack encodes it. A nil t (the
// type of a nil interface) is Any.
func (b *Builder) TypeOf(t reflect.Type) *Type {
	if t == nil {
		return &Type{Kind: Any, Nullable: true}
	}
	return b.typeOf(t, 0)
}

func (b *Builder) typeOf(t reflect.Type, depth int) *Type {
	if depth > maxDepth/2 {
		// Only unnamed types nest without a name to stop at, and only as
		// deep as they are written: this is a guard, not a limit users meet.
		return &Type{Kind: Any, GoType: t.String()}
	}
	nullable := false
	for t.Kind() == reflect.Pointer {
		// A pointer sends nil or what it points to (whose own encoding,
		// if any, implements finds through the pointer too).
		nullable = true
		t = t.Elem()
	}
	d := b.describe(t, depth)
	if nullable {
		d.Nullable = true
	}
	return d
}

// describe returns the tree of t, not a pointer.
func (b *Builder) describe(t reflect.Type, depth int) *Type {
	switch {
	case t == msgpacktype.Time:
		return &Type{Kind: Time}
	case msgpacktype.Implements(t, customIface):
		return &Type{Kind: Any, GoType: t.String(), Nullable: true}
	case msgpacktype.Implements(t, bytesIface):
		return &Type{Kind: Bytes, GoType: t.String(), Nullable: nilable(t)}
	case t == errorType:
		return &Type{Kind: String, GoType: "error", Nullable: true}
	}
	named := ""
	if t.Name() != "" && t.PkgPath() != "" {
		named = t.String()
	}
	switch t.Kind() {
	case reflect.Bool:
		return &Type{Kind: Bool, GoType: named}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return &Type{Kind: Int, Bits: t.Bits(), GoType: named}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return &Type{Kind: Int, Bits: t.Bits(), Unsigned: true, GoType: named}
	case reflect.Float32, reflect.Float64:
		return &Type{Kind: Float, Bits: t.Bits(), GoType: named}
	case reflect.String:
		return &Type{Kind: String, GoType: named}
	case reflect.Interface:
		return &Type{Kind: Any, GoType: named, Nullable: true}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return &Type{Kind: Bytes, GoType: named, Nullable: true}
		}
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return &Type{Kind: Bytes, GoType: named}
		}
	case reflect.Map, reflect.Struct:
	default:
		return &Type{Kind: Unsupported, GoType: t.String()}
	}
	// Composite types: named ones go to the table, once.
	if named == "" {
		return b.composite(t, depth)
	}
	ref := &Type{Kind: Ref, Ref: b.name(t)}
	if _, done := b.types[ref.Ref]; !done {
		b.types[ref.Ref] = &Type{Kind: Any} // a placeholder while its parts refer to it
		d := b.composite(t, depth)
		d.GoType = named
		d.Nullable = false // whether a value is nil is said where it is used
		b.types[ref.Ref] = d
	}
	if t.Kind() != reflect.Struct && t.Kind() != reflect.Array {
		ref.Nullable = true
	}
	return ref
}

// nilable reports whether a value of t can be nil.
func nilable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Chan, reflect.Func:
		return true
	}
	return false
}

// name returns the Ref name of the named type t: its Go name
// ("pkg.Type"), or its full import path when two packages have a type of
// that name.
func (b *Builder) name(t reflect.Type) string {
	if n, ok := b.names[t]; ok {
		return n
	}
	n := t.String()
	if other, ok := b.taken[n]; ok && other != t {
		n = t.PkgPath() + "." + t.Name()
	}
	b.names[t] = n
	b.taken[n] = t
	return n
}

func (b *Builder) composite(t reflect.Type, depth int) *Type {
	switch t.Kind() {
	case reflect.Slice:
		return &Type{Kind: Array, Elem: b.typeOf(t.Elem(), depth+1), Nullable: true}
	case reflect.Array:
		return &Type{Kind: Array, Elem: b.typeOf(t.Elem(), depth+1), Len: t.Len()}
	case reflect.Map:
		return &Type{Kind: Map, Key: b.typeOf(t.Key(), depth+1), Elem: b.typeOf(t.Elem(), depth+1), Nullable: true}
	default:
		return b.structOf(t, depth)
	}
}

func (b *Builder) structOf(t reflect.Type, depth int) *Type {
	lib, err := msgpacktype.Fields(t)
	if err != nil {
		return &Type{Kind: Unsupported, GoType: t.String()} // the library panics on it
	}
	asArray := lib.AsArray
	hasOmit := false
	for _, f := range lib.List {
		hasOmit = hasOmit || f.OmitEmpty
	}
	s := &Type{Kind: Struct, AsArray: asArray, Fields: []Field{}}
	at := make(map[string]int, len(lib.List))
	for _, f := range lib.List {
		ft := b.typeOf(f.Type, depth+1)
		opt := f.OmitEmpty
		if f.ViaPtr {
			// A nil embedded pointer leaves its fields out when the struct
			// has omitempty fields, and sends them as nil otherwise.
			ft.Nullable = true
			opt = hasOmit
		}
		sf := Field{Name: f.Name, GoName: f.GoName, Type: ft, Optional: opt && !asArray}
		if i, dup := at[f.Name]; dup && !asArray {
			// Sent twice (a field after an inlined struct that has one of
			// that name): the last value is the one both sides keep.
			s.Fields[i] = sf
			continue
		}
		at[f.Name] = len(s.Fields)
		s.Fields = append(s.Fields, sf)
	}
	return s
}
