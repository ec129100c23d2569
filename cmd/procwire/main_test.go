package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"iter"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	sdk "github.com/procwire/procwire-go"
	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/parent"
)

// TestMain doubles as the worker of the tests of a dying worker (see
// dyingWorker).
func TestMain(m *testing.M) {
	if os.Getenv("PROCWIRE_CLI_WORKER") != "" {
		os.Exit(dyingWorker())
	}
	testenv.Main(m)
}

// dyingWorker is the test binary run with PROCWIRE_CLI_WORKER=1: a worker
// whose methods are
//
//   - exit: exits with the status asked, while the call waits;
//   - mark: writes its pid into the file PROCWIRE_CLI_MARK and answers;
//   - hang: marks, then waits until cancelled (the test kills it).
func dyingWorker() int {
	w := sdk.NewWorker(sdk.Options{})
	mark := func() error {
		path := os.Getenv("PROCWIRE_CLI_MARK")
		if err := os.WriteFile(path+".tmp", []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
			return err
		}
		return os.Rename(path+".tmp", path)
	}
	sdk.Handle(w, "exit", func(ctx context.Context, code int) (any, error) {
		os.Exit(code)
		return nil, nil
	})
	sdk.Handle(w, "mark", func(ctx context.Context, _ any) (any, error) { return nil, mark() })
	sdk.Handle(w, "hang", func(ctx context.Context, _ any) (any, error) {
		if err := mark(); err != nil {
			return nil, err
		}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	if err := w.Run(context.Background()); err != nil {
		return 1
	}
	return 0
}

type result struct {
	code           int
	stdout, stderr string
}

// procwire runs the command in-process, with a goroutine-leak check.
func procwire(t *testing.T, ctx context.Context, stdin string, args ...string) result {
	t.Helper()
	checkLeaks := testenv.CheckLeaks(t)
	var out, errOut bytes.Buffer
	code := run(ctx, args, strings.NewReader(stdin), &out, &errOut)
	checkLeaks()
	return result{code, out.String(), errOut.String()}
}

func TestSchema(t *testing.T) {
	r := procwire(t, context.Background(), "", "schema", "--", conformanceWorker(t))
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var s struct {
		Methods map[string]struct {
			ID       int    `json:"id"`
			Response string `json:"response"`
		} `json:"methods"`
		Events map[string]struct{ ID int } `json:"events"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("%v in %s", err, r.stdout)
	}
	want := map[string]string{
		"echo": "result", "echoRaw": "result", "ack": "ack", "notify": "none", "count": "stream", "blob": "stream",
		"fail": "result", "failObject": "result", "panic": "result", "streamFail": "stream", "sleep": "result",
		"tick": "stream", "progress": "result", "types": "result", "info": "result",
	}
	for name, rt := range want {
		if got := s.Methods[name]; got.Response != rt || got.ID == 0 {
			t.Errorf("method %s = %+v, want response %s", name, got, rt)
		}
	}
	for _, ev := range []string{"progress", "notified", "aborted"} {
		if _, ok := s.Events[ev]; !ok {
			t.Errorf("event %s missing", ev)
		}
	}
	if !strings.HasPrefix(r.stdout, "{\n  \"") {
		t.Errorf("schema is not indented: %q", r.stdout[:min(20, len(r.stdout))])
	}
}

func conformanceWorker(t *testing.T) string {
	return testenv.Worker(t, "./examples/conformance")
}

func TestCall(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	os.WriteFile(in, []byte{0, 1, 2, 0xff}, 0o600)
	out := filepath.Join(dir, "out")
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string
		stderrHas  []string
		rawOutFile []byte
	}{
		{"echo", []string{"--data", `{"a":1}`, "echo"}, 0, `{"a":1}` + "\n", nil, nil},
		{"flags after the method", []string{"echo", "--data", `[1,2.5,"x",null,true]`}, 0, `[1,2.5,"x",null,true]` + "\n", nil, nil},
		{"no data is null", []string{"echo"}, 0, "null\n", nil, nil},
		{"types as Node sees them, in the struct's field order", []string{"types"}, 0,
			`{"int":1,"neg":-1,"big":1099511627776,"float":1.5,"str":"héllo","bin":"AQID","date":"2023-11-14T22:13:20.000Z","nil":null,"arr":[1,"a",true],"map":{"k":"v"}}` + "\n", nil, nil},
		{"ack", []string{"ack"}, 0, `{"ok":true}` + "\n", nil, nil},
		{"none", []string{"--data", `"hi"`, "notify"}, 0, "", nil, nil},
		{"error", []string{"--data", `"x"`, "fail"}, 1, "", []string{"error: fail: x"}, nil},
		{"structured error", []string{"--data", `7`, "failObject"}, 1, "", []string{"error: structured failure", "code: E_CONFORMANCE", `"input":7`}, nil},
		{"panic", []string{"panic"}, 1, "", []string{"conformance panic"}, nil},
		{"timeout", []string{"--data", "5000", "--timeout", "100ms", "sleep"}, 1, "", []string{"no response from sleep within 100ms"}, nil},
		{"raw in and out", []string{"--raw-in", in, "--raw-out", out, "echoRaw"}, 0, "", nil, []byte{0, 1, 2, 0xff}},
		{"raw out to stdout", []string{"--raw-in", in, "--raw-out", "-", "echoRaw"}, 0, "\x00\x01\x02\xff", nil, nil},
		{"stream method", []string{"count"}, 2, "", []string{"use \"procwire stream\""}, nil},
		{"unknown method", []string{"nope"}, 1, "", []string{`did not register expected method "nope"`}, nil},
		{"bad JSON", []string{"--data", `{"a":`, "echo"}, 1, "", []string{"--data"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"call"}, tt.args...), "--", conformanceWorker(t))
			r := procwire(t, context.Background(), "", args...)
			if r.code != tt.code || r.stdout != tt.stdout {
				t.Fatalf("exit %d, stdout %q; want %d, %q (stderr %s)", r.code, r.stdout, tt.code, tt.stdout, r.stderr)
			}
			for _, s := range tt.stderrHas {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr %q lacks %q", r.stderr, s)
				}
			}
			if tt.rawOutFile != nil {
				if b, err := os.ReadFile(out); err != nil || !bytes.Equal(b, tt.rawOutFile) {
					t.Errorf("raw output %x, %v", b, err)
				}
			}
		})
	}
}

func TestCallRawInFromStdin(t *testing.T) {
	r := procwire(t, context.Background(), "from stdin", "call", "--raw-in", "-", "--raw-out", "-", "echoRaw", "--", conformanceWorker(t))
	if r.code != 0 || r.stdout != "from stdin" {
		t.Fatalf("exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
}

// TestCallNodeWorker calls the official Node worker running the
// conformance contract (interop/reference-worker.mjs).
func TestCallNodeWorker(t *testing.T) {
	node := testenv.Node(t)
	r := procwire(t, context.Background(), "", "call", "--data", `{"a":1}`, "echo", "--", node, filepath.Join(testenv.InteropDir(), "reference-worker.mjs"))
	if r.code != 0 || r.stdout != `{"a":1}`+"\n" {
		t.Fatalf("exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	r = procwire(t, context.Background(), "", "call", "types", "--", node, filepath.Join(testenv.InteropDir(), "reference-worker.mjs"))
	want := `{"int":1,"neg":-1,"big":1099511627776,"float":1.5,"str":"héllo","bin":"AQID","date":"2023-11-14T22:13:20.000Z","nil":null,"arr":[1,"a",true],"map":{"k":"v"}}` + "\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("types from Node: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
}

func TestStream(t *testing.T) {
	r := procwire(t, context.Background(), "", "stream", "--data", `{"n":5}`, "count", "--", conformanceWorker(t))
	if r.code != 0 || r.stdout != "0\n1\n2\n3\n4\n" {
		t.Fatalf("exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	// Raw chunks to a file.
	out := filepath.Join(t.TempDir(), "blob")
	req := filepath.Join(t.TempDir(), "req")
	os.WriteFile(req, binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 3), 1000), 0o600)
	r = procwire(t, context.Background(), "", "stream", "--raw-in", req, "--raw-out", out, "blob", "--", conformanceWorker(t))
	b, _ := os.ReadFile(out)
	if r.code != 0 || len(b) != 3000 || b[0] != 0 || b[1000] != 1 || b[2999] != 2 {
		t.Fatalf("exit %d, %d bytes, stderr %s", r.code, len(b), r.stderr)
	}
	// A stream that fails midway: its chunks, then the error.
	r = procwire(t, context.Background(), "", "stream", "streamFail", "--", conformanceWorker(t))
	if r.code != 1 || r.stdout != "0\n1\n" || !strings.Contains(r.stderr, "error: stream failed") {
		t.Fatalf("streamFail: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	r = procwire(t, context.Background(), "", "stream", "echo", "--", conformanceWorker(t))
	if r.code != 2 {
		t.Fatalf("stream of a result method: exit %d", r.code)
	}
}

// TestStreamInterrupted cancels the command's context (what Ctrl-C does)
// while an endless stream runs: it exits 130, promptly.
func TestStreamInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	r := procwire(t, ctx, "", "stream", "tick", "--", conformanceWorker(t))
	if r.code != 130 || !strings.HasPrefix(r.stdout, "0\n1\n") {
		t.Fatalf("exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestBench(t *testing.T) {
	r := procwire(t, context.Background(), "", "bench", "--concurrency", "4", "--duration", "1s", "--json", "--data", `{"a":1}`, "echo", "--", conformanceWorker(t))
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var s summary
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatal(err)
	}
	if s.Requests == 0 || s.Errors != 0 || s.PerSecond <= 0 || !(s.MinUs <= s.P50Us && s.P50Us <= s.P90Us && s.P90Us <= s.P99Us && s.P99Us <= s.MaxUs) {
		t.Fatalf("summary %+v", s)
	}
	r = procwire(t, context.Background(), "", "bench", "count", "--data", `{"n":3}`, "--duration", "200ms", "--", conformanceWorker(t))
	if r.code != 0 || !strings.Contains(r.stdout, "p99") || !strings.Contains(r.stdout, "method       count") {
		t.Fatalf("bench of a stream: exit %d, %s %s", r.code, r.stdout, r.stderr)
	}
	// --method is the deprecated form of METHOD.
	r = procwire(t, context.Background(), "", "bench", "--method", "fail", "--duration", "200ms", "--", conformanceWorker(t))
	if r.code != 1 || !strings.Contains(r.stderr, "fail: ") {
		t.Fatalf("bench of a failing method: exit %d, %s", r.code, r.stderr)
	}
}

func TestEvents(t *testing.T) {
	want := `{"data":{"i":0},"event":"progress"}` + "\n" + `{"data":{"i":1},"event":"progress"}` + "\n" + `{"data":{"i":2},"event":"progress"}` + "\n"
	// METHOD, and --call its deprecated form.
	for _, method := range [][]string{{"progress"}, {"--call", "progress"}} {
		r := procwire(t, context.Background(), "", append(append([]string{"events", "--data", `{"n":3}`, "--duration", "300ms"}, method...), "--", conformanceWorker(t))...)
		if r.code != 0 || r.stdout != want {
			t.Fatalf("%v: exit %d, stdout %q, stderr %s", method, r.code, r.stdout, r.stderr)
		}
	}
	// Interrupted: a normal end for events. (A string in --data makes the
	// command describe the worker first, one more start of it: the
	// interrupt comes once the event has had ample time.)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(2*time.Second, cancel)
	r := procwire(t, ctx, "", "events", "--data", `"x"`, "notify", "--", conformanceWorker(t))
	if r.code != 0 || r.stdout != `{"data":"x","event":"notified"}`+"\n" {
		t.Fatalf("interrupted: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		has  string
	}{
		{nil, 2, "commands:"},
		{[]string{"nope"}, 2, `unknown command "nope"`},
		{[]string{"call", "echo"}, 2, `missing "--"`},
		{[]string{"call", "--", "w"}, 2, "want one METHOD"},
		{[]string{"call", "echo", "--"}, 2, "missing the worker's command"},
		{[]string{"call", "--bogus", "echo", "--", "w"}, 2, "flag provided but not defined"},
		{[]string{"schema", "extra", "--", "w"}, 2, "unexpected arguments"},
		{[]string{"bench", "--", "w"}, 2, "want one METHOD"},
		{[]string{"bench", "--method", "a", "b", "--", "w"}, 2, `METHOD "b" and --method "a" disagree`},
		{[]string{"bench", "a", "b", "--", "w"}, 2, "want at most one METHOD"},
		{[]string{"events", "a", "b", "--", "w"}, 2, "want at most one METHOD"},
		{[]string{"events", "--call", "a", "b", "--", "w"}, 2, `METHOD "b" and --call "a" disagree`},
		{[]string{"events", "--data", "1", "--", "w"}, 2, "give METHOD too"},
		{[]string{"call", "--data", "1", "--raw-in", "f", "m", "--", "w"}, 2, "--data and --raw-in both give the request"},
	}
	for _, tt := range tests {
		r := procwire(t, context.Background(), "", tt.args...)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.has) {
			t.Errorf("procwire %q: exit %d, stderr %q; want %d and %q", tt.args, r.code, r.stderr, tt.code, tt.has)
		}
	}
	for _, c := range commands {
		for _, args := range [][]string{{"help", c.name}, {c.name, "--help"}} {
			r := procwire(t, context.Background(), "", args...)
			if r.code != 0 || !strings.Contains(r.stdout+r.stderr, "example:\n  procwire "+c.name) {
				t.Errorf("procwire %q: exit %d, no example in %q", args, r.code, r.stdout+r.stderr)
			}
		}
	}
}

// TestBinaryInterrupt runs the built command and sends it SIGINT during a
// stream: the stream is aborted, the worker shut down, the exit status 130.
func TestBinaryInterrupt(t *testing.T) {
	cmd := exec.Command(testenv.Worker(t, "./cmd/procwire"), "stream", "tick", "--", conformanceWorker(t))
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for i := 0; i < 3 && sc.Scan(); i++ {
	}
	cmd.Process.Signal(syscall.SIGINT)
	for sc.Scan() {
	}
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("exit %d (%v), stderr %s", code, err, stderr.String())
	}
}

func TestJSONValue(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{[]byte{1, 2, 3}, `"AQID"`},
		{time.Date(2023, 11, 14, 22, 13, 20, 123e6, time.UTC), `"2023-11-14T22:13:20.123Z"`},
		{time.Date(1969, 7, 20, 20, 17, 40, 0, time.FixedZone("x", 3600)), `"1969-07-20T19:17:40.000Z"`},
		{math.NaN(), `"NaN"`},
		{math.Inf(1), `"Infinity"`},
		{math.Inf(-1), `"-Infinity"`},
		{map[any]any{1: "a", "b": []byte("c")}, `{"1":"a","b":"Yw=="}`},
		{map[string]any{"n": []any{int8(1), uint64(1 << 63), nil}}, `{"n":[1,9223372036854775808,null]}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(jsonValue(tt.in))
		if err != nil || string(b) != tt.want {
			t.Errorf("jsonValue(%#v) = %s, %v; want %s", tt.in, b, err, tt.want)
		}
	}
}

func TestParseJSON(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{`1`, int64(1)},
		{`-9007199254740993`, int64(-9007199254740993)},
		{`1.5`, 1.5},
		{`1e3`, 1000.0},
		{`{"a":[1,"x"]}`, map[string]any{"a": []any{int64(1), "x"}}},
	}
	for _, tt := range tests {
		got, err := parseJSON(tt.in, nil)
		if err != nil || !equal(got, tt.want) {
			t.Errorf("parseJSON(%s) = %#v, %v; want %#v", tt.in, got, err, tt.want)
		}
	}
	if _, err := parseJSON(`1 2`, nil); err == nil {
		t.Error("two values accepted")
	}
}

func equal(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y) && strings.Contains(strings.ReplaceAll(string(x), " ", ""), "") && sameKinds(a, b)
}

// sameKinds compares the Go types of two decoded trees.
func sameKinds(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		return ok && sameChildren(maps.All(x), len(x), len(y), func(k string) any { return y[k] })
	case []any:
		y, ok := b.([]any)
		return ok && sameChildren(slices.All(x), len(x), len(y), func(i int) any { return y[i] })
	}
	return a == b
}

// sameChildren reports whether two containers hold as many children (nx
// and ny), each child of the first (xs) of the kinds of the second's child
// at the same key (y).
func sameChildren[K any](xs iter.Seq2[K, any], nx, ny int, y func(K) any) bool {
	if nx != ny {
		return false
	}
	for k, v := range xs {
		if !sameKinds(v, y(k)) {
			return false
		}
	}
	return true
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	tests := []struct {
		p    float64
		want time.Duration
	}{{50, 50}, {90, 90}, {99, 99}, {100, 100}, {0, 1}, {0.5, 1}}
	for _, tt := range tests {
		if got := percentile(d, tt.p); got != tt.want {
			t.Errorf("p%v = %d, want %d", tt.p, got, tt.want)
		}
	}
	if percentile([]time.Duration{7}, 99) != 7 || percentile(nil, 50) != 0 {
		t.Error("edge cases")
	}
}

// TestInitTimeout gives every command that spawns a worker that never
// sends $init a short --init-timeout: each fails in about that time.
func TestInitTimeout(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the worker is sleep(1)")
	}
	for _, name := range []string{"schema", "call", "stream", "bench", "events"} {
		t.Run(name, func(t *testing.T) {
			args := []string{name, "--init-timeout", "200ms"}
			if name == "call" || name == "stream" || name == "bench" {
				args = append(args, "m")
			}
			start := time.Now()
			r := procwire(t, context.Background(), "", append(args, "--", "sleep", "30")...)
			if r.code != 1 || !strings.Contains(r.stderr, "within 200ms") {
				t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	r := procwire(t, context.Background(), "", "schema", "--init-timeout", "0s", "--", "sleep", "30")
	if r.code != 2 || !strings.Contains(r.stderr, "--init-timeout must be positive") {
		t.Fatalf("--init-timeout 0: exit %d, stderr %s", r.code, r.stderr)
	}
	r = procwire(t, context.Background(), "", "call", "--help")
	if r.code != 0 || !strings.Contains(r.stdout+r.stderr, "-init-timeout duration") || !strings.Contains(r.stdout+r.stderr, "(default 30s)") {
		t.Fatalf("call --help: %s%s", r.stdout, r.stderr)
	}
}

// TestWorkerDies checks that a worker's death, mid-call or while the
// command waits for events, fails the command with the exit status or
// signal in its error.
func TestWorkerDies(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("a killed process has no signal on Windows")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	mark := filepath.Join(t.TempDir(), "pid")
	t.Setenv("PROCWIRE_CLI_WORKER", "1")
	t.Setenv("PROCWIRE_CLI_MARK", mark)
	t.Setenv("GORACE", "atexit_sleep_ms=0") // a race-enabled worker would linger 1 s at its exit

	// killAtMark kills the worker once it has written its pid.
	killAtMark := func(t *testing.T) (wait func()) {
		os.Remove(mark)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				if b, err := os.ReadFile(mark); err == nil {
					pid, _ := strconv.Atoi(string(b))
					if p, err := os.FindProcess(pid); err == nil {
						p.Kill()
					}
					return
				}
			}
			t.Error("the worker did not write its pid")
		}()
		return func() { <-done }
	}

	tests := []struct {
		name string
		args []string
		kill bool
		want string
	}{
		{"exit status mid-call", []string{"call", "--data", "3", "exit"}, false, "worker exited: exit status 3"},
		{"killed mid-call", []string{"call", "hang"}, true, "worker exited: signal: killed"},
		{"killed mid-stream of events", []string{"events", "--call", "mark"}, true, "worker exited: signal: killed"},
		{"exit status during a bench", []string{"bench", "--data", "4", "--duration", "10s", "exit"}, false, "worker exited: exit status 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wait := func() {}
			if tt.kill {
				wait = killAtMark(t)
			}
			start := time.Now()
			r := procwire(t, context.Background(), "", append(tt.args, "--", self)...)
			wait()
			if r.code != 1 || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, stderr %s; want 1 and %q", r.code, r.stderr, tt.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestInterruptAbortsAnyMethod checks that the commands declare every
// method cancellable, so that an interrupt sends the abort frame: the
// conformance worker's sleep handler sees it and emits aborted. (The
// command itself shuts the worker down at once after an interrupt, which
// may lose that event: the worker is started here as the commands start
// it.)
func TestInterruptAbortsAnyMethod(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	e := &env{ctx: context.Background(), stdin: strings.NewReader(""), stdout: io.Discard, stderr: new(testenv.Buffer)}
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	rf := newRequestFlags(fs, withRequest|withRawOut, "")
	s, code := begin(e, fs, []string{"sleep", "--", conformanceWorker(t)}, 1, rf, func(pos []string, spec parent.MethodSpec) map[string]parent.MethodSpec {
		return map[string]parent.MethodSpec{"sleep": spec, "tick": spec}
	})
	if s == nil {
		t.Fatalf("exit %d: %s", code, e.stderr)
	}
	defer stop(s.m)
	aborted := s.m.Events("aborted")
	sawAbort := func(method string) {
		t.Helper()
		select {
		case ev := <-aborted:
			var a map[string]string
			if ev.Decode(&a); a["method"] != method {
				t.Fatalf("aborted %v", a)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("the %s handler saw no abort", method)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel) // Ctrl-C
	if err := s.m.Call(ctx, "sleep", 5000, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("sleep: %v", err)
	}
	sawAbort("sleep")
	if st := s.m.Stats().Methods["sleep"]; st.Requests != 1 || st.Aborted != 1 {
		t.Errorf("sleep stats %+v", st)
	}
	// A stream: stopped by Ctrl-C, the tick handler sees the abort too.
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	chunks, bytes := new(atomic.Int64), new(atomic.Int64)
	if err := copyStream(s.m, &env{ctx: ctx, stdout: io.Discard}, "tick", nil, io.Discard, false, chunks, bytes); !errors.Is(err, context.Canceled) {
		t.Fatalf("tick: %v", err)
	}
	sawAbort("tick")
	if chunks.Load() == 0 {
		t.Error("no chunk before the interrupt")
	}

	// The same through the command: interrupted, it exits 130 at once.
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	r := procwire(t, ctx, "", "call", "--data", "5000", "sleep", "--", conformanceWorker(t))
	if r.code != 130 || !strings.Contains(r.stderr, "interrupted") {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestEveryMethodCancellable checks the declarations of every command that
// sends requests.
func TestEveryMethodCancellable(t *testing.T) {
	for _, raw := range []bool{false, true} {
		if s := spec(raw); !s.Cancellable || (s.RequestCodec == codec.Raw) != raw || s.ResponseCodec != codec.Raw {
			t.Errorf("spec(%v) = %+v", raw, s)
		}
	}
}
