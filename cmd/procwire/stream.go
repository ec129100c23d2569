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
		return requestCommand(fs, "write the chunks' bytes to `FILE` (- for stdout), raw codec", func(e *env, s *session, method, rawOut string) int {
			m, in := s.m, s.in
			var err error
			if rt := m.Schema().Methods[method].Response; rt != protocol.ResponseStream {
				fmt.Fprintf(e.stderr, "procwire: %s is a %s method, not a stream: use \"procwire call\"\n", method, rt)
				return exitUsage
			}
			out := e.stdout
			closeOut := func() error { return nil }
			if rawOut != "" {
				if out, closeOut, err = output(e, rawOut); err != nil {
					return fail(e, err)
				}
			}
			var chunks, bytes atomic.Int64
			p := startProgress(e.stderr, func(elapsed time.Duration) string {
				b := float64(bytes.Load())
				return fmt.Sprintf("%d chunks, %s, %s/s", chunks.Load(), bytesString(b), bytesString(b/elapsed.Seconds()))
			})
			err = copyStream(m, e, method, in, out, rawOut != "", &chunks, &bytes)
			p.stop()
			if cerr := closeOut(); err == nil {
				err = cerr
			}
			if err != nil {
				return fail(e, err)
			}
			return exitOK
		})
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
		if err := printPayload(out, c.Payload); err != nil {
			return fmt.Errorf("chunk %d: %w", chunks.Load(), err)
		}
	}
	return nil
}
