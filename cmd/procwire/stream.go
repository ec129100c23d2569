package main

import (
	"flag"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/procwire/procwire-go/parent"
	"github.com/procwire/procwire-go/protocol"
)

var streamCmd = &command{
	name:    "stream",
	args:    "METHOD ",
	short:   "print a stream's chunks, one JSON line each",
	summary: "Spawn the worker, call the stream method METHOD and print each chunk as a line of JSON (or append the raw bytes to a file); Ctrl-C aborts the stream",
	example: `procwire stream --data '{"n":5}' count -- ./worker`,
	setup: func(fs *flag.FlagSet) func(*env, *flag.FlagSet, []string) int {
		data := fs.String("data", "", "the request as JSON (MessagePack on the wire; null if absent)")
		rawIn := fs.String("raw-in", "", "send the bytes of `FILE` (- for stdin) with the raw codec")
		rawOut := fs.String("raw-out", "", "write the chunks' bytes to `FILE` (- for stdout), raw codec")
		verbose := fs.Bool("v", false, "show the parent's debug logs")
		return func(e *env, fs *flag.FlagSet, args []string) int {
			pos, worker, code, ok := parseArgs(e, fs, args, 1)
			if !ok {
				return code
			}
			method := pos[0]
			in, err := request(e, *data, *rawIn)
			if err != nil {
				return fail(e, err)
			}
			m, err := start(e, worker, *verbose, map[string]parent.MethodSpec{method: spec(*rawIn != "", *rawOut != "", true)})
			if err != nil {
				return fail(e, err)
			}
			defer stop(m)
			if rt := m.Schema().Methods[method].Response; rt != protocol.ResponseStream {
				fmt.Fprintf(e.stderr, "procwire: %s is a %s method, not a stream: use \"procwire call\"\n", method, rt)
				return exitUsage
			}
			out := e.stdout
			closeOut := func() error { return nil }
			if *rawOut != "" {
				if out, closeOut, err = output(e, *rawOut); err != nil {
					return fail(e, err)
				}
			}
			var chunks, bytes atomic.Int64
			p := startProgress(e.stderr, func(elapsed time.Duration) string {
				b := float64(bytes.Load())
				return fmt.Sprintf("%d chunks, %s, %s/s", chunks.Load(), bytesString(b), bytesString(b/elapsed.Seconds()))
			})
			err = copyStream(m, e, method, in, out, *rawOut != "", &chunks, &bytes)
			p.stop()
			if cerr := closeOut(); err == nil {
				err = cerr
			}
			if err != nil {
				return fail(e, err)
			}
			return exitOK
		}
	},
}

func copyStream(m *parent.Module, e *env, method string, in any, out io.Writer, raw bool, chunks, bytes *atomic.Int64) error {
	for c, err := range m.Stream(e.ctx, method, in) {
		if err != nil {
			return err
		}
		chunks.Add(1)
		bytes.Add(int64(len(c.Payload)))
		if raw {
			if _, err := out.Write(c.Payload); err != nil {
				return err
			}
			continue
		}
		var v any
		if err := c.Decode(&v); err != nil {
			return fmt.Errorf("chunk %d: %w", chunks.Load(), err)
		}
		if err := printJSON(out, v); err != nil {
			return err
		}
	}
	return nil
}
