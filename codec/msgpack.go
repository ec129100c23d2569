package codec

import (
	"bytes"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// MsgPack is the MessagePack codec, the default for every method and event.
var MsgPack Codec = msgpackCodec{}

type msgpackCodec struct{}

func (msgpackCodec) Name() string { return "msgpack" }

type encState struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
}

var encPool = sync.Pool{New: func() any {
	s := &encState{}
	s.enc = msgpack.NewEncoder(&s.buf)
	s.enc.UseCompactInts(true)
	s.enc.UseCompactFloats(true)
	s.enc.SetCustomStructTag("msgpack")
	return s
}}

func (msgpackCodec) Marshal(v any) ([]byte, error) {
	s := encPool.Get().(*encState)
	s.buf.Reset()
	err := s.enc.Encode(v)
	out := bytes.Clone(s.buf.Bytes())
	if s.buf.Cap() <= 64<<10 {
		encPool.Put(s)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (msgpackCodec) Unmarshal(data []byte, v any) error {
	data, err := normalizeNodeExt(data)
	if err != nil {
		return err
	}
	dec := msgpack.NewDecoder(bytes.NewReader(data))
	return dec.Decode(v)
}
