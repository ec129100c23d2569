package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/procwire/procwire-go/parent"
	"github.com/procwire/procwire-go/protocol"
)

var callCmd = &command{
	name:    "call",
	args:    "METHOD ",
	short:   "send one request and print the result",
	summary: "Spawn the worker, send one request to METHOD (a result, ack or none method), print the result as JSON, and shut it down",
	example: `procwire call --data '{"a":1}' echo -- ./worker`,
	setup: func(fs *flag.FlagSet) func(*env, *flag.FlagSet, []string) int {
		data := fs.String("data", "", "the request as JSON (MessagePack on the wire; null if absent)")
		rawIn := fs.String("raw-in", "", "send the bytes of `FILE` (- for stdin) with the raw codec")
		rawOut := fs.String("raw-out", "", "write the response bytes to `FILE` (- for stdout), raw codec")
		timeout := fs.Duration("timeout", 30*time.Second, "fail if no response within this long (0: none)")
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
			m, err := start(e, worker, *verbose, map[string]parent.MethodSpec{method: spec(*rawIn != "", *rawOut != "", false)})
			if err != nil {
				return fail(e, err)
			}
			defer stop(m)
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
			if *rawOut != "" {
				var out []byte
				if err := m.Call(ctx, method, in, &out); err != nil {
					return fail(e, cause(ctx, err))
				}
				w, closeOut, err := output(e, *rawOut)
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
			var out any
			if err := m.Call(ctx, method, in, &out); err != nil {
				return fail(e, cause(ctx, err))
			}
			if err := printJSON(e.stdout, out); err != nil {
				return fail(e, err)
			}
			return exitOK
		}
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
