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

// oneValue returns nil if b holds exactly one MessagePack value, else an
// error naming what arrived. It walks the value without allocating.
func oneValue(b []byte) error {
	n, err := codec.MsgPackLen(b)
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
