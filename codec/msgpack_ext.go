package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/vmihailenco/msgpack/v5"
)

// The Node codec (@procwire/codecs msgpackCodec) writes a Buffer as
// extension type 1 and may write a Date as extension type 2 (big-endian
// float64 epoch milliseconds). vmihailenco/msgpack registers extensions
// globally; rather than change its behaviour for the whole program,
// procwire's decoder reads those two extensions as their standard forms:
// type 1 as bin (decoded as []byte, or a string), type 2 as the timestamp
// extension −1 (decoded as time.Time). It does so as it reads them
// (msgpack_read.go), without a pass of its own; normalizeNodeExt, which
// rewrites them in a copy, is only for the values handed to the library
// (types that decode themselves), and for payloads without them it
// returns the bytes themselves.

const (
	extBuffer = 1
	extDate   = 2
)

var errMsgpackTruncated = errors.New("msgpack: truncated payload")

// span is one extension to rewrite: bytes [start, end) of the input, whose
// data is [data, end).
type span struct {
	start, data, end int
	typ              int8
}

// normalizeNodeExt returns b with Node's Buffer and Date extensions
// rewritten as bin and timestamps, or b itself when it has none.
func normalizeNodeExt(b []byte) ([]byte, error) {
	spans, err := scanNodeExt(b)
	if err != nil || len(spans) == 0 {
		return b, err
	}
	out := make([]byte, 0, len(b)+8*len(spans))
	prev := 0
	for _, s := range spans {
		out = append(out, b[prev:s.start]...)
		data := b[s.data:s.end]
		switch s.typ {
		case extBuffer:
			out = appendBinHeader(out, len(data))
			out = append(out, data...)
		case extDate:
			if len(data) != 8 {
				return nil, errors.New("msgpack: Date extension (type 2) is not 8 bytes")
			}
			ms := math.Float64frombits(binary.BigEndian.Uint64(data))
			out = appendTimestamp(out, ms)
		}
		prev = s.end
	}
	return append(out, b[prev:]...), nil
}

func appendBinHeader(b []byte, n int) []byte {
	switch {
	case n <= math.MaxUint8:
		return append(b, 0xc4, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xc5), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, 0xc6), uint32(n))
	}
}

// maxDateMs is the largest epoch time of a valid JS Date, in ms.
const maxDateMs = 8.64e15

// appendTimestamp appends epoch milliseconds as a timestamp 96 extension.
func appendTimestamp(b []byte, ms float64) []byte {
	if !(math.Abs(ms) <= maxDateMs) {
		// An Invalid Date (NaN, or beyond a Date's range). Node itself
		// writes one as the timestamp of the epoch.
		ms = 0
	}
	sec := math.Floor(ms / 1000)
	nsec := int64(math.Round((ms - sec*1000) * 1e6))
	if nsec >= 1e9 {
		sec++
		nsec -= 1e9
	}
	b = append(b, 0xc7, 12, 0xff)
	b = binary.BigEndian.AppendUint32(b, uint32(nsec))
	return binary.BigEndian.AppendUint64(b, uint64(int64(sec)))
}

// scanNodeExt walks one msgpack value and lists its type 1 and 2
// extensions. It fails on malformed input.
func scanNodeExt(b []byte) ([]span, error) {
	var spans []span
	pos := 0
	need := 1 // values still to read
	for need > 0 {
		need--
		if pos >= len(b) {
			return nil, errMsgpackTruncated
		}
		c := b[pos]
		pos++
		var n int // bytes of payload to skip
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		case c >= 0x80 && c <= 0x8f:
			need += 2 * int(c&0x0f)
		case c >= 0x90 && c <= 0x9f:
			need += int(c & 0x0f)
		case c >= 0xa0 && c <= 0xbf:
			n = int(c & 0x1f)
		case c == 0xc4 || c == 0xd9:
			l, err := readLen(b, &pos, 1)
			if err != nil {
				return nil, err
			}
			n = l
		case c == 0xc5 || c == 0xda:
			l, err := readLen(b, &pos, 2)
			if err != nil {
				return nil, err
			}
			n = l
		case c == 0xc6 || c == 0xdb:
			l, err := readLen(b, &pos, 4)
			if err != nil {
				return nil, err
			}
			n = l
		case c == 0xc7 || c == 0xc8 || c == 0xc9 || (c >= 0xd4 && c <= 0xd8):
			start := pos - 1
			var l int
			if c >= 0xd4 {
				l = 1 << (c - 0xd4)
			} else {
				var err error
				if l, err = readLen(b, &pos, 1<<(c-0xc7)); err != nil {
					return nil, err
				}
			}
			if pos >= len(b) {
				return nil, errMsgpackTruncated
			}
			typ := int8(b[pos])
			pos++
			if len(b)-pos < l {
				return nil, errMsgpackTruncated
			}
			switch {
			case typ == extBuffer || typ == extDate:
				spans = append(spans, span{start: start, data: pos, end: pos + l, typ: typ})
			case typ != -1 && !registeredExt(typ):
				// The library reads an extension it does not know,
				// where it wants a map or an array, as the header of
				// the value that follows: its declared length would
				// size an allocation (make(map, 2^31)) before any check.
				return nil, fmt.Errorf("msgpack: unknown ext id=%d", typ)
			}
			n = l
		case c == 0xca:
			n = 4
		case c == 0xcb:
			n = 8
		case c >= 0xcc && c <= 0xcf:
			n = 1 << (c - 0xcc)
		case c >= 0xd0 && c <= 0xd3:
			n = 1 << (c - 0xd0)
		case c == 0xdc || c == 0xdd:
			l, err := readLen(b, &pos, 2<<(c-0xdc))
			if err != nil {
				return nil, err
			}
			need += l
		case c == 0xde || c == 0xdf:
			l, err := readLen(b, &pos, 2<<(c-0xde))
			if err != nil {
				return nil, err
			}
			need += 2 * l
		default: // 0xc1 is never used
			return nil, errors.New("msgpack: invalid code 0xc1")
		}
		if len(b)-pos < n {
			return nil, errMsgpackTruncated
		}
		pos += n
		// Every value takes at least one byte: more values than bytes
		// left is a lie, caught before it costs anything.
		if need > len(b)-pos {
			return nil, errMsgpackTruncated
		}
	}
	return spans, nil
}

// registeredExt reports whether an extension type was registered with
// msgpack.RegisterExt (the library has no other way to ask).
func registeredExt(typ int8) bool {
	var v any
	err := msgpack.Unmarshal([]byte{0xd4, byte(typ), 0}, &v)
	return err == nil || !strings.Contains(err.Error(), "unknown ext")
}

func readLen(b []byte, pos *int, size int) (int, error) {
	if len(b)-*pos < size {
		return 0, errMsgpackTruncated
	}
	var v uint64
	for i := 0; i < size; i++ {
		v = v<<8 | uint64(b[*pos+i])
	}
	*pos += size
	if v > math.MaxInt32 {
		return 0, errMsgpackTruncated
	}
	return int(v), nil
}
