//go:build unix

package parent_test

// Workers that misbehave as real processes do: helpers that outlive them
// holding their pipes, stray and malformed frames, deaths in the middle of
// a call, a closed stdin. Each runs a real process (a fakeWorker mode of
// this test binary, or a shell script).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/parent"
	"github.com/procwire/procwire-go/protocol"
)

// waitGone waits up to 2 s for the process pid to be gone: no such
// process (ESRCH), or a zombie that its new parent has not reaped yet. It
// reports whether it is, and logs what it found.
func waitGone(t *testing.T, what string, pid int) bool {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := syscall.Kill(pid, 0)
		switch {
		case errors.Is(err, syscall.ESRCH):
			t.Logf("%s (pid %d): gone (kill(pid, 0) = ESRCH)", what, pid)
			return true
		case !alive(pid):
			t.Logf("%s (pid %d): dead, a zombie not yet reaped by its new parent", what, pid)
			return true
		case time.Now().After(deadline):
			t.Logf("%s (pid %d): still running (kill(pid, 0) = %v)", what, pid, err)
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// killLater kills pid when the test ends, should the parent have left it
// running (a failing test must not leave sleep 300 behind).
func killLater(t *testing.T, pid int) {
	t.Cleanup(func() {
		if syscall.Kill(pid, 0) == nil && alive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

// readPid waits up to 5 s for a file holding a pid.
func readPid(t *testing.T, path string) int {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(path)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid in %s", path)
		}
	}
}

// logRSS logs the test process's peak and current resident memory.
func logRSS(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	var fields []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") || strings.HasPrefix(line, "VmRSS:") {
			fields = append(fields, strings.Join(strings.Fields(line), " "))
		}
	}
	t.Logf("memory: %s", strings.Join(fields, ", "))
}

// TestGrandchildHoldsPipesBeforeInit: a shell worker that backgrounds a
// helper (which inherits its stdout and stderr) and exits 7 before $init.
// The start fails at once with the exit status, not when the helper
// exits, and the helper is killed with the worker's process group.
func TestGrandchildHoldsPipesBeforeInit(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "helper.pid")
	script := filepath.Join(dir, "worker.sh")
	if err := os.WriteFile(script, []byte(fmt.Sprintf("#!/bin/sh\nsleep 300 &\necho $! > '%s'\nexit 7\n", pidFile)), 0o755); err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	start := time.Now()
	_, err := parent.Start(context.Background(), "sh-helper", parent.Command{Path: script}, parent.Options{InitTimeout: time.Minute, Retries: -1, Logger: logs.logger()})
	d := time.Since(start)
	if pid, _ := strconv.Atoi(strings.TrimSpace(readFile(pidFile))); pid > 0 {
		killLater(t, pid)
		if !waitGone(t, "the backgrounded helper", pid) {
			t.Errorf("the helper (pid %d) outlived its worker", pid)
		}
	} else {
		t.Logf("the script wrote no helper pid")
	}
	if err == nil || !strings.Contains(err.Error(), "exited before $init: exit status 7") {
		t.Fatalf("Start = %v; want the exit before $init with its status", err)
	}
	t.Logf("Start failed after %v: %v", d, err)
	if d > time.Second {
		t.Errorf("Start took %v to see the exit (the helper holds the pipes)", d)
	}
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// TestGrandchildHoldsPipesAtShutdown: a worker that started a helper
// holding its stdout and stderr, then serves. Shutdown returns at once
// (the worker's exit is seen, not the pipes' end), without killing the
// worker for not exiting, and the helper does not outlive the module.
func TestGrandchildHoldsPipesAtShutdown(t *testing.T) {
	var logs logBuffer
	mark := filepath.Join(t.TempDir(), "helper.pid")
	m := startFake(t, "helper", parent.Options{Logger: logs.logger()}, "PROCWIRE_FAKE_MARK="+mark)
	helper := readPid(t, mark)
	killLater(t, helper)
	worker := m.PID()
	start := time.Now()
	if err := m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	t.Logf("Shutdown took %v", d)
	if d > time.Second {
		t.Errorf("Shutdown took %v", d)
	}
	if out := logs.String(); strings.Contains(out, "did not exit in time") {
		t.Errorf("the worker was killed for not exiting:\n%s", out)
	}
	if !waitGone(t, "the worker", worker) {
		t.Errorf("the worker (pid %d) outlived Shutdown", worker)
	}
	if !waitGone(t, "the helper", helper) {
		t.Errorf("the helper (pid %d) outlived Shutdown", helper)
	}
}

// TestStrayStreamChunksToAResultCall: a worker answers a result request
// with 64 MiB of stream chunks, a stream end and a stream error before the
// real result. They are dropped (as @procwire/core drops them), the call
// gets the result, and memory stays bounded (the chunks' buffers are
// recycled).
func TestStrayStreamChunksToAResultCall(t *testing.T) {
	logRSS(t)
	m := startFake(t, "stray-chunk", parent.Options{Logger: slog.New(slog.DiscardHandler)}, "PROCWIRE_FAKE_N=1024")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var s string
	if err := m.Call(ctx, "echo", "the real result", &s); err != nil || s != "the real result" {
		t.Fatalf("echo = %q, %v; want the result that followed the stray chunks", s, err)
	}
	logRSS(t)
}

// TestMalformedPayloads: an error payload that is not MessagePack, and
// payloads with bytes after their value, are decode errors that show what
// arrived, not values made of their first bytes.
func TestMalformedPayloads(t *testing.T) {
	m := startFake(t, "bad-payloads", parent.Options{Logger: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	var re *protocol.Error
	err := m.Call(ctx, "echo", 1, nil)
	const boom = `procwire/parent: decode error payload: not one MessagePack value: 3 bytes after the first (4 bytes: "boom")`
	if err == nil || errors.As(err, &re) || err.Error() != boom {
		t.Errorf("error flag with \"boom\" = %v (%T); want %s", err, err, boom)
	}
	err = m.Call(ctx, "echo", 2, nil)
	if err == nil || errors.As(err, &re) || !strings.Contains(err.Error(), `decode error payload: not one MessagePack value: 4 bytes after the first (9 bytes: "\xa4finejunk")`) {
		t.Errorf("error value followed by junk = %v", err)
	}
	var s string
	err = m.Call(ctx, "echo", 3, &s)
	if err == nil || !strings.Contains(err.Error(), `decode response: not one MessagePack value: 4 bytes after the first (7 bytes: "\xa2okjunk")`) {
		t.Errorf("result followed by junk = %q, %v", s, err)
	}
	if err := m.Call(ctx, "echo", 4, nil); !errors.As(err, &re) || re.Message != "real" {
		t.Errorf("a well-formed error = %v", err)
	}
}

// TestWorkerDiesMidCall: a worker that exits with status 3, or dies of
// SIGSEGV, while a call is in flight. The caller's error says so (and
// wraps ErrClosed and the *exec.ExitError), and the log gives the exit as
// the reason, not the loss of the data channel.
func TestWorkerDiesMidCall(t *testing.T) {
	for _, tt := range []struct{ mode, want string }{
		{"exit-3", "procwire/parent: connection closed: worker exited: exit status 3"},
		{"segv", "procwire/parent: connection closed: worker exited: signal: segmentation fault"},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			var logs logBuffer
			closed := make(chan struct{})
			var once sync.Once
			m := startFake(t, tt.mode, parent.Options{
				Logger: logs.logger(),
				OnStateChange: func(s parent.State) {
					if s == parent.Closed {
						once.Do(func() { close(closed) })
					}
				},
			})
			err := m.Call(context.Background(), "echo", 1, nil)
			var exit *exec.ExitError
			if !errors.Is(err, parent.ErrClosed) || !errors.As(err, &exit) || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("call in flight = %v; want %q, wrapping ErrClosed and the *exec.ExitError", err, tt.want)
			}
			select {
			case <-closed:
			case <-time.After(5 * time.Second):
				t.Fatal("the module did not close")
			}
			out := logs.String()
			if strings.Contains(out, "lost its data channel") {
				t.Errorf("the log blames the data channel:\n%s", out)
			}
			reason := strings.TrimPrefix(tt.want, "procwire/parent: connection closed: worker exited: ")
			if !strings.Contains(out, `msg="procwire/parent: worker exited unexpectedly" module=`+tt.mode+` reason="`+reason) {
				t.Errorf("the exit is not logged with its reason:\n%s", out)
			}
		})
	}
}

// TestHeartbeatWorkerWithClosedStdin: a worker that closed its stdin
// cannot be pinged, nor answer: the heartbeat still kills it.
func TestHeartbeatWorkerWithClosedStdin(t *testing.T) {
	closed := make(chan struct{})
	var once sync.Once
	m := startFake(t, "stdin-closed", parent.Options{
		Heartbeat: &parent.Heartbeat{Interval: 20 * time.Millisecond, Timeout: 200 * time.Millisecond},
		Logger:    slog.New(slog.DiscardHandler),
		OnStateChange: func(s parent.State) {
			if s == parent.Closed {
				once.Do(func() { close(closed) })
			}
		},
	})
	pid := m.PID()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("a worker that closed its stdin was not killed by the heartbeat")
	}
	if !waitGone(t, "the worker", pid) {
		t.Error("the worker is still alive")
	}
	if err := m.Call(context.Background(), "echo", 1, nil); err == nil || !strings.Contains(err.Error(), "last worker exit: killed: missed heartbeat") {
		t.Errorf("call after the kill = %v", err)
	}
}
