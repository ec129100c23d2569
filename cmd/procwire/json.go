package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/procwire/procwire-go/internal/orderedjson"
)

// readFunc reads the file that "@FILE" names ("-" for stdin).
type readFunc func(name string) ([]byte, error)

// bytesKey is the key of the JSON form of a byte string: {"$bytes":
// "<base64>"} or {"$bytes": "@FILE"}.
const bytesKey = "$bytes"

// parseJSON decodes the JSON of --data into the request value: integers
// stay integers (so that MessagePack encodes them as Node would), other
// numbers are float64, objects are map[string]any, and an object
// {"$bytes": "<base64>"} is a byte string (MessagePack bin: a Buffer in
// Node, []byte in Go), anywhere in the value; {"$bytes": "@FILE"} is the
// bytes of FILE ("@-": stdin), read with read (nil: refused). A key that
// begins with "$$" loses one "$": {"$$bytes": 1} is an object with the key
// "$bytes".
//
// A plain base64 string becomes bytes too where the method's request type
// says []byte, when the worker describes itself (typedRequest, typed.go).
func parseJSON(s string, read readFunc) (any, error) {
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return convert(v, "", read)
}

// convert turns the decoded JSON at path into the request value (see
// parseJSON).
func convert(v any, path string, read readFunc) (any, error) {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		f, _ := x.Float64()
		return f, nil
	case map[string]any:
		if b, ok := x[bytesKey]; ok {
			return byteString(b, len(x), path, read)
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			key := k
			if strings.HasPrefix(k, "$$") {
				key = k[1:]
				if _, dup := x[key]; dup {
					return nil, fmt.Errorf("at %s: the keys %q and %q both name %q", where(path), k, key, key)
				}
			}
			c, err := convert(e, path+"."+key, read)
			if err != nil {
				return nil, err
			}
			out[key] = c
		}
		return out, nil
	case []any:
		for i, e := range x {
			c, err := convert(e, path+"["+strconv.Itoa(i)+"]", read)
			if err != nil {
				return nil, err
			}
			x[i] = c
		}
	}
	return v, nil
}

// byteString decodes the value of a "$bytes" key, in an object of n keys.
func byteString(v any, n int, path string, read readFunc) ([]byte, error) {
	s, ok := v.(string)
	switch {
	case n != 1:
		return nil, fmt.Errorf(`at %s: "$bytes" must be the only key of its object (write "$$bytes" for a key named "$bytes")`, where(path))
	case !ok:
		return nil, fmt.Errorf(`at %s: "$bytes" wants a base64 string or "@FILE", got %s`, where(path), jsonType(v))
	case strings.HasPrefix(s, "@"):
		if read == nil {
			return nil, fmt.Errorf(`at %s: "$bytes": "@FILE" is not allowed here`, where(path))
		}
		b, err := read(s[1:])
		if err != nil {
			return nil, fmt.Errorf("at %s: %w", where(path), err)
		}
		return b, nil
	}
	enc := base64.StdEncoding
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding // unpadded
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf(`at %s: "$bytes" is not standard base64: %w`, where(path), err)
	}
	return b, nil
}

// where names a path in the --data value for an error.
func where(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

// jsonType names the JSON type of a decoded value.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	}
	return "an object"
}

// jsonValue converts a decoded MessagePack value into one that
// encoding/json prints as a Node developer would expect: byte strings as
// base64, times as RFC 3339 with milliseconds (UTC), maps with any keys as
// objects, and NaN and infinities as strings.
func jsonValue(v any) any {
	switch x := v.(type) {
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case time.Time:
		return x.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	case float64:
		return float(x)
	case float32:
		return float(float64(x))
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = jsonValue(e)
		}
		return m
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[keyString(k)] = jsonValue(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = jsonValue(e)
		}
		return s
	}
	return v
}

// keyString is the JSON object key of a MessagePack map key that is not a
// string.
func keyString(k any) string {
	if s, ok := k.(string); ok {
		return s
	}
	return fmt.Sprint(jsonValue(k))
}

func float(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return f
}

// appendJSON appends v, a value from decodeOrdered (or any value
// jsonValue converts), as JSON: objects keep their order.
func appendJSON(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case object:
		return orderedjson.AppendObject(b, len(x), func(i int) string { return x[i].key },
			func(b []byte, i int) ([]byte, error) { return appendJSON(b, x[i].value) })
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	j, err := json.Marshal(jsonValue(v))
	if err != nil {
		return nil, err
	}
	return append(b, j...), nil
}

// errNotJSON is returned for a payload printed as JSON that is not one
// MessagePack value.
var errNotJSON = errors.New("not one MessagePack value")
