// Command netrpc is the plain net/rpc side of the comparison: the standard
// library's net/rpc with its gob codec over the child's stdin and stdout,
// the simplest thing a Go team could do. Run with "child" it is the
// server; else it runs one scenario (see package harness).
//
// net/rpc has no streams: the stream scenario asks for the chunks one call
// each (Chunk), in order, which is how a net/rpc user would page through
// them.
package main

import (
	"errors"
	"fmt"
	"io"
	"net/rpc"
	"os"
	"os/exec"
	"sync"

	"github.com/procwire/procwire-go/bench/compare/internal/harness"
)

// Bench is the service the child registers.
type Bench struct{}

// Echo returns its argument.
func (Bench) Echo(in harness.Small, out *harness.Small) error {
	*out = in
	return nil
}

// EchoBytes returns its argument.
func (Bench) EchoBytes(in []byte, out *[]byte) error {
	*out = in
	return nil
}

// ChunkRequest asks for chunk Index, of Size bytes, each byte byte(Index).
type ChunkRequest struct {
	Index, Size uint32
}

// Chunk returns one chunk of the stream scenario.
func (Bench) Chunk(in ChunkRequest, out *[]byte) error {
	if in.Size > 64<<20 {
		return fmt.Errorf("chunk size %d exceeds 64 MiB", in.Size)
	}
	b := make([]byte, in.Size) // net/rpc hands each call a fresh reply
	harness.Fill(b, byte(in.Index))
	*out = b
	return nil
}

func main() {
	harness.Main(harness.Impl{
		Name:       "net/rpc",
		Start:      start,
		StreamNote: "no streams in net/rpc: one call per chunk",
	}, child)
}

// stdio is the child's end of the connection.
type stdio struct{}

func (stdio) Read(p []byte) (int, error)  { return os.Stdin.Read(p) }
func (stdio) Write(p []byte) (int, error) { return os.Stdout.Write(p) }
func (stdio) Close() error                { return errors.Join(os.Stdin.Close(), os.Stdout.Close()) }

func child() {
	if err := rpc.Register(Bench{}); err != nil {
		fmt.Fprintln(os.Stderr, "net/rpc child:", err)
		os.Exit(1)
	}
	rpc.ServeConn(stdio{}) // returns at the end of stdin
}

// pipes is the parent's end: the child's stdout and stdin.
type pipes struct {
	io.ReadCloser
	w io.WriteCloser
}

func (p pipes) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p pipes) Close() error                { return errors.Join(p.w.Close(), p.ReadCloser.Close()) }

type client struct {
	cmd  *exec.Cmd
	rpc  *rpc.Client
	once sync.Once
	err  error
}

func start() (harness.Client, error) {
	cmd, err := harness.ChildCommand()
	if err != nil {
		return nil, err
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &client{cmd: cmd, rpc: rpc.NewClient(pipes{out, in})}, nil
}

func (c *client) EchoSmall() error {
	var out harness.Small
	if err := c.rpc.Call("Bench.Echo", harness.Sample, &out); err != nil {
		return err
	}
	return harness.CheckSmall(out.ID, out.Name, out.Tags, out.Score, out.Enabled, out.Note)
}

func (c *client) EchoBytes(b []byte) ([]byte, error) {
	var out []byte
	err := c.rpc.Call("Bench.EchoBytes", b, &out)
	return out, err
}

func (c *client) Stream(count, size int, fn func(int, []byte) error) error {
	var buf []byte
	for i := range count {
		if err := c.rpc.Call("Bench.Chunk", ChunkRequest{uint32(i), uint32(size)}, &buf); err != nil {
			return err
		}
		if err := fn(i, buf); err != nil {
			return err
		}
	}
	return nil
}

func (c *client) ChildPID() int { return c.cmd.Process.Pid }

// Close closes the child's stdin (its server returns and it exits) and
// waits for it.
func (c *client) Close() error {
	c.once.Do(func() {
		c.rpc.Close()
		c.err = c.cmd.Wait()
	})
	return c.err
}
