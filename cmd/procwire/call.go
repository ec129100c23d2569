package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/procwire/procwire-go/protocol"
)

var callCmd = &command{
	name:    "call",
	args:    "METHOD ",
	short:   "send one request and print the result",
	summary: "Spawn the worker, send one request to METHOD (a result, ack or none method), print the result as JSON, and shut it down",
	example: `procwire call --data '{"a":1}' echo -- ./worker`,
	setup: func(fs *flag.FlagSet) func(*env, *flag.FlagSet, []string) int {
		timeout := fs.Duration("timeout", 30*time.Second, "fail if no response within this long (0: none)")
		return requestCommand(fs, "write the response bytes to `FILE` (- for stdout), raw codec", func(e *env, s *session, method, rawOut string) int {
			m, in := s.m, s.in
			switch rt := m.Schema().Methods[method].Response; rt {
			case protocol.ResponseNone:
				if err := m.Notify(method, in); err != nil {
					return fail(e, err)
				}
				return exitOK
			case protocol.ResponseStream:
				fmt.Fprintf(e.stderr, "procwire: %s is a stream method: use \"procwire stream\"\n", method)
				return exitUsage
			}
			ctx := e.ctx
			if *timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeoutCause(ctx, *timeout, fmt.Errorf("no response from %s within %v", method, *timeout))
				defer cancel()
			}
			var out []byte
			if err := m.Call(ctx, method, in, &out); err != nil {
				return fail(e, cause(ctx, err))
			}
			if rawOut != "" {
				w, closeOut, err := output(e, rawOut)
				if err != nil {
					return fail(e, err)
				}
				if _, err := w.Write(out); err != nil {
					closeOut()
					return fail(e, err)
				}
				if err := closeOut(); err != nil {
					return fail(e, err)
				}
				return exitOK
			}
			if err := printPayload(e.stdout, out); err != nil {
				return fail(e, fmt.Errorf("the response: %w", err))
			}
			return exitOK
		})
	},
}

// cause replaces a deadline error by the context's cause (the timeout's
// message).
func cause(ctx context.Context, err error) error {
	if ctx.Err() == context.DeadlineExceeded {
		if c := context.Cause(ctx); c != nil {
			return c
		}
	}
	return err
}
