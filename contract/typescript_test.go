package contract_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/procwire/procwire-go/contract"
	"github.com/procwire/procwire-go/protocol"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Thumb is a request with every kind of field.
type Thumb struct {
	Image   []byte            `msgpack:"image"`
	Width   int               `msgpack:"width"`
	Height  uint16            `msgpack:"height,omitempty"`
	Quality *float32          `msgpack:"quality"`
	Taken   time.Time         `msgpack:"taken"`
	Labels  map[string]string `msgpack:"labels"`
	Extra   any               `msgpack:"extra,omitempty"`
	Parent  *Node             `msgpack:"parent,omitempty"`
	Crop    Rect              `msgpack:"crop"`
	Odd     bool              `msgpack:"odd-name"`
}

// Rect is sent as an array.
type Rect struct {
	//lint:ignore U1000 read through reflection, as the msgpack encoder does
	_msgpack struct{} `msgpack:",as_array"`
	X, Y     int32
}

// Date collides with the global Date.
type Date struct {
	Day int `msgpack:"day"`
}

type Empty struct{}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output; got:\n%s", path, got)
	}
}

func sample() *contract.Contract {
	b := contract.NewBuilder()
	ty := func(t reflect.Type) *contract.Type { return b.TypeOf(t) }
	c := &contract.Contract{
		Format:   contract.FormatVersion,
		Protocol: "1.0.0",
		Methods: []contract.Method{
			{Name: "thumbnail", MethodSchema: protocol.MethodSchema{ID: 1, Response: "result", Timeout: 5000}, RequestCodec: "msgpack", ResponseCodec: "msgpack",
				Request: ty(reflect.TypeFor[Thumb]()), Result: ty(reflect.TypeFor[[]byte]())},
			{Name: "lines", MethodSchema: protocol.MethodSchema{ID: 2, Response: "stream"}, RequestCodec: "msgpack", ResponseCodec: "msgpack", Cancellable: true,
				Request: ty(reflect.TypeFor[string]()), Result: ty(reflect.TypeFor[*Node]())},
			{Name: "store", MethodSchema: protocol.MethodSchema{ID: 3, Response: "ack"}, RequestCodec: "raw", ResponseCodec: "msgpack",
				Result: ty(reflect.TypeFor[map[string]Date]())},
			{Name: "upload", MethodSchema: protocol.MethodSchema{ID: 4, Response: "none"}, RequestCodec: "raw-chunks", ResponseCodec: "raw-chunks"},
			{Name: "table", MethodSchema: protocol.MethodSchema{ID: 5, Response: "result"}, RequestCodec: "arrow", ResponseCodec: "arrow"},
			{Name: "raw", MethodSchema: protocol.MethodSchema{ID: 6, Response: "result"}, RequestCodec: "msgpack", ResponseCodec: "msgpack"},
			{Name: "ping", MethodSchema: protocol.MethodSchema{ID: 7, Response: "result"}, RequestCodec: "msgpack", ResponseCodec: "raw",
				Request: ty(reflect.TypeFor[Empty]())},
		},
		Events: []contract.Event{
			{Name: "progress", EventSchema: protocol.EventSchema{ID: 1}, Codec: "msgpack", Data: ty(reflect.TypeFor[struct {
				Done  int `msgpack:"done"`
				Total int `msgpack:"total"`
			}]())},
			{Name: "frame", EventSchema: protocol.EventSchema{ID: 2}, Codec: "raw"},
		},
	}
	c.Types = b.Types()
	return c
}

func TestTypeScriptGolden(t *testing.T) {
	var out bytes.Buffer
	if err := contract.TypeScript(&out, sample(), contract.TypeScriptOptions{Name: "image-worker", Source: "./image-worker --fast"}); err != nil {
		t.Fatal(err)
	}
	golden(t, "image-worker.ts", out.Bytes())
}

func TestTypeScriptRejects(t *testing.T) {
	tests := []struct {
		name string
		edit func(*contract.Contract)
		opts contract.TypeScriptOptions
		want string
	}{
		{"a codec of the worker's own", func(c *contract.Contract) { c.Methods[0].ResponseCodec = "json" },
			contract.TypeScriptOptions{Name: "w"}, `method thumbnail: codec "json" is not one of @procwire/codecs`},
		{"an event's codec of its own", func(c *contract.Contract) { c.Events[1].Codec = "cbor" },
			contract.TypeScriptOptions{Name: "w"}, `event frame: codec "cbor"`},
		{"a name without letters", func(*contract.Contract) {}, contract.TypeScriptOptions{Name: "--"}, "has no letters or digits"},
		{"a dangling reference", func(c *contract.Contract) { c.Methods[0].Request = &contract.Type{Kind: contract.Ref, Ref: "nope.T"} },
			contract.TypeScriptOptions{Name: "w"}, `"nope.T", which is not in types`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := sample()
			tt.edit(c)
			err := contract.TypeScript(new(bytes.Buffer), c, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("TypeScript: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestTypeScriptEmptyWorker(t *testing.T) {
	var out bytes.Buffer
	c := &contract.Contract{Format: contract.FormatVersion, Protocol: "1.0.0"}
	if err := contract.TypeScript(&out, c, contract.TypeScriptOptions{Name: "9lives"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"export function defineW9lives(name: string = \"9lives\")", "return new Module(name);", "export function w9livesApi("} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
