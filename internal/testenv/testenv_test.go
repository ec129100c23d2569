package testenv_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/procwire/procwire-go/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestSocketPair(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	a, b := testenv.SocketPair(t)
	for _, c := range [][2]io.ReadWriter{{a, b}, {b, a}} {
		if _, err := c[0].Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 4)
		if _, err := io.ReadFull(c[1], got); err != nil || string(got) != "ping" {
			t.Fatalf("read %q, %v", got, err)
		}
	}
}

func TestBuffer(t *testing.T) {
	var b testenv.Buffer
	done := make(chan bool)
	for i := 0; i < 8; i++ {
		go func() {
			for j := 0; j < 100; j++ {
				fmt.Fprint(&b, "x")
			}
			done <- true
		}()
	}
	for i := 0; i < 8; i++ {
		<-done
	}
	if got := b.String(); got != strings.Repeat("x", 800) {
		t.Fatalf("%d bytes", len(got))
	}
}

// TestWorkerAndSpawn builds the conformance worker (once), spawns it and
// talks to it over its socket and stdin.
func TestWorkerAndSpawn(t *testing.T) {
	exe := testenv.Worker(t, "./examples/conformance")
	if again := testenv.Worker(t, "./examples/conformance"); again != exe {
		t.Fatalf("second build: %s, first %s", again, exe)
	}
	if _, err := os.Stat(exe); err != nil {
		t.Fatal(err)
	}
	testenv.VerifyNoLeaks(t)
	cmd := exec.Command(exe)
	cmd.Env = testenv.WorkerEnv()
	p := testenv.Spawn(t, cmd)
	if p.MethodID("echo") == 0 || p.Init.Version == "" {
		t.Fatalf("$init = %+v", p.Init)
	}
	nc, err := testenv.Dial(p.Init.Pipe)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	io.WriteString(p.Stdin, `{"jsonrpc":"2.0","method":"$ping"}`+"\n")
	if line, err := p.Stdout.ReadString('\n'); err != nil || !strings.Contains(line, "$pong") {
		t.Fatalf("answer to $ping: %q, %v", line, err)
	}
	p.Stdin.Close()
	if err := p.WaitExit(5 * time.Second); err != nil {
		t.Fatalf("exit after end of stdin: %v (stderr %s)", err, p.Stderr.String())
	}
}

func TestReadInit(t *testing.T) {
	const line = `{"jsonrpc":"2.0","method":"$init","params":{"pipe":"/x.sock","schema":{"methods":{"echo":{"id":1,"response":"result"}},"events":{}},"version":"1.0.0"}}` + "\n"
	init := testenv.ReadInit(t, bufio.NewReader(strings.NewReader(line)), time.Second)
	if init.Pipe != "/x.sock" || init.Schema.Methods["echo"].ID != 1 {
		t.Fatalf("%+v", init)
	}
}
