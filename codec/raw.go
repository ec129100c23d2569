package codec

import (
	"fmt"
)

// Raw is the raw codec: the payload is the bytes themselves, as with
// rawCodec in Node (which hands the parent a Buffer).
//
// Marshal accepts []byte, string, *[]byte and [][]byte (concatenated), and
// nil (an empty payload). Unmarshal accepts *[]byte (aliasing the payload,
// no copy), *string and *any.
var Raw Codec = rawCodec{}

type rawCodec struct{}

func (rawCodec) Name() string { return "raw" }

func (rawCodec) Marshal(v any) ([]byte, error) {
	switch b := v.(type) {
	case nil:
		return nil, nil
	case []byte:
		return b, nil
	case *[]byte:
		if b == nil {
			return nil, nil
		}
		return *b, nil
	case string:
		return []byte(b), nil
	case [][]byte:
		var n int
		for _, p := range b {
			n += len(p)
		}
		out := make([]byte, 0, n)
		for _, p := range b {
			out = append(out, p...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("procwire: raw codec cannot encode %T (want []byte)", v)
}

// MarshalChunks returns the parts of a [][]byte unchanged, so they can be
// written with one vectored write; any other value is one chunk.
func (c rawCodec) MarshalChunks(v any) ([][]byte, error) {
	if parts, ok := v.([][]byte); ok {
		return parts, nil
	}
	b, err := c.Marshal(v)
	if err != nil {
		return nil, err
	}
	return [][]byte{b}, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	switch p := v.(type) {
	case *[]byte:
		*p = data
		return nil
	case *string:
		*p = string(data)
		return nil
	case *any:
		*p = data
		return nil
	case *[][]byte:
		*p = [][]byte{data}
		return nil
	}
	return fmt.Errorf("procwire: raw codec cannot decode into %T (want *[]byte)", v)
}
