package interop

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/wire"
)

// rawParent spawns the conformance worker and impersonates its parent
// byte by byte, for what the real parent never sends.
type rawParent struct {
	*testenv.Process
	t *testing.T
}

func spawnRaw(t *testing.T, env ...string) *rawParent {
	t.Helper()
	cmd := exec.Command(testenv.Worker(t, conformance))
	cmd.Env = testenv.WorkerEnv(env...)
	return &rawParent{Process: testenv.Spawn(t, cmd), t: t}
}

func (p *rawParent) dial() net.Conn {
	p.t.Helper()
	nc, err := testenv.Dial(p.Init.Pipe)
	if err != nil {
		p.t.Fatalf("dial: %v", err)
	}
	p.t.Cleanup(func() { nc.Close() })
	return nc
}

func request(method uint16, id uint32, v any) []byte {
	b, _ := codec.MsgPack.Marshal(v)
	return append(wire.Header{Method: method, RequestID: id, Length: uint32(len(b))}.Append(nil), b...)
}

func readFrame(t *testing.T, nc net.Conn) (wire.Header, []byte) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	h, pl, err := wire.NewReader(nc, 0, 0).ReadFrame()
	if err != nil {
		t.Fatalf("read frame: %v", err)
	}
	return h, pl
}

func expectClosed(t *testing.T, nc net.Conn) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, err := io.ReadAll(nc)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("connection not closed by the worker")
	}
}

// TestRawParentViolations sends the worker process what no real parent
// sends; each violation closes the connection with a log line saying why,
// and the process exits cleanly (status 1, socket removed).
func TestRawParentViolations(t *testing.T) {
	tests := []struct {
		name   string
		frame  []byte
		reason string
	}{
		{"oversized length", wire.Header{Method: 1, RequestID: 1, Length: 0x7FFFFFFF}.Append(nil), "exceeds the limit"},
		{"method id 0", wire.Header{Method: 0, RequestID: 1}.Append(nil), "method id 0"},
		{"reserved bits", wire.Header{Method: 1, Flags: 0xC0, RequestID: 1}.Append(nil), "reserved flag"},
		{"truncated frame", wire.Header{Method: 1, RequestID: 1, Length: 100}.Append(nil)[:7], "disconnected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := spawnRaw(t)
			nc := p.dial()
			nc.Write(tt.frame)
			if tt.name == "truncated frame" {
				nc.Close()
			} else {
				expectClosed(t, nc)
			}
			err := p.WaitExit(3 * time.Second)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Errorf("exit = %v, want status 1", err)
			}
			if !strings.Contains(p.Stderr.String(), tt.reason) {
				t.Errorf("stderr does not say %q:\n%s", tt.reason, p.Stderr.String())
			}
			if _, err := os.Stat(p.Init.Pipe); !os.IsNotExist(err) {
				t.Errorf("socket left behind")
			}
		})
	}
}

func TestRawParentSecondConnectionRefused(t *testing.T) {
	p := spawnRaw(t)
	nc := p.dial()
	nc.Write(request(p.MethodID("echo"), 1, "one"))
	readFrame(t, nc)
	if c2, err := testenv.Dial(p.Init.Pipe); err == nil {
		c2.Close()
		t.Fatal("second connection accepted")
	}
	nc.Write(request(p.MethodID("echo"), 0xFFFFFFFF, "max id"))
	if h, pl := readFrame(t, nc); h.RequestID != 0xFFFFFFFF || h.Flags != wire.FlagsResult {
		t.Fatalf("got %v %x", h, pl)
	}
}

func TestRawParentGarbageControlLines(t *testing.T) {
	p := spawnRaw(t)
	io.WriteString(p.Stdin, "hello\n{not json\n[1]\n{\"method\":\"$nothing\"}\n\x00\x01\n")
	io.WriteString(p.Stdin, `{"jsonrpc":"2.0","method":"$ping"}`+"\n")
	line, err := p.Stdout.ReadString('\n')
	if err != nil || line != `{"jsonrpc":"2.0","method":"$pong"}`+"\n" {
		t.Fatalf("after garbage, $ping answered with %q (%v)", line, err)
	}
	nc := p.dial()
	nc.Write(request(p.MethodID("echo"), 1, "ok"))
	readFrame(t, nc)
	p.Stdin.Close() // end of input: the worker exits cleanly
	if err := p.WaitExit(2 * time.Second); err != nil {
		t.Errorf("exit after stdin EOF = %v, want status 0", err)
	}
}

func TestRawParentBadToken(t *testing.T) {
	const token = "aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11"
	p := spawnRaw(t, "PROCWIRE_TOKEN="+token)
	auth := func(tok string) []byte {
		return append(wire.Header{Method: wire.MethodAuth, Length: uint32(len(tok))}.Append(nil), tok...)
	}
	bad := p.dial()
	bad.Write(append(auth(strings.Repeat("b", 64)), request(p.MethodID("notify"), 0, "smuggled")...))
	expectClosed(t, bad)
	if strings.Contains(p.Stderr.String(), token) {
		t.Error("token logged")
	}
	good := p.dial()
	good.Write(append(auth(token), request(p.MethodID("echo"), 1, "in")...))
	if h, _ := readFrame(t, good); h.RequestID != 1 {
		t.Fatalf("got %v", h)
	}
	// The smuggled notify would have emitted a "notified" event first.
	good.Write(request(p.MethodID("echo"), 2, "again"))
	if h, _ := readFrame(t, good); h.RequestID != 2 || h.Flags != wire.FlagsResult {
		t.Fatalf("frames behind a bad AUTH were dispatched: got %v", h)
	}
}

// runWithSocketDir runs cmd, the conformance worker, with dir as its socket
// directory, where it cannot listen: it must exit with status 1. It
// returns the worker's stdout.
func runWithSocketDir(t *testing.T, cmd *exec.Cmd, dir string) []byte {
	t.Helper()
	cmd.Env = testenv.WorkerEnv("XDG_RUNTIME_DIR=" + dir)
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("%s: exit = %v, want status 1", dir, err)
	}
	return out
}

// A worker that cannot create its socket says so with $error on stdout and
// exits with status 1.
func TestRawParentUnusableSocketDirectory(t *testing.T) {
	for _, dir := range []string{"/nonexistent/procwire", "/dev/null"} {
		cmd := exec.Command(testenv.Worker(t, conformance))
		var stderr testenv.Buffer
		cmd.Stderr = &stderr
		out := runWithSocketDir(t, cmd, dir)
		var msg struct {
			Method string `json:"method"`
			Params struct {
				Message string `json:"message"`
			} `json:"params"`
		}
		if json.Unmarshal(bytes.TrimSpace(out), &msg) != nil || msg.Method != "$error" || !strings.Contains(msg.Params.Message, dir) {
			t.Errorf("%s: stdout = %q, want one $error line naming the directory", dir, out)
		}
		if !strings.Contains(stderr.String(), dir) {
			t.Errorf("%s: stderr does not explain: %s", dir, stderr.String())
		}
	}
}

// A worker without permission to create its socket in the directory (run as
// an unprivileged user: root ignores permissions) says so with $error.
func TestRawParentSocketDirectoryWithoutPermission(t *testing.T) {
	setpriv, err := exec.LookPath("setpriv")
	if os.Geteuid() != 0 || err != nil {
		t.Skip("needs root and setpriv to run the worker as another user")
	}
	bin := t.TempDir()
	os.Chmod(bin, 0o755)
	exe := filepath.Join(bin, "conformance")
	data, err := os.ReadFile(testenv.Worker(t, conformance))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	private, err := os.MkdirTemp("", "pw") // 0700, owned by root; short enough for sun_path
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(private)
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", exe)
	out := runWithSocketDir(t, cmd, private)
	if !strings.Contains(string(out), `"method":"$error"`) || !strings.Contains(string(out), "permission denied") {
		t.Errorf("stdout = %q, want $error saying permission denied", out)
	}
}

// A full file system (a tmpfs with no inode left) gives $error too.
func TestRawParentSocketDirectoryFull(t *testing.T) {
	dir, err := os.MkdirTemp("", "pwfull")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(dir)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k,nr_inodes=1", "none", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a full tmpfs here: %v %s", err, out)
	}
	defer exec.Command("umount", dir).Run()
	cmd := exec.Command(testenv.Worker(t, conformance))
	out := runWithSocketDir(t, cmd, dir)
	if !strings.Contains(string(out), `"method":"$error"`) || !strings.Contains(string(out), "no space left") {
		t.Errorf("stdout = %q, want $error saying no space left", out)
	}
}
