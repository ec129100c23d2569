package main

import (
	"encoding/json"
	"flag"
	"fmt"
)

var schemaCmd = &command{
	name:    "schema",
	short:   "print the worker's schema as JSON",
	summary: "Spawn the worker, print its $init schema (methods with id, response type and timeout; events) as indented JSON, and shut it down",
	example: "procwire schema -- ./worker",
	setup: func(fs *flag.FlagSet) func(*env, *flag.FlagSet, []string) int {
		verbose := fs.Bool("v", false, "show the parent's debug logs")
		return func(e *env, fs *flag.FlagSet, args []string) int {
			_, worker, code, ok := parseArgs(e, fs, args, 0)
			if !ok {
				return code
			}
			m, err := start(e, worker, *verbose, nil)
			if err != nil {
				return fail(e, err)
			}
			defer stop(m)
			b, err := json.MarshalIndent(m.Schema(), "", "  ")
			if err != nil {
				return fail(e, err)
			}
			fmt.Fprintf(e.stdout, "%s\n", b)
			return exitOK
		}
	},
}
