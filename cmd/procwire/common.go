package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/contract"
	"github.com/procwire/procwire-go/parent"
	"github.com/procwire/procwire-go/protocol"
)

// optionalMethod is parseArgs's want for a command whose METHOD may be
// left out (it then has a deprecated flag for it, or needs none).
const optionalMethod = -1

// parseArgs parses the flags (which may come before or after the
// positional arguments) and splits off the worker's command line after
// "--". want is the number of positional arguments expected, or
// optionalMethod for at most one. If it returns ok false, the command
// exits with code (0 after --help).
func parseArgs(e *env, fs *flag.FlagSet, args []string, want int) (pos, worker []string, code int, ok bool) {
	sep := -1
	for i, a := range args {
		if a == "--" {
			sep = i
			break
		}
	}
	before := args
	if sep >= 0 {
		before, worker = args[:sep], args[sep+1:]
	}
	for {
		if err := fs.Parse(before); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, nil, exitOK, false
			}
			return nil, nil, exitUsage, false
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		before = fs.Args()[1:]
	}
	switch {
	case sep < 0:
		fmt.Fprintf(e.stderr, "procwire: missing \"--\" before the worker's command line\n\n")
	case len(worker) == 0:
		fmt.Fprintf(e.stderr, "procwire: missing the worker's command after \"--\"\n\n")
	case want == optionalMethod && len(pos) > 1:
		fmt.Fprintf(e.stderr, "procwire: want at most one METHOD before \"--\", got %d arguments\n\n", len(pos))
	case want == optionalMethod:
		return pos, worker, exitOK, true
	case len(pos) != want && want == 1:
		fmt.Fprintf(e.stderr, "procwire: want one METHOD before \"--\", got %d arguments\n\n", len(pos))
	case len(pos) != want:
		fmt.Fprintf(e.stderr, "procwire: unexpected arguments before \"--\": %q\n\n", pos)
	default:
		return pos, worker, exitOK, true
	}
	fs.Usage()
	return nil, nil, exitUsage, false
}

// start spawns the worker and connects to it.
func start(e *env, worker []string, rf *requestFlags, methods map[string]parent.MethodSpec) (*parent.Module, error) {
	level := slog.LevelInfo
	if *rf.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(&logHandler{w: e.stderr, level: level, mu: new(sync.Mutex)})
	return parent.Start(e.ctx, filepath.Base(worker[0]), parent.Command{Path: worker[0], Args: worker[1:]}, parent.Options{
		Methods:        methods,
		InitTimeout:    *rf.initTimeout,
		RequestTimeout: -1, // each command sets its own
		Retries:        -1, // a worker that cannot start fails the command at once
		Logger:         log,
	})
}

// watchDeath returns a channel that is closed if the module closes: its
// worker died (the CLI does not restart workers), or stop shut it down.
// unwatch ends the watch.
func watchDeath(m *parent.Module) (dead <-chan struct{}, unwatch func()) {
	ch := make(chan struct{})
	var once sync.Once
	closed := func() { once.Do(func() { close(ch) }) }
	unwatch = m.OnLifecycle(func(l parent.Lifecycle) {
		if l.Kind == parent.StateChange && l.State == parent.Closed {
			closed()
		}
	})
	if m.State() == parent.Closed { // before the subscription
		closed()
	}
	return ch, unwatch
}

// workerDied is the error of a command whose worker died: it says why
// (the exit status, the signal, or why the parent killed it).
func workerDied(m *parent.Module) error {
	if why := m.Stats().LastExit; why != "" {
		return errors.New("worker exited: " + why)
	}
	return errors.New("worker exited")
}

// stop shuts the worker down (it is not interrupted by the command's own
// context, which may be cancelled already).
func stop(m *parent.Module) {
	m.Shutdown(context.Background())
}

// spec is the method declaration of a command that sends requests: the
// request codec raw with --raw-in (MessagePack otherwise), the response
// type left to the schema. The response codec is raw: the command prints
// a MessagePack response from its bytes, its maps in the order they
// arrived (printPayload), or writes the bytes as they are (--raw-out).
// Every method is declared cancellable, so that an interrupt (Ctrl-C) or a
// timeout sends the abort frame whatever the method, as a Node caller's
// AbortSignal does for a method declared `cancellable: true`: a worker
// ignores an abort to a method that cannot be cancelled.
func spec(rawIn bool) parent.MethodSpec {
	s := parent.MethodSpec{Cancellable: true, ResponseCodec: codec.Raw}
	if rawIn {
		s.RequestCodec = codec.Raw
	}
	return s
}

// requestFlags are the flags of the commands that send a request. A nil
// field is a flag the command does not have.
type requestFlags struct {
	data, rawIn, rawOut *string
	verbose             *bool
	initTimeout         *time.Duration
	// check, if set, vets the parsed flags and the positional arguments:
	// an error is a usage error.
	check func(pos []string) error
}

// Flag sets for newRequestFlags.
const (
	withRequest = 1 << iota // --data and --raw-in
	withRawOut              // --raw-out
)

// newRequestFlags defines -v, --init-timeout and the request flags in
// which on fs.
func newRequestFlags(fs *flag.FlagSet, which int, rawOutUsage string) *requestFlags {
	rf := &requestFlags{
		verbose:     fs.Bool("v", false, "show the parent's debug logs"),
		initTimeout: fs.Duration("init-timeout", parent.DefaultInitTimeout, "fail if the worker has not sent $init (is not ready) within this long"),
	}
	if which&withRequest != 0 {
		rf.data = fs.String("data", "", "the request as JSON (MessagePack on the wire; null if absent; {\"$bytes\": \"<base64>\"} or {\"$bytes\": \"@FILE\"} for bytes), or @FILE (- for stdin): the file's bytes as one MessagePack byte string")
		rf.rawIn = fs.String("raw-in", "", "send the bytes of `FILE` (- for stdin) with the raw codec")
	}
	if which&withRawOut != 0 {
		rf.rawOut = fs.String("raw-out", "", rawOutUsage)
	}
	return rf
}

func (rf *requestFlags) raw(f *string) bool { return f != nil && *f != "" }

// session is a started worker and what a command sends it.
type session struct {
	m   *parent.Module
	pos []string // the positional arguments before --
	in  any      // the request
}

// begin parses the command line (want positional arguments, then
// -- WORKER ARGS...), reads the request, and starts the worker with the
// methods that declare(pos) returns (nil: none). Without a session it
// returns the exit status; otherwise the caller stops s.m.
func begin(e *env, fs *flag.FlagSet, args []string, want int, rf *requestFlags, declare func(pos []string, spec parent.MethodSpec) map[string]parent.MethodSpec) (*session, int) {
	pos, worker, code, ok := parseArgs(e, fs, args, want)
	if !ok {
		return nil, code
	}
	if *rf.initTimeout <= 0 {
		fmt.Fprintf(e.stderr, "procwire: --init-timeout must be positive\n")
		return nil, exitUsage
	}
	if rf.check != nil {
		if err := rf.check(pos); err != nil {
			fmt.Fprintf(e.stderr, "procwire: %v\n", err)
			return nil, exitUsage
		}
	}
	if rf.raw(rf.data) && rf.raw(rf.rawIn) {
		fmt.Fprintf(e.stderr, "procwire: --data and --raw-in both give the request: use one\n")
		return nil, exitUsage
	}
	s := &session{pos: pos}
	if rf.data != nil {
		var err error
		if s.in, err = request(e, *rf.data, *rf.rawIn); err != nil {
			return nil, fail(e, err)
		}
		if len(pos) > 0 && *rf.data != "" && !strings.HasPrefix(*rf.data, "@") {
			// JSON: its strings may be bytes by the request's type.
			if s.in, err = typedRequest(e.ctx, worker, pos[0], s.in, *rf.initTimeout); err != nil {
				return nil, fail(e, fmt.Errorf("--data: %w", err))
			}
		}
	}
	var methods map[string]parent.MethodSpec
	if declare != nil {
		methods = declare(pos, spec(rf.raw(rf.rawIn)))
	}
	m, err := start(e, worker, rf, methods)
	if err != nil {
		return nil, fail(e, err)
	}
	s.m = m
	return s, exitOK
}

// withSession begins a session (see begin), runs body with it and stops the
// worker; it returns body's exit status, or begin's.
func withSession(e *env, fs *flag.FlagSet, args []string, want int, rf *requestFlags, declare func(pos []string, spec parent.MethodSpec) map[string]parent.MethodSpec, body func(*session) int) int {
	s, code := begin(e, fs, args, want, rf, declare)
	if s == nil {
		return code
	}
	defer stop(s.m)
	return body(s)
}

// requestCommand is the setup of a command that sends one request to its
// METHOD argument (call, stream): the request flags with --raw-out
// (described by rawOutUsage), and a run that starts the worker with METHOD
// declared and calls body with the session, METHOD and the --raw-out path.
func requestCommand(fs *flag.FlagSet, rawOutUsage string, body func(e *env, s *session, method, rawOut string) int) func(*env, *flag.FlagSet, []string) int {
	rf := newRequestFlags(fs, withRequest|withRawOut, rawOutUsage)
	return func(e *env, fs *flag.FlagSet, args []string) int {
		return withSession(e, fs, args, 1, rf, first, func(s *session) int {
			return body(e, s, s.pos[0], *rf.rawOut)
		})
	}
}

// only declares the one method *name names when the command runs (none if
// it is empty).
func only(name *string) func([]string, parent.MethodSpec) map[string]parent.MethodSpec {
	return func(_ []string, spec parent.MethodSpec) map[string]parent.MethodSpec {
		if *name == "" {
			return nil
		}
		return map[string]parent.MethodSpec{*name: spec}
	}
}

// methodArg returns the METHOD of a command that takes it as its
// positional argument or, deprecated, as the flag named flagName (whose
// value is flagValue); "" if neither gives one.
func methodArg(pos []string, flagName, flagValue string) (string, error) {
	switch {
	case len(pos) == 0:
		return flagValue, nil
	case flagValue != "" && flagValue != pos[0]:
		return "", fmt.Errorf("METHOD %q and --%s %q disagree (--%s is deprecated: give METHOD only)", pos[0], flagName, flagValue, flagName)
	}
	return pos[0], nil
}

// first declares the method named by the first positional argument.
func first(pos []string, spec parent.MethodSpec) map[string]parent.MethodSpec {
	return map[string]parent.MethodSpec{pos[0]: spec}
}

// request is the request value of --data (JSON, or @FILE: the file's
// bytes, "-" for stdin) or --raw-in (a file, "-" for stdin).
func request(e *env, data, rawIn string) (any, error) {
	read := e.files()
	if rawIn != "" {
		return read(rawIn)
	}
	if data == "" {
		return nil, nil
	}
	if name, ok := strings.CutPrefix(data, "@"); ok {
		// JSON never begins with "@": the whole request is the file's
		// bytes, as one byte string.
		b, err := read(name)
		if err != nil {
			return nil, fmt.Errorf("--data: %w", err)
		}
		return b, nil
	}
	v, err := parseJSON(data, read)
	if err != nil {
		return nil, fmt.Errorf("--data: %w", err)
	}
	return v, nil
}

// files returns the function that reads the files of a command line's
// "@FILE" forms and --raw-in: "-" is stdin, which can be read once.
func (e *env) files() readFunc {
	stdinRead := false
	return func(name string) ([]byte, error) {
		switch name {
		case "":
			return nil, errors.New(`"@" wants a file name ("@-" for stdin)`)
		case "-":
			if stdinRead {
				return nil, errors.New("stdin can be read once: \"-\" is used twice")
			}
			stdinRead = true
			return io.ReadAll(e.stdin)
		}
		return os.ReadFile(name)
	}
}

// output opens the --raw-out file ("-" for stdout).
func output(e *env, path string) (io.Writer, func() error, error) {
	if path == "-" {
		return e.stdout, func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}

// fail reports err and returns the exit status for it: 130 if the command
// was interrupted, 1 otherwise. A worker error is printed with its code
// and data.
func fail(e *env, err error) int {
	if e.ctx.Err() != nil && errors.Is(err, context.Canceled) {
		fmt.Fprintln(e.stderr, "procwire: interrupted")
		return exitInterrupted
	}
	var re *protocol.Error
	if errors.As(err, &re) {
		fmt.Fprintf(e.stderr, "error: %s\n", re.Message)
		if re.Code != "" {
			fmt.Fprintf(e.stderr, "code: %s\n", re.Code)
		}
		if re.Code != "" || len(re.Details) > 0 {
			if b, err := json.Marshal(jsonValue(re.Payload())); err == nil {
				fmt.Fprintf(e.stderr, "data: %s\n", b)
			}
		}
		return exitFailure
	}
	fmt.Fprintf(e.stderr, "procwire: %v\n", err)
	return exitFailure
}

// logHandler writes the worker's stderr lines as they are, and the
// parent's own logs as "procwire: LEVEL message key=value...".
type logHandler struct {
	w     io.Writer
	level slog.Level
	mu    *sync.Mutex
	attrs []slog.Attr
}

func (h *logHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	passthrough := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "stream" && (a.Value.String() == "stderr" || a.Value.String() == "stdout") {
			passthrough = true
		}
		return true
	})
	if passthrough {
		b.WriteString(r.Message)
	} else {
		fmt.Fprintf(&b, "procwire: %s %s", r.Level, r.Message)
		for _, a := range h.attrs {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		}
		r.Attrs(func(a slog.Attr) bool {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
			return true
		})
	}
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	return &c
}

func (h *logHandler) WithGroup(string) slog.Handler { return h }

// maxContract bounds the contract read from a worker.
const maxContract = 64 << 20

// describeWorker runs the worker with PROCWIRE_DESCRIBE=1 and reads the
// contract it prints. It returns nil, nil when the worker prints
// something else first (its $init line: a worker that does not know the
// variable) or nothing; such a worker gets the end of its stdin, as a
// parent that goes away, and is killed if it has not exited 2 seconds
// later.
func describeWorker(parentCtx context.Context, worker []string, timeout time.Duration) (*contract.Contract, error) {
	ctx, cancel := context.WithTimeout(parentCtx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, worker[0], worker[1:]...)
	cmd.Env = append(os.Environ(), contract.DescribeEnv+"=1")
	cmd.WaitDelay = time.Second // a grandchild holding stdout does not hold us
	var stderr tailBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", worker[0], err)
	}
	// The first JSON value it prints: the contract, or its $init line.
	var raw json.RawMessage
	derr := json.NewDecoder(io.LimitReader(stdout, maxContract)).Decode(&raw)
	var probe struct {
		Format *int `json:"format"`
	}
	isContract := derr == nil && json.Unmarshal(raw, &probe) == nil && probe.Format != nil
	if !isContract {
		t := time.AfterFunc(2*time.Second, cancel)
		defer t.Stop()
	}
	werr := cmd.Wait()
	switch {
	case parentCtx.Err() != nil:
		return nil, parentCtx.Err()
	case errors.Is(ctx.Err(), context.DeadlineExceeded) && !isContract:
		return nil, fmt.Errorf("%s did not send $init within %v (nor print its contract)%s", worker[0], timeout, stderr.suffix())
	case !isContract:
		return nil, nil
	case werr != nil:
		return nil, fmt.Errorf("%s describing itself: %v%s", worker[0], werr, stderr.suffix())
	}
	c, err := contract.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", worker[0], err)
	}
	return c, nil
}

// tailBuffer keeps the last 4 KiB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if over := len(t.b) - 4096; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

// suffix returns ": " and the buffer's text, or "" if empty.
func (t *tailBuffer) suffix() string {
	s := strings.TrimSpace(string(t.b))
	if s == "" {
		return ""
	}
	return "; its stderr: " + s
}
