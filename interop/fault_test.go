package interop

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/procwire/procwire-go/wire"
)

// rss returns a process's resident set size in bytes (Linux).
func rss(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// The parent stops reading for 10 s in the middle of a 2 GiB stream: the
// worker's memory stays bounded, pings are answered throughout, and the
// stream completes intact once reading resumes.
func TestPausedReaderDuring2GiBStream(t *testing.T) {
	if testing.Short() {
		t.Skip("10 s pause")
	}
	p := spawnRaw(t)
	nc := p.dial()
	var req [8]byte
	binary.BigEndian.PutUint32(req[0:], 2048)
	binary.BigEndian.PutUint32(req[4:], 1<<20)
	nc.Write(append(wire.Header{Method: p.MethodID("blob"), RequestID: 1, Length: 8}.Append(nil), req[:]...))
	r := wire.NewReader(nc, 0, 256<<10)
	scratch := make([]byte, 1<<20)
	next := 0
	check := func() bool {
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		h, pl, s, err := r.Next(scratch)
		scratch = s
		if err != nil {
			t.Fatalf("after %d chunks: %v", next, err)
		}
		if h.Flags == wire.FlagsStreamEnd {
			return false
		}
		if h.Flags != wire.FlagsStreamChunk || len(pl) != 1<<20 || pl[0] != byte(next) || pl[len(pl)-1] != byte(next) {
			t.Fatalf("chunk %d: %v, %d bytes, first %d", next, h, len(pl), pl[0])
		}
		next++
		return true
	}
	for i := 0; i < 16; i++ {
		check()
	}

	// Pause: no reads for 10 s. Ping every 100 ms; watch the RSS.
	pongs := make(chan string, 1)
	go func() {
		br := p.Stdout
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				close(pongs)
				return
			}
			pongs <- line
		}
	}()
	var maxRSS int64
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		start := time.Now()
		io.WriteString(p.Stdin, `{"jsonrpc":"2.0","method":"$ping"}`+"\n")
		select {
		case line := <-pongs:
			if !strings.Contains(line, "$pong") {
				t.Fatalf("answer to $ping: %q", line)
			}
		case <-time.After(200 * time.Millisecond):
			t.Fatal("no $pong within 200 ms while the data plane is blocked")
		}
		if d := time.Since(start); d > 200*time.Millisecond {
			t.Errorf("$pong took %v", d)
		}
		maxRSS = max(maxRSS, rss(t, p.Cmd.Process.Pid))
		time.Sleep(100 * time.Millisecond)
	}
	if maxRSS >= 64<<20 {
		t.Errorf("worker RSS reached %d MiB while the parent was paused (limit 64 MiB)", maxRSS>>20)
	}
	t.Logf("max worker RSS while paused: %.1f MiB", float64(maxRSS)/(1<<20))
	for check() {
	}
	if next != 2048 {
		t.Fatalf("stream ended after %d chunks, want 2048", next)
	}
}
