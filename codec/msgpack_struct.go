package codec

import (
	"reflect"
	"strconv"
	"unsafe"

	"github.com/procwire/procwire-go/internal/msgpacktype"
)

// Structs. The fields and the names they go by are those of the library's
// getFields (vmihailenco/msgpack/v5 types.go), so that a payload fills the
// same fields here as there: the msgpack tag's name or the field's, "-"
// skipped, unexported fields skipped unless embedded, an alias as a second
// name, embedded structs inlined (always with ",inline"; without it only
// if no field of theirs is shadowed and they decode as plain structs),
// never with ",noinline". A nil embedded pointer is allocated when one of
// its fields is decoded.

// sfield is a field as the decoder finds it: by name, at an offset, after
// following the embedded pointers on the way.
type sfield struct {
	name  string
	ptrs  []ptrStep
	off   uintptr
	p     *plan
	index int  // in structPlan.list, or -1
	canon bool // what byName gives for name
}

// ptrStep is an embedded pointer on the way to a field: at off in the
// struct reached so far, to a struct of type elem.
type ptrStep struct {
	off  uintptr
	elem reflect.Type
}

func (f *sfield) addr(p unsafe.Pointer) unsafe.Pointer {
	for _, s := range f.ptrs {
		pp := (*unsafe.Pointer)(unsafe.Add(p, s.off))
		if *pp == nil {
			*pp = reflect.New(s.elem).UnsafePointer()
		}
		p = *pp
	}
	return unsafe.Add(p, f.off)
}

type structPlan struct {
	typ    reflect.Type
	list   []*sfield // in order: a struct sent as an array fills these
	byName map[string]*sfield
}

func (b planner) structOf(t reflect.Type) decFn {
	lib, err := msgpacktype.Fields(t)
	if err != nil {
		return libraryDec(t) // which panics as the library does
	}
	s := &structPlan{typ: t, byName: make(map[string]*sfield, len(lib.ByName))}
	made := make(map[*msgpacktype.Field]*sfield)
	mk := func(lf *msgpacktype.Field) *sfield {
		if f := made[lf]; f != nil {
			return f
		}
		ptrs, off, ok := fieldPath(t, lf.Index)
		f := &sfield{name: lf.Name, ptrs: ptrs, off: off, index: -1}
		if ok && !lf.Intern {
			f.p = b.plan(lf.Type)
		}
		made[lf] = f
		return f
	}
	for i, lf := range lib.List {
		f := mk(lf)
		f.index = i
		s.list = append(s.list, f)
	}
	for name, lf := range lib.ByName {
		s.byName[name] = mk(lf)
	}
	for _, f := range s.list {
		f.canon = s.byName[f.name] == f
	}
	for _, f := range made {
		if f.p == nil {
			// The library cannot set such a field either, or (",intern")
			// decodes it in its own way.
			return libraryDec(t)
		}
	}
	return s.dec
}

// fieldPath finds the field at index (a reflect index path) in t.
// ok is false when the path goes through an unexported embedded pointer,
// which the library can neither allocate nor follow.
func fieldPath(t reflect.Type, index []int) (ptrs []ptrStep, off uintptr, ok bool) {
	var via reflect.StructField
	for i, idx := range index {
		if i > 0 && t.Kind() == reflect.Pointer {
			if !via.IsExported() || t.Elem().Kind() != reflect.Struct {
				return nil, 0, false
			}
			ptrs = append(ptrs, ptrStep{off: off, elem: t.Elem()})
			off, t = 0, t.Elem()
		}
		via = t.Field(idx)
		off += via.Offset
		t = via.Type
	}
	return ptrs, off, true
}

func (s *structPlan) dec(d *decoder, p unsafe.Pointer) error {
	c, err := d.code()
	if err != nil {
		return d.want(err, "object")
	}
	n, ok, known, err := d.containerLen(c, isFixMap(c), mpMap16, 2)
	switch {
	case !known:
		// A struct sent as an array: its fields in order.
		start := d.pos - 1
		if n, _, known, err = d.containerLen(c, isFixArray(c), mpArray16, 1); !known {
			return d.wrongAt(start, "object", nil)
		}
		if err != nil {
			return d.want(err, "object")
		}
		if n == 0 { // as the library: the zero value
			reflect.NewAt(s.typ, p).Elem().SetZero()
			return nil
		}
		if n != len(s.list) {
			return d.wrongAt(start, "object, or an array of its "+strconv.Itoa(len(s.list))+" fields", nil)
		}
		for _, f := range s.list {
			if err := f.p.dec(d, f.addr(p)); err != nil {
				return d.at(err, "."+f.name)
			}
		}
		return nil
	case err != nil:
		return d.want(err, "object")
	}
	if !ok {
		reflect.NewAt(s.typ, p).Elem().SetZero()
		return nil
	}
	next := 0 // fields usually come in order: try the next one first
	for range n {
		k, err := d.key()
		if err != nil {
			return d.want(err, "object key (string)")
		}
		var f *sfield
		if next < len(s.list) && s.list[next].canon && s.list[next].name == string(k) {
			f = s.list[next]
		} else if f = s.byName[string(k)]; f == nil {
			if d.strict {
				return d.unknownField(k)
			}
			if err := d.skip(); err != nil {
				return d.at(d.want(err, "any value"), fieldSeg(k))
			}
			continue
		}
		if f.index >= 0 {
			next = f.index + 1
		}
		if err := f.p.dec(d, f.addr(p)); err != nil {
			return d.at(err, fieldSeg(k))
		}
	}
	return nil
}
