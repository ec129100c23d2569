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
//	procwire call [--data JSON|@FILE] [--raw-in FILE] [--raw-out FILE] [--timeout D] METHOD -- WORKER [ARGS...]
//	procwire stream [--data JSON|@FILE] [--raw-in FILE] [--raw-out FILE] METHOD -- WORKER [ARGS...]
//	procwire bench [--data JSON|@FILE] [--raw-in FILE] [--concurrency N] [--duration D] [--json] METHOD -- WORKER [ARGS...]
//	procwire events [--duration D] [--data JSON|@FILE] [METHOD] -- WORKER [ARGS...]
//
// Everything after "--" is the worker's command line. Every command also
// takes -v (the parent's debug logs) and --init-timeout D: how long the
// worker may take to be ready (send $init), 30s by default as in the
// library. Every command that sends a request names its method with the
// METHOD argument before "--" (for events it is optional: the method to
// call once subscribed); bench's --method and events' --call are its
// deprecated forms.
//
// Requests are MessagePack encoded from the JSON given with --data (null
// if absent). In that JSON an object {"$bytes": "<base64>"} is a byte
// string (MessagePack bin: a Node Buffer, a Go []byte), anywhere in the
// value, and {"$bytes": "@FILE"} the bytes of FILE ("@-": stdin); "$bytes"
// must be its object's only key, and a key that begins with "$$" loses one
// "$" ({"$$bytes": 1} sends the key "$bytes"). When the worker describes
// itself (procwire-go workers: see procwire schema), a plain string is
// sent as bytes too where METHOD's request type wants bytes, read as
// base64. --data @FILE ("@-": stdin)
// sends the whole file as one byte string, for a MessagePack method that
// takes bytes; with --raw-in the request is the bytes of a file ("-" for
// stdin) as they are and the method's request codec is raw (the schema
// does not say which codec a method has: the flag does).
//
// Results, chunks and events are printed as JSON, one value per line, each
// map's entries in the order they arrived (a Go struct's field order, a
// JS object's key order): byte strings (Node Buffers) as base64, times
// (Node Dates) as RFC 3339 with milliseconds, NaN and infinities as the
// strings "NaN", "Infinity" and "-Infinity". With --raw-out the response
// bytes are written to a file ("-" for stdout) as they arrived.
//
// The response type of a method is taken from the worker's schema. A
// worker error is printed on stderr with its code and data, and the exit
// status is 1; so is a worker that dies, with its exit status or signal
// ("worker exited: exit status 3", "worker exited: signal: killed"). A
// usage error exits with 2, and an interrupt (Ctrl-C) with 130 after the
// request was aborted and the worker shut down: every method is declared
// cancellable, as a Node caller declares `cancellable: true`, so the abort
// frame goes to any method (one that cannot be cancelled ignores it). The worker's
// stderr is passed through to procwire's stderr; -v adds the parent's
// debug logs.
//
// Examples:
//
//	procwire schema -- ./worker
//	procwire call --data '{"a":1}' echo -- ./worker
//	procwire call --raw-in photo.jpg --raw-out thumb.jpg thumbnail -- ./worker
//	procwire stream --data '{"n":5}' count -- node worker.mjs
//	procwire call --data '{"image":{"$bytes":"@photo.jpg"},"width":120}' thumbnail -- ./worker
//	procwire bench --concurrency 64 --duration 10s echo -- ./worker
//	procwire events --data '{"n":3}' progress -- ./worker
package main
