// Package orderedjson writes JSON objects whose members keep a chosen
// order, which encoding/json's maps do not: package contract's methods
// and events by id, and the command-line tool's values in the order the
// worker sent their keys.
package orderedjson

import "encoding/json"

// AppendObject appends to b a JSON object of n members: the i-th member's
// key is key(i), and its value is what value appends (valid JSON).
func AppendObject(b []byte, n int, key func(i int) string, value func(b []byte, i int) ([]byte, error)) ([]byte, error) {
	b = append(b, '{')
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		k, err := json.Marshal(key(i))
		if err != nil {
			return nil, err
		}
		if b, err = value(append(append(b, k...), ':'), i); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}
