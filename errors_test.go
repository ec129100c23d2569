package procwire_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/procwire/procwire-go"
	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/procwiretest"
)

type thumbItem struct {
	Width int `msgpack:"width"`
}

type thumbReq struct {
	Width  int            `msgpack:"width"`
	Height uint8          `msgpack:"height"`
	Items  []thumbItem    `msgpack:"items"`
	Meta   map[string]int `msgpack:"meta"`
}

// verbatim is a request the Go parent sends as it is (a msgpack.Marshaler
// returns the bytes to write): a payload no encoder would produce.
type verbatim []byte

func (v verbatim) MarshalMsgpack() ([]byte, error) { return v, nil }

// badRequestWorker has a method of each kind of request decoding.
func badRequestWorker(opts procwire.Options) *procwire.Worker {
	w := procwire.NewWorker(opts)
	thumb := func(ctx context.Context, in thumbReq) (thumbReq, error) { return in, nil }
	procwire.Handle(w, "thumbnail", thumb)
	procwire.Handle(w, "strict", thumb, procwire.MethodOptions{Strict: true})
	procwire.Handle(w, "lenient", thumb, procwire.MethodOptions{Codec: codec.MsgPack})
	procwire.Handle(w, "rawInt", func(ctx context.Context, in int) (int, error) { return in, nil },
		procwire.MethodOptions{RequestCodec: codec.Raw})
	procwire.HandleStream(w, "items", func(ctx context.Context, in thumbReq, out *procwire.Stream[int]) error {
		return out.Send(in.Width)
	})
	w.HandleFunc("low", procwire.ResponseResult, func(ctx context.Context, req *procwire.Request, rw *procwire.ResponseWriter) error {
		var in thumbReq
		if err := req.Decode(&in); err != nil {
			var de *codec.DecodeError
			if !errors.As(err, &de) { // the *Error wraps the codec's error
				return errors.New("no DecodeError in the chain")
			}
			return err
		}
		return rw.Result(in)
	})
	return w
}

// TestBadRequestIsAStructuredError sends requests that do not decode and
// checks the error the parent receives: CodeBadRequest, the message naming
// the method and the field, and the details.
func TestBadRequestIsAStructuredError(t *testing.T) {
	tests := []struct {
		name, method string
		strict       bool // Options.Strict
		in           any
		msg          string
		details      map[string]any
	}{
		{name: "wrong type", method: "thumbnail", in: map[string]any{"width": "120"},
			msg:     `thumbnail: field "width": want integer, got string "120"`,
			details: map[string]any{"method": "thumbnail", "codec": "msgpack", "field": "width", "want": "integer", "got": `string "120"`}},
		{name: "overflow", method: "thumbnail", in: map[string]any{"height": 300},
			msg:     `thumbnail: field "height": want uint8 (0..255), got integer 300`,
			details: map[string]any{"method": "thumbnail", "codec": "msgpack", "field": "height", "want": "uint8 (0..255)", "got": "integer 300"}},
		{name: "nested field", method: "thumbnail", in: map[string]any{"items": []any{map[string]any{}, map[string]any{"width": true}}},
			msg:     `thumbnail: field "items[1].width": want integer, got boolean true`,
			details: map[string]any{"method": "thumbnail", "codec": "msgpack", "field": "items[1].width", "want": "integer", "got": "boolean true"}},
		{name: "map value", method: "thumbnail", in: map[string]any{"meta": map[string]any{"k": "v"}},
			msg:     `thumbnail: field "meta["k"]": want integer, got string "v"`,
			details: map[string]any{"method": "thumbnail", "codec": "msgpack", "field": `meta["k"]`, "want": "integer", "got": `string "v"`}},
		{name: "truncated payload", method: "thumbnail", in: verbatim{0x82, 0xa5, 'w', 'i', 'd', 't', 'h', 0x01, 0xa6, 'h', 'e', 'i', 'g', 'h', 't'},
			msg:     `thumbnail: field "height": want uint8, got end of input`,
			details: map[string]any{"method": "thumbnail", "codec": "msgpack", "field": "height", "want": "uint8", "got": "end of input"}},
		{name: "truncated in a key", method: "thumbnail", in: verbatim{0x82, 0xa5, 'w', 'i', 'd', 't', 'h', 0x01, 0xa6, 'h', 'e'},
			msg:     `thumbnail: want object key (string), got end of input`,
			details: map[string]any{"method": "thumbnail", "codec": "msgpack", "want": "object key (string)", "got": "end of input"}},
		{name: "top-level value", method: "thumbnail", in: "hello",
			msg:     `thumbnail: want object, got string "hello"`,
			details: map[string]any{"method": "thumbnail", "codec": "msgpack", "want": "object", "got": `string "hello"`}},
		{name: "unknown field, strict method", method: "strict", in: map[string]any{"widht": 10},
			msg:     `strict: field "widht": unknown field`,
			details: map[string]any{"method": "strict", "codec": "msgpack", "field": "widht", "got": "unknown field"}},
		{name: "unknown field, strict worker", method: "thumbnail", strict: true, in: map[string]any{"width": 1, "extra": 2},
			msg:     `thumbnail: field "extra": unknown field`,
			details: map[string]any{"method": "thumbnail", "codec": "msgpack", "field": "extra", "got": "unknown field"}},
		{name: "stream method", method: "items", in: map[string]any{"width": -0.5},
			msg:     `items: field "width": want integer, got number -0.5`,
			details: map[string]any{"method": "items", "codec": "msgpack", "field": "width", "want": "integer", "got": "number -0.5"}},
		{name: "HandleFunc returning Decode's error", method: "low", in: map[string]any{"width": nil, "height": -1},
			msg:     `low: field "height": want uint8 (0..255), got integer -1`,
			details: map[string]any{"method": "low", "codec": "msgpack", "field": "height", "want": "uint8 (0..255)", "got": "integer -1"}},
		{name: "raw codec", method: "rawInt", in: []byte{1, 2},
			msg:     "rawInt: cannot decode the raw request: procwire: raw codec cannot decode into *int (want *[]byte)",
			details: map[string]any{"method": "rawInt", "codec": "raw"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := procwiretest.New(t, badRequestWorker(procwire.Options{Strict: tt.strict}))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var err error
			if tt.method == "items" {
				for _, err = range procwiretest.StreamOf[int](ctx, p, tt.method, tt.in) {
					if err != nil {
						break
					}
				}
			} else {
				err = p.Call(ctx, tt.method, tt.in, nil)
			}
			var pe *procwire.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T), want a *procwire.Error", err, err)
			}
			if pe.Code != procwire.CodeBadRequest || pe.Message != tt.msg {
				t.Errorf("code %q, message %q;\nwant %q, %q", pe.Code, pe.Message, procwire.CodeBadRequest, tt.msg)
			}
			want := tt.details
			if len(pe.Details) != len(want) {
				t.Errorf("details %v, want %v", pe.Details, want)
			}
			for k, v := range want {
				if pe.Details[k] != v {
					t.Errorf("details[%q] = %v, want %v", k, pe.Details[k], v)
				}
			}
		})
	}
}

// TestStrictModeOptions checks which methods decode strictly: the
// worker's Strict applies to the methods that take the worker's codec;
// a method's Strict always adds; a method that names its codec opts out.
func TestStrictModeOptions(t *testing.T) {
	tests := []struct {
		name   string
		worker procwire.Options
		method procwire.MethodOptions
		want   codec.Codec
	}{
		{"default", procwire.Options{}, procwire.MethodOptions{}, codec.MsgPack},
		{"strict worker", procwire.Options{Strict: true}, procwire.MethodOptions{}, codec.MsgPackStrict},
		{"strict method", procwire.Options{}, procwire.MethodOptions{Strict: true}, codec.MsgPackStrict},
		{"strict both", procwire.Options{Strict: true}, procwire.MethodOptions{Strict: true}, codec.MsgPackStrict},
		{"a method opts out by naming its codec", procwire.Options{Strict: true}, procwire.MethodOptions{Codec: codec.MsgPack}, codec.MsgPack},
		{"a method opts out by naming its request codec", procwire.Options{Strict: true}, procwire.MethodOptions{RequestCodec: codec.MsgPack}, codec.MsgPack},
		{"a named codec, strict method", procwire.Options{}, procwire.MethodOptions{Codec: codec.MsgPack, Strict: true}, codec.MsgPackStrict},
		{"the strict codec named", procwire.Options{}, procwire.MethodOptions{RequestCodec: codec.MsgPackStrict}, codec.MsgPackStrict},
		{"the strict codec as the worker's", procwire.Options{Codec: codec.MsgPackStrict}, procwire.MethodOptions{}, codec.MsgPackStrict},
		{"raw is never strict", procwire.Options{Strict: true}, procwire.MethodOptions{Codec: codec.Raw, Strict: true}, codec.Raw},
		{"a raw worker", procwire.Options{Strict: true, Codec: codec.Raw}, procwire.MethodOptions{}, codec.Raw},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := procwire.NewWorker(tt.worker)
			procwire.Handle(w, "m", func(ctx context.Context, in thumbReq) (int, error) { return 0, nil }, tt.method)
			m := w.Methods()[0]
			if m.RequestCodec != tt.want {
				t.Errorf("request codec %#v, want %#v", m.RequestCodec, tt.want)
			}
			if tt.worker.Codec == nil && m.ResponseCodec == codec.MsgPackStrict {
				t.Error("the response codec is the strict one: strictness is for requests")
			}
		})
	}
	// The opted-out method decodes leniently in a strict worker.
	p := procwiretest.New(t, badRequestWorker(procwire.Options{Strict: true}))
	var out thumbReq
	if err := p.Call(context.Background(), "lenient", map[string]any{"width": 3, "widht": 4}, &out); err != nil || out.Width != 3 {
		t.Errorf("lenient in a strict worker: %+v, %v", out, err)
	}
}

func TestErrorfWrapsLikeFmtErrorf(t *testing.T) {
	base := errors.New("disk full")
	other := errors.New("read-only")
	e := procwire.Errorf("E_IO", "save %q: %w", "a.txt", base)
	if e.Message != `save "a.txt": disk full` || e.Code != "E_IO" || strings.Contains(e.Message, "%!w") {
		t.Errorf("message %q code %q", e.Message, e.Code)
	}
	if !errors.Is(e, base) || errors.Unwrap(e) != base {
		t.Errorf("errors.Is does not see the wrapped error (Err %v)", e.Err)
	}
	var target *procwire.Error
	wrapped := procwire.Errorf("E_OUTER", "outer: %w", e)
	if !errors.As(wrapped, &target) || !errors.Is(wrapped, base) {
		t.Error("errors.As/Is do not see through two Errorf")
	}
	two := procwire.Errorf("E_IO", "%w and %w", base, other)
	if !errors.Is(two, base) || !errors.Is(two, other) || two.Message != "disk full and read-only" {
		t.Errorf("two %%w: %q, Err %v", two.Message, two.Err)
	}
	plain := procwire.Errorf("E_X", "n=%d", 3)
	if plain.Err != nil || plain.Message != "n=3" {
		t.Errorf("no %%w: Err %v, message %q", plain.Err, plain.Message)
	}
	// The wrapped error is not sent: the parent receives the text.
	p := e.Payload()
	if len(p) != 2 || p["message"] != `save "a.txt": disk full` || p["code"] != "E_IO" {
		t.Errorf("payload %v", p)
	}
}

func ExampleErrorf() {
	base := errors.New("disk full")
	err := procwire.Errorf("E_IO", "save %s: %w", "a.txt", base)
	fmt.Println(err.Message)
	fmt.Println(errors.Is(err, base))
	// Output:
	// save a.txt: disk full
	// true
}

// A strict worker refuses unknown fields in every MessagePack request; a
// method opts out by naming its codec. A request that does not decode is
// answered with CodeBadRequest before the handler runs.
func ExampleOptions_strict() {
	w := procwire.NewWorker(procwire.Options{Strict: true})
	resize := func(ctx context.Context, in thumbReq) (thumbReq, error) { return in, nil }
	procwire.Handle(w, "resize", resize)
	procwire.Handle(w, "resizeLoose", resize, procwire.MethodOptions{Codec: codec.MsgPack})
	for _, m := range w.Methods() {
		fmt.Println(m.Name, m.RequestCodec == codec.MsgPackStrict)
	}
	// Output:
	// resize true
	// resizeLoose false
}
