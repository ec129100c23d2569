package parent_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/procwire/procwire-go"
	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/parent"
	"github.com/procwire/procwire-go/protocol"
	"github.com/procwire/procwire-go/wire"
)

// TestMain doubles as the deliberately broken workers (PROCWIRE_FAKE=...)
// of the tests and benchmarks.
func TestMain(m *testing.M) {
	if mode := os.Getenv("PROCWIRE_FAKE"); mode != "" {
		switch mode {
		case "raw-echo", "raw-pump":
			rawPeer(mode)
			return
		case "sdk-pump":
			sdkPump()
			return
		case "netrpc":
			netRPCPeer()
			return
		}
		fakeWorker(mode)
		return
	}
	testenv.Main(m) // removes the conformance worker's build
}

// fakeWorker announces a socket and accepts the parent, then misbehaves
// as mode says:
//
//   - deaf: never answers $ping, nor exits on $shutdown;
//   - stdout-flood: first prints an 8 MiB line (no newline until its end)
//     to stdout;
//   - stderr-long: first prints a 2 MiB line to stderr, then a short one;
//   - hangup: closes the data channel once it has read the first request;
//   - slow-restart: the first run (PROCWIRE_FAKE_MARK names a file that
//     does not exist yet) behaves; a later run writes its pid into that
//     file and never sends $init;
//   - helper: first starts `sleep 300` holding its stdout and stderr, and
//     writes the helper's pid into PROCWIRE_FAKE_MARK;
//   - stray-chunk: answers the first request with PROCWIRE_FAKE_N stream
//     chunks of 64 KiB, a stream end and a stream error, then with the
//     request's payload as its result;
//   - bad-payloads: answers the requests, in turn, with the error flag
//     and "boom" (no MessagePack), with an error value followed by junk,
//     with a result followed by junk, and with a well-formed error;
//   - exit-3: exits with status 3 once it has read the first request;
//   - segv: dies of SIGSEGV once it has read the first request (it
//     execs a shell that signals itself);
//   - stdin-closed: closes its stdin and never answers.
//
// All but deaf, stdin-closed and the ones that die exit on $shutdown.
func fakeWorker(mode string) {
	path := filepath.Join(os.TempDir(), fmt.Sprintf("pw-fake-%d.sock", os.Getpid()))
	// A fake killed earlier with the same pid left its socket file behind
	// (no live process has this pid but this one).
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		os.Exit(2)
	}
	defer ln.Close()
	switch mode {
	case "slow-restart":
		mark := os.Getenv("PROCWIRE_FAKE_MARK")
		if _, err := os.Stat(mark); err == nil {
			os.WriteFile(mark, []byte(strconv.Itoa(os.Getpid())), 0o600)
			time.Sleep(time.Hour)
		}
		os.WriteFile(mark, nil, 0o600)
	case "stdout-flood":
		os.Stdout.Write(bytes.Repeat([]byte("x"), 8<<20))
		os.Stdout.WriteString("\n")
	case "stderr-long":
		os.Stderr.Write(bytes.Repeat([]byte("y"), 2<<20))
		os.Stderr.WriteString("\nafter the long line\n")
	case "helper":
		helper := exec.Command("sleep", "300")
		helper.Stdout, helper.Stderr = os.Stdout, os.Stderr
		if err := helper.Start(); err != nil {
			os.Exit(2)
		}
		os.WriteFile(os.Getenv("PROCWIRE_FAKE_MARK"), []byte(strconv.Itoa(helper.Process.Pid)), 0o600)
	}
	schema := `{"methods":{"echo":{"id":1,"response":"result"}},"events":{}}`
	if s := os.Getenv("PROCWIRE_FAKE_SCHEMA"); s != "" {
		schema = s // a schema under test (TestBadSchemaRefused)
	}
	fmt.Printf(`{"jsonrpc":"2.0","method":"$init","params":{"pipe":%q,"schema":%s,"version":"1.0.0"}}`+"\n", path, schema)
	c, err := ln.Accept()
	if err != nil {
		os.Exit(2)
	}
	defer c.Close()
	switch mode {
	case "deaf":
		io.Copy(io.Discard, os.Stdin) // never answers
		return
	case "hangup":
		wire.NewReader(c, 0, 0).ReadFrame()
		c.Close()
	case "stray-chunk":
		h, p, err := wire.NewReader(c, 0, 0).ReadFrame()
		if err != nil {
			os.Exit(2)
		}
		w := wire.NewWriter(c)
		n, _ := strconv.Atoi(os.Getenv("PROCWIRE_FAKE_N"))
		chunk := bytes.Repeat([]byte{0xc0}, 64<<10)
		for range n {
			w.WriteFrame(wire.Header{Method: h.Method, Flags: wire.FlagsStreamChunk, RequestID: h.RequestID}, chunk)
		}
		w.WriteFrame(wire.Header{Method: h.Method, Flags: wire.FlagsStreamEnd, RequestID: h.RequestID})
		w.WriteFrame(wire.Header{Method: h.Method, Flags: wire.FlagsStreamError, RequestID: h.RequestID}, []byte("\xa5stray"))
		w.WriteFrame(wire.Header{Method: h.Method, Flags: wire.FlagsResult, RequestID: h.RequestID}, p)
	case "bad-payloads":
		go func() {
			r, w := wire.NewReader(c, 0, 0), wire.NewWriter(c)
			answers := []struct {
				flags   wire.Flags
				payload string
			}{
				{wire.FlagsError, "boom"},
				{wire.FlagsError, "\xa4fine" + "junk"},
				{wire.FlagsResult, "\xa2ok" + "junk"},
				{wire.FlagsError, "\x81\xa7message\xa4real"},
			}
			for _, a := range answers {
				h, _, err := r.ReadFrame()
				if err != nil {
					return
				}
				w.WriteFrame(wire.Header{Method: h.Method, Flags: a.flags, RequestID: h.RequestID}, []byte(a.payload))
			}
		}()
	case "exit-3":
		wire.NewReader(c, 0, 0).ReadFrame()
		os.Exit(3)
	case "segv":
		wire.NewReader(c, 0, 0).ReadFrame()
		// The Go runtime ignores a SIGSEGV that does not come from a
		// fault: let a shell, with core dumps off, take the signal.
		syscall.Exec("/bin/sh", []string{"sh", "-c", "ulimit -c 0; kill -SEGV $$"}, os.Environ())
		os.Exit(2)
	case "stdin-closed":
		os.Stdin.Close()
		time.Sleep(time.Hour)
	}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if strings.Contains(sc.Text(), protocol.MethodShutdown) {
			return
		}
	}
}

// sdkPump is a Go worker (this test binary run with PROCWIRE_FAKE=sdk-pump)
// whose stream method pump sends the same 1 MiB raw chunk as many times as
// the 4-byte request says: the worker SDK's frame path, without the
// conformance worker's filling of every chunk.
func sdkPump() {
	w := procwire.NewWorker(procwire.Options{})
	buf := make([]byte, 1<<20)
	procwire.HandleStream(w, "pump", func(ctx context.Context, n []byte, out *procwire.Stream[[]byte]) error {
		for i := uint32(0); i < binary.BigEndian.Uint32(n); i++ {
			if err := out.Send(buf); err != nil {
				return err
			}
		}
		return nil
	}, procwire.MethodOptions{Codec: codec.Raw})
	if err := w.Run(context.Background()); err != nil {
		os.Exit(1)
	}
}

// The raw socket between two processes, with no parent, no worker and no
// codec: the ceiling the benchmarks are compared with. rawPeer is the child
// side (the test binary run with PROCWIRE_FAKE=raw-echo or raw-pump),
// rawConn the parent's.
func rawPeer(mode string) {
	nc, err := net.Dial("unix", os.Getenv("PROCWIRE_RAW_SOCKET"))
	if err != nil {
		os.Exit(2)
	}
	defer nc.Close()
	r := wire.NewReader(nc, 0, 0)
	w := wire.NewWriter(nc)
	var scratch []byte
	if mode == "raw-echo" {
		for {
			h, p, s, err := r.Next(scratch)
			if err != nil {
				return
			}
			scratch = s
			h.Flags |= wire.FlagResponse
			if _, err := w.WriteFrame(h, p); err != nil {
				return
			}
		}
	}
	// raw-pump: the request says how many 1 MiB frames to send.
	h, _, _, err := r.Next(scratch)
	if err != nil {
		return
	}
	buf := make([]byte, 1<<20)
	for i := uint32(0); i < h.RequestID; i++ {
		if _, err := w.WriteFrame(wire.Header{Method: 1, Flags: wire.FlagResponse | wire.FlagStream, RequestID: 1, Length: 1 << 20}, buf); err != nil {
			return
		}
	}
}

func rawConn(b *testing.B, mode string) net.Conn {
	dir := b.TempDir()
	path := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	self, _ := os.Executable()
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), "PROCWIRE_FAKE="+mode, "PROCWIRE_RAW_SOCKET="+path)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Wait() })
	nc, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	return nc
}

// startFake starts a fakeWorker (this test binary) in the given mode, with
// env added to its environment.
func startFake(t *testing.T, mode string, opts parent.Options, env ...string) *parent.Module {
	t.Helper()
	testenv.VerifyNoLeaks(t)
	self, _ := os.Executable()
	m, err := parent.Start(context.Background(), mode, parent.Command{Path: self, Env: testenv.WorkerEnv(append([]string{"PROCWIRE_FAKE=" + mode}, env...)...)}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown(context.Background()) })
	return m
}

// logBuffer collects a logger's output.
type logBuffer struct{ testenv.Buffer }

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// conformance returns the Go conformance worker, built once per test
// binary.
func conformance(t testing.TB) string {
	t.Helper()
	return testenv.Worker(t, "./examples/conformance")
}

// spec is the conformance contract as the parent declares it.
func spec() parent.Options {
	return parent.Options{
		Methods: map[string]parent.MethodSpec{
			"echo":       {},
			"echoRaw":    {Codec: codec.Raw},
			"ack":        {Response: protocol.ResponseAck},
			"notify":     {Response: protocol.ResponseNone},
			"count":      {Response: protocol.ResponseStream},
			"blob":       {Response: protocol.ResponseStream, Codec: codec.Raw},
			"fail":       {},
			"failObject": {},
			"panic":      {},
			"streamFail": {Response: protocol.ResponseStream},
			"sleep":      {Cancellable: true},
			"tick":       {Response: protocol.ResponseStream, Cancellable: true},
			"progress":   {},
			"types":      {},
			"info":       {},
		},
		Events: map[string]parent.EventSpec{"progress": {}, "notified": {}, "aborted": {}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// worker is an implementation of the conformance contract: the Go
// conformance worker, or the official Node worker running
// interop/reference-worker.mjs.
type worker struct {
	name string
	cmd  func(t *testing.T) parent.Command
}

var workers = []worker{
	{"go", func(t *testing.T) parent.Command {
		return parent.Command{Path: conformance(t), Env: testenv.WorkerEnv()}
	}},
	{"node", func(t *testing.T) parent.Command {
		return parent.Command{Path: testenv.Node(t), Args: []string{filepath.Join(testenv.InteropDir(), "reference-worker.mjs")}}
	}},
}

// eachWorker runs test against every implementation of the contract.
func eachWorker(t *testing.T, test func(t *testing.T, w worker)) {
	for _, w := range workers {
		t.Run(w.name, func(t *testing.T) { test(t, w) })
	}
}

func startWorker(t *testing.T, w worker, opts parent.Options) *parent.Module {
	t.Helper()
	cmd := w.cmd(t)
	testenv.VerifyNoLeaks(t)
	m, err := parent.Start(context.Background(), "conformance-"+w.name, cmd, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown(context.Background()) })
	return m
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	state := s[strings.LastIndexByte(s, ')')+2]
	return state != 'Z' && state != 'X'
}

func TestConformanceWorker(t *testing.T) {
	eachWorker(t, func(t *testing.T, w worker) {
		m := startWorker(t, w, spec())
		ctx := context.Background()

		var echo map[string]any
		if err := m.Call(ctx, "echo", map[string]any{"a": 1, "b": "x"}, &echo); err != nil || echo["b"] != "x" {
			t.Fatalf("echo = %v, %v", echo, err)
		}
		var raw []byte
		if err := m.Call(ctx, "echoRaw", []byte{1, 2, 3}, &raw); err != nil || string(raw) != "\x01\x02\x03" {
			t.Fatalf("echoRaw = %x, %v", raw, err)
		}
		var ack map[string]bool
		if err := m.Ack(ctx, "ack", nil, &ack); err != nil || !ack["ok"] {
			t.Fatalf("ack = %v, %v", ack, err)
		}
		var types struct {
			Bin  []byte    `msgpack:"bin"`
			Date time.Time `msgpack:"date"`
			Big  int64     `msgpack:"big"`
		}
		if err := m.Call(ctx, "types", nil, &types); err != nil || string(types.Bin) != "\x01\x02\x03" || types.Big != 1<<40 ||
			!types.Date.Equal(time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)) {
			t.Fatalf("types = %+v, %v", types, err)
		}

		notified := m.Events("notified")
		if err := m.Notify("notify", "hello"); err != nil {
			t.Fatal(err)
		}
		select {
		case e := <-notified:
			var s string
			if e.Decode(&s); s != "hello" {
				t.Fatalf("notified %q", s)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("no notified event")
		}

		var got []int
		for v, err := range parent.StreamOf[int](ctx, m, "count", map[string]int{"n": 100}) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, v)
		}
		if len(got) != 100 || got[99] != 99 {
			t.Fatalf("count: %d values", len(got))
		}
		req := make([]byte, 8)
		binary.BigEndian.PutUint32(req, 64)
		binary.BigEndian.PutUint32(req[4:], 1<<20)
		chunks := 0
		for c, err := range m.Stream(ctx, "blob", req) {
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Payload) != 1<<20 || c.Payload[0] != byte(chunks) {
				t.Fatalf("blob chunk %d", chunks)
			}
			chunks++
		}
		if chunks != 64 {
			t.Fatalf("blob: %d chunks", chunks)
		}
	})
}

func TestRemoteErrors(t *testing.T) {
	eachWorker(t, func(t *testing.T, w worker) {
		m := startWorker(t, w, spec())
		ctx := context.Background()
		// The same type a Go worker returns (procwire.Error is protocol.Error).
		var re *procwire.Error
		if err := m.Call(ctx, "fail", "boom", nil); !errors.As(err, &re) || re.Message != "fail: boom" || re.Code != "" || re.Details != nil {
			t.Fatalf("fail = %#v", err)
		}
		if err := m.Call(ctx, "failObject", 7, nil); !errors.As(err, &re) || re.Code != "E_CONFORMANCE" || re.Message != "structured failure" || fmt.Sprint(re.Details["input"]) != "7" || len(re.Details) != 1 {
			t.Fatalf("failObject = %#v", err)
		}
		if err := m.Call(ctx, "panic", nil, nil); !errors.As(err, &re) || !strings.Contains(re.Message, "conformance panic") {
			t.Fatalf("panic = %v", err)
		}
		var n int
		for _, err := range m.Stream(ctx, "streamFail", nil) {
			if err != nil {
				if !errors.As(err, &re) || re.Message != "stream failed" || n != 2 {
					t.Fatalf("streamFail after %d chunks: %v", n, err)
				}
				break
			}
			n++
		}
	})
}

func TestCancellationAndTimeouts(t *testing.T) {
	eachWorker(t, func(t *testing.T, w worker) {
		opts := spec()
		opts.RequestTimeout = 200 * time.Millisecond
		m := startWorker(t, w, opts)
		aborted := m.Events("aborted")
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := m.Call(ctx, "sleep", 5000, nil); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("sleep = %v", err)
		}
		waitAborted(t, aborted, "sleep") // the abort frame was sent
		// The module default timeout.
		if err := m.Call(context.Background(), "sleep", 600, nil); !errors.Is(err, parent.ErrTimeout) {
			t.Fatalf("sleep past the request timeout = %v", err)
		}
		// Breaking out of a cancellable stream aborts it.
		n := 0
		for _, err := range m.Stream(context.Background(), "tick", nil) {
			if err != nil {
				t.Fatal(err)
			}
			if n++; n == 3 {
				break
			}
		}
		waitAborted(t, aborted, "") // from the timed-out sleep (cancellable) or the tick
	})
}

// waitAborted waits up to 2 s for the conformance worker's "aborted" event,
// which its cancellable handlers send when they see an abort, and checks
// that it names method (any method for "").
func waitAborted(t *testing.T, aborted <-chan parent.Event, method string) {
	t.Helper()
	select {
	case e := <-aborted:
		var a map[string]string
		if e.Decode(&a); method != "" && a["method"] != method {
			t.Fatalf("aborted %v, want method %q", a, method)
		}
	case <-time.After(2 * time.Second):
		t.Fatalf("no aborted event (for %q): the worker saw no abort", method)
	}
}

func TestEventsAndConcurrency(t *testing.T) {
	eachWorker(t, func(t *testing.T, w worker) {
		m := startWorker(t, w, spec())
		ctx := context.Background()
		progress := m.Events("progress")
		var done map[string]int
		if err := m.Call(ctx, "progress", map[string]int{"n": 50}, &done); err != nil || done["emitted"] != 50 {
			t.Fatalf("progress = %v, %v", done, err)
		}
		for i := 0; i < 50; i++ {
			select {
			case e := <-progress:
				var p map[string]int
				if err := e.Decode(&p); err != nil || p["i"] != i {
					t.Fatalf("progress event %d = %v, %v", i, p, err)
				}
			case <-time.After(2 * time.Second):
				t.Fatalf("progress event %d missing", i)
			}
		}
		// The same events by callback.
		got := make(chan int, 10)
		m.OnEvent("progress", func(e parent.Event) {
			var p map[string]int
			e.Decode(&p)
			got <- p["i"]
		})
		if err := m.Call(ctx, "progress", map[string]int{"n": 3}, nil); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			select {
			case v := <-got:
				if v != i {
					t.Fatalf("OnEvent got %d, want %d", v, i)
				}
			case <-time.After(2 * time.Second):
				t.Fatalf("OnEvent: event %d missing", i)
			}
		}
		var info map[string]int
		if err := m.Call(ctx, "info", nil, &info); err != nil || info["pid"] != m.PID() {
			t.Fatalf("info = %v, %v (pid %d)", info, err, m.PID())
		}
		// 200 concurrent echoes, each with its own value.
		var wg sync.WaitGroup
		errs := make(chan error, 200)
		for i := range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var out []int
				if err := m.Call(ctx, "echo", []int{i, i * i}, &out); err != nil || len(out) != 2 || out[0] != i || out[1] != i*i {
					errs <- fmt.Errorf("echo %d = %v, %v", i, out, err)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		// Every value of types arrives as its Go counterpart.
		var types map[string]any
		if err := m.Call(ctx, "types", nil, &types); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"int": "1", "neg": "-1", "big": "1099511627776", "float": "1.5", "str": "héllo",
			"bin": "[1 2 3]", "date": "2023-11-14 22:13:20 +0000 UTC", "nil": "<nil>",
			"arr": "[1 a true]", "map": "map[k:v]",
		}
		for k, v := range want {
			got := types[k]
			if tm, ok := got.(time.Time); ok {
				got = tm.UTC()
			}
			if fmt.Sprint(got) != v {
				t.Errorf("types.%s = %v (%T), want %s", k, got, got, v)
			}
		}
		if _, ok := types["bin"].([]byte); !ok {
			t.Errorf("types.bin is %T, want []byte", types["bin"])
		}
	})
}

func TestAuthAndShutdown(t *testing.T) {
	eachWorker(t, func(t *testing.T, w worker) {
		opts := spec()
		opts.Auth = true
		opts.SocketBufferSize = 1 << 20
		m := startWorker(t, w, opts)
		var s string
		if err := m.Call(context.Background(), "echo", "authenticated", &s); err != nil || s != "authenticated" {
			t.Fatalf("echo with auth = %q, %v", s, err)
		}
		pid := m.PID()
		start := time.Now()
		if err := m.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("shutdown took %v", d)
		}
		if alive(pid) {
			t.Error("worker still running after Shutdown")
		}
		if m.State() != parent.Closed {
			t.Errorf("state = %v", m.State())
		}
		if err := m.Call(context.Background(), "echo", 1, nil); !errors.Is(err, parent.ErrNotReady) {
			t.Errorf("call after shutdown = %v", err)
		}
	})
}

// TestShutdownDuringRestart shuts a module down while it restarts a
// crashed worker whose new process never announces itself: Shutdown
// returns promptly, and the new process does not outlive it.
func TestShutdownDuringRestart(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	mark := filepath.Join(t.TempDir(), "mark")
	self, _ := os.Executable()
	m, err := parent.Start(context.Background(), "slow-restart", parent.Command{Path: self, Env: testenv.WorkerEnv("PROCWIRE_FAKE=slow-restart", "PROCWIRE_FAKE_MARK="+mark)},
		parent.Options{Restart: true, InitTimeout: time.Minute, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := os.FindProcess(m.PID())
	first.Kill()
	pid := waitPIDFile(t, mark, "the worker was not restarted")
	start := time.Now()
	if err := m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown during a restart took %v", d)
	}
	if p, err := os.FindProcess(pid); err == nil && p.Signal(syscall.Signal(0)) == nil {
		p.Kill()
		t.Errorf("the restarted worker (pid %d) outlived Shutdown", pid)
	}
	if s := m.State(); s != parent.Closed {
		t.Errorf("state after Shutdown = %v", s)
	}
}

func TestRestartOnCrash(t *testing.T) {
	eachWorker(t, func(t *testing.T, w worker) {
		opts := spec()
		opts.Restart = true
		var mu sync.Mutex
		var states []parent.State
		opts.OnStateChange = func(s parent.State) {
			mu.Lock()
			states = append(states, s)
			mu.Unlock()
		}
		m := startWorker(t, w, opts)
		pid := m.PID()
		// A stream is open when the worker dies: it fails promptly.
		errc := make(chan error, 1)
		go func() {
			for _, err := range m.Stream(context.Background(), "tick", nil) {
				if err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
		time.Sleep(50 * time.Millisecond)
		p, _ := os.FindProcess(pid)
		p.Kill()
		select {
		case err := <-errc:
			if !errors.Is(err, parent.ErrClosed) {
				t.Fatalf("stream after crash = %v", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("open stream not failed after the crash")
		}
		deadline := time.Now().Add(5 * time.Second)
		// State and PID are read apart: PID 0 means the old instance was
		// gone by then, and the new one not yet there.
		for m.State() != parent.Ready || m.PID() == pid || m.PID() == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("not restarted: state %v", m.State())
			}
			time.Sleep(10 * time.Millisecond)
		}
		var s string
		if err := m.Call(context.Background(), "echo", "again", &s); err != nil || s != "again" {
			t.Fatalf("after restart = %q, %v", s, err)
		}
		mu.Lock()
		defer mu.Unlock()
		if !strings.Contains(fmt.Sprint(states), "ready disconnected restarting starting ready") {
			t.Errorf("states = %v", states)
		}
	})
}

func TestHeartbeatKillsADeafWorker(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	self, _ := os.Executable()
	closed := make(chan struct{})
	var once sync.Once
	m, err := parent.Start(context.Background(), "deaf", parent.Command{Path: self, Env: append(os.Environ(), "PROCWIRE_FAKE=deaf")}, parent.Options{
		Heartbeat: &parent.Heartbeat{Interval: 20 * time.Millisecond, Timeout: 200 * time.Millisecond},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnStateChange: func(s parent.State) {
			if s == parent.Closed {
				once.Do(func() { close(closed) })
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	pid := m.PID()
	select {
	case <-closed:
	case <-time.After(3 * time.Second):
		t.Fatal("a worker that never answers $ping was not killed")
	}
	if alive(pid) {
		t.Error("deaf worker still alive")
	}
	err = m.Call(context.Background(), "echo", 1, nil)
	if !errors.Is(err, parent.ErrNotReady) || !strings.Contains(err.Error(), "state closed; last worker exit: killed: missed heartbeat") {
		t.Errorf("call after the kill = %v; want ErrNotReady with the state and the exit reason", err)
	}
}

// TestDataChannelLoss checks that a worker hanging up on the data channel
// fails the call in flight with the connection's reason, is killed for it,
// and that both the log and later calls say why the process ended.
func TestDataChannelLoss(t *testing.T) {
	var logs logBuffer
	closed := make(chan struct{})
	var once sync.Once
	m := startFake(t, "hangup", parent.Options{
		Logger: logs.logger(),
		OnStateChange: func(s parent.State) {
			if s == parent.Closed {
				once.Do(func() { close(closed) })
			}
		},
	})
	err := m.Call(context.Background(), "echo", 1, nil)
	if !errors.Is(err, parent.ErrClosed) || err.Error() != "procwire/parent: connection closed: the worker closed the connection" {
		t.Fatalf("call in flight = %v", err)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("a worker that lost its data channel was not killed")
	}
	const reason = "killed: lost its data channel: the worker closed the connection"
	err = m.Call(context.Background(), "echo", 1, nil)
	if !errors.Is(err, parent.ErrNotReady) || errors.Is(err, parent.ErrClosed) || !strings.Contains(err.Error(), "(state closed; last worker exit: "+reason+")") {
		t.Errorf("call after the kill = %v", err)
	}
	if !strings.Contains(logs.String(), `msg="procwire/parent: worker exited unexpectedly" module=hangup reason="`+reason+`"`) {
		t.Errorf("the exit is not logged with its reason:\n%s", logs.String())
	}
}

// TestStdoutEndlessLine checks that an 8 MiB stdout line before $init is
// skipped and reported once, without stopping the start.
func TestStdoutEndlessLine(t *testing.T) {
	var logs logBuffer
	m := startFake(t, "stdout-flood", parent.Options{Logger: logs.logger()})
	if m.State() != parent.Ready {
		t.Fatalf("state %v", m.State())
	}
	out := logs.String()
	if n := strings.Count(out, "stdout line too long"); n != 1 {
		t.Errorf("the long line is reported %d times, want once:\n%.2000s", n, out)
	}
	if len(out) > 64<<10 {
		t.Errorf("%d bytes logged for a skipped line", len(out))
	}
}

// TestBadSchemaRefused: a worker process announcing a schema with a
// reserved, missing, duplicate or malformed id is refused at once, with an
// error that names the method or event, the field and the value, and the
// process does not outlive the refusal.
func TestBadSchemaRefused(t *testing.T) {
	tests := []struct{ name, schema, want string }{
		{"method id 0", `{"methods":{"echo":{"id":0,"response":"result"}},"events":{}}`, `method "echo": id 0 must be an integer in 1..65533`},
		{"abort id", `{"methods":{"echo":{"id":65535,"response":"result"}},"events":{}}`, `method "echo": id 65535`},
		{"auth id", `{"methods":{"echo":{"id":65534,"response":"result"}},"events":{}}`, `method "echo": id 65534`},
		{"missing id", `{"methods":{"echo":{"response":"result"}},"events":{}}`, `method "echo": id (missing)`},
		{"string id", `{"methods":{"echo":{"id":"1","response":"result"}},"events":{}}`, `method "echo": id "1"`},
		{"duplicate event ids", `{"methods":{},"events":{"a":{"id":3},"b":{"id":3}}}`, `event "b": id 3 is also the id of event "a"`},
		{"bad response type", `{"methods":{"echo":{"id":1,"response":"results"}},"events":{}}`, `method "echo": response "results"`},
	}
	self, _ := os.Executable()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testenv.VerifyNoLeaks(t)
			start := time.Now()
			_, err := parent.Start(context.Background(), "bad-schema", parent.Command{Path: self, Env: testenv.WorkerEnv("PROCWIRE_FAKE=bad-schema", "PROCWIRE_FAKE_SCHEMA="+tt.schema)},
				parent.Options{Retries: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start = %v; want an error containing %q", err, tt.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("refused after %v", d)
			}
		})
	}
}

// TestStderrLongLine checks that a stderr line over the limit is logged
// cut, and the lines after it still reach the logger.
func TestStderrLongLine(t *testing.T) {
	var logs logBuffer
	startFake(t, "stderr-long", parent.Options{Logger: logs.logger()})
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), `msg="after the long line" module=stderr-long stream=stderr`) {
		if time.Now().After(deadline) {
			t.Fatal("the line after the long one did not reach the logger")
		}
		time.Sleep(10 * time.Millisecond)
	}
	out := logs.String()
	if n := strings.Count(out, "truncated="); n != 1 {
		t.Errorf("%d lines logged as truncated, want 1", n)
	}
	if len(out) > 3<<20/2 {
		t.Errorf("%d bytes logged for a 2 MiB line", len(out))
	}
}

func TestSchemaValidation(t *testing.T) {
	tests := []struct {
		name string
		opts parent.Options
		want string
	}{
		{"missing method", parent.Options{Methods: map[string]parent.MethodSpec{"nope": {}}}, `did not register expected method "nope"`},
		{"response type mismatch", parent.Options{Methods: map[string]parent.MethodSpec{"echo": {Response: protocol.ResponseStream}}}, `response type mismatch (parent declared "stream", child declared "result")`},
		{"missing event", parent.Options{Events: map[string]parent.EventSpec{"nope": {}}}, `did not register expected event "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			_, err := parent.Start(context.Background(), "v", parent.Command{Path: conformance(t)}, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestOfficialNodeWorker(t *testing.T) {
	node := testenv.Node(t)
	testenv.VerifyNoLeaks(t)
	m, err := parent.Start(context.Background(), "node", parent.Command{Path: node, Args: []string{filepath.Join(testenv.InteropDir(), "bench-node-worker.mjs")}}, parent.Options{
		Methods: map[string]parent.MethodSpec{"echo": {}, "echoRaw": {Codec: codec.Raw}, "blob": {Response: protocol.ResponseStream, Codec: codec.Raw}},
		Auth:    true,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	var out map[string]any
	if err := m.Call(context.Background(), "echo", map[string]any{"a": 1, "buf": []byte("hi")}, &out); err != nil {
		t.Fatal(err)
	}
	if b, _ := out["buf"].([]byte); string(b) != "hi" || out["a"] != int8(1) {
		t.Fatalf("echo through the Node worker = %#v", out)
	}
	req := make([]byte, 8)
	binary.BigEndian.PutUint32(req, 3)
	binary.BigEndian.PutUint32(req[4:], 1000)
	n := 0
	for c, err := range m.Stream(context.Background(), "blob", req) {
		if err != nil || len(c.Payload) != 1000 || c.Payload[0] != byte(n) {
			t.Fatalf("chunk %d: %v", n, err)
		}
		n++
	}
	if n != 3 {
		t.Fatalf("%d chunks", n)
	}
}

// TestAuthRejectsABadToken impersonates a parent that knows the socket path
// but not the token: the worker closes that connection without answering,
// and the real parent (right token) still gets in afterwards.
func TestAuthRejectsABadToken(t *testing.T) {
	eachWorker(t, func(t *testing.T, w worker) {
		testenv.VerifyNoLeaks(t)
		const token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		c := w.cmd(t)
		env := c.Env
		if env == nil {
			env = os.Environ()
		}
		cmd := exec.Command(c.Path, c.Args...)
		cmd.Env = append(env, "PROCWIRE_TOKEN="+token)
		cmd.Stderr = io.Discard
		init := testenv.Spawn(t, cmd).Init
		echo := []protocol.MethodDesc{{Name: "echo", ID: init.Schema.Methods["echo"].ID, Response: protocol.ResponseResult,
			RequestCodec: codec.MsgPack, ResponseCodec: codec.MsgPack}}
		connect := func(tok string) error {
			nc, err := testenv.Dial(init.Pipe)
			if err != nil {
				return err
			}
			conn := parent.NewConn(nc, 1<<20, echo, nil)
			defer conn.Close()
			if err := conn.SendAuth(tok); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			var s string
			if err := conn.Call(ctx, "echo", "hi", &s); err != nil {
				return err
			}
			if s != "hi" {
				return fmt.Errorf("echo = %q", s)
			}
			return nil
		}
		if err := connect(strings.Repeat("f", len(token))); !errors.Is(err, parent.ErrClosed) {
			t.Fatalf("a wrong token: %v, want the connection closed", err)
		}
		if err := connect(token); err != nil {
			t.Fatalf("the right token after a wrong one: %v", err)
		}
	})
}

// waitPIDFile polls the file mark until it holds a PID, which it returns;
// after 10 s it fails the test with msg.
func waitPIDFile(t *testing.T, mark, msg string) int {
	t.Helper()
	var pid int
	for deadline := time.Now().Add(10 * time.Second); pid == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		b, _ := os.ReadFile(mark)
		pid, _ = strconv.Atoi(string(b))
	}
	return pid
}
