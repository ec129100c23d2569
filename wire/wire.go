// Package wire implements the Procwire data-plane frame format, for both
// ends of a connection: the worker and the parent.
//
// Every frame is an 11-byte big-endian header followed by a payload:
//
//	offset size field
//	0      2    method id (uint16)
//	2      1    flags
//	3      4    request id (uint32)
//	7      4    payload length (uint32)
//
// The package knows nothing about codecs, methods or processes. It encodes
// and validates headers, reads frames with a Reader and writes them with a
// Writer. Violations of the format are reported as *ProtocolError, after
// which the connection must be closed.
//
// # Reading
//
// Reader.ReadHeader validates each header (method id, reserved flag bits,
// the payload limit) before anything is read or allocated for its payload.
// The payload is then read with AppendPayload, which appends it to a
// caller's buffer and allocates nothing if the buffer has room. Otherwise it
// allocates the declared length at once only up to MaxEagerPayload; a larger
// payload's buffer grows as its bytes arrive, so a huge declared length
// costs no more than MaxEagerPayload until the peer actually sends the
// bytes. ReadFrame allocates each payload that way; Next returns a view of
// the payload that is valid until the next call, taken from the read buffer
// without copying when the payload fits in it. ReadPayload and Discard
// serve callers that manage the payload's memory themselves.
//
// # Writing
//
// Writer.Queue adds a frame, without copying its payload, and Flush writes
// every queued frame with one vectored write (writev on sockets), so that a
// batch of frames costs one system call. If a write error (a deadline, say)
// cuts a frame short, the Writer keeps its unwritten rest: Partial reports
// it, Resume writes it, and nothing else is written meanwhile, so the stream
// stays well-formed. WriteFrame queues a frame and writes the queue at once,
// but on error hands the unwritten bytes back to the caller instead of
// keeping them. AppendFrame encodes a frame into a buffer, for callers that
// copy small frames together rather than write each from its own buffers.
package wire

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// HeaderSize is the size of a frame header in bytes.
const HeaderSize = 11

// Payload limits.
const (
	// DefaultMaxPayload is the default limit on a frame's payload (1 GiB),
	// the same as the Node implementation's.
	DefaultMaxPayload = 1 << 30
	// MaxPayloadLimit is the absolute cap on a payload (2^31-1 bytes), the
	// largest Buffer the Node side can hold. No configuration may exceed it.
	MaxPayloadLimit = 1<<31 - 1
)

// Reserved method ids.
const (
	// MethodInvalid (0) is never a valid method id.
	MethodInvalid uint16 = 0
	// MethodAuth carries the authentication token, the first frame a parent
	// sends when authentication is on.
	MethodAuth uint16 = 0xFFFE
	// MethodAbort asks the worker to cancel the request with the frame's
	// request id.
	MethodAbort uint16 = 0xFFFF
	// MaxID is the largest id of a method or an event: ids 1..MaxID are
	// free, 0 and the two above are reserved.
	MaxID uint16 = 0xFFFD
)

// Flags is the flags byte of a frame header.
type Flags uint8

// Flag bits. Bits 6 and 7 are reserved and must be zero.
const (
	FlagToParent  Flags = 0x01 // frame travels worker → parent
	FlagResponse  Flags = 0x02 // frame answers a request
	FlagError     Flags = 0x04 // payload is an error value
	FlagStream    Flags = 0x08 // frame belongs to a stream response
	FlagStreamEnd Flags = 0x10 // last frame of a stream (empty payload)
	FlagAck       Flags = 0x20 // acknowledgement response

	// FlagsReserved masks the bits that must be zero.
	FlagsReserved Flags = 0xC0
)

// The flag combinations a worker sends.
const (
	FlagsResult      = FlagToParent | FlagResponse                              // 0x03
	FlagsAck         = FlagToParent | FlagResponse | FlagAck                    // 0x23
	FlagsError       = FlagToParent | FlagResponse | FlagError                  // 0x07
	FlagsStreamChunk = FlagToParent | FlagResponse | FlagStream                 // 0x0B
	FlagsStreamEnd   = FlagToParent | FlagResponse | FlagStream | FlagStreamEnd // 0x1B
	FlagsStreamError = FlagToParent | FlagResponse | FlagStream | FlagError     // 0x0F
	FlagsEvent       = FlagToParent                                             // 0x01
)

// Has reports whether all bits of x are set in f.
func (f Flags) Has(x Flags) bool { return f&x == x }

var flagNames = [...]string{"TO_PARENT", "RESPONSE", "ERROR", "STREAM", "STREAM_END", "ACK", "RESERVED6", "RESERVED7"}

// String returns the flags as a list of names, e.g. "0x03(TO_PARENT|RESPONSE)".
func (f Flags) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "0x%02X(", uint8(f))
	first := true
	for i, name := range flagNames {
		if f&(1<<i) != 0 {
			if !first {
				b.WriteByte('|')
			}
			b.WriteString(name)
			first = false
		}
	}
	b.WriteByte(')')
	return b.String()
}

// Header is a decoded frame header.
type Header struct {
	Method    uint16 // method id, or an event id for events
	Flags     Flags
	RequestID uint32 // 0 for events and for requests that expect no response
	Length    uint32 // payload length in bytes
}

// Put encodes h into the first HeaderSize bytes of b. It panics if b is
// shorter than HeaderSize.
func (h Header) Put(b []byte) {
	_ = b[HeaderSize-1]
	binary.BigEndian.PutUint16(b[0:2], h.Method)
	b[2] = byte(h.Flags)
	binary.BigEndian.PutUint32(b[3:7], h.RequestID)
	binary.BigEndian.PutUint32(b[7:11], h.Length)
}

// Append appends the encoded header to b.
func (h Header) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, h.Method)
	b = append(b, byte(h.Flags))
	b = binary.BigEndian.AppendUint32(b, h.RequestID)
	return binary.BigEndian.AppendUint32(b, h.Length)
}

// ParseHeader decodes the first HeaderSize bytes of b without validating
// them. It panics if b is shorter than HeaderSize.
func ParseHeader(b []byte) Header {
	_ = b[HeaderSize-1]
	return Header{
		Method:    binary.BigEndian.Uint16(b[0:2]),
		Flags:     Flags(b[2]),
		RequestID: binary.BigEndian.Uint32(b[3:7]),
		Length:    binary.BigEndian.Uint32(b[7:11]),
	}
}

// Validate checks h against the rules every receiver enforces: method id 0
// is invalid, reserved flag bits must be zero and the payload length must
// not exceed maxPayload (which is itself capped at MaxPayloadLimit). It
// returns a *ProtocolError describing the first violation.
func (h Header) Validate(maxPayload uint32) error {
	if maxPayload == 0 || maxPayload > MaxPayloadLimit {
		maxPayload = MaxPayloadLimit
	}
	switch {
	case h.Method == MethodInvalid:
		return &ProtocolError{Header: h, Reason: "method id 0 is reserved"}
	case h.Flags&FlagsReserved != 0:
		return &ProtocolError{Header: h, Reason: fmt.Sprintf("reserved flag bits set (flags 0x%02X)", uint8(h.Flags))}
	case h.Length > maxPayload:
		return &ProtocolError{Header: h, Reason: fmt.Sprintf("payload length %d exceeds the limit of %d bytes", h.Length, maxPayload)}
	}
	return nil
}

// String formats the header for logs and debugging.
func (h Header) String() string {
	return fmt.Sprintf("method=%d flags=%s request=%d length=%d", h.Method, h.Flags, h.RequestID, h.Length)
}

// ProtocolError reports a frame that violates the wire format. The
// connection it arrived on can no longer be trusted and must be closed.
type ProtocolError struct {
	Header Header // the offending header, as decoded
	Reason string
}

func (e *ProtocolError) Error() string {
	return "procwire: protocol violation: " + e.Reason + " (" + e.Header.String() + ")"
}
