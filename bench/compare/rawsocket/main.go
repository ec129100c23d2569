// Command rawsocket is the floor of the small-call scenarios, not an RPC
// system: 100-byte frames ping-ponged over a Unix socket between two Go
// processes with no SDK and no codec (as bench/rawsocket.go and
// parent.BenchmarkRawPingPong). The orchestrator runs only its spawn and
// seq scenarios; one caller at a time.
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/procwire/procwire-go/bench/compare/internal/harness"
	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/wire"
)

func main() {
	harness.Main(harness.Impl{Name: "raw socket", Start: start}, child)
}

// child connects to the socket named by its second argument and echoes
// every frame until the connection ends (testenv.RawPeer, as
// bench/rawsocket.go's child).
func child() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "rawsocket child: no socket path")
		os.Exit(2)
	}
	nc, err := net.Dial("unix", os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "rawsocket child:", err)
		os.Exit(1)
	}
	testenv.RawPeer(nc)
}

type client struct {
	cmd     *exec.Cmd
	dir     string
	nc      net.Conn
	r       *wire.Reader
	w       *wire.Writer
	payload []byte
	scratch []byte
	id      uint32
	once    sync.Once
	err     error
}

func start() (harness.Client, error) {
	dir, err := os.MkdirTemp("", "bench-compare-raw-")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer ln.Close()
	cmd, err := harness.ChildCommand(path)
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	nc, err := ln.Accept()
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		os.RemoveAll(dir)
		return nil, err
	}
	return &client{cmd: cmd, dir: dir, nc: nc, r: wire.NewReader(nc, 0, 256<<10), w: wire.NewWriter(nc), payload: make([]byte, 100)}, nil
}

// EchoSmall sends 100 bytes and reads them back (not safe for concurrent
// use: the orchestrator runs only the sequential scenario).
func (c *client) EchoSmall() error {
	c.id++
	if _, err := c.w.WriteFrame(wire.Header{Method: 1, RequestID: c.id}, c.payload); err != nil {
		return err
	}
	h, p, s, err := c.r.Next(c.scratch)
	c.scratch = s
	if err != nil {
		return err
	}
	if h.RequestID != c.id || len(p) != len(c.payload) {
		return fmt.Errorf("reply %d of %d bytes to request %d", h.RequestID, len(p), c.id)
	}
	return nil
}

var errOnlySmall = errors.New("the raw socket runs only the small-call scenarios")

func (c *client) EchoBytes([]byte) ([]byte, error)               { return nil, errOnlySmall }
func (c *client) Stream(int, int, func(int, []byte) error) error { return errOnlySmall }
func (c *client) ChildPID() int                                  { return c.cmd.Process.Pid }

func (c *client) Close() error {
	c.once.Do(func() {
		c.nc.Close()
		c.err = c.cmd.Wait()
		os.RemoveAll(c.dir)
	})
	return c.err
}
