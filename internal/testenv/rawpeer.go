package testenv

import (
	"encoding/binary"
	"io"

	"github.com/procwire/procwire-go/wire"
)

// RawPeer is the far end of the raw-socket floors of the benchmarks
// (bench's rawSocket and bench/compare's rawsocket): frames over a socket
// with no SDK and no codec. It answers a frame of method 1 with its
// payload as a result, and a frame of method 2, whose payload is a
// big-endian uint32 n, with n stream chunks of 1 MiB. It returns when
// another method arrives, or the connection fails or ends.
func RawPeer(rw io.ReadWriter) {
	r := wire.NewReader(rw, 0, 256<<10)
	w := wire.NewWriter(rw)
	chunk := make([]byte, 1<<20)
	var scratch []byte
	for {
		h, p, s, err := r.Next(scratch)
		scratch = s
		if err != nil {
			return
		}
		switch {
		case h.Method == 1:
			if _, err := w.WriteFrame(wire.Header{Method: 1, Flags: wire.FlagsResult, RequestID: h.RequestID}, p); err != nil {
				return
			}
		case h.Method == 2 && len(p) >= 4:
			for range binary.BigEndian.Uint32(p) {
				if _, err := w.WriteFrame(wire.Header{Method: 2, Flags: wire.FlagsStreamChunk, RequestID: 1}, chunk); err != nil {
					return
				}
			}
		default:
			return
		}
	}
}
