package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
	"unsafe"
)

// decoder reads one MessagePack value straight out of the payload. It is
// what codec.MsgPack.Unmarshal runs (see msgpack_plan.go for how a Go type
// is decoded): one pass over the bytes, every read bounds-checked, every
// length checked against the bytes left before anything is allocated for
// it, and nothing aliases the payload (the parent reuses its receive
// buffers), so strings and byte slices are copied out of it once.
//
// It reads the payload as vmihailenco/msgpack v5 does after Node's
// extensions have been rewritten (see msgpack_ext.go), without rewriting
// them: a Buffer (extension 1) reads as bin wherever bytes or a string
// are read, a Date (extension 2) as a timestamp wherever a time is read.
type decoder struct {
	b      []byte
	pos    int
	st     *decState // the library's decoder, for the types it decodes itself
	strict bool      // an unknown field is an error (MsgPackStrict)
	depth  int       // levels of recursive types and interfaces entered
	strs   []byte    // the chunk that short strings are copied into (see str)
}

// Codes of the MessagePack format.
const (
	mpNil     = 0xc0
	mpFalse   = 0xc2
	mpTrue    = 0xc3
	mpBin8    = 0xc4
	mpBin32   = 0xc6
	mpExt8    = 0xc7
	mpExt32   = 0xc9
	mpFloat   = 0xca
	mpDouble  = 0xcb
	mpUint8   = 0xcc
	mpUint64  = 0xcf
	mpInt8    = 0xd0
	mpInt64   = 0xd3
	mpFixExt1 = 0xd4
	mpFixExt6 = 0xd8
	mpStr8    = 0xd9
	mpStr32   = 0xdb
	mpArray16 = 0xdc
	mpArray32 = 0xdd
	mpMap16   = 0xde
	mpMap32   = 0xdf
)

func isFixMap(c byte) bool   { return c&0xf0 == 0x80 }
func isFixArray(c byte) bool { return c&0xf0 == 0x90 }
func isFixStr(c byte) bool   { return c&0xe0 == 0xa0 }

// isRaw reports whether c starts a string or a bin.
func isRaw(c byte) bool {
	return isFixStr(c) || c >= mpStr8 && c <= mpStr32 || c >= mpBin8 && c <= mpBin32
}

func isExt(c byte) bool {
	return c >= mpExt8 && c <= mpExt32 || c >= mpFixExt1 && c <= mpFixExt6
}

func (d *decoder) code() (byte, error) {
	if d.pos >= len(d.b) {
		return 0, errMsgpackTruncated
	}
	c := d.b[d.pos]
	d.pos++
	return c, nil
}

// nextIsNil consumes a nil if one comes next.
func (d *decoder) nextIsNil() bool {
	if d.pos < len(d.b) && d.b[d.pos] == mpNil {
		d.pos++
		return true
	}
	return false
}

// take returns the next n bytes (a view of the payload).
func (d *decoder) take(n int) ([]byte, error) {
	if n < 0 || len(d.b)-d.pos < n {
		return nil, errMsgpackTruncated
	}
	b := d.b[d.pos : d.pos+n : d.pos+n]
	d.pos += n
	return b, nil
}

// be reads a big-endian unsigned integer of size bytes (1, 2, 4 or 8).
func (d *decoder) be(size int) (uint64, error) {
	b, err := d.take(size)
	if err != nil {
		return 0, err
	}
	switch size {
	case 1:
		return uint64(b[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(b)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(b)), nil
	}
	return binary.BigEndian.Uint64(b), nil
}

// count reads a length of size bytes: the number of elements that follow,
// each at least min bytes long, so a length the payload cannot hold fails
// here, before anything is allocated for it.
// rawLen reads the length of the string or bin whose code c (isRaw) was
// read.
func (d *decoder) rawLen(c byte) (int, error) {
	switch {
	case isFixStr(c):
		return int(c & 0x1f), nil
	case c >= mpStr8 && c <= mpStr32:
		return d.count(1<<(c-mpStr8), 1)
	}
	return d.count(1<<(c-mpBin8), 1)
}

func (d *decoder) count(size, min int) (int, error) {
	u, err := d.be(size)
	if err != nil {
		return 0, err
	}
	if u > uint64(len(d.b)-d.pos)/uint64(min) {
		return 0, errMsgpackTruncated
	}
	return int(u), nil
}

// wireInt reads an integer whose code c was read: its magnitude and sign
// as on the wire. nil reads as 0, as the library has it; anything else is
// the wrong type.
func (d *decoder) wireInt(c byte) (wireValue, error) {
	switch {
	case c <= 0x7f:
		return wireValue{u: uint64(c)}, nil
	case c >= 0xe0:
		return wireValue{u: uint64(-int64(int8(c))), neg: true}, nil
	case c >= mpUint8 && c <= mpUint64:
		u, err := d.be(1 << (c - mpUint8))
		return wireValue{u: u}, err
	case c >= mpInt8 && c <= mpInt64:
		size := 1 << (c - mpInt8)
		u, err := d.be(size)
		shift := 64 - 8*size
		return signed(int64(u<<shift) >> shift), err
	case c == mpNil:
		return wireValue{}, nil
	}
	return wireValue{}, d.wrongType()
}

func signed(i int64) wireValue {
	if i < 0 {
		return wireValue{u: uint64(-(i + 1)) + 1, neg: true}
	}
	return wireValue{u: uint64(i)}
}

// float reads a float64, float32 or integer (or nil) into a float. The
// library refuses a float64 for a float32; it turns a uint64 above 2^63
// into a negative number, which this does not: the value stays.
func (d *decoder) float(single bool) (float64, error) {
	c, err := d.code()
	if err != nil {
		return 0, err
	}
	switch {
	case c == mpFloat:
		u, err := d.be(4)
		return float64(math.Float32frombits(uint32(u))), err
	case c == mpDouble && !single:
		u, err := d.be(8)
		return math.Float64frombits(u), err
	}
	w, err := d.wireInt(c)
	if err != nil {
		return 0, err
	}
	if single {
		return float64(w.float32()), nil
	}
	return w.float64(), nil
}

func (d *decoder) bool() (bool, error) {
	c, err := d.code()
	if err != nil {
		return false, err
	}
	switch c {
	case mpNil, mpFalse:
		return false, nil
	case mpTrue:
		return true, nil
	}
	return false, d.wrongType()
}

// bytesOf reads a string, bin or Node Buffer (extension 1): a view of its
// bytes, or ok false for nil. Those are the library's string/bytes forms.
func (d *decoder) bytesOf(c byte) (b []byte, ok bool, err error) {
	var n int
	switch {
	case isRaw(c):
		n, err = d.rawLen(c)
	case c == mpNil:
		return nil, false, nil
	case isExt(c):
		start := d.pos - 1
		var typ int8
		if typ, n, err = d.extHeader(c); err == nil && typ != extBuffer {
			err = d.wrongAt(start, "", nil)
		}
	default:
		err = d.wrongType()
	}
	if err != nil {
		return nil, false, err
	}
	b, err = d.take(n)
	return b, true, err
}

// bytes reads the next value with bytesOf (ok is false for nil); its
// errors want bytes.
func (d *decoder) bytes() (b []byte, ok bool, err error) {
	c, err := d.code()
	if err == nil {
		b, ok, err = d.bytesOf(c)
	}
	if err != nil {
		return nil, false, d.want(err, "bytes")
	}
	return b, ok, nil
}

// string reads a string (or bin, or Buffer; nil is ""), copied.
func (d *decoder) string() (string, error) {
	if d.pos < len(d.b) {
		// The common case first: a short string.
		if c := d.b[d.pos]; isFixStr(c) && int(c&0x1f) < len(d.b)-d.pos {
			s := d.str(d.b[d.pos+1 : d.pos+1+int(c&0x1f)])
			d.pos += 1 + int(c&0x1f)
			return s, nil
		}
	}
	c, err := d.code()
	if err != nil {
		return "", err
	}
	b, _, err := d.bytesOf(c)
	return d.str(b), err
}

// str returns a copy of b as a string. Short strings are copied into a
// chunk of memory they share (one allocation for the strings of a small
// payload, where string(b) makes one each), of at most 512 bytes and no
// more than the rest of the payload could need; a chunk's bytes are never
// written again once a string holds them.
func (d *decoder) str(b []byte) string {
	const chunk, short = 512, 64
	switch {
	case len(b) == 0:
		return ""
	case len(b) > short:
		return string(b)
	case cap(d.strs)-len(d.strs) < len(b):
		d.strs = make([]byte, 0, min(chunk, len(b)+len(d.b)-d.pos))
	}
	off := len(d.strs)
	d.strs = append(d.strs, b...)
	return unsafe.String(&d.strs[off], len(b))
}

// key reads a map key as the library reads a struct's field names: a view
// of its bytes, nil as "".
func (d *decoder) key() ([]byte, error) {
	if d.pos < len(d.b) {
		if c := d.b[d.pos]; isFixStr(c) && int(c&0x1f) < len(d.b)-d.pos {
			b := d.b[d.pos+1 : d.pos+1+int(c&0x1f)]
			d.pos += 1 + int(c&0x1f)
			return b, nil
		}
	}
	c, err := d.code()
	if err != nil {
		return nil, err
	}
	b, _, err := d.bytesOf(c)
	return b, err
}

// ext reads an extension whose code c has been read: its type and its
// data (not copied).
func (d *decoder) ext(c byte) (int8, []byte, error) {
	typ, n, err := d.extHeader(c)
	if err != nil {
		return 0, nil, err
	}
	data, err := d.take(n)
	return typ, data, err
}

// extHeader reads the length and type of an extension whose code c was
// read; its data follows.
func (d *decoder) extHeader(c byte) (int8, int, error) {
	n := 0
	if c >= mpFixExt1 {
		n = 1 << (c - mpFixExt1)
	} else {
		u, err := d.be(1 << (c - mpExt8))
		if err != nil {
			return 0, 0, err
		}
		if u > uint64(len(d.b)) {
			return 0, 0, errMsgpackTruncated
		}
		n = int(u)
	}
	t, err := d.code()
	return int8(t), n, err
}

// arrayLen reads an array header, or nil (ok false).
func (d *decoder) arrayLen() (n int, ok bool, err error) {
	c, err := d.code()
	if err != nil {
		return 0, false, err
	}
	if n, ok, known, err := d.containerLen(c, isFixArray(c), mpArray16, 1); known {
		return n, ok, err
	}
	return 0, false, d.wrongType()
}

// mapLenAfter reads a map header whose code c was read, or nil (ok false).
func (d *decoder) mapLenAfter(c byte) (n int, ok bool, err error) {
	if n, ok, known, err := d.containerLen(c, isFixMap(c), mpMap16, 2); known {
		return n, ok, err
	}
	return 0, false, d.wrongType()
}

// containerLen reads the length of an array or a map whose code c was
// read: fix says whether c is the container's fix form, code16 is the code
// of its 16-bit form (the 32-bit form's is next), and per the bytes each
// element takes at least (1 in an array, 2 in a map: a key and a value),
// so that a length the payload cannot hold is refused before anything is
// allocated. nil gives ok false; known is false for any other code.
func (d *decoder) containerLen(c byte, fix bool, code16 byte, per int) (n int, ok, known bool, err error) {
	switch {
	case fix:
		n = int(c & 0x0f)
		if per*n > len(d.b)-d.pos {
			return 0, false, true, errMsgpackTruncated
		}
		return n, true, true, nil
	case c == code16 || c == code16+1:
		n, err = d.count(2<<(c-code16), per)
		return n, err == nil, true, err
	case c == mpNil:
		return 0, false, true, nil
	}
	return 0, false, false, nil
}

// mapLen reads the header of a map decoded into a Go map. The library
// reads an extension's header there as a prefix and the map after it
// (DecodeMapLen); Node's two extensions are never a map.
func (d *decoder) mapLen() (int, bool, error) {
	c, err := d.code()
	if err != nil {
		return 0, false, err
	}
	if isExt(c) {
		start := d.pos - 1
		if typ, _, err := d.extHeader(c); err != nil {
			return 0, false, err
		} else if typ == extBuffer || typ == extDate {
			return 0, false, d.wrongAt(start, "", nil) // Node's extensions are never a map
		}
		if c, err = d.code(); err != nil {
			return 0, false, err
		}
	}
	return d.mapLenAfter(c)
}

// skip reads past one value, checking it is well formed, in one loop over
// its bytes with no calls: besides skipping what a Go type does not take,
// it is MsgPackLen, with which the Go parent checks every response.
func (d *decoder) skip() error {
	b, pos := d.b, d.pos
	for need := 1; need > 0; need-- {
		if pos >= len(b) {
			d.pos = pos
			return errMsgpackTruncated
		}
		c := b[pos]
		pos++
		n := 0 // bytes of data after the code and its length
		switch {
		case c <= 0x7f || c >= 0xe0 || c == mpNil || c == mpFalse || c == mpTrue:
		case isFixMap(c):
			need += 2 * int(c&0x0f)
		case isFixArray(c):
			need += int(c & 0x0f)
		case isFixStr(c):
			n = int(c & 0x1f)
		case c >= mpStr8 && c <= mpStr32:
			n = lengthAt(b, &pos, 1<<(c-mpStr8))
		case c >= mpBin8 && c <= mpBin32:
			n = lengthAt(b, &pos, 1<<(c-mpBin8))
		case c >= mpExt8 && c <= mpExt32: // length, type, data
			if n = lengthAt(b, &pos, 1<<(c-mpExt8)); n >= 0 {
				n++
			}
		case c >= mpFixExt1 && c <= mpFixExt6: // type, data
			n = 1 + 1<<(c-mpFixExt1)
		case c == mpFloat:
			n = 4
		case c == mpDouble:
			n = 8
		case c >= mpUint8 && c <= mpUint64:
			n = 1 << (c - mpUint8)
		case c >= mpInt8 && c <= mpInt64:
			n = 1 << (c - mpInt8)
		case c == mpArray16 || c == mpArray32:
			if n = lengthAt(b, &pos, 2<<(c-mpArray16)); n >= 0 {
				need, n = need+n, 0
			}
		case c == mpMap16 || c == mpMap32:
			if n = lengthAt(b, &pos, 2<<(c-mpMap16)); n >= 0 {
				need, n = need+2*n, 0
			}
		default: // 0xc1, which MessagePack never uses
			d.pos = pos
			return d.wrongType()
		}
		if n < 0 || len(b)-pos < n {
			d.pos = pos
			return errMsgpackTruncated
		}
		pos += n
		// Every value takes a byte at least: more announced than there
		// are bytes left is a truncated payload, known before it costs.
		if need-1 > len(b)-pos {
			d.pos = pos
			return errMsgpackTruncated
		}
	}
	d.pos = pos
	return nil
}

// lengthAt reads a big-endian length of size bytes at *pos and advances
// past it: -1 if b ends first, and more than b holds (so truncated) for a
// length beyond it.
func lengthAt(b []byte, pos *int, size int) int {
	if len(b)-*pos < size {
		return -1
	}
	n := 0
	for _, x := range b[*pos : *pos+size] {
		n = n<<8 | int(x)
	}
	*pos += size
	if n < 0 || n > len(b) {
		return len(b) + 1
	}
	return n
}

// timeExt decodes the data of a timestamp (extension -1) or of Node's
// Date (extension 2), as the library's time decoder does.
func timeExt(typ int8, data []byte) (time.Time, error) {
	if typ == extDate {
		if len(data) != 8 {
			return time.Time{}, errors.New("msgpack: Date extension (type 2) is not 8 bytes")
		}
		// The same instant the library reads from the timestamp that
		// normalizeNodeExt would have written.
		var buf [15]byte
		data = appendTimestamp(buf[:0], math.Float64frombits(binary.BigEndian.Uint64(data)))[3:]
	}
	var tm time.Time
	switch len(data) {
	case 4:
		tm = time.Unix(int64(binary.BigEndian.Uint32(data)), 0)
	case 8:
		sec := binary.BigEndian.Uint64(data)
		tm = time.Unix(int64(sec&0x3ffffffff), int64(sec>>34))
	case 12:
		tm = time.Unix(int64(binary.BigEndian.Uint64(data[4:])), int64(binary.BigEndian.Uint32(data)))
	default:
		return time.Time{}, fmt.Errorf("msgpack: invalid ext len=%d decoding time", len(data))
	}
	if tm.IsZero() {
		return tm.UTC(), nil // as the library: the zero time has no zone
	}
	return tm, nil
}

// time reads a time.Time as the library decodes one in a struct field,
// a slice or a map: the timestamp extension (or Node's Date). nil, which
// makes the library panic, reads as the zero time.
func (d *decoder) time() (time.Time, error) {
	c, err := d.code()
	if err != nil {
		return time.Time{}, err
	}
	if c == mpNil {
		return time.Time{}, nil
	}
	if !isExt(c) {
		return time.Time{}, d.wrongType()
	}
	start := d.pos - 1
	typ, data, err := d.ext(c)
	if err != nil {
		return time.Time{}, err
	}
	if typ != -1 && typ != extDate {
		return time.Time{}, d.wrongAt(start, "", nil)
	}
	tm, err := timeExt(typ, data)
	if err != nil {
		return time.Time{}, d.wrongAt(start, "", nil)
	}
	return tm, nil
}

// topTime reads a time.Time as the library's Decoder.DecodeTime, which
// it uses for a *time.Time given to Unmarshal: also the legacy array
// [sec, nsec], an RFC 3339 string and the extension 13.
func (d *decoder) topTime() (time.Time, error) {
	start := d.pos
	c, err := d.code()
	if err != nil {
		return time.Time{}, err
	}
	switch {
	case c == 0x92:
		var w [2]wireValue
		for i := range w {
			if c, err = d.code(); err == nil {
				w[i], err = d.wireInt(c)
			}
			if err != nil {
				return time.Time{}, err
			}
		}
		return time.Unix(w[0].int64(), w[1].int64()), nil
	case isFixStr(c) || c >= mpStr8 && c <= mpStr32:
		b, _, err := d.bytesOf(c)
		if err != nil {
			return time.Time{}, err
		}
		tm, err := time.Parse(time.RFC3339Nano, string(b))
		if err != nil {
			return time.Time{}, d.wrongAt(start, "", err)
		}
		return tm, nil
	case !isExt(c):
		return time.Time{}, d.wrongType()
	}
	typ, data, err := d.ext(c)
	if err != nil {
		return time.Time{}, err
	}
	switch typ {
	case -1, 13, extDate:
		if typ == 13 {
			typ = -1
		}
		tm, err := timeExt(typ, data)
		if err != nil {
			return time.Time{}, d.wrongAt(start, "", nil)
		}
		return tm, nil
	}
	return time.Time{}, d.wrongAt(start, "", nil)
}
