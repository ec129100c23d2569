package testenv

import (
	"bufio"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/procwire/procwire-go/protocol"
)

// InitTimeout bounds the wait for a worker's $init line.
const InitTimeout = 30 * time.Second

// ReadInit reads the first line of a worker's stdout within d and returns
// its $init params, failing t if the line is not a valid $init.
func ReadInit(t testing.TB, stdout *bufio.Reader, d time.Duration) protocol.Init {
	t.Helper()
	type read struct {
		line string
		err  error
	}
	ch := make(chan read, 1)
	go func() {
		line, err := stdout.ReadString('\n')
		ch <- read{line, err}
	}()
	var r read
	select {
	case r = <-ch:
	case <-time.After(d):
		t.Fatalf("no $init line within %v", d)
	}
	msg, err := protocol.ParseMessage([]byte(r.line))
	if err != nil || msg.Method != protocol.MethodInit {
		t.Fatalf("first stdout line is not $init: %q (%v, read error %v)", strings.TrimSuffix(r.line, "\n"), err, r.err)
	}
	init, err := protocol.ParseInit(msg.Params)
	if err != nil {
		t.Fatalf("$init: %v", err)
	}
	return init
}

// Process is a worker process started by Spawn, past its $init line.
type Process struct {
	Cmd    *exec.Cmd
	Init   protocol.Init
	Stdin  io.WriteCloser // the control plane to the worker; closing it ends the worker
	Stdout *bufio.Reader  // the control lines that follow $init
	// Stderr collects the worker's stderr, unless the caller set
	// Cmd.Stderr (then it is nil). It is logged if the test fails.
	Stderr *Buffer

	t      testing.TB
	exited chan struct{}
	err    error
}

// Spawn starts cmd (its Env is the caller's: see WorkerEnv) with pipes for
// stdin and stdout, and reads its $init line within InitTimeout. When t
// ends, the worker's stdin is closed and the process given 5 s to exit
// before it is killed; Spawn's cleanup returns only once it has exited.
func Spawn(t testing.TB, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{Cmd: cmd, t: t, exited: make(chan struct{})}
	var err error
	if p.Stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.Stdout = bufio.NewReader(stdout)
	if cmd.Stderr == nil {
		p.Stderr = new(Buffer)
		cmd.Stderr = p.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.Stdin.Close()
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() && p.Stderr != nil {
			t.Logf("worker stderr:\n%s", p.Stderr.String())
		}
	})
	p.Init = ReadInit(t, p.Stdout, InitTimeout)
	return p
}

// WaitExit waits up to d for the process to exit and returns the error of
// exec.Cmd.Wait; it fails the test if the process is still running.
func (p *Process) WaitExit(d time.Duration) error {
	p.t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(d):
		p.t.Fatalf("worker still running after %v", d)
		return nil
	}
}

// MethodID returns the id the worker's schema gives method (0 if it has
// no such method).
func (p *Process) MethodID(method string) uint16 { return p.Init.Schema.Methods[method].ID }
