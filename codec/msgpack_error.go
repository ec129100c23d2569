package codec

import (
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/procwire/procwire-go/internal/msgpacktype"
)

// DecodeError is a MessagePack payload that does not decode into the Go
// value given to Unmarshal: a value of the wrong type, an integer that
// does not fit its Go integer type, a payload that ends too soon, an
// unknown field in strict mode (MsgPackStrict). Unmarshal returns it for
// every such failure; errors.As recovers it.
//
// Its message names the field, what the Go type wants and what came:
//
//	msgpack: field "items[2].width": want integer, got string "120"
//	msgpack: field "level": want uint8 (0..255), got integer 300
//	msgpack: field "name": want string, got end of input
//	msgpack: field "widht": unknown field
//
// Nothing in it aliases the payload.
type DecodeError struct {
	// Field is the path of the value in the payload, by the names the
	// payload uses: "width", "items[2].width", `meta["k"]` (a map key in
	// quotes), "" for the top-level value. A path deeper than 64 levels
	// keeps its outermost and innermost parts, with "…" between.
	Field string
	// Want is the Go type the value was decoded into, in plain words:
	// "boolean", "integer" (int, int64), "unsigned integer" (uint, uint64),
	// "int8" … "uint32", "number" (floats), "string", "bytes", "date",
	// "array", "object" (a struct or a map), or the Go type's name for
	// types that decode themselves; for an integer that does not fit,
	// the type's range too ("uint8 (0..255)"). Empty for an unknown
	// field.
	Want string
	// Got is what the payload holds there, in the same words with the
	// value or its size: `string "120"` (a long string cut short), "integer
	// 300", "number 1.5", "null", "array of 3 items", "object with 2
	// keys", "bytes of length 4", "end of input", "unknown field".
	Got string
	// Offset is where in the payload the error was found: the first byte
	// of the value that does not decode, or the payload's length when it
	// ended too soon.
	Offset int
	// Err is the underlying error, if any: the error of a type that
	// decodes itself (msgpack.CustomDecoder, encoding.TextUnmarshaler, …)
	// or of parsing a time.
	Err error

	path    []string // innermost first while the error goes up
	dropped int      // segments left out of the middle of path
}

// The causes a DecodeError may carry that its own fields already say.
var (
	errOverflow     = errors.New("msgpack: integer out of range")
	errUnknownField = errors.New("msgpack: unknown field")
	errWrongType    = errors.New("msgpack: wrong type")
)

func (e *DecodeError) Error() string {
	return "msgpack: " + e.Reason()
}

// Reason is the error's message without the "msgpack: " prefix, as a
// worker puts it after the method's name (`field "width": want integer,
// got string "120"`).
func (e *DecodeError) Reason() string {
	var b strings.Builder
	if e.Field != "" {
		// Not strconv.Quote: a map key in the path keeps its own quotes
		// readable (field "meta["k"]").
		b.WriteString(`field "`)
		b.WriteString(e.Field)
		b.WriteString(`": `)
	}
	if e.Want != "" {
		b.WriteString("want ")
		b.WriteString(e.Want)
		b.WriteString(", got ")
	}
	b.WriteString(e.Got)
	if e.Err != nil && !ownCause(e.Err) {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns Err.
func (e *DecodeError) Unwrap() error {
	if ownCause(e.Err) {
		return nil
	}
	return e.Err
}

func ownCause(err error) bool {
	return err == errOverflow || err == errUnknownField || err == errWrongType || err == errMsgpackTruncated
}

// maxPath is the number of path segments a DecodeError keeps; keepInner
// of them are the innermost.
const (
	maxPath   = 64
	keepInner = 16
)

// push adds seg (".name", "[3]", `["k"]`) in front of the path, as the
// error goes back up from the value to the top level. Only failing
// decodes pay for it.
func (e *DecodeError) push(seg string) {
	if len(e.path) == maxPath {
		copy(e.path[keepInner:], e.path[keepInner+1:])
		e.path = e.path[:maxPath-1]
		e.dropped++
	}
	e.path = append(e.path, seg)
}

// decodeError returns err as a *DecodeError: as it is if it is one, else
// a new one for an error from reading the payload (the end of input, for
// errMsgpackTruncated).
func (d *decoder) decodeError(err error) *DecodeError {
	if de, ok := err.(*DecodeError); ok {
		return de
	}
	if err == errMsgpackTruncated {
		return &DecodeError{Got: "end of input", Offset: len(d.b), Err: err}
	}
	return &DecodeError{Offset: d.pos, Err: err}
}

// want gives err, from reading a value for a Go type described by w, that
// description unless it has one (an error from deeper down has).
func (d *decoder) want(err error, w string) error {
	de := d.decodeError(err)
	if de.Want == "" && de.Err != errUnknownField {
		de.Want = w
	}
	return de
}

// at adds seg in front of the path of err, from decoding a part of a value.
func (d *decoder) at(err error, seg string) error {
	de := d.decodeError(err)
	de.push(seg)
	return de
}

func (d *decoder) atIndex(err error, i int) error {
	return d.at(err, "["+strconv.Itoa(i)+"]")
}

// wrongType is the error of a value of the wrong type whose first byte
// was just read.
func (d *decoder) wrongType() error {
	return &DecodeError{Offset: d.pos - 1, Err: errWrongType}
}

// wrongAt is the error of the value at start, of the wrong type, or not
// what w wants (w may be empty: the caller's want fills it in).
func (d *decoder) wrongAt(start int, w string, cause error) error {
	if cause == nil {
		cause = errWrongType
	}
	return &DecodeError{Offset: start, Want: w, Err: cause}
}

// tooDeep is the error of a value nested deeper than maxDepth.
func (d *decoder) tooDeep() error {
	return &DecodeError{Got: "values nested more than " + strconv.Itoa(maxDepth) + " levels deep", Offset: d.pos}
}

// unknownField is the error of a key that names no field, in strict mode.
func (d *decoder) unknownField(k []byte) error {
	de := &DecodeError{Got: "unknown field", Offset: d.pos, Err: errUnknownField}
	de.push(fieldSeg(k))
	return de
}

// finish completes err, from decoding data, before Unmarshal returns it:
// its path as Field, and what data holds where it failed as Got.
func finish(err error, data []byte) error {
	de, ok := err.(*DecodeError)
	if !ok {
		return err
	}
	if len(de.path) > 0 {
		var b strings.Builder
		for i := len(de.path) - 1; i >= 0; i-- {
			b.WriteString(de.path[i])
			if i == keepInner && de.dropped > 0 {
				b.WriteString("…")
			}
		}
		de.Field = strings.TrimPrefix(b.String(), ".")
		de.path, de.dropped = nil, 0
	}
	if de.Got == "" {
		de.Got = describe(data, de.Offset)
	}
	return de
}

// fieldSeg is the path segment of the struct field or map key k: ".k" for
// a plain name, else `["k"]` (quoted, and cut at 64 bytes).
func fieldSeg(k []byte) string {
	plain := len(k) > 0 && len(k) <= 64
	for _, c := range k {
		if !(c == '_' || c == '$' || c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			plain = false
			break
		}
	}
	if plain {
		return "." + string(k)
	}
	return keySeg(k)
}

// keySeg is the path segment of the map key k: `["k"]` (cut at 64 bytes).
func keySeg(k []byte) string {
	return "[" + preview(k, 64) + "]"
}

// preview quotes b, cut at max bytes (on a character boundary) with "…"
// and the full length after it.
func preview(b []byte, max int) string {
	if len(b) <= max {
		return strconv.Quote(string(b))
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	q := strconv.Quote(string(b[:cut]))
	return q[:len(q)-1] + `…" (` + strconv.Itoa(len(b)) + " bytes)"
}

// describe says what the value at off in b is, for Got: its kind and its
// value (strings cut at 32 bytes) or size.
func describe(b []byte, off int) string {
	d := decoder{b: b, pos: off}
	c, err := d.code()
	if err != nil {
		return "end of input"
	}
	cut := func(what string) string { return what + " (cut short by the end of input)" }
	switch {
	case c <= 0x7f || c >= 0xe0 || c >= mpUint8 && c <= mpUint64 || c >= mpInt8 && c <= mpInt64:
		w, err := d.wireInt(c)
		if err != nil {
			return cut("integer")
		}
		return "integer " + w.String()
	case c == mpNil:
		return "null"
	case c == mpFalse:
		return "boolean false"
	case c == mpTrue:
		return "boolean true"
	case c == mpFloat:
		u, err := d.be(4)
		if err != nil {
			return cut("number")
		}
		return "number " + number(float64(math.Float32frombits(uint32(u))), 32)
	case c == mpDouble:
		u, err := d.be(8)
		if err != nil {
			return cut("number")
		}
		return "number " + number(math.Float64frombits(u), 64)
	case isFixStr(c) || c >= mpStr8 && c <= mpStr32:
		s, _, err := d.bytesOf(c)
		if err != nil {
			return cut("string")
		}
		return "string " + preview(s, 32)
	case c >= mpBin8 && c <= mpBin32:
		n, err := d.rawLen(c)
		if err != nil {
			return cut("bytes")
		}
		return "bytes of length " + strconv.Itoa(n)
	case isFixMap(c) || c == mpMap16 || c == mpMap32:
		n, _, err := d.mapLenAfter(c)
		if err != nil {
			return cut("object")
		}
		return plural("object with ", n, " key")
	case isFixArray(c) || c == mpArray16 || c == mpArray32:
		d.pos--
		n, _, err := d.arrayLen()
		if err != nil {
			return cut("array")
		}
		return plural("array of ", n, " item")
	case isExt(c):
		typ, n, err := d.extHeader(c)
		if err != nil {
			return cut("extension")
		}
		switch {
		case typ == extBuffer:
			return "bytes of length " + strconv.Itoa(n) + " (Buffer)"
		case typ == extDate && n == 8 || typ == -1 && (n == 4 || n == 8 || n == 12):
			return "date"
		}
		return "extension type " + strconv.Itoa(int(typ)) + " of " + strconv.Itoa(n) + " bytes"
	}
	return "the invalid byte 0x" + strconv.FormatUint(uint64(c), 16)
}

// number formats f as JavaScript shows a number: without an exponent from
// 1e-6 up to 1e21.
func number(f float64, bits int) string {
	if a := math.Abs(f); a == 0 || a >= 1e-6 && a < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, bits)
	}
	return strconv.FormatFloat(f, 'g', -1, bits)
}

func plural(prefix string, n int, noun string) string {
	s := prefix + strconv.Itoa(n) + noun
	if n != 1 {
		s += "s"
	}
	return s
}

// intWant describes the Go integer kind k for DecodeError.Want: plainly,
// and with its range for an integer that does not fit.
func intWant(k reflect.Kind) (plain, ranged string) {
	bits := intBits(k)
	signed := k >= reflect.Int && k <= reflect.Int64
	switch k {
	case reflect.Int, reflect.Int64:
		plain = "integer"
	case reflect.Uint, reflect.Uint64, reflect.Uintptr:
		plain = "unsigned integer"
	default:
		plain = k.String()
	}
	if signed {
		lim := uint64(1) << (bits - 1)
		return plain, plain + " (-" + strconv.FormatUint(lim, 10) + ".." + strconv.FormatUint(lim-1, 10) + ")"
	}
	max := uint64(math.MaxUint64)
	if bits < 64 {
		max = 1<<bits - 1
	}
	return plain, plain + " (0.." + strconv.FormatUint(max, 10) + ")"
}

// wantOf describes the Go type t for DecodeError.Want.
func wantOf(t reflect.Type) string {
	switch {
	case t == timeType:
		return "date"
	case msgpacktype.Implements(t, decoderIface):
		return t.String()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		w, _ := intWant(t.Kind())
		return w
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "bytes"
		}
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Pointer:
		return wantOf(t.Elem())
	case reflect.Interface:
		if t.NumMethod() == 0 {
			return "any value"
		}
	}
	return t.String()
}
