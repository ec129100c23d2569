package procwire_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/procwire/procwire-go"
	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/contract"
)

type descThumb struct {
	Image []byte `msgpack:"image"`
	Width int    `msgpack:"width"`
	Note  string `msgpack:"note,omitempty"`
}

type descLine struct {
	N    int    `msgpack:"n"`
	Text string `msgpack:"text"`
}

func describedWorker() *procwire.Worker {
	w := procwire.NewWorker(procwire.Options{})
	procwire.NewEvent[descLine](w, "descLine")
	procwire.NewEvent[[]byte](w, "frame", procwire.EventOptions{Codec: codec.Raw})
	procwire.Handle(w, "thumbnail", func(ctx context.Context, in descThumb) ([]byte, error) { return nil, nil },
		procwire.MethodOptions{Timeout: 1500 * time.Millisecond})
	procwire.HandleStream(w, "lines", func(ctx context.Context, in string, out *procwire.Stream[descLine]) error { return nil },
		procwire.MethodOptions{Cancellable: true})
	procwire.HandleAck(w, "store", func(ctx context.Context, in []byte) (*descLine, error) { return nil, nil },
		procwire.MethodOptions{RequestCodec: codec.Raw})
	procwire.HandleNotify(w, "log", func(ctx context.Context, in map[string]any) error { return nil })
	w.HandleFunc("low", procwire.ResponseResult, func(ctx context.Context, req *procwire.Request, rw *procwire.ResponseWriter) error { return nil })
	return w
}

func TestContract(t *testing.T) {
	c := describedWorker().Contract()
	if c.Format != contract.FormatVersion || c.Protocol == "" || c.Library != procwire.Version {
		t.Errorf("header = %d %q %q", c.Format, c.Protocol, c.Library)
	}
	lineRef := &contract.Type{Kind: contract.Ref, Ref: "procwire_test.descLine"}
	tests := []struct {
		name               string
		id                 uint16
		response           procwire.ResponseType
		reqCodec, resCodec string
		timeout            int64
		cancellable        bool
		request, result    *contract.Type
	}{
		{"thumbnail", 1, procwire.ResponseResult, "msgpack", "msgpack", 1500, false,
			&contract.Type{Kind: contract.Ref, Ref: "procwire_test.descThumb"}, &contract.Type{Kind: contract.Bytes, Nullable: true}},
		{"lines", 2, procwire.ResponseStream, "msgpack", "msgpack", 0, true,
			&contract.Type{Kind: contract.String}, lineRef},
		{"store", 3, procwire.ResponseAck, "raw", "msgpack", 0, false,
			nil, &contract.Type{Kind: contract.Ref, Ref: "procwire_test.descLine", Nullable: true}},
		{"log", 4, procwire.ResponseNone, "msgpack", "msgpack", 0, false,
			&contract.Type{Kind: contract.Map, Nullable: true, Key: &contract.Type{Kind: contract.String}, Elem: &contract.Type{Kind: contract.Any, Nullable: true}}, nil},
		{"low", 5, procwire.ResponseResult, "msgpack", "msgpack", 0, false, nil, nil},
	}
	if len(c.Methods) != len(tests) {
		t.Fatalf("%d methods, want %d", len(c.Methods), len(tests))
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := c.Methods[i]
			if m.Name != tt.name || m.ID != tt.id || m.Response != tt.response || m.RequestCodec != tt.reqCodec ||
				m.ResponseCodec != tt.resCodec || m.Timeout != tt.timeout || m.Cancellable != tt.cancellable {
				t.Errorf("method = %+v", m)
			}
			if !equalJSON(m.Request, tt.request) || !equalJSON(m.Result, tt.result) {
				t.Errorf("request %s, result %s; want %s, %s", js(m.Request), js(m.Result), js(tt.request), js(tt.result))
			}
		})
	}
	if len(c.Events) != 2 || c.Events[0].Name != "descLine" || !equalJSON(c.Events[0].Data, lineRef) ||
		c.Events[1].Name != "frame" || c.Events[1].Codec != "raw" || c.Events[1].Data != nil {
		t.Errorf("events = %s", js(c.Events))
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	if st := c.Types["procwire_test.descThumb"]; st == nil || len(st.Fields) != 3 || !st.Fields[2].Optional {
		t.Errorf("descThumb = %s", js(st))
	}
}

func equalJSON(a, b any) bool { return js(a) == js(b) }

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestRunDescribes checks that with PROCWIRE_DESCRIBE=1 Run prints the
// contract and returns at once, without listening or reading stdin.
func TestRunDescribes(t *testing.T) {
	t.Setenv(contract.DescribeEnv, "1")
	var dir string // the socket directory: Unix only (Windows uses named pipes)
	if runtime.GOOS != "windows" {
		// (Under Wine, removing a t.TempDir fails with "Invalid function".)
		dir = t.TempDir()
	}
	var out bytes.Buffer
	stdin, never := io.Pipe() // Run must not wait for it
	defer never.Close()
	w := procwire.NewWorker(procwire.Options{Stdin: stdin, Stdout: &out, SocketDir: dir})
	procwire.Handle(w, "echo", func(ctx context.Context, in descLine) (descLine, error) { return in, nil })
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	c, err := contract.Parse(out.Bytes())
	if err != nil {
		t.Fatalf("%v in %s", err, out.String())
	}
	if m := c.Method("echo"); m == nil || m.Request.Ref != "procwire_test.descLine" {
		t.Errorf("contract = %s", out.String())
	}
	if entries, _ := os.ReadDir(dir); dir != "" && len(entries) != 0 {
		t.Errorf("Run created %d files in the socket directory", len(entries))
	}
	if err := w.Run(context.Background()); err == nil {
		t.Error("a second Run succeeded")
	}
}

// A worker describes its contract: its methods, events and the Go types
// they carry, as `procwire schema` shows it and `procwire gen ts` reads it.
func ExampleWorker_Contract() {
	type Thumb struct {
		Image []byte `msgpack:"image"`
		Width int    `msgpack:"width,omitempty"`
	}
	w := procwire.NewWorker(procwire.Options{})
	procwire.Handle(w, "thumbnail", func(ctx context.Context, in Thumb) ([]byte, error) {
		return in.Image, nil
	}, procwire.MethodOptions{Cancellable: true})

	c := w.Contract()
	m := c.Methods[0]
	fmt.Println(m.Name, m.Response, m.RequestCodec, "cancellable:", m.Cancellable)
	for _, f := range c.Types[m.Request.Ref].Fields {
		fmt.Printf("%s: %s optional=%v\n", f.Name, f.Type.Kind, f.Optional)
	}
	fmt.Println("result:", m.Result.Kind)
	// Output:
	// thumbnail result msgpack cancellable: true
	// image: bytes optional=false
	// width: int optional=true
	// result: bytes
}
