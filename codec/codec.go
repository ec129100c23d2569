// Package codec defines how Procwire payloads are turned into Go values and
// back, and provides the codecs the Node implementation uses: MessagePack
// (the default, byte-compatible with @procwire/codecs' msgpackCodec) and raw
// bytes. The Arrow IPC codec lives in its own package so that only its users
// link Apache Arrow.
package codec

// Codec converts between Go values and frame payloads.
//
// Implementations must be safe for concurrent use: one codec serves every
// in-flight request of a method.
type Codec interface {
	// Name identifies the codec in logs and errors ("msgpack", "raw", ...).
	Name() string
	// Marshal encodes v. The returned slice belongs to the caller.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into v, which must be a non-nil pointer. The
	// decoded value may alias data (the raw codec does); callers that keep
	// data beyond the call must not modify it.
	Unmarshal(data []byte, v any) error
}

// OwnedUnmarshaler is implemented by codecs that can decode without
// copying when the caller gives the payload up: UnmarshalOwned decodes data
// into v as Unmarshal does, except that the result may keep referencing
// data, which nobody may modify or reuse afterwards. The worker decodes a
// request this way (each request's payload is a buffer of its own, kept
// only by what the handler keeps), the Go parent a result.
type OwnedUnmarshaler interface {
	UnmarshalOwned(data []byte, v any) error
}

// UnmarshalOwned decodes data into v with c, given up by the caller (see
// OwnedUnmarshaler): without copying where c can, else with c.Unmarshal.
func UnmarshalOwned(c Codec, data []byte, v any) error {
	if o, ok := c.(OwnedUnmarshaler); ok {
		return o.UnmarshalOwned(data, v)
	}
	return c.Unmarshal(data, v)
}

// ChunkMarshaler is implemented by codecs that can encode a value as several
// byte slices to be written back to back (with one vectored write) instead
// of one concatenated buffer.
type ChunkMarshaler interface {
	MarshalChunks(v any) ([][]byte, error)
}

// AppendMarshaler is implemented by codecs that can encode a value by
// appending to a caller's buffer, which lets the caller reuse buffers.
type AppendMarshaler interface {
	AppendMarshal(dst []byte, v any) ([]byte, error)
}
