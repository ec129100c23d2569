package main

import (
	"encoding/json"
	"flag"
	"fmt"
)

var schemaCmd = &command{
	name:  "schema",
	short: "print the worker's contract or schema as JSON",
	summary: "Print the worker's contract as indented JSON: run with PROCWIRE_DESCRIBE=1, a procwire-go worker prints it and exits " +
		"without listening (methods with id, response type, timeout, codecs, cancellable and their request and response types; " +
		"events with theirs; the named types). A worker that does not describe itself is spawned instead, and its $init schema " +
		"(methods with id, response type and timeout; events) is printed before it is shut down. Both have \"methods\" and \"events\" " +
		"objects keyed by name with \"id\", \"response\" and \"timeout\"",
	example: "procwire schema -- ./worker",
	setup: func(fs *flag.FlagSet) func(*env, *flag.FlagSet, []string) int {
		rf := newRequestFlags(fs, 0, "")
		return func(e *env, fs *flag.FlagSet, args []string) int {
			_, worker, code, ok := parseArgs(e, fs, args, 0)
			if !ok {
				return code
			}
			if *rf.initTimeout <= 0 {
				fmt.Fprintf(e.stderr, "procwire: --init-timeout must be positive\n")
				return exitUsage
			}
			c, err := describeWorker(e.ctx, worker, *rf.initTimeout)
			if err != nil {
				return fail(e, err)
			}
			if c != nil {
				return printIndented(e, c)
			}
			return withSession(e, fs, args, 0, rf, nil, func(s *session) int {
				return printIndented(e, s.m.Schema())
			})
		}
	},
}

// printIndented prints v as indented JSON.
func printIndented(e *env, v any) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fail(e, err)
	}
	fmt.Fprintf(e.stdout, "%s\n", b)
	return exitOK
}
