// Command stream serves stream responses: "lines" streams the lines of a
// text one chunk at a time, and "file" streams a file's bytes with the raw
// codec in chunks of a requested size, so a Node parent receives Buffers.
//
// From Node:
//
//	const mod = new Module("stream").executable("./stream")
//	  .method("lines", { response: "stream" })
//	  .method("file", { response: "stream", codec: rawCodec });
//	for await (const line of mod.stream("lines", { text: "a\nb" })) console.log(line);
package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/procwire/procwire-go"
	"github.com/procwire/procwire-go/codec"
)

// LinesRequest is the request of lines.
type LinesRequest struct {
	Text string `msgpack:"text"`
}

// Line is one chunk of lines.
type Line struct {
	N    int    `msgpack:"n"`
	Text string `msgpack:"text"`
}

// FileRequest is the request of file, sent as JSON bytes with the raw codec:
// {"path": "...", "chunk": 65536}.
type FileRequest struct {
	Path  string `json:"path"`
	Chunk int    `json:"chunk"`
}

func main() {
	w := procwire.NewWorker(procwire.Options{})
	procwire.HandleStream(w, "lines", func(ctx context.Context, in LinesRequest, out *procwire.Stream[Line]) error {
		for i, l := range strings.Split(in.Text, "\n") {
			if err := out.Send(Line{N: i + 1, Text: l}); err != nil {
				return err // aborted or disconnected
			}
		}
		return nil // ends the stream
	})
	procwire.HandleStream(w, "file", func(ctx context.Context, in []byte, out *procwire.Stream[[]byte]) error {
		var req FileRequest
		if err := json.Unmarshal(in, &req); err != nil {
			return err
		}
		if req.Chunk <= 0 || req.Chunk > 16<<20 {
			req.Chunk = 64 << 10
		}
		f, err := os.Open(req.Path)
		if err != nil {
			return err // the parent's stream fails with this message
		}
		defer f.Close()
		buf := make([]byte, req.Chunk)
		for {
			n, err := f.Read(buf)
			if n > 0 {
				// Send returns once the chunk is on the socket, so buf can be reused.
				if serr := out.Send(buf[:n]); serr != nil {
					return serr
				}
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}, procwire.MethodOptions{Codec: codec.Raw})
	if err := w.Run(context.Background()); err != nil {
		slog.Error("stream worker", "error", err)
		os.Exit(1)
	}
}
