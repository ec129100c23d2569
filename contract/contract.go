// Package contract is the machine-readable description of a worker's
// contract: its methods (name, id, response type, codecs, timeout, whether
// the parent may cancel them) and events, and the Go types they carry as
// trees that say what travels on the wire.
//
// A worker built with the procwire package describes itself: its Contract
// method returns one, and with the environment variable PROCWIRE_DESCRIBE=1
// its Run prints it as JSON on stdout and returns without listening, so
// that a compiled binary describes itself without its source. The
// `procwire schema` command shows it and `procwire gen ts` turns it into a
// TypeScript module for @procwire/core (TypeScript in this package).
//
// # Types
//
// A Type describes the MessagePack form of a Go type as the procwire codec
// (codec.MsgPack) writes and reads it: struct fields by their msgpack
// names (the tag's name, "-" skipped, unexported fields skipped, embedded
// structs inlined as the codec inlines them), omitempty fields Optional,
// pointers, slices, maps and interfaces Nullable (their nil is MessagePack
// nil). Named struct types, and named slice, array and map types, are
// described once in Contract.Types and referred to by name (Kind Ref), so
// that recursive types stay finite. Only MessagePack payloads have a type
// tree: a method whose codec is raw, raw-chunks or arrow says so in its
// codec name, and its type is nil; so is the type of a method registered
// with the untyped HandlerFunc API.
//
// # Format
//
// The JSON form is a superset of the schema a worker announces in $init
// (protocol.Schema): "methods" and "events" are objects keyed by name
// whose entries carry "id", "response" and "timeout" (milliseconds) as
// there, beside the contract's own fields, so that a reader of the schema
// reads a contract too. Contract.Format is FormatVersion. Fields may be added without changing
// it; a reader must ignore fields it does not know. A change that alters
// what an existing field means raises it.
package contract

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/procwire/procwire-go/internal/orderedjson"
	"github.com/procwire/procwire-go/protocol"
)

// FormatVersion is the version of the contract's JSON form.
const FormatVersion = 1

// DescribeEnv is the environment variable that, set to "1", makes a
// procwire worker's Run print its contract as JSON on stdout and return
// nil, before it listens or reads stdin.
const DescribeEnv = "PROCWIRE_DESCRIBE"

// A Contract describes one worker.
type Contract struct {
	// Format is FormatVersion.
	Format int `json:"format"`
	// Protocol is the protocol version the worker announces in $init.
	Protocol string `json:"protocol"`
	// Library is the version of procwire-go the worker was built with.
	Library string `json:"library,omitempty"`
	// Module is the module name the parent gave the worker
	// (PROCWIRE_MODULE_NAME), if any.
	Module string `json:"module,omitempty"`
	// Methods in id order (in JSON an object keyed by name).
	Methods []Method `json:"methods"`
	// Events in id order (in JSON an object keyed by name).
	Events []Event `json:"events"`
	// Types are the named types that Type trees refer to (Kind Ref), by
	// their Ref name.
	Types map[string]*Type `json:"types"`
}

// A Method is one method of the contract.
type Method struct {
	Name string `json:"-"`
	// MethodSchema is what the worker's $init announces of the method:
	// its ID, its Response type and its Timeout in milliseconds (0: none).
	protocol.MethodSchema
	// RequestCodec and ResponseCodec are the codecs' names: "msgpack",
	// "raw", "raw-chunks", "arrow" or a codec of the worker's own.
	RequestCodec  string `json:"requestCodec"`
	ResponseCodec string `json:"responseCodec"`
	// Cancellable says that the worker's handler honours an abort, so the
	// parent should declare the method cancellable (the parent decides
	// whether it sends aborts).
	Cancellable bool `json:"cancellable,omitempty"`
	// Request is the request's type; Result is the type of the result, of
	// the ack's data or of each stream chunk. Nil when the direction's
	// codec is not MessagePack, when the method was registered untyped
	// (HandlerFunc), and Result for response type "none".
	Request *Type `json:"request,omitempty"`
	Result  *Type `json:"result,omitempty"`
}

// An Event is one event of the contract.
type Event struct {
	Name string `json:"-"`
	// EventSchema is what the worker's $init announces of the event: its
	// ID.
	protocol.EventSchema
	Codec string `json:"codec"`
	// Data is the type of the event's value (nil as for Method.Request).
	Data *Type `json:"data,omitempty"`
}

// Kind is the kind of a Type.
type Kind string

// The kinds of Type.
const (
	Bool   Kind = "bool"
	Int    Kind = "int"    // Bits wide, unsigned if Unsigned
	Float  Kind = "float"  // Bits wide
	String Kind = "string" // also what a Go error is sent as
	Bytes  Kind = "bytes"  // []byte, [N]byte, encoding.BinaryMarshaler, encoding.TextMarshaler
	Time   Kind = "time"   // time.Time
	Array  Kind = "array"  // slice (Len 0) or array of Elem
	Map    Kind = "map"    // Key to Elem
	Struct Kind = "struct" // Fields, or positions when AsArray
	Any    Kind = "any"    // an interface, or a type with its own msgpack encoding
	Ref    Kind = "ref"    // the named type Contract.Types[Ref]
	// Unsupported is a Go type the codec cannot encode (channels,
	// functions, complex numbers).
	Unsupported Kind = "unsupported"
)

// A Type is the wire form of a Go type.
type Type struct {
	Kind Kind `json:"kind"`
	// Ref names the type in Contract.Types (Kind Ref).
	Ref string `json:"ref,omitempty"`
	// GoType is the Go type's name, for named types and types with their
	// own encoding.
	GoType string `json:"goType,omitempty"`
	// Bits is the width of an Int or Float; Unsigned marks an unsigned Int.
	Bits     int  `json:"bits,omitempty"`
	Unsigned bool `json:"unsigned,omitempty"`
	// Nullable says that the value may be nil (MessagePack nil, null in
	// JavaScript): pointers, slices, maps and interfaces.
	Nullable bool `json:"nullable,omitempty"`
	// Elem is the element of an Array or the value of a Map; Key is the
	// key of a Map; Len is the length of a Go array (0 for slices).
	Elem *Type `json:"elem,omitempty"`
	Key  *Type `json:"key,omitempty"`
	Len  int   `json:"len,omitempty"`
	// Fields of a Struct, in the order they are sent. AsArray: the struct
	// is sent as an array of its fields' values in that order
	// (`msgpack:",as_array"` on a _msgpack field).
	Fields  []Field `json:"fields,omitempty"`
	AsArray bool    `json:"asArray,omitempty"`
}

// A Field is one field of a Struct.
type Field struct {
	// Name is the field's name on the wire (its msgpack name).
	Name string `json:"name"`
	// GoName is the Go field, with the embedded fields on the way
	// ("Base.ID").
	GoName string `json:"goName"`
	Type   *Type  `json:"type"`
	// Optional fields may be left out of the encoded struct (omitempty,
	// or a field inlined from a nil embedded pointer); a decoded struct
	// gets the zero value for any field left out.
	Optional bool `json:"optional,omitempty"`
}

// contractFields is a Contract without its JSON methods.
type contractFields Contract

// contractJSON is the JSON form of a Contract: its fields, with the
// methods and events as objects keyed by name (the outer fields hide the
// embedded ones of the same JSON name).
type contractJSON struct {
	contractFields
	Methods byName[Method] `json:"methods"`
	Events  byName[Event]  `json:"events"`
}

// MarshalJSON writes c with its methods and events as objects keyed by
// name, in id order.
func (c Contract) MarshalJSON() ([]byte, error) {
	j := contractJSON{contractFields: contractFields(c)}
	for _, m := range c.Methods {
		j.Methods = append(j.Methods, named[Method]{m.Name, m})
	}
	for _, e := range c.Events {
		j.Events = append(j.Events, named[Event]{e.Name, e})
	}
	if j.Types == nil {
		j.Types = map[string]*Type{}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the form MarshalJSON writes; methods and events come
// out in id order.
func (c *Contract) UnmarshalJSON(b []byte) error {
	var j contractJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*c = Contract(j.contractFields)
	c.Methods, c.Events = make([]Method, 0, len(j.Methods)), make([]Event, 0, len(j.Events))
	for _, m := range j.Methods {
		m.v.Name = m.name
		c.Methods = append(c.Methods, m.v)
	}
	for _, e := range j.Events {
		e.v.Name = e.name
		c.Events = append(c.Events, e.v)
	}
	slices.SortFunc(c.Methods, func(a, b Method) int { return int(a.ID) - int(b.ID) })
	slices.SortFunc(c.Events, func(a, b Event) int { return int(a.ID) - int(b.ID) })
	return nil
}

// named is one entry of a JSON object whose key is the entry's name.
type named[T any] struct {
	name string
	v    T
}

// byName is a JSON object of entries in a chosen order.
type byName[T any] []named[T]

func (l byName[T]) MarshalJSON() ([]byte, error) {
	return orderedjson.AppendObject(nil, len(l), func(i int) string { return l[i].name },
		func(b []byte, i int) ([]byte, error) {
			v, err := json.Marshal(l[i].v)
			return append(b, v...), err
		})
}

func (l *byName[T]) UnmarshalJSON(b []byte) error {
	var m map[string]T
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*l = (*l)[:0]
	for k, v := range m {
		*l = append(*l, named[T]{k, v})
	}
	return nil
}

// Parse decodes a contract from its JSON form and checks its format
// version and its references.
func Parse(b []byte) (*Contract, error) {
	var c Contract
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	if c.Format != FormatVersion {
		return nil, fmt.Errorf("contract: format version %d, want %d", c.Format, FormatVersion)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate checks that every Ref names a type of c.Types and that every
// Type has the parts its kind needs.
func (c *Contract) Validate() error {
	check := func(where string, t *Type) error {
		if t == nil {
			return nil
		}
		return c.validType(where, t, 0)
	}
	for _, m := range c.Methods {
		if err := check("method "+m.Name+" request", m.Request); err != nil {
			return err
		}
		if err := check("method "+m.Name+" result", m.Result); err != nil {
			return err
		}
	}
	for _, e := range c.Events {
		if err := check("event "+e.Name, e.Data); err != nil {
			return err
		}
	}
	for name, t := range c.Types {
		if t == nil || t.Kind == Ref {
			return fmt.Errorf("contract: type %s: a named type must not be empty or a reference", name)
		}
		if err := check("type "+name, t); err != nil {
			return err
		}
	}
	return nil
}

// maxDepth bounds the nesting of a Type tree that Validate accepts.
const maxDepth = 100

func (c *Contract) validType(where string, t *Type, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("contract: %s: nested deeper than %d", where, maxDepth)
	}
	bad := func(why string) error { return fmt.Errorf("contract: %s: %s %s", where, t.Kind, why) }
	sub := func(s *Type) error {
		if s == nil {
			return bad("without its element type")
		}
		return c.validType(where, s, depth+1)
	}
	switch t.Kind {
	case Bool, String, Bytes, Time, Any, Unsupported:
	case Int, Float:
		if t.Bits != 8 && t.Bits != 16 && t.Bits != 32 && t.Bits != 64 {
			return bad(fmt.Sprintf("with %d bits", t.Bits))
		}
	case Array:
		return sub(t.Elem)
	case Map:
		if err := sub(t.Key); err != nil {
			return err
		}
		return sub(t.Elem)
	case Struct:
		for _, f := range t.Fields {
			if err := sub(f.Type); err != nil {
				return err
			}
		}
	case Ref:
		if _, ok := c.Types[t.Ref]; !ok {
			return bad(fmt.Sprintf("to %q, which is not in types", t.Ref))
		}
	default:
		return fmt.Errorf("contract: %s: unknown kind %q", where, t.Kind)
	}
	return nil
}

// Method returns the method named name, or nil.
func (c *Contract) Method(name string) *Method {
	for i := range c.Methods {
		if c.Methods[i].Name == name {
			return &c.Methods[i]
		}
	}
	return nil
}
