package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// env is what a command runs with: its standard streams and the context
// that an interrupt cancels.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// command is one subcommand. setup defines its flags and returns the
// function that runs it with the command line after the command's name.
type command struct {
	name    string
	args    string // the positional arguments, for the usage line
	short   string // for the list of commands
	summary string
	example string
	setup   func(fs *flag.FlagSet) func(e *env, fs *flag.FlagSet, args []string) int
}

var commands []*command

func init() {
	commands = []*command{schemaCmd, callCmd, streamCmd, benchCmd, eventsCmd, genCmd}
}

// run is the whole program, with its environment passed in (tests call
// it directly); it returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// The worker's logs reach stderr from other goroutines, and events
	// reach stdout from their callbacks.
	stdout, stderr = &syncWriter{w: stdout}, &syncWriter{w: stderr}
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c := lookup(args[1]); c != nil {
				fs := c.flags(e)
				fs.SetOutput(stdout)
				c.setup(fs)
				fs.Usage()
				return exitOK
			}
		}
		usage(stdout)
		return exitOK
	}
	c := lookup(args[0])
	if c == nil {
		fmt.Fprintf(stderr, "procwire: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	fs := c.flags(e)
	return c.setup(fs)(e, fs, args[1:])
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// flags returns the command's flag set, with its usage text.
func (c *command) flags(e *env) *flag.FlagSet {
	fs := flag.NewFlagSet("procwire "+c.name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "usage: procwire %s [flags] %s-- WORKER [ARGS...]\n\n%s.\n\nexample:\n  %s\n", c.name, c.args, c.summary, c.example)
		var n int
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintf(out, "\nflags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "procwire talks to any Procwire worker from the shell.\n\nusage: procwire COMMAND [flags] [METHOD] -- WORKER [ARGS...]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-7s %s\n", c.name, c.short)
	}
	fmt.Fprintf(w, "\nRun \"procwire help COMMAND\" or \"procwire COMMAND --help\" for a command's flags and an example.\n")
}

// syncWriter serialises writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
