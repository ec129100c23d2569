// Package protocol is the vocabulary that a Procwire worker and a Procwire
// parent share: the control-plane messages ($init with its schema, $error,
// $ping, $pong, $shutdown) with their encoding, parsing and validation, the
// response types, the descriptors of methods and events, and the one error
// type that a worker returns and a parent receives.
//
// It sits between package wire (frames, reserved method ids, payload
// limits) and the two sides: the worker (package procwire) and the parent
// (package parent) both import it, and neither defines these things again.
// Adding a control message or a schema field is a change here and nowhere
// else.
//
// The control plane is newline-delimited JSON-RPC 2.0 notifications on the
// worker's stdin (parent → worker: $ping, $shutdown) and stdout (worker →
// parent: $init, $pong, $error). Lines are at most MaxLineSize bytes;
// LineReader reads them without ever buffering more.
package protocol
