package procwire

import (
	"errors"

	"github.com/procwire/procwire-go/protocol"
)

// Causes reported by context.Cause for a handler's context, and errors
// returned by Stream.Send, Event.Emit and the ResponseWriter.
var (
	// ErrAborted is the cause of a handler context cancelled because the
	// parent aborted the request.
	ErrAborted = errors.New("procwire: request aborted by the parent")
	// ErrShutdown is the cause of a handler context cancelled because the
	// worker is shutting down.
	ErrShutdown = errors.New("procwire: worker shutting down")
	// ErrDisconnected reports that the parent's data connection is gone. Run
	// returns an error wrapping it when the parent dropped the connection
	// without a shutdown request.
	ErrDisconnected = errors.New("procwire: parent disconnected")
	// ErrNotConnected is returned by Event.Emit before a parent connected.
	ErrNotConnected = errors.New("procwire: no parent connected")
	// ErrBackpressureTimeout is returned by a write that waited longer than
	// Options.BackpressureTimeout for the parent to read.
	ErrBackpressureTimeout = errors.New("procwire: backpressure timeout: the parent is not reading")
	// ErrResponded is returned when a handler writes after its final
	// response (result, ack, stream end or error) was sent.
	ErrResponded = errors.New("procwire: response already sent")
)

// Error is the structured error a handler can return, and the error a Go
// parent's call fails with: protocol.Error, one type for both sides, so
// errors.As with a *procwire.Error works in either. The parent receives it
// as a map with the fields "message", "code" (when not empty) and every
// entry of Details; the Node parent surfaces it as an Error whose message is
// Message and whose data is the whole map.
//
//	return nil, &procwire.Error{Message: "not found", Code: "E_NOT_FOUND",
//		Details: map[string]any{"id": id}}
type Error = protocol.Error

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return protocol.Errorf(code, format, args...)
}
