package parent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/procwire/procwire-go/protocol"
)

// instance is one spawned process and, once connected, its connection.
//
// Ownership: proc, stdin and the channels are set by startProcess, schema
// and conn by spawnOnce before the instance is published in Module.cur;
// all are read-only after that. exitReason is written by the wait
// goroutine before it closes exited, and read only once exited is closed.
// killReason is guarded by killMu; writes to stdin by stdinMu.
type instance struct {
	proc    *exec.Cmd
	stdin   io.WriteCloser // written by control, under stdinMu
	stdinMu sync.Mutex
	schema  protocol.Schema
	conn    *Conn

	// From the stdout reader (control.go), one slot each, never closed.
	initMsg chan json.RawMessage // the first $init's params, to spawnOnce
	errMsg  chan string          // the first $error's message, to spawnOnce
	pong    chan struct{}        // a $pong, to the supervisor

	exited     chan struct{} // closed by the wait goroutine once the process is reaped
	exitReason error         // why the process ended; see exited

	killMu     sync.Mutex
	killReason string // why the parent killed the process (the first reason given)
}

// maxStderrLine is the longest stderr line forwarded whole; a longer one is
// cut there.
const maxStderrLine = 1 << 20

// startProcess spawns one worker process with its three pipes and starts
// the goroutines that serve them: stderr to the logger, stdout to the
// control plane, and one that reaps the process once both pipes are read
// to the end, records why it ended and closes in.exited.
func (m *Module) startProcess(token string) (*instance, error) {
	proc := exec.Command(m.cmd.Path, m.cmd.Args...)
	proc.Dir = m.cmd.Dir
	proc.Env = workerEnv(m.cmd.Env, m.name, token)
	stdin, err := proc.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := proc.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := proc.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := proc.Start(); err != nil {
		return nil, fmt.Errorf("procwire/parent: spawn %s: %w", m.cmd.Path, err)
	}
	in := &instance{
		proc: proc, stdin: stdin,
		initMsg: make(chan json.RawMessage, 1), errMsg: make(chan string, 1), pong: make(chan struct{}, 1),
		exited: make(chan struct{}),
	}
	var pipes sync.WaitGroup
	pipes.Add(2)
	m.wg.Add(1)
	go func() {
		defer pipes.Done()
		m.forwardStderr(stderr)
	}()
	go func() {
		defer pipes.Done()
		m.readStdout(stdout, in)
	}()
	go func() {
		defer m.wg.Done()
		pipes.Wait() // Wait closes the pipes: read them to the end first
		in.exitReason = in.reason(proc.Wait())
		m.setLastExit(in.exitReason)
		close(in.exited)
	}()
	return in, nil
}

// kill records why the parent kills the process (unless a reason is
// already recorded) and kills it.
func (in *instance) kill(reason string) {
	in.killMu.Lock()
	if in.killReason == "" {
		in.killReason = reason
	}
	in.killMu.Unlock()
	in.proc.Process.Kill()
}

// reason returns why the process ended, given what exec.Cmd.Wait returned:
// the parent's reason if it killed the process, else the exit status or
// signal.
func (in *instance) reason(waitErr error) error {
	in.killMu.Lock()
	killed := in.killReason
	in.killMu.Unlock()
	switch {
	case killed != "":
		return errors.New("killed: " + killed)
	case waitErr == nil:
		return errors.New("exit status 0")
	}
	return waitErr
}

// workerEnv builds the worker's environment.
func workerEnv(base []string, name, token string) []string {
	if base == nil {
		base = os.Environ()
	}
	env := make([]string, 0, len(base)+2)
	for _, kv := range base {
		if strings.HasPrefix(kv, "PROCWIRE_TOKEN=") || strings.HasPrefix(kv, "PROCWIRE_MODULE_NAME=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "PROCWIRE_MODULE_NAME="+name)
	if token != "" {
		env = append(env, "PROCWIRE_TOKEN="+token)
	}
	return env
}

// forwardStderr logs the worker's stderr line by line. A line longer than
// maxStderrLine is cut: its first maxStderrLine bytes are logged with a
// note, the rest is dropped, and forwarding carries on with the next line.
func (m *Module) forwardStderr(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxStderrLine)
	lines := lineCutter{max: maxStderrLine}
	sc.Split(lines.split)
	for sc.Scan() {
		if lines.cut {
			m.log.Info(sc.Text(), "stream", "stderr", "truncated", fmt.Sprintf("line longer than %d bytes; the rest was dropped", maxStderrLine))
			continue
		}
		m.log.Info(sc.Text(), "stream", "stderr")
	}
	io.Copy(io.Discard, r)
}

// lineCutter is a bufio.SplitFunc with state: bufio.ScanLines, except that
// a line as long as the Scanner's buffer (max, its maximum token size) is
// cut instead of stopping the Scanner with bufio.ErrTooLong: the buffered
// head is returned as a token, with cut set, and the rest of the line is
// skipped.
type lineCutter struct {
	max      int
	cut      bool // the token last returned is the head of a longer line
	skipping bool // inside the rest of a cut line
}

func (l *lineCutter) split(data []byte, atEOF bool) (int, []byte, error) {
	l.cut = false
	if l.skipping {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return len(data), nil, nil
		}
		// The Scanner reads on after a token-less advance, before it
		// splits what it holds again: scan the rest now.
		l.skipping = false
		advance, token, err := l.split(data[i+1:], atEOF)
		return i + 1 + advance, token, err
	}
	advance, token, err := bufio.ScanLines(data, atEOF)
	if advance == 0 && token == nil && err == nil && len(data) >= l.max {
		l.cut, l.skipping = true, true
		return len(data), data, nil
	}
	return advance, token, err
}
