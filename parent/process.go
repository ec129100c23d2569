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
	"sync"
	"syscall"
	"time"

	"github.com/procwire/procwire-go/protocol"
)

// instance is one spawned process and, once connected, its connection.
//
// Ownership: proc, stdin and the channels are set by startProcess, schema
// and conn by spawnOnce before the instance is published in Module.cur;
// all are read-only after that. exitReason is written by the wait
// goroutine before it closes exited, and read only once exited is closed;
// waitErr likewise with dead.
// killReason and reaped are guarded by killMu; writes to stdin by stdinMu.
type instance struct {
	proc    *exec.Cmd
	stdin   *os.File // the write end of the worker's stdin; written by control, under stdinMu
	stdinMu sync.Mutex
	schema  protocol.Schema
	conn    *Conn

	// From the stdout reader (control.go), one slot each, never closed.
	initMsg chan json.RawMessage // the first $init's params, to spawnOnce
	errMsg  chan string          // the first $error's message, to spawnOnce
	pong    chan struct{}        // a $pong, to the supervisor

	dead       chan struct{} // closed by the wait goroutine once the process is reaped
	waitErr    error         // what exec.Cmd.Wait returned; see dead
	exited     chan struct{} // closed by the wait goroutine once the process is reaped and its output read
	exitReason error         // why the process ended; see exited

	killMu     sync.Mutex
	killReason string        // why the parent killed the process (the first reason given)
	killKind   LifecycleKind // the lifecycle event that reason calls for, if any
	reaped     bool          // the process has been waited for: its pid may be reused
}

// maxStderrLine is the longest stderr line forwarded whole; a longer one is
// cut there.
const maxStderrLine = 1 << 20

// pipeGrace is how long the output readers may go on after the process
// exited: what the worker wrote just before its exit is still read, and a
// process that outlives the worker holding its stdout or stderr (a helper
// that left its process group; on Windows any grandchild) cannot keep the
// instance from ending. Then the readers are stopped.
const pipeGrace = 250 * time.Millisecond

// startProcess spawns one worker process with its three pipes and starts
// the goroutines that serve them: stderr to the logger, stdout to the
// control plane, and one that waits for the process.
//
// The pipes are made here (os.Pipe), not by exec.Cmd: exec would copy
// them with goroutines that Wait waits for, so a grandchild holding the
// worker's stdout would hide the worker's exit for as long as it lives.
// Here Wait returns when the process exits. The wait goroutine then kills
// what is left of the worker's process group (Unix), gives the readers
// pipeGrace to drain the pipes, stops them (closing the read ends),
// records why the process ended and closes in.exited.
func (m *Module) startProcess(token string) (*instance, error) {
	proc := exec.Command(m.cmd.Path, m.cmd.Args...)
	proc.Dir = m.cmd.Dir
	proc.Env = workerEnv(m.cmd.Env, m.cmd.ReplaceEnv, m.name, token)
	setProcAttr(proc, m.cmd)
	var files []*os.File // every end, closed on failure
	pipe := func() (r, w *os.File, err error) {
		if r, w, err = os.Pipe(); err == nil {
			files = append(files, r, w)
		}
		return r, w, err
	}
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	stdinR, stdinW, err := pipe()
	if err != nil {
		return nil, fmt.Errorf("procwire/parent: spawn %s: %w", m.cmd.Path, err)
	}
	stdoutR, stdoutW, err := pipe()
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("procwire/parent: spawn %s: %w", m.cmd.Path, err)
	}
	stderrR, stderrW, err := pipe()
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("procwire/parent: spawn %s: %w", m.cmd.Path, err)
	}
	proc.Stdin, proc.Stdout, proc.Stderr = stdinR, stdoutW, stderrW
	if err := proc.Start(); err != nil {
		closeAll()
		return nil, fmt.Errorf("procwire/parent: spawn %s: %w", m.cmd.Path, err)
	}
	// The child has its copies; the parent keeps only its own ends, so
	// that the pipes end when the child's side is gone.
	stdinR.Close()
	stdoutW.Close()
	stderrW.Close()
	in := &instance{
		proc: proc, stdin: stdinW,
		initMsg: make(chan json.RawMessage, 1), errMsg: make(chan string, 1), pong: make(chan struct{}, 1),
		dead: make(chan struct{}), exited: make(chan struct{}),
	}
	readers := make(chan struct{}, 2) // one token per reader that ended
	m.wg.Add(1)
	go func() {
		defer func() { readers <- struct{}{} }()
		m.forwardStderr(stderrR)
	}()
	go func() {
		defer func() { readers <- struct{}{} }()
		m.readStdout(stdoutR, in)
	}()
	go func() {
		defer m.wg.Done()
		in.waitErr = proc.Wait() // returns at the exit: exec copies no pipe
		in.killMu.Lock()
		in.reaped = true
		// The worker's helpers must not outlive it. Its pid names the
		// group; it cannot have been reused while a member lives.
		killGroup(proc.Process.Pid)
		in.killMu.Unlock()
		close(in.dead)
		stdinW.Close()
		grace := time.NewTimer(pipeGrace)
		for ended := 0; ended < 2; {
			select {
			case <-readers:
				ended++
			case <-grace.C:
				// A process the worker started (one that left its
				// group; on Windows any) still holds its stdout or
				// stderr: stop reading them. On Unix the readers return
				// at once; on Windows Close cancels the pending read.
				m.log.Warn("procwire/parent: the worker's output pipes are still open after its exit (held by a process it started); no longer reading them", "pid", proc.Process.Pid)
				stdoutR.Close()
				stderrR.Close()
				for ; ended < 2; ended++ {
					<-readers
				}
			}
		}
		grace.Stop()
		stdoutR.Close()
		stderrR.Close()
		in.exitReason = in.reason(in.waitErr)
		m.setLastExit(in.exitReason)
		close(in.exited)
	}()
	return in, nil
}

// kill records why the parent kills the process (unless a reason is
// already recorded): the lifecycle event it calls for (HeartbeatTimeout,
// DataChannelLoss, or 0 for none) and the reason's text; then it kills it, with its process group on Unix (the
// helpers it started). Once the process has been waited for, there is
// nothing left to kill (the wait goroutine has killed the group) and no
// reason is recorded: the process ended by itself.
func (in *instance) kill(kind LifecycleKind, reason string) {
	in.killMu.Lock()
	defer in.killMu.Unlock()
	if in.reaped {
		return // it ended by itself; its group is already killed
	}
	if in.killReason == "" {
		in.killKind, in.killReason = kind, reason
	}
	killGroup(in.proc.Process.Pid)
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
func workerEnv(base []string, replace bool, name, token string) []string {
	// As core's {...process.env, ...exe.env}: the worker's entries are
	// merged into the parent's environment, and win.
	parent := os.Environ()
	if replace {
		parent = nil
	}
	env := make([]string, 0, len(parent)+len(base)+2)
	at := make(map[string]int, len(parent)+len(base)) // key → index in env
	for _, list := range [][]string{parent, base} {
		for _, kv := range list {
			k := envKey(kv)
			if k == "PROCWIRE_TOKEN" || k == "PROCWIRE_MODULE_NAME" {
				continue
			}
			if i, ok := at[k]; ok {
				env[i] = kv
				continue
			}
			at[k] = len(env)
			env = append(env, kv)
		}
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

// exitStatus returns the exit code of an instance's process (-1 if a
// signal ended it) and the signal (nil if none); in.exited is closed.
func exitStatus(in *instance) (int, os.Signal) {
	ps := in.proc.ProcessState
	if ps == nil {
		return -1, nil
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ps.ExitCode(), ws.Signal()
	}
	return ps.ExitCode(), nil
}
