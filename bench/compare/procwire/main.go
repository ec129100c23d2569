// Command procwire is the procwire side of the comparison: a Go worker
// (package procwire) as the child, driven by the Go parent (package
// parent), as a user of this SDK would write them. Run with "child" it is
// the worker; else it runs one scenario (see package harness).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/procwire/procwire-go"
	"github.com/procwire/procwire-go/bench/compare/internal/harness"
	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/parent"
	"github.com/procwire/procwire-go/protocol"
)

// StreamRequest asks for Count chunks of Size bytes.
type StreamRequest struct {
	Count uint32 `msgpack:"count"`
	Size  uint32 `msgpack:"size"`
}

func main() {
	harness.Main(harness.Impl{Name: "procwire", Start: start}, child)
}

func child() {
	w := procwire.NewWorker(procwire.Options{})
	procwire.Handle(w, "echo", func(ctx context.Context, in harness.Small) (harness.Small, error) {
		return in, nil
	})
	procwire.Handle(w, "echoBytes", func(ctx context.Context, in []byte) ([]byte, error) {
		return in, nil
	}, procwire.MethodOptions{Codec: codec.Raw})
	procwire.HandleStream(w, "stream", func(ctx context.Context, in StreamRequest, out *procwire.Stream[[]byte]) error {
		if in.Size > 64<<20 {
			return fmt.Errorf("stream: chunk size %d exceeds 64 MiB", in.Size)
		}
		buf := make([]byte, in.Size)
		for i := range in.Count {
			harness.Fill(buf, byte(i))
			if err := out.Send(buf); err != nil {
				return err
			}
		}
		return nil
	}, procwire.MethodOptions{RequestCodec: codec.MsgPack, ResponseCodec: codec.Raw})
	if err := w.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "procwire child:", err)
		os.Exit(1)
	}
}

type client struct{ m *parent.Module }

func start() (harness.Client, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	m, err := parent.Start(context.Background(), "bench", parent.Command{Path: self, Args: []string{"child"}}, parent.Options{
		Methods: map[string]parent.MethodSpec{
			"echo":      {},
			"echoBytes": {Codec: codec.Raw},
			"stream":    {Response: protocol.ResponseStream, RequestCodec: codec.MsgPack, ResponseCodec: codec.Raw},
		},
	})
	if err != nil {
		return nil, err
	}
	return client{m}, nil
}

func (c client) EchoSmall() error {
	var out harness.Small
	if err := c.m.Call(context.Background(), "echo", &harness.Sample, &out); err != nil {
		return err
	}
	return harness.CheckSmall(out.ID, out.Name, out.Tags, out.Score, out.Enabled, out.Note)
}

func (c client) EchoBytes(b []byte) ([]byte, error) {
	var out []byte
	err := c.m.Call(context.Background(), "echoBytes", b, &out)
	return out, err
}

func (c client) Stream(count, size int, fn func(int, []byte) error) error {
	i := 0
	for chunk, err := range c.m.Stream(context.Background(), "stream", StreamRequest{uint32(count), uint32(size)}) {
		if err != nil {
			return err
		}
		if err := fn(i, chunk.Payload); err != nil {
			return err
		}
		i++
	}
	return nil
}

func (c client) ChildPID() int { return c.m.PID() }

func (c client) Close() error { return c.m.Shutdown(context.Background()) }
