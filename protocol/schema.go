package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/wire"
)

// ResponseType is how a method answers, as announced in the schema.
type ResponseType string

// The response types of the protocol.
const (
	// ResponseResult methods answer each request with one value or an error.
	ResponseResult ResponseType = "result"
	// ResponseAck methods acknowledge a request, with or without data.
	ResponseAck ResponseType = "ack"
	// ResponseStream methods answer with any number of chunks, then an end
	// or an error.
	ResponseStream ResponseType = "stream"
	// ResponseNone methods never answer; the parent sends their requests
	// with request id 0 and does not wait.
	ResponseNone ResponseType = "none"
)

// Valid reports whether t is one of the four response types.
func (t ResponseType) Valid() bool {
	switch t {
	case ResponseResult, ResponseAck, ResponseStream, ResponseNone:
		return true
	}
	return false
}

// Schema is the method and event table a worker announces in $init.
// Methods and events are numbered in two separate id spaces, each from 1 to
// wire.MaxID.
type Schema struct {
	Methods map[string]MethodSchema `json:"methods"`
	Events  map[string]EventSchema  `json:"events"`
}

// MethodSchema describes one method in a Schema.
type MethodSchema struct {
	ID       uint16       `json:"id"`
	Response ResponseType `json:"response"`
	// Timeout is the request timeout in milliseconds (0: none announced).
	Timeout int64 `json:"timeout,omitempty"`
}

// EventSchema describes one event in a Schema.
type EventSchema struct {
	ID uint16 `json:"id"`
}

// Validate checks a schema built in Go: names are not empty, ids are in
// 1..wire.MaxID and unique in their space, and response types are valid.
func (s Schema) Validate() error {
	ids := make(map[uint16]string, len(s.Methods))
	for _, name := range sortedKeys(s.Methods) {
		m := s.Methods[name]
		if err := checkEntry("method", name, m.ID, ids); err != nil {
			return err
		}
		if !m.Response.Valid() {
			return fieldError("method", name, "response", fmt.Sprintf("%q", m.Response), "must be result, ack, stream or none")
		}
		if m.Timeout < 0 {
			return fieldError("method", name, "timeout", fmt.Sprint(m.Timeout), "must not be negative")
		}
	}
	clear(ids)
	for _, name := range sortedKeys(s.Events) {
		if err := checkEntry("event", name, s.Events[name].ID, ids); err != nil {
			return err
		}
	}
	return nil
}

func checkEntry(kind, name string, id uint16, ids map[uint16]string) error {
	switch {
	case name == "":
		return fmt.Errorf("invalid schema: a %s has an empty name", kind)
	case id == wire.MethodInvalid:
		return fieldError(kind, name, "id", "0", "is reserved")
	case id > wire.MaxID:
		return fieldError(kind, name, "id", fmt.Sprint(id), fmt.Sprintf("is reserved (%s ids are 1..%d)", kind, wire.MaxID))
	}
	if other, dup := ids[id]; dup {
		return fieldError(kind, name, "id", fmt.Sprint(id), fmt.Sprintf("is also the id of %s %q", kind, other))
	}
	ids[id] = name
	return nil
}

// SchemaError reports a schema field at fault.
type SchemaError struct {
	Kind  string // "method" or "event"
	Name  string // the method or event
	Field string // "id", "response", "timeout", or "" for the entry itself
	Value string // the offending value, as JSON
	// Reason says what is wrong with it.
	Reason string
}

func (e *SchemaError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("invalid schema: %s %q: %s", e.Kind, e.Name, e.Reason)
	}
	return fmt.Sprintf("invalid schema: %s %q: %s %s %s", e.Kind, e.Name, e.Field, e.Value, e.Reason)
}

func fieldError(kind, name, field, value, reason string) error {
	return &SchemaError{Kind: kind, Name: name, Field: field, Value: value, Reason: reason}
}

// UnmarshalJSON parses a schema strictly: "methods" and "events" must be
// objects, every id an integer in 1..wire.MaxID unique in its space, every
// response type one of the four, every timeout a non-negative number of
// milliseconds. Errors are *SchemaError and name the method or event, the
// field and the value.
func (s *Schema) UnmarshalJSON(b []byte) error {
	var raw struct {
		Methods map[string]json.RawMessage `json:"methods"`
		Events  map[string]json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(b, &raw); err != nil || raw.Methods == nil || raw.Events == nil {
		return errors.New(`invalid schema: "methods" and "events" must be objects`)
	}
	out := Schema{Methods: make(map[string]MethodSchema, len(raw.Methods)), Events: make(map[string]EventSchema, len(raw.Events))}
	for name, r := range raw.Methods {
		f, err := entryFields("method", name, r)
		if err != nil {
			return err
		}
		var m MethodSchema
		if m.ID, err = parseID("method", name, f["id"]); err != nil {
			return err
		}
		rt, ok := f["response"]
		if !ok {
			return fieldError("method", name, "response", "(missing)", "must be result, ack, stream or none")
		}
		if json.Unmarshal(rt, &m.Response) != nil || !m.Response.Valid() {
			return fieldError("method", name, "response", string(rt), "must be result, ack, stream or none")
		}
		if t, ok := f["timeout"]; ok && !bytes.Equal(t, []byte("null")) {
			var ms float64
			if json.Unmarshal(t, &ms) != nil || ms < 0 || ms > math.MaxInt32 {
				return fieldError("method", name, "timeout", string(t), fmt.Sprintf("must be a number of milliseconds in 0..%d", math.MaxInt32))
			}
			m.Timeout = int64(math.Ceil(ms))
		}
		out.Methods[name] = m
	}
	for name, r := range raw.Events {
		f, err := entryFields("event", name, r)
		if err != nil {
			return err
		}
		id, err := parseID("event", name, f["id"])
		if err != nil {
			return err
		}
		out.Events[name] = EventSchema{ID: id}
	}
	if err := out.Validate(); err != nil {
		return err
	}
	*s = out
	return nil
}

func entryFields(kind, name string, r json.RawMessage) (map[string]json.RawMessage, error) {
	var f map[string]json.RawMessage
	if json.Unmarshal(r, &f) != nil || f == nil {
		return nil, &SchemaError{Kind: kind, Name: name, Reason: "is not an object: " + truncate(string(r))}
	}
	return f, nil
}

func parseID(kind, name string, r json.RawMessage) (uint16, error) {
	if r == nil {
		return 0, fieldError(kind, name, "id", "(missing)", "is required")
	}
	var n float64
	if json.Unmarshal(r, &n) != nil || n != math.Trunc(n) || n < 1 || n > float64(wire.MaxID) {
		return 0, fieldError(kind, name, "id", truncate(string(r)), fmt.Sprintf("must be an integer in 1..%d", wire.MaxID))
	}
	return uint16(n), nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// MethodDesc describes a method as both sides use it at run time: the
// schema entry together with the codecs of each direction and whether the
// parent aborts it when a call is cancelled.
type MethodDesc struct {
	Name          string
	ID            uint16
	Response      ResponseType
	RequestCodec  codec.Codec
	ResponseCodec codec.Codec
	// Timeout is the request timeout (0: none).
	Timeout time.Duration
	// Cancellable methods get an abort frame when a call's context ends
	// first.
	Cancellable bool
}

// EventDesc describes an event: its id and codec.
type EventDesc struct {
	Name  string
	ID    uint16
	Codec codec.Codec
}

// NewSchema returns the schema that announces methods and events.
func NewSchema(methods []MethodDesc, events []EventDesc) Schema {
	s := Schema{
		Methods: make(map[string]MethodSchema, len(methods)),
		Events:  make(map[string]EventSchema, len(events)),
	}
	for _, m := range methods {
		s.Methods[m.Name] = m.Schema()
	}
	for _, e := range events {
		s.Events[e.Name] = e.Schema()
	}
	return s
}

// Schema returns the method's entry in a Schema: its id, its response type
// and its timeout in milliseconds (a timeout under a millisecond is
// announced as 1).
func (m MethodDesc) Schema() MethodSchema {
	ms := MethodSchema{ID: m.ID, Response: m.Response}
	if m.Timeout > 0 {
		ms.Timeout = max(1, m.Timeout.Milliseconds())
	}
	return ms
}

// Schema returns the event's entry in a Schema.
func (e EventDesc) Schema() EventSchema { return EventSchema{ID: e.ID} }

// Describe returns the schema's methods and events in id order, with the
// codecs left nil and the timeouts converted.
func (s Schema) Describe() ([]MethodDesc, []EventDesc) {
	methods := make([]MethodDesc, 0, len(s.Methods))
	for name, m := range s.Methods {
		methods = append(methods, MethodDesc{Name: name, ID: m.ID, Response: m.Response, Timeout: time.Duration(m.Timeout) * time.Millisecond})
	}
	slices.SortFunc(methods, func(a, b MethodDesc) int { return int(a.ID) - int(b.ID) })
	events := make([]EventDesc, 0, len(s.Events))
	for name, e := range s.Events {
		events = append(events, EventDesc{Name: name, ID: e.ID})
	}
	slices.SortFunc(events, func(a, b EventDesc) int { return int(a.ID) - int(b.ID) })
	return methods, events
}
