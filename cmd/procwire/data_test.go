package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/procwire/procwire-go/codec"
)

// TestParseJSONBytes checks the JSON forms of byte strings in --data, the
// escape of keys that begin with "$", and the errors that name the path.
func TestParseJSONBytes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "blob")
	os.WriteFile(file, []byte{0, 0xff, 'x'}, 0o600)
	e := &env{stdin: strings.NewReader("from stdin")}

	tests := []struct {
		in   string
		want any
	}{
		{`{"$bytes":"AQID"}`, []byte{1, 2, 3}},
		{`{"$bytes":"AQI"}`, []byte{1, 2}}, // unpadded
		{`{"$bytes":""}`, []byte{}},
		{`{"img":{"$bytes":"AQID"},"n":[1,{"$bytes":"/w=="}]}`, map[string]any{"img": []byte{1, 2, 3}, "n": []any{int64(1), []byte{0xff}}}},
		{`{"f":{"$bytes":"@` + file + `"}}`, map[string]any{"f": []byte{0, 0xff, 'x'}}},
		{`[{"$bytes":"@-"}]`, []any{[]byte("from stdin")}},
		// Escapes: "$$" loses one "$"; other "$" keys are plain keys.
		{`{"$$bytes":"AQID"}`, map[string]any{"$bytes": "AQID"}},
		{`{"$$$bytes":1,"$x":2}`, map[string]any{"$$bytes": int64(1), "$x": int64(2)}},
		{`"$bytes"`, "$bytes"},
	}
	for _, tt := range tests {
		got, err := parseJSON(tt.in, e.files())
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseJSON(%s) = %#v, %v; want %#v", tt.in, got, err, tt.want)
		}
	}

	bad := []struct{ in, has string }{
		{`{"$bytes":"AQID","n":1}`, `at the top level: "$bytes" must be the only key of its object (write "$$bytes"`},
		{`{"a":[0,{"$bytes":7}]}`, `at .a[1]: "$bytes" wants a base64 string or "@FILE", got a number`},
		{`{"a":{"$bytes":"not base64!"}}`, `at .a: "$bytes" is not standard base64`},
		{`{"a":{"$bytes":"@` + filepath.Join(dir, "missing") + `"}}`, "at .a: open "},
		{`{"a":{"$bytes":"@"}}`, `"@" wants a file name`},
		{`[{"$bytes":"@-"},{"$bytes":"@-"}]`, "stdin can be read once"},
		{`{"$$a":1,"$a":2}`, `the keys "$$a" and "$a" both name "$a"`},
	}
	for _, tt := range bad {
		e := &env{stdin: strings.NewReader("")}
		if _, err := parseJSON(tt.in, e.files()); err == nil || !strings.Contains(err.Error(), tt.has) {
			t.Errorf("parseJSON(%s) = %v; want an error with %q", tt.in, err, tt.has)
		}
	}
	if _, err := parseJSON(`{"$bytes":"@x"}`, nil); err == nil {
		t.Error(`"@FILE" accepted without a reader`)
	}
}

// msgpack encodes v with the SDK's codec.
func msgpack(t *testing.T, v any) []byte {
	t.Helper()
	b, err := codec.MsgPack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPrintPayload checks that MessagePack maps print in the order their
// entries arrived, with Node's types, and that a payload that is not one
// value is refused without a panic or a large allocation.
func TestPrintPayload(t *testing.T) {
	type inner struct {
		Z int    `msgpack:"z"`
		A []byte `msgpack:"a"`
	}
	type outer struct {
		Zeta  string    `msgpack:"zeta"`
		Alpha inner     `msgpack:"alpha"`
		Mid   []any     `msgpack:"mid"`
		When  time.Time `msgpack:"when"`
		Big   uint64    `msgpack:"big"`
	}
	v := outer{"z", inner{1, []byte{1, 2, 3}}, []any{1.5, nil, "x<&>"}, time.Date(2024, 1, 2, 3, 4, 5, 6e6, time.UTC), 1 << 63}
	// A map with a repeated key (as a JS object: the last value, the
	// first position) and integer keys.
	dup := []byte{0x84, 0xa1, 'b', 0x01, 0xa1, 'a', 0x02, 0xa1, 'b', 0x03, 0x07, 0xc3}
	// 40 keys, then the first again: the large-object index.
	many := []byte{0xde, 0, 41}
	for i := range 40 {
		many = append(many, 0xa2, 'k', byte('0'+i), byte(i))
	}
	many = append(many, 0xa2, 'k', '0', 0x7f)

	tests := []struct {
		name    string
		payload []byte
		want    string
	}{
		{"struct field order", msgpack(t, v), `{"zeta":"z","alpha":{"z":1,"a":"AQID"},"mid":[1.5,null,"x\u003c\u0026\u003e"],"when":"2024-01-02T03:04:05.006Z","big":9223372036854775808}`},
		{"repeated and integer keys", dup, `{"b":3,"a":2,"7":true}`},
		{"nil", []byte{0xc0}, `null`},
		{"float32", msgpack(t, []any{float32(1.25)}), `[1.25]`},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		if err := printPayload(&out, tt.payload); err != nil || out.String() != tt.want+"\n" {
			t.Errorf("%s: %q, %v; want %s", tt.name, out.String(), err, tt.want)
		}
	}
	var out bytes.Buffer
	if err := printPayload(&out, many); err != nil || !strings.HasPrefix(out.String(), `{"k0":127,"k1":1,`) || strings.Count(out.String(), `"k0"`) != 1 {
		t.Errorf("many keys: %s, %v", out.String(), err)
	}

	deep := bytes.Repeat([]byte{0x91}, maxDepth+2)
	bad := []struct {
		name    string
		payload []byte
		has     string
	}{
		{"empty", nil, "truncated"},
		{"two values", []byte{0x01, 0x02}, "1 bytes after the first"},
		{"truncated string", []byte{0xa5, 'a'}, "truncated"},
		{"truncated map", []byte{0x82, 0xa1, 'a', 0x01}, "truncated"},
		{"map32 of 4 billion entries", []byte{0xdf, 0xff, 0xff, 0xff, 0xff, 0x01}, "truncated"},
		{"array32 of 4 billion", []byte{0xdd, 0xff, 0xff, 0xff, 0xff}, "truncated"},
		{"str32 of 4 GiB", []byte{0xdb, 0xff, 0xff, 0xff, 0xff, 'a'}, "truncated"},
		{"ext32 of 4 GiB", []byte{0xc9, 0xff, 0xff, 0xff, 0xff, 1}, "truncated"},
		{"0xc1", []byte{0x91, 0xc1}, "invalid type byte 0xc1 at byte 1"},
		{"too deep", append(deep, 0xc0), "nested more than"},
	}
	for _, tt := range bad {
		var out bytes.Buffer
		err := printPayload(&out, tt.payload)
		if err == nil || !errors.Is(err, errNotJSON) && tt.name != "0xc1" || !strings.Contains(err.Error(), tt.has) || out.Len() != 0 {
			t.Errorf("%s: %v (printed %q); want an error with %q", tt.name, err, out.String(), tt.has)
		}
	}
}

// TestCallBytes sends byte strings from the command line to the Go
// conformance worker's echo and reads its MessagePack response as is: the
// bytes arrive as a MessagePack bin, not as a string.
func TestCallBytes(t *testing.T) {
	file := filepath.Join(t.TempDir(), "in")
	os.WriteFile(file, []byte{1, 2, 3}, 0o600)
	bin := []byte{0xc4, 3, 1, 2, 3}
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  []byte
	}{
		{"$bytes", "", []string{"--data", `{"$bytes":"AQID"}`}, bin},
		{"$bytes inside an array", "", []string{"--data", `[{"$bytes":"AQID"}]`}, append([]byte{0x91}, bin...)},
		{"$bytes from a file", "", []string{"--data", `[{"$bytes":"@` + file + `"}]`}, append([]byte{0x91}, bin...)},
		{"@FILE", "", []string{"--data", "@" + file}, bin},
		{"@- (stdin)", "\x01\x02\x03", []string{"--data", "@-"}, bin},
		{"an escaped key", "", []string{"--data", `{"$$bytes":1}`}, []byte{0x81, 0xa6, '$', 'b', 'y', 't', 'e', 's', 0x01}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"call", "--raw-out", "-"}, tt.args...), "echo", "--", conformanceWorker(t))
			r := procwire(t, context.Background(), tt.stdin, args...)
			if r.code != 0 || r.stdout != string(tt.want) {
				t.Fatalf("exit %d, stdout % x; want % x (stderr %s)", r.code, r.stdout, tt.want, r.stderr)
			}
		})
	}
	// Printed as JSON, bytes are base64 as Node's Buffers are.
	r := procwire(t, context.Background(), "", "call", "--data", `{"$bytes":"AQID"}`, "echo", "--", conformanceWorker(t))
	if r.code != 0 || r.stdout != `"AQID"`+"\n" {
		t.Fatalf("exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	r = procwire(t, context.Background(), "", "call", "--data", `{"$bytes":1}`, "echo", "--", conformanceWorker(t))
	if r.code != 1 || !strings.Contains(r.stderr, `--data: at the top level: "$bytes" wants a base64 string`) {
		t.Fatalf("bad $bytes: exit %d, stderr %s", r.code, r.stderr)
	}
}

// TestCallBytesByType checks that a plain string goes out as bytes where
// the worker's contract says its request field is []byte (shape's data,
// and its child's), decoded from base64, and stays a string elsewhere (name)
// and for a worker that does not describe itself; a string that is not
// base64 where bytes are wanted is refused with its path.
func TestCallBytesByType(t *testing.T) {
	worker := conformanceWorker(t)
	r := procwire(t, context.Background(), "", "call", "--data",
		`{"name":"AQID","data":"AQID","child":{"data":"BAUG"}}`, "shape", "--", worker)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
	for _, want := range []string{`"name":"AQID"`, `"data":"AQID"`, `"data":"BAUG"`} {
		if !strings.Contains(strings.ReplaceAll(r.stdout, " ", ""), want) {
			t.Errorf("output lacks %s (the bytes 01 02 03 sent as a string would come back as \"QVFJRA==\"): %s", want, r.stdout)
		}
	}
	r = procwire(t, context.Background(), "", "call", "--data", `{"data":"not base64!"}`, "shape", "--", worker)
	if r.code != 1 || !strings.Contains(r.stderr, "at .data: the request type wants bytes here") {
		t.Errorf("bad base64: exit %d, stderr %s", r.code, r.stderr)
	}
	// echo takes any: the string stays a string (a4 = fixstr of 4 bytes).
	r = procwire(t, context.Background(), "", "call", "--raw-out", "-", "--data", `"AQID"`, "echo", "--", worker)
	if r.code != 0 || r.stdout != "\xa4AQID" {
		t.Errorf("echo: exit %d, stdout % x, stderr %s", r.code, r.stdout, r.stderr)
	}
}
