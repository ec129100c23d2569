// Package procwire turns a Go program into a Procwire worker: a child
// process that a Procwire parent (the Node.js @procwire/core ModuleManager,
// or this module's Go parent) spawns and drives.
//
// A worker registers methods and events, then calls Run:
//
//	w := procwire.NewWorker(procwire.Options{MaxConcurrentHandlers: 64})
//	procwire.Handle(w, "echo", func(ctx context.Context, in Msg) (Msg, error) { return in, nil })
//	progress := procwire.NewEvent[Progress](w, "progress")
//	err := w.Run(ctx)
//
// Run listens on a private Unix socket (a named pipe on Windows), announces
// it and the method schema to the parent with an $init line on stdout,
// adopts exactly one parent connection (authenticated with PROCWIRE_TOKEN
// when the parent set one) and serves frames until the parent sends
// $shutdown, closes stdin, drops the connection or ctx is done.
//
// Each request runs in its own goroutine, at most
// Options.MaxConcurrentHandlers at a time, with a context that is cancelled
// when the parent aborts the request, when the connection drops and on
// shutdown. A handler returns a value (a result or ack response), sends
// chunks on a Stream, or returns an error, which the parent receives as a
// remote error: a string, or the fields of an *Error.
//
// The control plane (stdin/stdout) is served by its own goroutine, so $ping
// is answered at once however busy the data plane is. The library writes
// nothing to stdout but protocol lines ($init, $pong, $error); its logs go
// to Options.Logger (stderr by default).
package procwire
