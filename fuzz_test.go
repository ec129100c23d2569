package procwire

import (
	"bytes"
	"github.com/procwire/procwire-go/protocol"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/procwire/procwire-go/wire"
)

// FuzzControlLines feeds arbitrary stdin to the control plane: it must
// never panic, and may write nothing but $pong lines.
func FuzzControlLines(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","method":"$ping"}` + "\n"))
	f.Add([]byte(`{"jsonrpc":"2.0","method":"$shutdown","params":{}}` + "\n"))
	f.Add([]byte("garbage\n{\n[]\n" + `{"method":null}` + "\n"))
	f.Add([]byte(`{"method":"$ping"}{"method":"$ping"}` + "\r\n\n"))
	f.Add([]byte("\xff\xfe{\"method\":\"$ping\"\x00}\n"))
	f.Add(bytes.Repeat([]byte("{"), 70000))
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		ctl := newControl(bytes.NewReader(in), &out, slog.New(slog.NewTextHandler(io.Discard, nil)))
		ctl.run()
		select {
		case <-ctl.stopped:
		default:
			t.Fatal("control reader returned without stopping")
		}
		for _, line := range strings.SplitAfter(out.String(), "\n") {
			if line != "" && line != string(protocol.PongLine) {
				t.Fatalf("wrote %q", line)
			}
		}
		pings := strings.Count(out.String(), "\n")
		if pings > bytes.Count(in, []byte("\n"))+1 {
			t.Fatalf("%d pongs for %d lines", pings, bytes.Count(in, []byte("\n"))+1)
		}
	})
}

// FuzzAuthGate sends an arbitrary first frame to an acceptor that requires
// a token: unless the bytes start with the exact AUTH frame, the connection
// must be closed and never adopted.
func FuzzAuthGate(f *testing.F) {
	const token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	good := append(wire.Header{Method: wire.MethodAuth, Length: uint32(len(token))}.Append(nil), token...)
	f.Add(good)
	f.Add(append(bytes.Clone(good[:len(good)-1]), 'x'))
	f.Add(append(wire.Header{Method: 1, RequestID: 1, Length: 1}.Append(nil), 0xc0))
	f.Add(wire.Header{Method: wire.MethodAuth, Length: 1 << 30}.Append(nil))
	f.Add(wire.Header{Method: 0}.Append(nil))
	f.Add([]byte{0xff, 0xfe})
	f.Fuzz(func(t *testing.T, first []byte) {
		server, client := net.Pipe()
		defer client.Close()
		a := newAcceptor(nil, token, 1<<20, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
		a.authTimeout = 200 * time.Millisecond
		a.ln = nopListener{}
		a.pending[server] = struct{}{}
		a.wg.Add(1)
		go a.authenticate(server)
		go func() {
			// Closing after the write turns an incomplete frame into an
			// end of file at once, so the fuzzer does not wait for the
			// auth deadline on every short input.
			client.Write(first)
			client.Close()
		}()
		a.wg.Wait()
		// The gate adopts exactly the connections whose first frame is a
		// valid AUTH header carrying the token (the request id and the
		// flags other than the reserved bits do not matter).
		wantAdopt := false
		if len(first) >= wire.HeaderSize+len(token) {
			h := wire.ParseHeader(first)
			wantAdopt = h.Method == wire.MethodAuth && h.Validate(1<<20) == nil &&
				h.Length == uint32(len(token)) && string(first[wire.HeaderSize:wire.HeaderSize+len(token)]) == token
		}
		select {
		case ad := <-a.adopted:
			ad.nc.Close()
			if !wantAdopt {
				t.Fatalf("adopted a connection whose first frame was %x", first)
			}
		default:
			if wantAdopt {
				t.Fatalf("refused the right token")
			}
		}
	})
}

type nopListener struct{ net.Listener }

func (nopListener) Close() error { return nil }
