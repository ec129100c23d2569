// Package observe connects package procwiretest to the worker's request
// lifecycle without a public API on the worker: package procwire sets
// Register when it is initialised, and procwiretest calls it to learn how
// each request of the worker it serves ended (Parent.Handled).
package observe

// Outcome is how one request ended, as package procwire reports it.
// Package procwiretest exports it as procwiretest.Outcome, so these
// comments are its users' documentation.
type Outcome struct {
	// Method is the method's name ("#5" for an unknown method id) and ID
	// the request id (0 for a method that does not answer).
	Method string
	ID     uint32
	// Ran is false for a request that the parent aborted before its
	// handler started: the handler never ran, and Aborted is true.
	Ran bool
	// Result is what was sent as the result or ack: the value a typed
	// handler returned or a handler passed to ResponseWriter.Result or
	// Ack (nil for an ack without data), or a copy of the bytes of
	// WriteResult or WriteAck. HasResult says whether one was sent (a
	// stream, an error, an abort or a method of response type none sends
	// none).
	Result    any
	HasResult bool
	// Chunks counts the stream chunks sent.
	Chunks int
	// Err is the error the handler returned, nil if it succeeded. A panic
	// is an error too (a *procwire.PanicError), and Panicked is set.
	Err      error
	Panicked bool
	// Cause is context.Cause of the handler's context when the handler
	// returned: nil if it was not cancelled, procwire.ErrAborted if the
	// parent aborted the request, procwire.ErrShutdown or
	// procwire.ErrDisconnected when the worker stopped serving, or
	// context.DeadlineExceeded when the method's timeout expired.
	Cause error
	// Aborted reports that the parent aborted the request, before or
	// after the handler returned.
	Aborted bool
}

// Register makes fn receive the outcome of every request that w (a
// *procwire.Worker) serves from then on; fn runs on the goroutine that
// served the request and must not block. Package procwire sets it.
var Register func(w any, fn func(Outcome))
