package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Version is the protocol version a worker announces in $init ("version").
// It is the version of the Procwire protocol that @procwire/core 1.5.0
// speaks, not the version of this library (procwire.Version).
const Version = "1.0.0"

// The control-plane methods.
const (
	MethodInit     = "$init"     // worker → parent: socket path and schema
	MethodError    = "$error"    // worker → parent: the worker cannot start
	MethodPing     = "$ping"     // parent → worker: heartbeat
	MethodPong     = "$pong"     // worker → parent: heartbeat answer
	MethodShutdown = "$shutdown" // parent → worker: exit gracefully
)

// MaxLineSize bounds one control line, newline included. A longer line is
// not a message: LineReader skips it without buffering it.
const MaxLineSize = 1 << 20

// Message is one control line: a JSON-RPC 2.0 notification.
type Message struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params,omitempty"`
}

// ErrNotMessage reports a line that is not a JSON object with a string
// "method"; control lines like that are ignored (or logged) by both sides.
var ErrNotMessage = errors.New("procwire: control line is not a JSON-RPC message")

// ParseMessage parses one control line (surrounding white space allowed).
// Params is a copy: it stays valid after line is reused.
func ParseMessage(line []byte) (Message, error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return Message{}, ErrNotMessage
	}
	var msg struct {
		Method *string         `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	if err := json.Unmarshal(line, &msg); err != nil || msg.Method == nil {
		return Message{}, ErrNotMessage
	}
	return Message{Method: *msg.Method, Params: msg.Params}, nil
}

// Line encodes a control message with the given params (none if nil) as
// one line ending in "\n".
func Line(method string, params any) ([]byte, error) {
	msg := struct {
		JSONRPC string `json:"jsonrpc"`
		Method  string `json:"method"`
		Params  any    `json:"params,omitempty"`
	}{"2.0", method, params}
	b, err := json.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("procwire: encode %s: %w", method, err)
	}
	return append(b, '\n'), nil
}

func mustLine(method string, params any) []byte {
	b, err := Line(method, params)
	if err != nil {
		panic(err)
	}
	return b
}

// The lines without data, encoded once. $shutdown carries empty params, as
// @procwire/core sends it.
var (
	PingLine     = mustLine(MethodPing, nil)
	PongLine     = mustLine(MethodPong, nil)
	ShutdownLine = mustLine(MethodShutdown, struct{}{})
)

// Init is the params of $init: where the worker listens and what it
// serves.
type Init struct {
	Pipe    string `json:"pipe"`
	Schema  Schema `json:"schema"`
	Version string `json:"version"`
}

// InitLine encodes the $init line. It validates the schema first.
func InitLine(init Init) ([]byte, error) {
	if err := init.Schema.Validate(); err != nil {
		return nil, err
	}
	if init.Version == "" {
		init.Version = Version
	}
	return Line(MethodInit, init)
}

// ParseInit parses and validates the params of $init. Its errors name the
// method or event, the field and the value at fault.
func ParseInit(params json.RawMessage) (Init, error) {
	var raw struct {
		Pipe    *string          `json:"pipe"`
		Schema  *json.RawMessage `json:"schema"`
		Version any              `json:"version"`
	}
	if err := json.Unmarshal(params, &raw); err != nil {
		return Init{}, fmt.Errorf("invalid $init: params are not an object: %w", err)
	}
	switch {
	case raw.Pipe == nil:
		return Init{}, errors.New(`invalid $init: missing "pipe"`)
	case *raw.Pipe == "":
		return Init{}, errors.New(`invalid $init: "pipe" is empty`)
	case raw.Schema == nil:
		return Init{}, errors.New(`invalid $init: missing "schema"`)
	}
	init := Init{Pipe: *raw.Pipe}
	if v, ok := raw.Version.(string); ok {
		init.Version = v
	}
	if err := json.Unmarshal(*raw.Schema, &init.Schema); err != nil {
		return Init{}, fmt.Errorf("invalid $init: %w", err)
	}
	return init, nil
}

// ErrorParams is the params of $error.
type ErrorParams struct {
	Message string `json:"message"`
}

// ErrorLine encodes a $error line.
func ErrorLine(message string) []byte {
	return mustLine(MethodError, ErrorParams{Message: message})
}

// ErrorMessage returns the message of a $error's params, or "Unknown" (as
// @procwire/core says) when there is none.
func ErrorMessage(params json.RawMessage) string {
	var p ErrorParams
	if json.Unmarshal(params, &p) != nil || p.Message == "" {
		return "Unknown"
	}
	return p.Message
}
