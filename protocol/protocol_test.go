package protocol

import (
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/procwire/procwire-go/codec"
)

func TestInitRoundTrip(t *testing.T) {
	methods := []MethodDesc{
		{Name: "echo", ID: 1, Response: ResponseResult, Timeout: 1500 * time.Microsecond},
		{Name: "count", ID: 2, Response: ResponseStream},
	}
	events := []EventDesc{{Name: "tick", ID: 1}}
	line, err := InitLine(Init{Pipe: "/tmp/x.sock", Schema: NewSchema(methods, events)})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"jsonrpc":"2.0","method":"$init","params":{"pipe":"/tmp/x.sock","schema":{"methods":{"count":{"id":2,"response":"stream"},"echo":{"id":1,"response":"result","timeout":1}},"events":{"tick":{"id":1}}},"version":"1.0.0"}}` + "\n"
	if string(line) != want {
		t.Fatalf("InitLine:\n got %s\nwant %s", line, want)
	}
	msg, err := ParseMessage(line)
	if err != nil || msg.Method != MethodInit {
		t.Fatalf("ParseMessage = %+v, %v", msg, err)
	}
	init, err := ParseInit(msg.Params)
	if err != nil {
		t.Fatal(err)
	}
	gotM, gotE := init.Schema.Describe()
	methods[0].Timeout = time.Millisecond // announced in whole ms
	if !reflect.DeepEqual(gotM, methods) || !reflect.DeepEqual(gotE, events) || init.Pipe != "/tmp/x.sock" || init.Version != Version {
		t.Fatalf("parsed back: %+v %+v %+v", init, gotM, gotE)
	}
}

func TestParseInitRejects(t *testing.T) {
	tests := []struct {
		name, params, want string
	}{
		{"no pipe", `{"schema":{"methods":{},"events":{}}}`, `missing "pipe"`},
		{"empty pipe", `{"pipe":"","schema":{"methods":{},"events":{}}}`, `"pipe" is empty`},
		{"no schema", `{"pipe":"p"}`, `missing "schema"`},
		{"not an object", `[1]`, `params are not an object`},
		{"methods missing", `{"pipe":"p","schema":{"events":{}}}`, `"methods" and "events" must be objects`},
		{"events an array", `{"pipe":"p","schema":{"methods":{},"events":[]}}`, `"methods" and "events" must be objects`},
		{"method id 0", `{"pipe":"p","schema":{"methods":{"a":{"id":0,"response":"result"}},"events":{}}}`, `method "a": id 0 must be an integer in 1..65533`},
		{"method id missing", `{"pipe":"p","schema":{"methods":{"a":{"response":"result"}},"events":{}}}`, `method "a": id (missing) is required`},
		{"abort id", `{"pipe":"p","schema":{"methods":{"a":{"id":65535,"response":"result"}},"events":{}}}`, `method "a": id 65535 must be`},
		{"auth id", `{"pipe":"p","schema":{"methods":{"a":{"id":65534,"response":"result"}},"events":{}}}`, `method "a": id 65534 must be`},
		{"string id", `{"pipe":"p","schema":{"methods":{"a":{"id":"1","response":"result"}},"events":{}}}`, `method "a": id "1" must be`},
		{"negative id", `{"pipe":"p","schema":{"methods":{"a":{"id":-1,"response":"result"}},"events":{}}}`, `method "a": id -1 must be`},
		{"fractional id", `{"pipe":"p","schema":{"methods":{"a":{"id":1.5,"response":"result"}},"events":{}}}`, `method "a": id 1.5 must be`},
		{"huge id", `{"pipe":"p","schema":{"methods":{"a":{"id":1e300,"response":"result"}},"events":{}}}`, `method "a": id 1e300 must be`},
		{"duplicate method id", `{"pipe":"p","schema":{"methods":{"a":{"id":1,"response":"result"},"b":{"id":1,"response":"ack"}},"events":{}}}`, `method "b": id 1 is also the id of method "a"`},
		{"duplicate event id", `{"pipe":"p","schema":{"methods":{},"events":{"x":{"id":2},"y":{"id":2}}}}`, `event "y": id 2 is also the id of event "x"`},
		{"event id 0", `{"pipe":"p","schema":{"methods":{},"events":{"x":{"id":0}}}}`, `event "x": id 0 must be`},
		{"bad response", `{"pipe":"p","schema":{"methods":{"a":{"id":1,"response":"results"}},"events":{}}}`, `method "a": response "results" must be result, ack, stream or none`},
		{"missing response", `{"pipe":"p","schema":{"methods":{"a":{"id":1}},"events":{}}}`, `method "a": response (missing)`},
		{"negative timeout", `{"pipe":"p","schema":{"methods":{"a":{"id":1,"response":"result","timeout":-5}},"events":{}}}`, `method "a": timeout -5 must be`},
		{"method not an object", `{"pipe":"p","schema":{"methods":{"a":7},"events":{}}}`, `method "a": is not an object: 7`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseInit(json.RawMessage(tt.params))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseInit(%s) = %v; want an error containing %q", tt.params, err, tt.want)
			}
		})
	}
}

func TestParseInitAcceptsNodeWorkerSchema(t *testing.T) {
	// What @procwire/client 1.3.1 announces (fractional timeouts round up).
	in, err := ParseInit(json.RawMessage(`{"pipe":"/tmp/n.sock","schema":{"methods":{"echo":{"id":1,"response":"result","timeout":2.5}},"events":{}},"version":"1.0.0"}`))
	if err != nil || in.Schema.Methods["echo"].Timeout != 3 {
		t.Fatalf("ParseInit = %+v, %v", in, err)
	}
}

func TestSchemaValidate(t *testing.T) {
	s := NewSchema([]MethodDesc{{Name: "a", ID: 1, Response: "bogus"}}, nil)
	if err := s.Validate(); err == nil {
		t.Fatal("a bogus response type validated")
	}
	if _, err := InitLine(Init{Pipe: "p", Schema: s}); err == nil {
		t.Fatal("InitLine encoded an invalid schema")
	}
	var se *SchemaError
	if err := s.Validate(); !errors.As(err, &se) || se.Name != "a" || se.Field != "response" {
		t.Fatalf("Validate error = %#v", err)
	}
}

func TestParseMessage(t *testing.T) {
	tests := []struct {
		line   string
		method string
	}{
		{`{"jsonrpc":"2.0","method":"$ping"}`, MethodPing},
		{"  {\"method\":\"$shutdown\",\"params\":{}}\r", MethodShutdown},
		{`not json`, ""},
		{`[1,2]`, ""},
		{`{"method":42}`, ""},
		{`{"params":{}}`, ""},
		{`{"method":"$ping"}x`, ""},
		{"", ""},
	}
	for _, tt := range tests {
		msg, err := ParseMessage([]byte(tt.line))
		if tt.method == "" {
			if !errors.Is(err, ErrNotMessage) {
				t.Errorf("ParseMessage(%q) = %+v, %v; want ErrNotMessage", tt.line, msg, err)
			}
			continue
		}
		if err != nil || msg.Method != tt.method {
			t.Errorf("ParseMessage(%q) = %+v, %v", tt.line, msg, err)
		}
	}
}

func TestFixedLines(t *testing.T) {
	for got, want := range map[string]string{
		string(PingLine):        `{"jsonrpc":"2.0","method":"$ping"}` + "\n",
		string(PongLine):        `{"jsonrpc":"2.0","method":"$pong"}` + "\n",
		string(ShutdownLine):    `{"jsonrpc":"2.0","method":"$shutdown","params":{}}` + "\n",
		string(ErrorLine("no")): `{"jsonrpc":"2.0","method":"$error","params":{"message":"no"}}` + "\n",
	} {
		if got != want {
			t.Errorf("line %q, want %q", got, want)
		}
	}
	msg, _ := ParseMessage(ErrorLine("socket dir missing"))
	if got := ErrorMessage(msg.Params); got != "socket dir missing" {
		t.Errorf("ErrorMessage = %q", got)
	}
	if got := ErrorMessage(nil); got != "Unknown" {
		t.Errorf("ErrorMessage(nil) = %q", got)
	}
}

func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", 10_000)
	in := "a\r\n" + long + "\nb\n" + strings.Repeat("y", 3000) + "\n\nlast"
	r := NewLineReader(strings.NewReader(in), 5000)
	var got []string
	tooLong := 0
	for {
		line, err := r.ReadLine()
		var tl *LineTooLongError
		if errors.As(err, &tl) {
			tooLong++
			if tl.Limit != 5000 || !strings.HasPrefix(string(tl.Head), "xxxx") {
				t.Errorf("LineTooLongError = %+v", tl)
			}
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(line))
	}
	want := []string{"a", "b", strings.Repeat("y", 3000), "", "last"}
	if !reflect.DeepEqual(got, want) || tooLong != 1 {
		t.Fatalf("lines %q (too long: %d); want %q and 1", got, tooLong, want)
	}
}

func TestLineReaderNeverBuffersAnEndlessLine(t *testing.T) {
	// 64 MiB without a newline, then a real line: memory stays at the limit.
	r := NewLineReader(io.MultiReader(io.LimitReader(zeros{}, 64<<20), strings.NewReader("\n{\"method\":\"$pong\"}\n")), 1<<20)
	_, err := r.ReadLine()
	var tl *LineTooLongError
	if !errors.As(err, &tl) {
		t.Fatalf("first ReadLine: %v", err)
	}
	line, err := r.ReadLine()
	if err != nil || string(line) != `{"method":"$pong"}` {
		t.Fatalf("after the endless line: %q, %v", line, err)
	}
	if cap(r.line) > 1<<20 {
		t.Fatalf("buffered %d bytes", cap(r.line))
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'z'
	}
	return len(p), nil
}

func TestErrorPayloadRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want *Error
	}{
		{"plain error", errors.New("boom"), &Error{Message: "boom"}},
		{"structured", &Error{Message: "not found", Code: "E_NF", Details: map[string]any{"id": "7"}}, &Error{Message: "not found", Code: "E_NF", Details: map[string]any{"id": "7"}}},
		{"wrapped", wrap{&Error{Message: "m", Code: "C"}}, &Error{Message: "m", Code: "C"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := codec.MsgPack.Marshal(ErrorPayload(tt.err))
			if err != nil {
				t.Fatal(err)
			}
			var v any
			if err := codec.MsgPack.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
			got := ErrorFromPayload(v)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
	if e := ErrorFromPayload(map[string]any{"code": 5}); e.Message != `{"code":5}` || e.Details["code"] != 5 {
		t.Errorf("map without message: %#v", e)
	}
	if e := ErrorFromPayload(int8(3)); e.Message != "3" {
		t.Errorf("number: %#v", e)
	}
}

type wrap struct{ err error }

func (w wrap) Error() string { return "wrapped: " + w.err.Error() }
func (w wrap) Unwrap() error { return w.err }

func TestDescSchema(t *testing.T) {
	tests := []struct {
		timeout time.Duration
		want    int64 // ms
	}{
		{0, 0},
		{-time.Second, 0},
		{400 * time.Microsecond, 1}, // under a millisecond: announced as 1
		{1500 * time.Microsecond, 1},
		{2 * time.Second, 2000},
	}
	for _, tt := range tests {
		m := MethodDesc{Name: "m", ID: 3, Response: ResponseStream, Timeout: tt.timeout, Cancellable: true}
		if got, want := m.Schema(), (MethodSchema{ID: 3, Response: ResponseStream, Timeout: tt.want}); got != want {
			t.Errorf("Schema() of timeout %v = %+v, want %+v", tt.timeout, got, want)
		}
	}
	if got := (EventDesc{Name: "e", ID: 7}).Schema(); got != (EventSchema{ID: 7}) {
		t.Errorf("EventDesc.Schema() = %+v", got)
	}
}
