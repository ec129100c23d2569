package procwire

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/protocol"
	"github.com/procwire/procwire-go/wire"
)

// fakeParent impersonates a Procwire parent at the byte level: it owns the
// worker's stdin and stdout and dials its socket, so tests can send what a
// real parent never would.
type fakeParent struct {
	t       *testing.T
	w       *Worker
	stdin   *io.PipeWriter
	stdout  *bufio.Reader
	outPipe *io.PipeReader
	runErr  chan error
	init    protocol.Init
	logs    *testenv.Buffer
	cancel  context.CancelFunc
	once    sync.Once
}

// startWorker runs w (built by build with the given options) with pipes for
// stdin and stdout and waits for its $init line.
func startWorker(t *testing.T, opts Options, build func(w *Worker)) *fakeParent {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	logs := new(testenv.Buffer)
	opts.Stdin, opts.Stdout = inR, outW
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.errorLinger = 10 * time.Millisecond
	w := NewWorker(opts)
	if build != nil {
		build(w)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &fakeParent{t: t, w: w, stdin: inW, stdout: bufio.NewReader(outR), outPipe: outR, runErr: make(chan error, 1), logs: logs, cancel: cancel}
	go func() {
		err := w.Run(ctx)
		outW.Close()
		p.runErr <- err
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("worker log:\n%s", logs.String())
		}
	})
	p.init = testenv.ReadInit(t, p.stdout, 5*time.Second)
	return p
}

// stop ends the worker (closing stdin) and waits for Run.
func (p *fakeParent) stop() error {
	var err error
	p.once.Do(func() {
		p.stdin.Close()
		go io.Copy(io.Discard, p.outPipe)
		select {
		case err = <-p.runErr:
		case <-time.After(10 * time.Second):
			p.t.Error("Run did not return within 10 s")
		}
		p.cancel()
	})
	return err
}

// waitRun waits for Run to return on its own and returns its error.
func (p *fakeParent) waitRun(d time.Duration) error {
	p.t.Helper()
	select {
	case err := <-p.runErr:
		p.once.Do(func() { p.stdin.Close(); p.cancel() })
		return err
	case <-time.After(d):
		p.t.Fatalf("Run did not return within %v", d)
		return nil
	}
}

func (p *fakeParent) readLine(d time.Duration) string {
	p.t.Helper()
	ch := make(chan string, 1)
	go func() {
		s, _ := p.stdout.ReadString('\n')
		ch <- s
	}()
	select {
	case s := <-ch:
		return strings.TrimSuffix(s, "\n")
	case <-time.After(d):
		p.t.Fatalf("no stdout line within %v", d)
		return ""
	}
}

func (p *fakeParent) control(line string) {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		p.t.Fatalf("write control line: %v", err)
	}
}

// conn is one data-plane connection of the fake parent.
type conn struct {
	t  *testing.T
	nc net.Conn
	r  *wire.Reader
	w  *wire.Writer
}

func (p *fakeParent) dial() *conn {
	p.t.Helper()
	nc, err := testenv.Dial(p.init.Pipe)
	if err != nil {
		p.t.Fatalf("dial %s: %v", p.init.Pipe, err)
	}
	p.t.Cleanup(func() { nc.Close() })
	return &conn{t: p.t, nc: nc, r: wire.NewReader(nc, 0, 0), w: wire.NewWriter(nc)}
}

func (p *fakeParent) methodID(name string) uint16 {
	p.t.Helper()
	m, ok := p.init.Schema.Methods[name]
	if !ok {
		p.t.Fatalf("method %q not in schema", name)
	}
	return m.ID
}

func (c *conn) send(method uint16, id uint32, payload []byte) {
	c.t.Helper()
	if _, err := c.w.WriteFrame(wire.Header{Method: method, RequestID: id}, payload); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *conn) sendValue(method uint16, id uint32, v any) {
	c.t.Helper()
	b, err := codec.MsgPack.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(method, id, b)
}

// recv reads the next frame, failing the test after d.
func (c *conn) recv(d time.Duration) (wire.Header, []byte) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(d))
	h, p, err := c.r.ReadFrame()
	if err != nil {
		c.t.Fatalf("recv: %v", err)
	}
	return h, p
}

// recvErr reads the next frame and returns the error instead of failing.
func (c *conn) recvErr(d time.Duration) (wire.Header, []byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(d))
	return c.r.ReadFrame()
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := codec.MsgPack.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %x: %v", b, err)
	}
	return v
}

// expectClosed checks that the worker closed the connection.
func (c *conn) expectClosed(d time.Duration) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(d))
	var b [1]byte
	for {
		_, err := c.nc.Read(b[:])
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("connection still open after %v", d)
		}
		return
	}
}
