// Package observe connects package procwiretest to the worker's request
// lifecycle without a public API on the worker: package procwire sets
// Register when it is initialised, and procwiretest calls it to learn how
// each request of the worker it serves ended (Parent.Handled).
package observe

// Outcome is how one request ended, as package procwire reports it.
type Outcome struct {
	Method string
	ID     uint32
	// Ran is false for a request aborted before its handler started.
	Ran bool
	// Result is the value (or, for pre-encoded bytes, a copy of the
	// bytes) of the result or ack that was sent; HasResult says whether
	// one was.
	Result    any
	HasResult bool
	// Chunks counts the stream chunks sent.
	Chunks int
	// Err is what the handler returned; Panicked says it was a panic.
	Err      error
	Panicked bool
	// Cause is context.Cause of the handler's context as the handler
	// returned.
	Cause error
	// Aborted says the parent aborted the request.
	Aborted bool
}

// Register makes fn receive the outcome of every request that w (a
// *procwire.Worker) serves from then on; fn runs on the goroutine that
// served the request and must not block. Package procwire sets it.
var Register func(w any, fn func(Outcome))
