package procwire

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/protocol"
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

func (p *fakeParent) methodID(name string) uint16 {
	p.t.Helper()
	m, ok := p.init.Schema.Methods[name]
	if !ok {
		p.t.Fatalf("method %q not in schema", name)
	}
	return m.ID
}

// The tests below check the lines the fake parent reads first: $init,
// and $error when the worker cannot start.

func TestInitAnnouncesSchema(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	p := startWorker(t, Options{}, func(w *Worker) {
		Handle(w, "a", func(ctx context.Context, in any) (any, error) { return nil, nil })
		HandleStream(w, "b", func(ctx context.Context, in any, out *Stream[int]) error { return nil })
		HandleAck(w, "c", func(ctx context.Context, in any) (any, error) { return nil, nil }, MethodOptions{Timeout: 1500 * time.Millisecond})
		HandleNotify(w, "d", func(ctx context.Context, in any) error { return nil })
		NewEvent[int](w, "e1")
		NewEvent[int](w, "e2")
	})
	want := protocol.Schema{
		Methods: map[string]protocol.MethodSchema{
			"a": {ID: 1, Response: ResponseResult},
			"b": {ID: 2, Response: ResponseStream},
			"c": {ID: 3, Response: ResponseAck, Timeout: 1500},
			"d": {ID: 4, Response: ResponseNone},
		},
		Events: map[string]protocol.EventSchema{"e1": {ID: 1}, "e2": {ID: 2}},
	}
	got, _ := json.Marshal(p.init.Schema)
	exp, _ := json.Marshal(want)
	if string(got) != string(exp) {
		t.Errorf("schema = %s, want %s", got, exp)
	}
	if p.init.Version != "1.0.0" {
		t.Errorf("version = %q", p.init.Version)
	}
	if !strings.Contains(p.init.Pipe, "procwire-") {
		t.Errorf("pipe path %q", p.init.Pipe)
	}
	if !testenv.SocketFiles {
		return
	}
	fi, err := os.Stat(p.init.Pipe)
	if err != nil {
		t.Fatalf("socket not created before $init: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %v, want 0600", fi.Mode().Perm())
	}
	if !strings.HasSuffix(p.init.Pipe, ".sock") {
		t.Errorf("pipe path %q", p.init.Pipe)
	}
}

func TestInitEventsIsAnObjectWithoutEvents(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	w := NewWorker(Options{})
	msg, err := protocol.InitLine(protocol.Init{Pipe: "/x", Schema: w.Schema()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(msg), "{") || !strings.Contains(string(msg), `"events":{}`) || !strings.Contains(string(msg), `"methods":{}`) {
		t.Errorf("$init = %s; want events and methods as {}", msg)
	}
}

func TestSocketDirectoryErrorSendsError(t *testing.T) {
	if !testenv.SocketFiles {
		t.Skip("named pipes have no directory")
	}
	testenv.VerifyNoLeaks(t)
	inR, inW := io.Pipe()
	defer inW.Close()
	outR, outW := io.Pipe()
	w := NewWorker(Options{SocketDir: "/nonexistent/procwire", Stdin: inR, Stdout: outW, errorLinger: time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()); outW.Close() }()
	line, _ := bufio.NewReader(outR).ReadString('\n')
	var msg struct {
		Method string `json:"method"`
		Params struct {
			Message string `json:"message"`
		} `json:"params"`
	}
	if err := json.Unmarshal([]byte(line), &msg); err != nil || msg.Method != "$error" || !strings.Contains(msg.Params.Message, "/nonexistent") {
		t.Fatalf("stdout = %q, want $error naming the directory", line)
	}
	if err := <-done; err == nil {
		t.Error("Run = nil, want the error")
	}
}
