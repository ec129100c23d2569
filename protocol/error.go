package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
)

// CodeBadRequest is the Code of the error with which a worker of this SDK
// answers a request whose payload does not decode into the handler's
// request type: the same code from every worker, whatever the method.
// Its Message names the method and, for MessagePack, the field, what the
// field's Go type wants and what came (`thumbnail: field "width": want
// integer, got string "120"`); its Details hold "method", "codec", and,
// for MessagePack, "field" (absent for the top-level value), "want"
// (absent for an unknown field) and "got", as codec.DecodeError has them.
const CodeBadRequest = "E_BAD_REQUEST"

// Error is the structured error of a request, the same on both sides: a
// worker's handler returns it, and a parent's call fails with it. Use
// errors.As to recover it on either side.
//
// On the wire it is a map with "message", "code" (when not empty) and every
// entry of Details; the Node parent surfaces that as an Error whose message
// is Message and whose data is the whole map (data.code, data.<detail>).
// A worker that answers with a plain string (as @procwire/client does for
// a thrown Error) reaches a Go parent as an Error with only Message set.
//
//	return nil, &procwire.Error{Message: "not found", Code: "E_NOT_FOUND",
//		Details: map[string]any{"id": id}}
type Error struct {
	Message string
	Code    string
	// Details are sent beside "message" and "code". The keys "message"
	// and "code" are reserved for Message and Code: Payload leaves out
	// Details entries with those names, whatever Message and Code hold.
	Details map[string]any
	// Err is an optional underlying error, reachable with errors.Unwrap. It
	// is not sent over the wire.
	Err error
}

// Errorf returns an *Error with the given code and a message formatted as
// fmt.Errorf formats it. Like fmt.Errorf, a %w verb wraps its operand:
// errors.Is and errors.As see it through the *Error (it becomes Err; with
// several %w verbs, Err joins them), while the parent receives only the
// formatted text.
func Errorf(code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	e := &Error{Code: code, Message: err.Error()}
	switch w := err.(type) {
	case interface{ Unwrap() error }:
		e.Err = w.Unwrap()
	case interface{ Unwrap() []error }:
		e.Err = errors.Join(w.Unwrap()...)
	}
	return e
}

func (e *Error) Error() string {
	if e.Code != "" {
		return e.Code + ": " + e.Message
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Payload returns the value sent over the wire for e: a map holding
// Details (but for the reserved keys "message" and "code"), "message"
// and "code" (when not empty).
func (e *Error) Payload() map[string]any {
	m := make(map[string]any, len(e.Details)+2)
	maps.Copy(m, e.Details)
	delete(m, "code") // reserved: see Details
	m["message"] = e.Message
	if e.Code != "" {
		m["code"] = e.Code
	}
	return m
}

// ErrorPayload returns what a worker sends for err: the Payload of an
// *Error found in its chain, or else err's message as a string.
func ErrorPayload(err error) any {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Payload()
	}
	return err.Error()
}

// ErrorFromPayload returns the Error a parent makes of a decoded error
// payload, with the message @procwire/core would give it: a string is the
// message; a map gives its "message" and "code" (when strings) and the
// rest as Details (a "message" or "code" that is not a string stays there,
// under its key, though Payload does not send it on); anything else is
// shown as JSON.
func ErrorFromPayload(v any) *Error {
	switch x := v.(type) {
	case string:
		return &Error{Message: x}
	case map[string]any:
		e := &Error{Details: make(map[string]any, len(x))}
		for k, val := range x {
			switch s, isString := val.(string); {
			case k == "message" && isString:
				e.Message = s
			case k == "code" && isString:
				e.Code = s
			default:
				e.Details[k] = val
			}
		}
		if len(e.Details) == 0 {
			e.Details = nil
		}
		if _, ok := x["message"].(string); !ok {
			e.Message = jsonText(x)
		}
		return e
	default:
		return &Error{Message: jsonText(v), Details: map[string]any{"value": v}}
	}
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
