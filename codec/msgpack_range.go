package codec

import (
	"math"
	"reflect"
	"strconv"
)

// The MessagePack library stores a decoded integer into a narrower Go
// integer by truncation (256 into a uint8 gives 0, -1 into a uint32 gives
// 4294967295). Procwire's codec refuses that. Its decoder (msgpack_read.go,
// msgpack_plan.go) reads every integer as it is on the wire, magnitude and
// sign, and compares it with the Go integer type it goes into before
// storing it: a value that does not fit, or a negative one for an unsigned
// type, makes Unmarshal fail with a DecodeError that says where. The check
// is a comparison on a value already in a register: it costs nothing
// measurable, and there is no second pass over the payload.
//
// Integers the library hands to a type's own decoder (msgpack.CustomDecoder,
// msgpack.Unmarshaler, encoding.BinaryUnmarshaler, encoding.TextUnmarshaler)
// are that decoder's business; integers decoded into an interface keep the
// Go type of their wire form (int8 … uint64), which holds them.

// wireValue is an integer as it was on the wire: its magnitude and sign.
type wireValue struct {
	u   uint64
	neg bool
}

func (w wireValue) String() string {
	if w.neg {
		return "-" + strconv.FormatUint(w.u, 10)
	}
	return strconv.FormatUint(w.u, 10)
}

// int64 is w as the library's DecodeInt64 returns it (a uint64 above 2^63
// wraps, as there).
func (w wireValue) int64() int64 {
	if w.neg {
		return -int64(w.u-1) - 1
	}
	return int64(w.u)
}

func (w wireValue) float64() float64 {
	if w.neg {
		return -float64(w.u)
	}
	return float64(w.u)
}

func (w wireValue) float32() float32 {
	if w.neg {
		return -float32(w.u)
	}
	return float32(w.u)
}

// fitsInt reports whether w fits a signed integer of the given bits.
func (w wireValue) fitsInt(bits int) bool {
	limit := uint64(1) << (bits - 1) // the magnitude of the minimum
	if w.neg {
		return w.u <= limit
	}
	return w.u < limit
}

// fitsUint reports whether w fits an unsigned integer of the given bits.
func (w wireValue) fitsUint(bits int) bool {
	return !w.neg && (bits == 64 || w.u < uint64(1)<<bits)
}

// readSigned reads an integer for a signed Go integer of the given bits.
func (d *decoder) readSigned(bits int) (int64, error) {
	if d.pos < len(d.b) {
		if c := d.b[d.pos]; c <= 0x7f || c >= 0xe0 {
			d.pos++
			return int64(int8(c)), nil // every signed type holds a fixint
		}
	}
	w, err := d.wireInRange(true, bits)
	return w.int64(), err
}

// readUnsigned reads an integer for an unsigned Go integer of the given
// bits.
func (d *decoder) readUnsigned(bits int) (uint64, error) {
	if d.pos < len(d.b) {
		if c := d.b[d.pos]; c <= 0x7f {
			d.pos++
			return uint64(c), nil
		}
	}
	w, err := d.wireInRange(false, bits)
	return w.u, err
}

// wireInRange reads an integer that must fit a Go integer of the given
// signedness and bits; on an error it gives the zero wireValue.
func (d *decoder) wireInRange(signed bool, bits int) (wireValue, error) {
	start := d.pos
	c, err := d.code()
	if err != nil {
		return wireValue{}, err
	}
	w, err := d.wireInt(c)
	if err != nil {
		return wireValue{}, err
	}
	if signed && !w.fitsInt(bits) || !signed && !w.fitsUint(bits) {
		return wireValue{}, &DecodeError{Got: "integer " + w.String(), Offset: start, Err: errOverflow}
	}
	return w, nil
}

// intBits is the size of a Go integer kind in bits.
func intBits(k reflect.Kind) int {
	switch k {
	case reflect.Int8, reflect.Uint8:
		return 8
	case reflect.Int16, reflect.Uint16:
		return 16
	case reflect.Int32, reflect.Uint32:
		return 32
	case reflect.Int, reflect.Uint, reflect.Uintptr:
		if math.MaxUint == math.MaxUint32 {
			return 32
		}
	}
	return 64
}
