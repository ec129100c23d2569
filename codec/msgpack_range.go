package codec

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"time"
)

// The MessagePack library stores a decoded integer into a narrower Go
// integer by truncation (256 into a uint8 gives 0). Procwire's codec
// refuses that: when the target type holds integers, the payload is also
// decoded into a generic tree and every integer of the target is checked
// against the value on the wire: an integer that does not fit, or a
// negative one for an unsigned field, is a decode error. (A float for an
// integer field the library refuses itself.) Targets without integers
// (any, maps of any, strings, bytes, floats…) cost nothing extra.

// hasInts caches, per type, whether a value of it can hold an integer
// decoded from the wire.
var hasInts sync.Map // reflect.Type → bool

var timeType = reflect.TypeFor[time.Time]()

func holdsInts(t reflect.Type) bool {
	if v, ok := hasInts.Load(t); ok {
		return v.(bool)
	}
	hasInts.Store(t, false) // recursive types: assume no while computing
	r := computeHoldsInts(t)
	hasInts.Store(t, r)
	return r
}

func computeHoldsInts(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	case reflect.Pointer, reflect.Map:
		return holdsInts(t.Elem())
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return false // bytes
		}
		return holdsInts(t.Elem())
	case reflect.Struct:
		if t == timeType {
			return false
		}
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && holdsInts(f.Type) {
				return true
			}
		}
	}
	return false
}

// checkRanges walks the decoded target v alongside tree, the same payload
// decoded into interface values, and reports the first integer that the
// target could not hold.
func checkRanges(tree any, v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, ok := wireInt(tree)
		if !ok {
			return nil
		}
		if i.neg {
			if i.u > 1<<63 || v.OverflowInt(-int64(i.u-1)-1) {
				return rangeErr(path, i, v.Type())
			}
		} else if i.u > math.MaxInt64 || v.OverflowInt(int64(i.u)) {
			return rangeErr(path, i, v.Type())
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		i, ok := wireInt(tree)
		if !ok {
			return nil
		}
		if i.neg && i.u != 0 || v.OverflowUint(i.u) {
			return rangeErr(path, i, v.Type())
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() && v.Kind() == reflect.Pointer {
			return checkRanges(tree, v.Elem(), path)
		}
	case reflect.Slice, reflect.Array:
		s, ok := tree.([]any)
		if !ok || !holdsInts(v.Type()) {
			return nil
		}
		for i := 0; i < len(s) && i < v.Len(); i++ {
			if err := checkRanges(s[i], v.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		m, ok := tree.(map[string]any)
		if !ok || v.Type().Key().Kind() != reflect.String || !holdsInts(v.Type().Elem()) {
			return nil
		}
		for k, e := range m {
			mv := v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key()))
			if !mv.IsValid() {
				continue
			}
			if err := checkRanges(e, mv, path+"."+k); err != nil {
				return err
			}
		}
	case reflect.Struct:
		m, ok := tree.(map[string]any)
		if !ok || !holdsInts(v.Type()) {
			return nil
		}
		return checkStruct(m, v, path)
	}
	return nil
}

func checkStruct(m map[string]any, v reflect.Value, path string) error {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || !holdsInts(f.Type) {
			continue
		}
		name := f.Name
		tag := f.Tag.Get("msgpack")
		if tag == "-" {
			continue
		}
		if n, _, _ := strings.Cut(tag, ","); n != "" {
			name = n
		} else if f.Anonymous && f.Type.Kind() == reflect.Struct {
			// An embedded struct's fields are inlined.
			if err := checkStruct(m, v.Field(i), path); err != nil {
				return err
			}
			continue
		}
		e, ok := m[name]
		if !ok {
			continue
		}
		if err := checkRanges(e, v.Field(i), path+"."+name); err != nil {
			return err
		}
	}
	return nil
}

// wireValue is an integer as it was on the wire: its magnitude and sign.
type wireValue struct {
	u   uint64
	neg bool
}

func (w wireValue) String() string {
	if w.neg {
		return fmt.Sprintf("-%d", w.u)
	}
	return fmt.Sprint(w.u)
}

// wireInt returns the integer in tree; ok is false if tree is not an
// integer.
func wireInt(tree any) (wireValue, bool) {
	var i int64
	switch x := tree.(type) {
	case int8:
		i = int64(x)
	case int16:
		i = int64(x)
	case int32:
		i = int64(x)
	case int64:
		i = x
	case uint8:
		return wireValue{u: uint64(x)}, true
	case uint16:
		return wireValue{u: uint64(x)}, true
	case uint32:
		return wireValue{u: uint64(x)}, true
	case uint64:
		return wireValue{u: x}, true
	default:
		// Not an integer: the library has refused it already (it does
		// not store a float into an integer field).
		return wireValue{}, false
	}
	if i < 0 {
		return wireValue{u: uint64(-(i + 1)) + 1, neg: true}, true
	}
	return wireValue{u: uint64(i)}, true
}

func rangeErr(path string, i wireValue, t reflect.Type) error {
	return fmt.Errorf("msgpack: %s at %s overflows %s", i, where(path), t)
}

func where(path string) string {
	if path == "" {
		return "the top level"
	}
	return strings.TrimPrefix(path, ".")
}
