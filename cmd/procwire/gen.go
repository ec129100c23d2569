package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/procwire/procwire-go/contract"
)

var genCmd = &command{
	name:  "gen",
	args:  "ts ",
	short: "generate a typed TypeScript module from the worker's contract",
	summary: "Run the worker with " + contract.DescribeEnv + "=1 (it prints its contract and exits without listening), " +
		"and write a TypeScript module for @procwire/core 1.5.0: an interface per Go type, defineNAME() returning the typed Module, " +
		"and NAMEApi with nameApi(module) to call it without core's untyped fallbacks (see the README). " +
		"The worker must be built with procwire-go 0.3 or later",
	example: "procwire gen ts -o src/thumbnailer.ts -- ./thumbnailer",
	setup: func(fs *flag.FlagSet) func(*env, *flag.FlagSet, []string) int {
		out := fs.String("o", "-", "write the module to `FILE` (- for stdout)")
		name := fs.String("name", "", "the module's name, the stem of the generated identifiers (default: PROCWIRE_MODULE_NAME as the worker saw it, else the worker's file name)")
		initTimeout := fs.Duration("init-timeout", 30*time.Second, "fail if the worker has not printed its contract within this long")
		return func(e *env, fs *flag.FlagSet, args []string) int {
			args, ok := withoutLanguage(args, fs)
			if !ok {
				if _, _, code, ok := parseArgs(e, fs, args, 0); !ok {
					return code // --help, or a usage error of its own
				}
				fmt.Fprintf(e.stderr, "procwire gen: say which language to generate: procwire gen ts -- WORKER (TypeScript is the one there is)\n\n")
				fs.Usage()
				return exitUsage
			}
			_, worker, code, ok := parseArgs(e, fs, args, 0)
			if !ok {
				return code
			}
			if *initTimeout <= 0 {
				fmt.Fprintf(e.stderr, "procwire: --init-timeout must be positive\n")
				return exitUsage
			}
			c, err := describeWorker(e.ctx, worker, *initTimeout)
			if err != nil {
				return fail(e, err)
			}
			if c == nil {
				return fail(e, fmt.Errorf("%s does not describe itself: run with %s=1 it did not print a contract (a procwire-go worker before 0.3, or a worker of another SDK)", worker[0], contract.DescribeEnv))
			}
			n := *name
			if n == "" {
				n = c.Module
			}
			if n == "" {
				n = strings.TrimSuffix(filepath.Base(worker[0]), filepath.Ext(worker[0]))
			}
			var buf bytes.Buffer
			if err := contract.TypeScript(&buf, c, contract.TypeScriptOptions{Name: n, Source: strings.Join(append([]string{filepath.Base(worker[0])}, worker[1:]...), " ")}); err != nil {
				return fail(e, err)
			}
			if *out == "-" {
				_, err = e.stdout.Write(buf.Bytes())
			} else {
				err = os.WriteFile(*out, buf.Bytes(), 0o644)
			}
			if err != nil {
				return fail(e, err)
			}
			return exitOK
		}
	},
}

// withoutLanguage removes the language argument "ts" from the arguments
// before "--" (not a flag's value); ok is false if there is none.
func withoutLanguage(args []string, fs *flag.FlagSet) (rest []string, ok bool) {
	for i, a := range args {
		if a == "--" {
			break
		}
		if a != "ts" {
			continue
		}
		if i > 0 {
			if f := fs.Lookup(strings.TrimLeft(args[i-1], "-")); f != nil && strings.HasPrefix(args[i-1], "-") && !strings.Contains(args[i-1], "=") {
				continue // the value of -o, -name …
			}
		}
		return append(slices.Clone(args[:i]), args[i+1:]...), true
	}
	return args, false
}
