package procwire

import (
	"errors"

	"github.com/procwire/procwire-go/codec"
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

// CodeBadRequest is the Code of the *Error with which the worker answers
// a request whose payload does not decode into the handler's request type
// (protocol.CodeBadRequest, the same from every worker of this SDK). The
// Node parent sees err.message (`thumbnail: field "width": want integer,
// got string "120"`) and err.data.code, err.data.method, err.data.codec,
// and for MessagePack err.data.field, err.data.want and err.data.got (see
// codec.DecodeError). Request.Decode returns it, and the typed handlers
// (Handle, HandleAck, HandleStream, HandleNotify) send it before their
// function runs.
const CodeBadRequest = protocol.CodeBadRequest

// Errorf returns an *Error with the given code and a message formatted as
// fmt.Errorf formats it: a %w verb wraps its operand, which errors.Is and
// errors.As then see through the *Error; the parent receives the text.
func Errorf(code, format string, args ...any) *Error {
	return protocol.Errorf(code, format, args...)
}

// badRequest is the error of a request to method whose payload the codec
// named codecName could not decode (err): CodeBadRequest, with the field,
// want and got of a codec.DecodeError.
func badRequest(method, codecName string, err error) *Error {
	e := &Error{Code: CodeBadRequest, Err: err, Details: map[string]any{"method": method, "codec": codecName}}
	var de *codec.DecodeError
	if !errors.As(err, &de) {
		e.Message = method + ": cannot decode the " + codecName + " request: " + err.Error()
		return e
	}
	e.Message = method + ": " + de.Reason()
	if de.Field != "" {
		e.Details["field"] = de.Field
	}
	if de.Want != "" {
		e.Details["want"] = de.Want
	}
	e.Details["got"] = de.Got
	return e
}
