package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/procwire/procwire-go/contract"
)

var genCmd = &command{
	name: "gen", args: "ts ", short: "generate a typed TypeScript module from the worker's contract",
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

// maxContract bounds the contract read from a worker.
const maxContract = 64 << 20

// describeWorker runs the worker with PROCWIRE_DESCRIBE=1 and reads the
// contract it prints. It returns nil, nil when the worker prints
// something else first (its $init line: a worker that does not know the
// variable) or nothing; such a worker gets the end of its stdin, as a
// parent that goes away, and is killed if it has not exited 2 seconds
// later.
func describeWorker(parentCtx context.Context, worker []string, timeout time.Duration) (*contract.Contract, error) {
	ctx, cancel := context.WithTimeout(parentCtx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, worker[0], worker[1:]...)
	cmd.Env = append(os.Environ(), contract.DescribeEnv+"=1")
	cmd.WaitDelay = time.Second // a grandchild holding stdout does not hold us
	var stderr tailBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", worker[0], err)
	}
	// The first JSON value it prints: the contract, or its $init line.
	var raw json.RawMessage
	derr := json.NewDecoder(io.LimitReader(stdout, maxContract)).Decode(&raw)
	var probe struct {
		Format *int `json:"format"`
	}
	isContract := derr == nil && json.Unmarshal(raw, &probe) == nil && probe.Format != nil
	if !isContract {
		t := time.AfterFunc(2*time.Second, cancel)
		defer t.Stop()
	}
	werr := cmd.Wait()
	switch {
	case parentCtx.Err() != nil:
		return nil, parentCtx.Err()
	case errors.Is(ctx.Err(), context.DeadlineExceeded) && !isContract:
		return nil, fmt.Errorf("%s did not send $init within %v (nor print its contract)%s", worker[0], timeout, stderr.suffix())
	case !isContract:
		return nil, nil
	case werr != nil:
		return nil, fmt.Errorf("%s describing itself: %v%s", worker[0], werr, stderr.suffix())
	}
	c, err := contract.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", worker[0], err)
	}
	return c, nil
}

// tailBuffer keeps the last 4 KiB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if over := len(t.b) - 4096; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

// suffix returns ": " and the buffer's text, or "" if empty.
func (t *tailBuffer) suffix() string {
	s := strings.TrimSpace(string(t.b))
	if s == "" {
		return ""
	}
	return "; its stderr: " + s
}
