// Command nullworker is the benchmarks' ceiling: a Procwire worker that does
// the least a worker can do. One goroutine reads frames and answers inline,
// with no codec work: echo and echoRaw send the request payload back as it
// is (valid for msgpack too), blob streams raw chunks from one buffer. What
// the parent achieves with it is the parent's own limit.
//
// It implements only echo (result), echoRaw (result), blob (stream) and the
// control plane ($init, $pong, $shutdown, end of stdin).
package main

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/procwire/procwire-go/wire"
)

const (
	methodEcho    = 1
	methodEchoRaw = 2
	methodBlob    = 3
)

func main() {
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		dir = os.Getenv("TMPDIR")
	}
	if dir == "" {
		dir = "/tmp"
	}
	var rnd [16]byte
	rand.Read(rnd[:])
	path := filepath.Join(strings.TrimRight(dir, "/"), fmt.Sprintf("procwire-null-%d-%s.sock", os.Getpid(), hex.EncodeToString(rnd[:])))
	ln, err := net.Listen("unix", path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nullworker:", err)
		os.Exit(1)
	}
	defer ln.Close()
	init := map[string]any{
		"jsonrpc": "2.0", "method": "$init",
		"params": map[string]any{
			"pipe": path, "version": "1.0.0",
			"schema": map[string]any{
				"methods": map[string]any{
					"echo":    map[string]any{"id": methodEcho, "response": "result"},
					"echoRaw": map[string]any{"id": methodEchoRaw, "response": "result"},
					"blob":    map[string]any{"id": methodBlob, "response": "stream"},
				},
				"events": map[string]any{},
			},
		},
	}
	line, _ := json.Marshal(init)
	os.Stdout.Write(append(line, '\n'))

	go control(ln)
	nc, err := ln.Accept()
	if err != nil {
		return
	}
	ln.Close()
	serve(nc)
}

// control answers $ping and exits on $shutdown or end of input.
func control(ln net.Listener) {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		switch {
		case strings.Contains(sc.Text(), `"$ping"`):
			os.Stdout.Write([]byte(`{"jsonrpc":"2.0","method":"$pong"}` + "\n"))
		case strings.Contains(sc.Text(), `"$shutdown"`):
			ln.Close()
			os.Exit(0)
		}
	}
	ln.Close()
	os.Exit(0)
}

func serve(nc net.Conn) {
	r := wire.NewReader(nc, 0, 256<<10)
	w := wire.NewWriter(nc)
	var scratch, chunk []byte
	for {
		h, p, s, err := r.Next(scratch)
		scratch = s
		if err != nil {
			os.Exit(0)
		}
		switch h.Method {
		case methodEcho, methodEchoRaw:
			w.WriteFrame(wire.Header{Method: h.Method, Flags: wire.FlagsResult, RequestID: h.RequestID}, p)
		case methodBlob:
			if len(p) != 8 {
				continue
			}
			count, size := binary.BigEndian.Uint32(p), binary.BigEndian.Uint32(p[4:])
			if cap(chunk) < int(size) {
				chunk = make([]byte, size)
			}
			for i := uint32(0); i < count; i++ {
				w.WriteFrame(wire.Header{Method: h.Method, Flags: wire.FlagsStreamChunk, RequestID: h.RequestID}, chunk[:size])
			}
			w.WriteFrame(wire.Header{Method: h.Method, Flags: wire.FlagsStreamEnd, RequestID: h.RequestID})
		}
	}
}
