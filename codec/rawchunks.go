package codec

// RawChunks is the raw-chunks codec, as rawChunksCodec in Node: the payload
// is raw bytes, handled as a list of buffers. A response is written from
// its buffers with one vectored write, never concatenated (MarshalChunks);
// a request decodes to a one-element [][]byte aliasing the payload, the
// form in which Node hands a raw-chunks request to a handler. On the wire
// it is the same as Raw, so either side may use either.
//
// Marshal and MarshalChunks accept what Raw accepts ([][]byte, []byte,
// string, nil); Unmarshal accepts *[][]byte, *[]byte, *string and *any.
var RawChunks Codec = rawChunksCodec{}

type rawChunksCodec struct{ rawCodec }

func (rawChunksCodec) Name() string { return "raw-chunks" }

func (c rawChunksCodec) Unmarshal(data []byte, v any) error {
	if p, ok := v.(*any); ok {
		*p = [][]byte{data}
		return nil
	}
	return c.rawCodec.Unmarshal(data, v)
}
