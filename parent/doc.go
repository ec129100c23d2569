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
// Errors keep their cause. A call that the end of the connection fails
// returns an error wrapping ErrClosed that says why it ended (Conn.Err):
// the worker closed it, a protocol violation (a *wire.ProtocolError), a
// read error; after Close, ErrClosed itself. A Module records why its
// process ended (exit status or signal, or why the parent killed it: a
// missed heartbeat, the loss of its data channel), logs it, and calls made
// while the module is not ready return ErrNotReady with the state and that
// reason.
//
// Conn, the data-plane client, also works on its own over any established
// connection (package procwiretest uses it in-process).
package parent
