// Package parent is the Go side of a Procwire parent: it spawns a worker
// process (a Go worker of this module, the official Node worker, the Rust
// crate — any Procwire worker), reads its $init announcement, validates the
// schema the way @procwire/core 1.5.0 does, connects to its socket (sending
// the AUTH frame first when authentication is on) and drives it: calls,
// acks, notifications, streams as iterators, events, aborts through context
// cancellation, heartbeat, restart on crash and graceful shutdown.
//
//	m, err := parent.Start(ctx, "worker", parent.Command{Path: "./worker"}, parent.Options{
//		Methods: map[string]parent.MethodSpec{"echo": {}, "count": {Response: protocol.ResponseStream}},
//	})
//	var out string
//	err = m.Call(ctx, "echo", "hi", &out)
//	for n, err := range parent.StreamOf[int](ctx, m, "count", 3) { ... }
//	err = m.Shutdown(ctx)
//
// Beyond one Module: a Manager holds modules by name as core's
// ModuleManager does, and a Pool runs N instances of one worker behind one
// handle (each request to the least-loaded ready instance). Stats reports
// what a Module did, ready for expvar.
//
// Errors keep their cause. A call that the end of the connection fails
// returns an error wrapping ErrClosed that says why it ended (Conn.Err):
// the worker's exit ("worker exited: exit status 3", wrapping the
// *exec.ExitError), the worker closed it, a protocol violation (a
// *wire.ProtocolError), a read error; after Close, ErrClosed itself. A
// Module records why its process ended (exit status or signal, or why the parent killed it: a
// missed heartbeat, the loss of its data channel), logs it, and calls made
// while the module is not ready return ErrNotReady with the state and that
// reason.
//
// Processes: the worker's exit is seen when it happens, whatever still
// holds its stdout or stderr (their readers stop shortly after it). On Unix
// each worker leads a process group of its own, and its helpers die with
// it: a forced kill (missed heartbeat, Shutdown timeout, failed start,
// lost data channel) kills the group, and so does the worker's exit, for
// whatever of the group is left. A process that leaves the group (setsid)
// is not tracked. On Windows only the worker process itself is killed.
//
// Options default to what @procwire/core 1.5.0 does (docs/PARITY.md): 3
// spawn retries 1 s, 2 s, 4 s apart (at most 30 s), restart on crash off
// (when on: 1 s after the crash, at most 5 times a minute), heartbeat off
// (when on: the first $ping as soon as the worker is ready), 30 s request
// timeouts. Zero means the default; a negative Retries, RetryDelay,
// RestartDelay, RequestTimeout or MethodSpec.Timeout means none.
//
// Lifecycle events (Lifecycle: state changes, crashes with their exit
// code or signal, missed heartbeats, restarts, spawn retries, spawn
// failures with a *SpawnError, the restart limit) reach Options.OnLifecycle
// and Module.OnLifecycle, in order and never concurrently. A Manager holds
// modules by name, as core's ModuleManager: it registers them, spawns and
// shuts them down together or one by one, spawns them again, and gathers
// their lifecycle events. Event subscriptions (Subscribe, OnEvent) can be
// ended.
//
// Command.Env is merged into the parent's environment (its entries win),
// as core merges the executable's env into process.env.
//
// Conn, the data-plane client, also works on its own over any established
// connection (package procwiretest uses it in-process).
package parent
