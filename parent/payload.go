package parent

// Payloads: encoding requests, decoding responses and error payloads, and
// checking that a MessagePack payload is one value and nothing else.
//
// codec.MsgPack decodes the first value of a payload and ignores what
// follows it, so a payload that is not MessagePack at all (plain text sent
// with the error flag) would decode as whatever its first byte means ("boom"
// as the integer 98). The parent checks every error payload, and every
// response it decodes with codec.MsgPack, with oneValue: @procwire/core
// (msgpackr) rejects such payloads too.

import (
	"errors"
	"fmt"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/protocol"
	"github.com/procwire/procwire-go/wire"
)

// marshal encodes a request with its method's codec.
func marshal(cd codec.Codec, v any) ([]byte, error) {
	b, err := cd.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("procwire/parent: encode request: %w", err)
	}
	return b, nil
}

// decodeResponse decodes a result or ack frame into out, or returns the
// worker's error if the frame carries one.
func decodeResponse(cd codec.Codec, f frame, out any) error {
	if f.flags.Has(wire.FlagError) {
		return remoteError(f.payload)
	}
	if out == nil {
		return nil
	}
	// A result's payload is a buffer of its own (only stream chunks are
	// pooled): the decoded value may reference it (codec.UnmarshalOwned).
	if err := unmarshal(cd, f.payload, out, f.buf == nil); err != nil {
		return fmt.Errorf("procwire/parent: decode response: %w", err)
	}
	return nil
}

// unmarshal decodes a response payload with its codec, which may keep
// referencing the payload if it is owned (see codec.UnmarshalOwned); a
// MessagePack payload must be one value and nothing else (see oneValue).
func unmarshal(cd codec.Codec, payload []byte, out any, owned bool) error {
	if cd == codec.MsgPack {
		if err := oneValue(payload); err != nil {
			return err
		}
	}
	if owned {
		return codec.UnmarshalOwned(cd, payload, out)
	}
	return cd.Unmarshal(payload, out)
}

// remoteError returns the *protocol.Error a worker's error payload holds,
// or, if the payload is not one MessagePack value, an error that says so
// and shows what arrived.
func remoteError(payload []byte) error {
	var v any
	if err := unmarshal(codec.MsgPack, payload, &v, false); err != nil {
		return fmt.Errorf("procwire/parent: decode error payload: %w", err)
	}
	return protocol.ErrorFromPayload(v)
}

// errTruncated is a payload that ends inside its value.
var errTruncated = errors.New("truncated MessagePack value")

// oneValue returns nil if b holds exactly one MessagePack value, else an
// error naming what arrived. It walks the value without allocating.
func oneValue(b []byte) error {
	n, err := valueEnd(b)
	switch {
	case err != nil:
		return fmt.Errorf("%w (%s)", err, describe(b))
	case n < len(b):
		return fmt.Errorf("not one MessagePack value: %d bytes after the first (%s)", len(b)-n, describe(b))
	}
	return nil
}

// describe names a payload for an error message: its length and its head,
// quoted.
func describe(b []byte) string {
	const head = 32
	if len(b) <= head {
		return fmt.Sprintf("%d bytes: %q", len(b), b)
	}
	return fmt.Sprintf("%d bytes: %q…", len(b), b[:head])
}

// valueEnd returns the length of the MessagePack value at the start of b.
func valueEnd(b []byte) (int, error) {
	pos := 0
	need := 1 // values still to read
	for need > 0 {
		need--
		if pos >= len(b) {
			return 0, errTruncated
		}
		c := b[pos]
		pos++
		skip := 0 // bytes of data after the type byte and length
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		case c <= 0x8f: // fixmap
			need += 2 * int(c&0x0f)
		case c <= 0x9f: // fixarray
			need += int(c & 0x0f)
		case c <= 0xbf: // fixstr
			skip = int(c & 0x1f)
		case c == 0xc1:
			return 0, fmt.Errorf("invalid MessagePack type byte 0xc1 at offset %d", pos-1)
		case c == 0xc4 || c == 0xd9: // bin 8, str 8
			skip = length(b, &pos, 1)
		case c == 0xc5 || c == 0xda: // bin 16, str 16
			skip = length(b, &pos, 2)
		case c == 0xc6 || c == 0xdb: // bin 32, str 32
			skip = length(b, &pos, 4)
		case c >= 0xc7 && c <= 0xc9: // ext 8, 16, 32: length, type, data
			skip = length(b, &pos, 1<<(c-0xc7))
			if skip >= 0 {
				skip++
			}
		case c == 0xca: // float 32
			skip = 4
		case c == 0xcb: // float 64
			skip = 8
		case c >= 0xcc && c <= 0xcf: // uint 8..64
			skip = 1 << (c - 0xcc)
		case c >= 0xd0 && c <= 0xd3: // int 8..64
			skip = 1 << (c - 0xd0)
		case c >= 0xd4 && c <= 0xd8: // fixext 1..16: type, data
			skip = 1 + 1<<(c-0xd4)
		case c == 0xdc || c == 0xdd: // array 16, 32
			n := length(b, &pos, 2<<(c-0xdc))
			if n < 0 {
				return 0, errTruncated
			}
			need += n
		default: // 0xde, 0xdf: map 16, 32
			n := length(b, &pos, 2<<(c-0xde))
			if n < 0 {
				return 0, errTruncated
			}
			need += 2 * n
		}
		if skip < 0 || len(b)-pos < skip {
			return 0, errTruncated
		}
		pos += skip
		// Every value takes a byte at least: more values announced than
		// bytes left is a truncated payload, known before it costs.
		if need > len(b)-pos {
			return 0, errTruncated
		}
	}
	return pos, nil
}

// length reads a big-endian length of size bytes at *pos and advances
// past it; -1 if b ends first.
func length(b []byte, pos *int, size int) int {
	if len(b)-*pos < size {
		return -1
	}
	n := 0
	for _, x := range b[*pos : *pos+size] {
		n = n<<8 | int(x)
	}
	*pos += size
	if n < 0 || n > len(b) {
		return len(b) + 1 // more than any payload holds: truncated
	}
	return n
}
