package contract_test

import (
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/contract"
	"github.com/procwire/procwire-go/protocol"
)

type Tagged struct {
	Plain     int
	Named     string `msgpack:"named"`
	Omit      int    `msgpack:"omit,omitempty"`
	OmitNoTag string `msgpack:",omitempty"`
	Skipped   string `msgpack:"-"`
	//lint:ignore U1000 an unexported field, which the contract must skip
	unexp   int
	Aliased bool `msgpack:"aliased,alias:other"`
}

type Node struct {
	Value int64  `msgpack:"value"`
	Next  *Node  `msgpack:"next"`
	Kids  []Node `msgpack:"kids"`
}

type Base struct {
	ID   int64  `msgpack:"id"`
	Kind string `msgpack:"kind"`
}

type Embeds struct {
	Base
	Name string `msgpack:"name"`
}

type EmbedsPtr struct {
	*Base
	Name string `msgpack:"name,omitempty"`
}

type Shadow struct {
	ID string `msgpack:"id"` // shadows Base.ID: Base is not inlined
	Base
}

type ShadowInline struct {
	ID   string              `msgpack:"id"`
	Base `msgpack:",inline"` // inlined but for Base.ID
}

type Dup struct {
	Base
	ID string `msgpack:"id"` // sent after Base.ID: Node and Go keep this one
}

type NoInline struct {
	Base `msgpack:"base,noinline"`
}

type AsArray struct {
	//lint:ignore U1000 read through reflection, as the msgpack encoder does
	_msgpack struct{} `msgpack:",as_array"`
	A        int      `msgpack:"a"`
	B        string   `msgpack:"b"`
}

type OmitAll struct {
	//lint:ignore U1000 read through reflection, as the msgpack encoder does
	_msgpack struct{} `msgpack:",omitempty"`
	A        int      `msgpack:"a"`
	B        string   `msgpack:"b"`
}

type Celsius float64

type Tags []string

// Custom encodes itself.
type Custom struct{}

func (Custom) EncodeMsgpack(*msgpack.Encoder) error { return nil }

type Scalars struct {
	I    int
	I8   int8
	I16  int16
	I32  int32
	I64  int64
	U    uint
	U8   uint8
	U16  uint16
	U32  uint32
	U64  uint64
	F32  float32
	F64  float64
	B    bool
	S    string
	C    Celsius
	Addr netip.Addr
	Err  error
}

func TestTypeOf(t *testing.T) {
	i64 := &contract.Type{Kind: contract.Int, Bits: 64}
	str := &contract.Type{Kind: contract.String}
	tests := []struct {
		name  string
		typ   reflect.Type
		want  *contract.Type
		types map[string]*contract.Type // expected entries of Types, if any
	}{
		{"int is a 64-bit signed integer", reflect.TypeFor[int](), i64, nil},
		{"uint16 is unsigned", reflect.TypeFor[uint16](), &contract.Type{Kind: contract.Int, Bits: 16, Unsigned: true}, nil},
		{"float32", reflect.TypeFor[float32](), &contract.Type{Kind: contract.Float, Bits: 32}, nil},
		{"string", reflect.TypeFor[string](), str, nil},
		{"a named float keeps its Go name", reflect.TypeFor[Celsius](), &contract.Type{Kind: contract.Float, Bits: 64, GoType: "contract_test.Celsius"}, nil},
		{"[]byte is nullable bytes", reflect.TypeFor[[]byte](), &contract.Type{Kind: contract.Bytes, Nullable: true}, nil},
		{"[16]byte is bytes", reflect.TypeFor[[16]byte](), &contract.Type{Kind: contract.Bytes}, nil},
		{"time.Time is time", reflect.TypeFor[time.Time](), &contract.Type{Kind: contract.Time}, nil},
		{"*time.Time is nullable time", reflect.TypeFor[*time.Time](), &contract.Type{Kind: contract.Time, Nullable: true}, nil},
		{"**int is a nullable int", reflect.TypeFor[**int](), &contract.Type{Kind: contract.Int, Bits: 64, Nullable: true}, nil},
		{"any is nullable any", reflect.TypeFor[any](), &contract.Type{Kind: contract.Any, Nullable: true}, nil},
		{"error is a nullable string", reflect.TypeFor[error](), &contract.Type{Kind: contract.String, GoType: "error", Nullable: true}, nil},
		{"a TextMarshaler is bytes", reflect.TypeFor[netip.Addr](), &contract.Type{Kind: contract.Bytes, GoType: "netip.Addr"}, nil},
		{"a type with its own encoding is any", reflect.TypeFor[Custom](), &contract.Type{Kind: contract.Any, GoType: "contract_test.Custom", Nullable: true}, nil},
		{"a channel is unsupported", reflect.TypeFor[chan int](), &contract.Type{Kind: contract.Unsupported, GoType: "chan int"}, nil},
		{"[]int is a nullable array", reflect.TypeFor[[]int](), &contract.Type{Kind: contract.Array, Nullable: true, Elem: i64}, nil},
		{"[3]int has a length", reflect.TypeFor[[3]int](), &contract.Type{Kind: contract.Array, Len: 3, Elem: i64}, nil},
		{"[][]*string nests", reflect.TypeFor[[][]*string](), &contract.Type{Kind: contract.Array, Nullable: true,
			Elem: &contract.Type{Kind: contract.Array, Nullable: true, Elem: &contract.Type{Kind: contract.String, Nullable: true}}}, nil},
		{"map[string]int is a nullable map", reflect.TypeFor[map[string]int](), &contract.Type{Kind: contract.Map, Nullable: true, Key: str, Elem: i64}, nil},
		{"map[int]any keeps its key type", reflect.TypeFor[map[int]any](), &contract.Type{Kind: contract.Map, Nullable: true, Key: i64, Elem: &contract.Type{Kind: contract.Any, Nullable: true}}, nil},
		{"a named slice goes to the table", reflect.TypeFor[Tags](), &contract.Type{Kind: contract.Ref, Ref: "contract_test.Tags", Nullable: true},
			map[string]*contract.Type{"contract_test.Tags": {Kind: contract.Array, GoType: "contract_test.Tags", Elem: str}}},
		{"an anonymous struct is inline", reflect.TypeFor[struct {
			A int `msgpack:"a"`
		}](), &contract.Type{Kind: contract.Struct, Fields: []contract.Field{{Name: "a", GoName: "A", Type: i64}}}, nil},
		{"tags: names, omitempty, -, unexported", reflect.TypeFor[Tagged](), ref("Tagged"), map[string]*contract.Type{
			"contract_test.Tagged": {Kind: contract.Struct, GoType: "contract_test.Tagged", Fields: []contract.Field{
				{Name: "Plain", GoName: "Plain", Type: i64},
				{Name: "named", GoName: "Named", Type: str},
				{Name: "omit", GoName: "Omit", Type: i64, Optional: true},
				{Name: "OmitNoTag", GoName: "OmitNoTag", Type: str, Optional: true},
				{Name: "aliased", GoName: "Aliased", Type: &contract.Type{Kind: contract.Bool}},
			}},
		}},
		{"a recursive type refers to itself", reflect.TypeFor[*Node](), &contract.Type{Kind: contract.Ref, Ref: "contract_test.Node", Nullable: true}, map[string]*contract.Type{
			"contract_test.Node": {Kind: contract.Struct, GoType: "contract_test.Node", Fields: []contract.Field{
				{Name: "value", GoName: "Value", Type: i64},
				{Name: "next", GoName: "Next", Type: &contract.Type{Kind: contract.Ref, Ref: "contract_test.Node", Nullable: true}},
				{Name: "kids", GoName: "Kids", Type: &contract.Type{Kind: contract.Array, Nullable: true, Elem: ref("Node")}},
			}},
		}},
		{"an embedded struct is inlined", reflect.TypeFor[Embeds](), ref("Embeds"), map[string]*contract.Type{
			"contract_test.Embeds": {Kind: contract.Struct, GoType: "contract_test.Embeds", Fields: []contract.Field{
				{Name: "id", GoName: "Base.ID", Type: i64},
				{Name: "kind", GoName: "Base.Kind", Type: str},
				{Name: "name", GoName: "Name", Type: str},
			}},
		}},
		{"fields of a nil embedded pointer are nullable, and left out with omitempty", reflect.TypeFor[EmbedsPtr](), ref("EmbedsPtr"), map[string]*contract.Type{
			"contract_test.EmbedsPtr": {Kind: contract.Struct, GoType: "contract_test.EmbedsPtr", Fields: []contract.Field{
				{Name: "id", GoName: "Base.ID", Type: &contract.Type{Kind: contract.Int, Bits: 64, Nullable: true}, Optional: true},
				{Name: "kind", GoName: "Base.Kind", Type: &contract.Type{Kind: contract.String, Nullable: true}, Optional: true},
				{Name: "name", GoName: "Name", Type: str, Optional: true},
			}},
		}},
		{"a shadowed embedded struct is a field", reflect.TypeFor[Shadow](), ref("Shadow"), map[string]*contract.Type{
			"contract_test.Shadow": {Kind: contract.Struct, GoType: "contract_test.Shadow", Fields: []contract.Field{
				{Name: "id", GoName: "ID", Type: str},
				{Name: "Base", GoName: "Base", Type: ref("Base")},
			}},
			"contract_test.Base": {Kind: contract.Struct, GoType: "contract_test.Base", Fields: []contract.Field{
				{Name: "id", GoName: "ID", Type: i64},
				{Name: "kind", GoName: "Kind", Type: str},
			}},
		}},
		{"inline inlines all but the shadowed fields", reflect.TypeFor[ShadowInline](), ref("ShadowInline"), map[string]*contract.Type{
			"contract_test.ShadowInline": {Kind: contract.Struct, GoType: "contract_test.ShadowInline", Fields: []contract.Field{
				{Name: "id", GoName: "ID", Type: str},
				{Name: "kind", GoName: "Base.Kind", Type: str},
			}},
		}},
		{"a field sent twice has the type of the last", reflect.TypeFor[Dup](), ref("Dup"), map[string]*contract.Type{
			"contract_test.Dup": {Kind: contract.Struct, GoType: "contract_test.Dup", Fields: []contract.Field{
				{Name: "id", GoName: "ID", Type: str},
				{Name: "kind", GoName: "Base.Kind", Type: str},
			}},
		}},
		{"noinline keeps an embedded struct a field", reflect.TypeFor[NoInline](), ref("NoInline"), map[string]*contract.Type{
			"contract_test.NoInline": {Kind: contract.Struct, GoType: "contract_test.NoInline", Fields: []contract.Field{
				{Name: "base", GoName: "Base", Type: ref("Base")},
			}},
		}},
		{"as_array", reflect.TypeFor[AsArray](), ref("AsArray"), map[string]*contract.Type{
			"contract_test.AsArray": {Kind: contract.Struct, GoType: "contract_test.AsArray", AsArray: true, Fields: []contract.Field{
				{Name: "a", GoName: "A", Type: i64},
				{Name: "b", GoName: "B", Type: str},
			}},
		}},
		{"a _msgpack omitempty applies to every field", reflect.TypeFor[OmitAll](), ref("OmitAll"), map[string]*contract.Type{
			"contract_test.OmitAll": {Kind: contract.Struct, GoType: "contract_test.OmitAll", Fields: []contract.Field{
				{Name: "a", GoName: "A", Type: i64, Optional: true},
				{Name: "b", GoName: "B", Type: str, Optional: true},
			}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := contract.NewBuilder()
			got := b.TypeOf(tt.typ)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("TypeOf(%v) =\n%s\nwant\n%s", tt.typ, js(got), js(tt.want))
			}
			for name, want := range tt.types {
				if g := b.Types()[name]; !reflect.DeepEqual(g, want) {
					t.Errorf("Types()[%s] =\n%s\nwant\n%s", name, js(g), js(want))
				}
			}
		})
	}
}

func ref(name string) *contract.Type {
	return &contract.Type{Kind: contract.Ref, Ref: "contract_test." + name}
}

func js(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// TestScalarsWidths checks the bit width and signedness of every integer.
func TestScalarsWidths(t *testing.T) {
	b := contract.NewBuilder()
	b.TypeOf(reflect.TypeFor[Scalars]())
	s := b.Types()["contract_test.Scalars"]
	want := map[string]string{
		"I": "int64", "I8": "int8", "I16": "int16", "I32": "int32", "I64": "int64",
		"U": "uint64", "U8": "uint8", "U16": "uint16", "U32": "uint32", "U64": "uint64",
		"F32": "float32", "F64": "float64", "B": "bool", "S": "string", "C": "float64", "Addr": "bytes", "Err": "string",
	}
	for _, f := range s.Fields {
		got := string(f.Type.Kind)
		if f.Type.Unsigned {
			got = "u" + got
		}
		if f.Type.Bits != 0 {
			got += strconv.Itoa(f.Type.Bits)
		}
		if got != want[f.Name] {
			t.Errorf("field %s = %s, want %s", f.Name, got, want[f.Name])
		}
	}
}

// TestFieldNamesMatchTheCodec encodes values with codec.MsgPack and checks
// that the keys it writes are the fields the contract lists (the optional
// ones left out when empty), in the same order.
func TestFieldNamesMatchTheCodec(t *testing.T) {
	one := int64(1)
	values := []any{
		Tagged{Plain: 1, Named: "n", Omit: 2, OmitNoTag: "o", Aliased: true},
		Tagged{},
		Embeds{Base: Base{ID: 1, Kind: "k"}, Name: "n"},
		EmbedsPtr{Base: &Base{ID: 1}, Name: "n"},
		EmbedsPtr{},
		Shadow{Base: Base{ID: 1}, ID: "x"},
		ShadowInline{Base: Base{ID: 1, Kind: "k"}, ID: "x"},
		Dup{Base: Base{ID: 1, Kind: "k"}, ID: "x"},
		NoInline{},
		OmitAll{A: 1},
		Node{Value: one, Next: &Node{}},
	}
	for _, v := range values {
		t.Run(reflect.TypeOf(v).Name(), func(t *testing.T) {
			p, err := codec.MsgPack.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			var keys orderedKeys
			if err := keys.read(p); err != nil {
				t.Fatal(err)
			}
			b := contract.NewBuilder()
			b.TypeOf(reflect.TypeOf(v))
			st := b.Types()["contract_test."+reflect.TypeOf(v).Name()]
			var required, all []string
			for _, f := range st.Fields {
				all = append(all, f.Name)
				if !f.Optional {
					required = append(required, f.Name)
				}
			}
			for _, k := range keys {
				if !slices.Contains(all, k) {
					t.Errorf("the codec writes %q, which the contract does not list (%q)", k, all)
				}
			}
			for _, r := range required {
				if !slices.Contains(keys, r) {
					t.Errorf("the contract says %q is always sent; the codec wrote %q", r, keys)
				}
			}
			// The order is the contract's (a key sent twice counts where it
			// is first).
			j := 0
			for i, k := range keys {
				if slices.Contains(keys[:i], k) {
					continue
				}
				for j < len(all) && all[j] != k {
					j++
				}
				if j == len(all) {
					t.Errorf("keys %q are not in the contract's order %q", keys, all)
					break
				}
			}
		})
	}
}

// orderedKeys are the keys of a top-level MessagePack map of strings.
type orderedKeys []string

func (k *orderedKeys) read(p []byte) error {
	var n int
	switch c := p[0]; {
	case c >= 0x80 && c <= 0x8f:
		n, p = int(c&0x0f), p[1:]
	case c == 0xde:
		n, p = int(p[1])<<8|int(p[2]), p[3:]
	default:
		return errors.New("not a map")
	}
	for range n {
		var key any
		rest, err := skipOne(p, &key)
		if err != nil {
			return err
		}
		s, ok := key.(string)
		if !ok {
			return errors.New("a key is not a string")
		}
		*k = append(*k, s)
		var val any
		if p, err = skipOne(rest, &val); err != nil {
			return err
		}
	}
	return nil
}

// skipOne decodes the first value of p into v and returns the rest.
func skipOne(p []byte, v *any) ([]byte, error) {
	for n := 1; n <= len(p); n++ {
		if codec.MsgPack.Unmarshal(p[:n], v) == nil {
			return p[n:], nil
		}
	}
	return nil, errors.New("no complete value")
}

func TestTypesSurviveJSON(t *testing.T) {
	b := contract.NewBuilder()
	c := &contract.Contract{
		Format:  contract.FormatVersion,
		Methods: []contract.Method{{Name: "walk", MethodSchema: protocol.MethodSchema{ID: 1, Response: "stream"}, RequestCodec: "msgpack", ResponseCodec: "msgpack", Request: b.TypeOf(reflect.TypeFor[Node]()), Result: b.TypeOf(reflect.TypeFor[[]byte]())}},
		Events:  []contract.Event{{Name: "ev", EventSchema: protocol.EventSchema{ID: 1}, Codec: "msgpack", Data: b.TypeOf(reflect.TypeFor[Embeds]())}},
		Types:   b.Types(),
	}
	raw, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := contract.Parse(raw)
	if err != nil {
		t.Fatalf("%v in %s", err, raw)
	}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("after JSON:\n%s\nwant\n%s", js(back), js(c))
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ name, json, want string }{
		{"another format", `{"format":2,"methods":{},"events":{},"types":{}}`, "format version 2"},
		{"a dangling reference", `{"format":1,"methods":{"m":{"id":1,"response":"result","requestCodec":"msgpack","responseCodec":"msgpack","request":{"kind":"ref","ref":"x.Y"}}},"events":{},"types":{}}`, `method m request: ref to "x.Y"`},
		{"an unknown kind", `{"format":1,"methods":{},"events":{"e":{"id":1,"codec":"msgpack","data":{"kind":"complex"}}},"types":{}}`, `event e: unknown kind "complex"`},
		{"an array without element", `{"format":1,"methods":{},"events":{},"types":{"a.B":{"kind":"array"}}}`, "type a.B: array without its element type"},
		{"a bad width", `{"format":1,"methods":{},"events":{},"types":{"a.B":{"kind":"int","bits":7}}}`, "int with 7 bits"},
		{"not JSON", `{`, "contract: unexpected end of JSON input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := contract.Parse([]byte(tt.json))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
