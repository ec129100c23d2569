package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/procwire/procwire-go/contract"
)

// Type-directed --data: when the worker describes itself (package
// contract), a JSON string where the method's request type wants bytes is
// read as base64 and sent as a byte string, so that {"image": "iVBORw0…"}
// reaches a []byte field as it would from Node's Buffer. Where the worker
// does not describe itself (the official Node worker), or the type says
// anything else, a string stays a string; {"$bytes": …} works everywhere.

// typedRequest converts the strings of the request v for method that its
// request type, in the worker's contract, wants as bytes. It describes the
// worker only when v holds a string; a worker that does not describe
// itself leaves v as it is.
func typedRequest(ctx context.Context, worker []string, method string, v any, timeout time.Duration) (any, error) {
	if !hasString(v) {
		return v, nil
	}
	c, err := describeWorker(ctx, worker, timeout)
	if err != nil {
		return v, nil // not a describing worker: strings stay strings
	}
	m := c.Method(method)
	if m == nil || m.Request == nil {
		return v, nil
	}
	return bytesByType(v, m.Request, c, "")
}

// hasString reports whether v, a converted JSON value, holds a string.
func hasString(v any) bool {
	switch x := v.(type) {
	case string:
		return true
	case map[string]any:
		for _, e := range x {
			if hasString(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasString(e) {
				return true
			}
		}
	}
	return false
}

// bytesByType returns v with the strings at the places where t wants bytes
// decoded from base64 (standard or URL alphabet, with or without padding).
func bytesByType(v any, t *contract.Type, c *contract.Contract, path string) (any, error) {
	for depth := 0; t != nil && t.Kind == contract.Ref && depth < 64; depth++ {
		t = c.Types[t.Ref]
	}
	if t == nil {
		return v, nil
	}
	switch t.Kind {
	case contract.Bytes:
		if s, ok := v.(string); ok {
			b, err := fromBase64(s)
			if err != nil {
				return nil, fmt.Errorf("at %s: the request type wants bytes here, and the string is not base64: %w", where(path), err)
			}
			return b, nil
		}
	case contract.Struct:
		if m, ok := v.(map[string]any); ok && !t.AsArray {
			for _, f := range t.Fields {
				e, ok := m[f.Name]
				if !ok {
					continue
				}
				conv, err := bytesByType(e, f.Type, c, path+"."+f.Name)
				if err != nil {
					return nil, err
				}
				m[f.Name] = conv
			}
		}
	case contract.Array:
		if s, ok := v.([]any); ok {
			for i, e := range s {
				conv, err := bytesByType(e, t.Elem, c, fmt.Sprintf("%s[%d]", path, i))
				if err != nil {
					return nil, err
				}
				s[i] = conv
			}
		}
	case contract.Map:
		if m, ok := v.(map[string]any); ok {
			for k, e := range m {
				conv, err := bytesByType(e, t.Elem, c, fmt.Sprintf("%s[%q]", path, k))
				if err != nil {
					return nil, err
				}
				m[k] = conv
			}
		}
	}
	return v, nil
}

// fromBase64 decodes standard or URL-safe base64, padded or not.
func fromBase64(s string) ([]byte, error) {
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if !strings.HasSuffix(s, "=") && len(s)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	return enc.DecodeString(s)
}
