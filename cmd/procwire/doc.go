// Command procwire spawns any Procwire worker (Go, Node's @procwire/client,
// Rust) with the Go parent and talks to it from the shell: print its
// schema, call a method, follow a stream or its events, or load it with
// requests and measure.
//
// Install it with
//
//	go install github.com/procwire/procwire-go/cmd/procwire@latest
//
// Usage:
//
//	procwire schema -- WORKER [ARGS...]
//	procwire call [--data JSON] [--raw-in FILE] [--raw-out FILE] [--timeout D] METHOD -- WORKER [ARGS...]
//	procwire stream [--data JSON] [--raw-in FILE] [--raw-out FILE] METHOD -- WORKER [ARGS...]
//	procwire bench [--method M] [--data JSON] [--raw-in FILE] [--concurrency N] [--duration D] [--json] -- WORKER [ARGS...]
//	procwire events [--duration D] [--call METHOD [--data JSON]] -- WORKER [ARGS...]
//
// Everything after "--" is the worker's command line. Every command also
// takes -v (the parent's debug logs) and --init-timeout D: how long the
// worker may take to be ready (send $init), 30s by default as in the
// library. Requests are
// MessagePack encoded from the JSON given with --data (null if absent);
// with --raw-in the request is the bytes of a file ("-" for stdin) and the
// method's request codec is raw. Results, chunks and events are printed as
// JSON, one value per line: byte strings (Node Buffers) as base64, times
// (Node Dates) as RFC 3339 with milliseconds, NaN and infinities as the
// strings "NaN", "Infinity" and "-Infinity". With --raw-out the response
// bytes are written to a file ("-" for stdout) and the method's response
// codec is raw.
//
// The response type of a method is taken from the worker's schema. A
// worker error is printed on stderr with its code and data, and the exit
// status is 1; so is a worker that dies, with its exit status or signal
// ("worker exited: exit status 3", "worker exited: signal: killed"). A
// usage error exits with 2, and an interrupt (Ctrl-C) with 130 after the
// request was aborted (the abort frame goes to any method: one that
// cannot be cancelled ignores it) and the worker shut down. The worker's
// stderr is passed through to procwire's stderr; -v adds the parent's
// debug logs.
//
// Examples:
//
//	procwire schema -- ./worker
//	procwire call --data '{"a":1}' echo -- ./worker
//	procwire call --raw-in photo.jpg --raw-out thumb.jpg thumbnail -- ./worker
//	procwire stream --data '{"n":5}' count -- node worker.mjs
//	procwire bench --concurrency 64 --duration 10s -- ./worker
//	procwire events --call progress --data '{"n":3}' -- ./worker
package main
