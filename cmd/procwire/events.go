package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"sync"

	"github.com/procwire/procwire-go/parent"
	"github.com/procwire/procwire-go/protocol"
)

var eventsCmd = &command{
	name:    "events",
	args:    "[METHOD] ",
	short:   "print the worker's events as JSON lines",
	summary: "Spawn the worker and print every event it emits as a line of JSON {\"data\": value, \"event\": name} until interrupted (or --duration); with METHOD, call it first (with --data), to make the worker emit",
	example: `procwire events --data '{"n":3}' --duration 1s progress -- ./worker`,
	setup: func(fs *flag.FlagSet) func(*env, *flag.FlagSet, []string) int {
		duration := fs.Duration("duration", 0, "stop after this long (0: until interrupted)")
		callFlag := fs.String("call", "", "deprecated: the METHOD argument")
		rf := newRequestFlags(fs, 0, "")
		rf.data, rf.rawIn = fs.String("data", "", "the request of METHOD as JSON (see \"procwire help call\")"), new(string)
		call := new(string)
		rf.check = func(pos []string) (err error) {
			if *call, err = methodArg(pos, "call", *callFlag); err == nil && *call == "" && *rf.data != "" {
				err = errors.New("--data is the request of METHOD: give METHOD too")
			}
			return err
		}
		return func(e *env, fs *flag.FlagSet, args []string) int {
			// METHOD, if any, is declared cancellable (an interrupt
			// aborts it).
			return withSession(e, fs, args, optionalMethod, rf, only(call), func(s *session) int {
				m, in := s.m, s.in
				ctx := e.ctx
				if *duration > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, *duration)
					defer cancel()
				}
				dead, unwatch := watchDeath(m)
				defer unwatch()
				var mu sync.Mutex
				names := make([]string, 0, len(m.Schema().Events))
				for name := range m.Schema().Events {
					names = append(names, name)
				}
				slices.Sort(names)
				for _, name := range names {
					m.OnEvent(name, func(ev parent.Event) {
						v, err := decodeOrdered(ev.Payload)
						if err != nil {
							v = fmt.Sprintf("undecodable payload (%d bytes): %v", len(ev.Payload), err)
						}
						mu.Lock()
						defer mu.Unlock()
						printValue(e.stdout, object{{"data", v}, {"event", ev.Name}})
					})
				}
				if *call != "" {
					if err := callAny(ctx, m, *call, in); err != nil && ctx.Err() == nil {
						return fail(e, err)
					}
				}
				select {
				case <-ctx.Done():
				case <-dead:
					// The events already received are printed first.
					stop(m)
					return fail(e, workerDied(m))
				}
				// The events already received are printed before the
				// subscriptions close (stop waits for the callbacks).
				stop(m)
				return exitOK
			})
		}
	},
}

// callAny calls a method of any response type, discarding what it returns.
func callAny(ctx context.Context, m *parent.Module, method string, in any) error {
	switch m.Schema().Methods[method].Response {
	case protocol.ResponseNone:
		return m.Notify(method, in)
	case protocol.ResponseStream:
		for _, err := range m.Stream(ctx, method, in) {
			if err != nil {
				return err
			}
		}
		return nil
	case "":
		return fmt.Errorf("the worker has no method %q", method)
	}
	return m.Call(ctx, method, in, nil)
}
