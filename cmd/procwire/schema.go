package main

import (
	"encoding/json"
	"flag"
	"fmt"
)

var schemaCmd = &command{
	name: "schema", short: "print the worker's schema as JSON",
	summary: "Spawn the worker, print its $init schema (methods with id, response type and timeout; events) as indented JSON, and shut it down",
	example: "procwire schema -- ./worker",
	setup: func(fs *flag.FlagSet) func(*env, *flag.FlagSet, []string) int {
		rf := newRequestFlags(fs, 0, "")
		return func(e *env, fs *flag.FlagSet, args []string) int {
			return withSession(e, fs, args, 0, rf, nil, func(s *session) int {
				b, err := json.MarshalIndent(s.m.Schema(), "", "  ")
				if err != nil {
					return fail(e, err)
				}
				fmt.Fprintf(e.stdout, "%s\n", b)
				return exitOK
			})
		}
	},
}
